//! `spec/versions.toml`: the table of supported Kubernetes versions and their pinned spec files
//! (a module of `spec_fetch.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::SpecError;

/// The parsed `spec/versions.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionsFile {
    /// The `[[version]]` tables, in file order.
    #[serde(rename = "version", default)]
    pub versions: Vec<VersionEntry>,
}

/// One `[[version]]` table: the pinned spec files of one Kubernetes version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionEntry {
    /// `X.Y.Z`, without a leading `v`.
    pub version: String,
    /// Whether this is the latest supported version (the default). Exactly one entry has it.
    #[serde(default)]
    pub latest: bool,
    /// Whether the version is kept only as a generator regression input.
    #[serde(default)]
    pub regression_only: bool,
    /// Upstream URL of `swagger.json`; `None` for a version whose files are built
    /// ([`VersionEntry::module`]).
    #[serde(default)]
    pub swagger_url: Option<String>,
    /// Pinned sha256 of `swagger.json`, lowercase hex.
    pub swagger_sha256: String,
    /// Pinned size of `swagger.json` in bytes.
    pub swagger_bytes: u64,
    /// Upstream URL of the `api/openapi-spec/v3` directory; a document is at `<v3_base_url>/<file>`.
    /// `None` for a built version.
    #[serde(default)]
    pub v3_base_url: Option<String>,
    /// For a version with no download URL: the Go module whose `kube-apiserver` served the files,
    /// `k8s.io/kubernetes v<version>`. `spec fetch` (re)produces them by building that apiserver
    /// (`cargo xtask envtest install --kubernetes <version>`), starting it with
    /// [`VersionEntry::apiserver_flags`] and fetching its documents (`spec fetch --server`).
    #[serde(default)]
    pub module: Option<String>,
    /// The flags the apiserver of a built version was started with, besides addresses,
    /// certificates, etcd and authentication (those of upstream's `hack/update-openapi-spec.sh`).
    #[serde(default)]
    pub apiserver_flags: Vec<String>,
    /// The Go module zips the proto IDL (`proto/`) is taken from, as go.sum lines
    /// `<module> <version> h1:<hash>` of the four modules of `spec_proto::PROTO_MODULES`; empty
    /// for a version without protobuf in its model (see `spec_proto.rs`).
    #[serde(default)]
    pub proto_modules: Vec<String>,
    /// The OpenAPI v3 documents.
    #[serde(default)]
    pub v3: Vec<V3Document>,
}

/// One `[[version.v3]]` table: a pinned OpenAPI v3 document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V3Document {
    /// Upstream file name, e.g. `apis__apps__v1_openapi.json`.
    pub file: String,
    /// Pinned sha256, lowercase hex.
    pub sha256: String,
    /// Pinned size in bytes.
    pub bytes: u64,
}

/// One file to fetch: where it goes, where it comes from and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecFile {
    /// Path relative to the destination root, e.g. `v1.36.0/v3/api__v1_openapi.json`.
    pub relative_path: PathBuf,
    /// Pinned upstream URL; `None` for the files of a built version.
    pub url: Option<String>,
    /// Pinned sha256, lowercase hex.
    pub sha256: String,
    /// Pinned size in bytes.
    pub bytes: u64,
}

impl VersionsFile {
    /// The entry marked `latest = true`, if any ([`load_versions`] guarantees exactly one).
    pub fn latest(&self) -> Option<&VersionEntry> {
        self.versions.iter().find(|v| v.latest)
    }

    /// The entry for `version`, written `1.36.0` or `v1.36.0`; `latest` selects the latest.
    pub fn find(&self, version: &str) -> Option<&VersionEntry> {
        if version == "latest" {
            return self.latest();
        }
        let wanted = version.strip_prefix('v').unwrap_or(version);
        self.versions.iter().find(|v| v.version == wanted)
    }

    /// Like [`VersionsFile::find`], but an unknown version is an error listing the known ones.
    pub fn get(&self, version: &str) -> Result<&VersionEntry, SpecError> {
        self.find(version).ok_or_else(|| SpecError::UnknownVersion {
            requested: version.to_owned(),
            known: self
                .versions
                .iter()
                .map(|v| v.version.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

impl VersionEntry {
    /// Directory name of this version under a spec root: `v<version>`.
    pub fn dir_name(&self) -> String {
        format!("v{}", self.version)
    }

    /// Pinned URL of a v3 document: `<v3_base_url>/<file>` (`None` for a built version).
    pub fn v3_url(&self, doc: &V3Document) -> Option<String> {
        let base = self.v3_base_url.as_deref()?;
        Some(format!("{}/{}", base.trim_end_matches('/'), doc.file))
    }

    /// Whether the files of this version are produced by building and starting its apiserver
    /// (no download URL; [`VersionEntry::module`] is set).
    pub fn is_built(&self) -> bool {
        self.module.is_some()
    }

    /// Every file of this version: `swagger.json` first, then the v3 documents in table order.
    pub fn files(&self) -> Vec<SpecFile> {
        let dir = PathBuf::from(self.dir_name());
        let mut files = Vec::with_capacity(self.v3.len() + 1);
        files.push(SpecFile {
            relative_path: dir.join("swagger.json"),
            url: self.swagger_url.clone(),
            sha256: self.swagger_sha256.clone(),
            bytes: self.swagger_bytes,
        });
        for doc in &self.v3 {
            files.push(SpecFile {
                relative_path: dir.join("v3").join(&doc.file),
                url: self.v3_url(doc),
                sha256: doc.sha256.clone(),
                bytes: doc.bytes,
            });
        }
        files
    }
}

/// Reads and validates a versions table (normally `<workspace>/spec/versions.toml`).
///
/// Besides the TOML shape (unknown keys are rejected) it checks that versions are `X.Y.Z` and
/// unique, exactly one entry is `latest`, URLs are `https://`, hashes are 64 lowercase hex digits,
/// and v3 file names are plain, unique file names (no path separators, not `.` or `..`).
pub fn load_versions(path: &Path) -> Result<VersionsFile, SpecError> {
    let text = fs::read_to_string(path).map_err(|source| SpecError::ReadVersions {
        path: path.to_owned(),
        source,
    })?;
    let file: VersionsFile = toml::from_str(&text).map_err(|source| SpecError::ParseVersions {
        path: path.to_owned(),
        source,
    })?;
    validate(&file).map_err(|message| SpecError::InvalidVersions {
        path: path.to_owned(),
        message,
    })?;
    Ok(file)
}

fn validate(file: &VersionsFile) -> Result<(), String> {
    if file.versions.is_empty() {
        return Err("no [[version]] tables".to_owned());
    }
    let latest: Vec<&str> = file
        .versions
        .iter()
        .filter(|v| v.latest)
        .map(|v| v.version.as_str())
        .collect();
    if latest.len() != 1 {
        return Err(format!(
            "exactly one version must have `latest = true`, found {}: [{}]",
            latest.len(),
            latest.join(", ")
        ));
    }
    let mut seen_versions: Vec<&str> = Vec::new();
    for entry in &file.versions {
        let v = entry.version.as_str();
        if !is_version(v) {
            return Err(format!("version {v:?} is not of the form X.Y.Z"));
        }
        if seen_versions.contains(&v) {
            return Err(format!("version {v} is listed twice"));
        }
        seen_versions.push(v);
        if entry.latest && entry.regression_only {
            return Err(format!(
                "version {v}: `latest` and `regression_only` exclude each other"
            ));
        }
        check_source(entry).map_err(|e| format!("version {v}: {e}"))?;
        check_sha256(&entry.swagger_sha256)
            .map_err(|e| format!("version {v}: swagger_sha256 {e}"))?;
        super::proto::check_pins(v, &entry.proto_modules)
            .map_err(|e| format!("version {v}: {e}"))?;
        let mut seen_files: Vec<&str> = Vec::new();
        for doc in &entry.v3 {
            let f = doc.file.as_str();
            if !is_plain_file_name(f) {
                return Err(format!(
                    "version {v}: v3 file {f:?} is not a plain file name"
                ));
            }
            if seen_files.contains(&f) {
                return Err(format!("version {v}: v3 file {f} is listed twice"));
            }
            seen_files.push(f);
            check_sha256(&doc.sha256)
                .map_err(|e| format!("version {v}: v3 file {f}: sha256 {e}"))?;
        }
    }
    Ok(())
}

pub(super) fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_plain_file_name(f: &str) -> bool {
    !f.is_empty()
        && f != "."
        && f != ".."
        && !f.contains(['/', '\\', ':', '\0'])
        && !f.ends_with(".part")
}

/// A version is either downloaded (`swagger_url` and `v3_base_url`, no build keys) or built
/// (`module = "k8s.io/kubernetes v<version>"` and `apiserver_flags`, no URLs).
fn check_source(entry: &VersionEntry) -> Result<(), String> {
    match (&entry.module, &entry.swagger_url, &entry.v3_base_url) {
        (None, Some(swagger), Some(v3)) => {
            if !entry.apiserver_flags.is_empty() {
                return Err("`apiserver_flags` is only for a built version (with `module`)".into());
            }
            check_url(swagger).map_err(|e| format!("swagger_url {e}"))?;
            check_url(v3).map_err(|e| format!("v3_base_url {e}"))
        }
        (None, _, _) => Err(
            "needs `swagger_url` and `v3_base_url` (downloaded) or `module` and \
             `apiserver_flags` (built)"
                .into(),
        ),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("`module` (built from source) excludes `swagger_url` and `v3_base_url`".into())
        }
        (Some(module), None, None) => {
            let want = format!("{BUILT_MODULE} v{}", entry.version);
            if *module != want {
                return Err(format!(
                    "module {module:?}: a built version's files come from {want:?}"
                ));
            }
            if entry.apiserver_flags.is_empty() {
                return Err("a built version needs `apiserver_flags`".into());
            }
            for flag in &entry.apiserver_flags {
                let name = flag.split('=').next().unwrap_or_default();
                if !flag.starts_with("--") || name.len() < 3 {
                    return Err(format!("apiserver flag {flag:?} is not --name[=value]"));
                }
                if MANAGED_FLAGS.contains(&name) {
                    return Err(format!(
                        "apiserver flag {flag:?}: addresses, certificates, etcd and \
                         authentication are set by the control plane, not the table"
                    ));
                }
            }
            Ok(())
        }
    }
}

/// The Go module a built version's apiserver comes from.
pub const BUILT_MODULE: &str = "k8s.io/kubernetes";

/// Flags `k8s-envtest` sets itself (ports, certificates, etcd, authentication): a table entry
/// cannot override them.
const MANAGED_FLAGS: &[&str] = &[
    "--bind-address",
    "--secure-port",
    "--etcd-servers",
    "--cert-dir",
    "--tls-cert-file",
    "--tls-private-key-file",
    "--client-ca-file",
    "--token-auth-file",
    "--service-account-key-file",
    "--service-account-signing-key-file",
];

fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") && url.len() > "https://".len() {
        Ok(())
    } else {
        Err(format!("{url:?} is not an https:// URL"))
    }
}

fn check_sha256(hash: &str) -> Result<(), String> {
    if hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(format!("{hash:?} is not 64 lowercase hex digits"))
    }
}
