//! `cargo xtask spec ...`: the pinned Kubernetes OpenAPI specs.
//!
//! The table of supported versions lives in `spec/versions.toml`: for every version the URL,
//! sha256 and byte count of `swagger.json` and of each OpenAPI v3 document. [`fetch`] downloads
//! one version into `<dest>/v<version>/swagger.json` and `<dest>/v<version>/v3/<file>`, checking
//! size and hash of every file before it is moved into place, so that a destination file is either
//! absent, left as it was, or complete and verified; never half-written.
//!
//! [`resolve_spec_dir`] decides where the generator reads specs from: an explicit `--spec-dir`,
//! the `K8S_SPEC_DIR` environment variable, the fetched cache under `<workspace>/spec/`, or
//! (when none of these applies) the API model committed to the repository.

// This file is compiled both into the xtask binary (`mod spec_fetch;` in main.rs) and into
// `xtask/tests/spec_fetch.rs` (via `#[path]`); neither uses every public item.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Name of the environment variable that points at a directory of specs laid out as
/// `v<version>/swagger.json` and `v<version>/v3/<file>`.
pub const SPEC_DIR_ENV: &str = "K8S_SPEC_DIR";

/// Path of the versions table relative to the workspace root.
pub const VERSIONS_FILE: &str = "spec/versions.toml";

/// Default per-file timeout of [`FetchOptions`]: from connecting to the end of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Errors of loading the versions table and of fetching specs.
///
/// Every variant names the file and, for network errors, the URL concerned.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The versions table could not be read.
    #[error("cannot read versions table {path}: {source}")]
    ReadVersions {
        /// Path of the table.
        path: PathBuf,
        /// Underlying I/O error.
        source: io::Error,
    },
    /// The versions table is not valid TOML or does not have the expected shape.
    #[error("cannot parse versions table {path}: {source}")]
    ParseVersions {
        /// Path of the table.
        path: PathBuf,
        /// Underlying TOML error (it carries the line and column).
        source: toml::de::Error,
    },
    /// The versions table parsed but breaks a rule (duplicate version, bad hash, ...).
    #[error("invalid versions table {path}: {message}")]
    InvalidVersions {
        /// Path of the table.
        path: PathBuf,
        /// What is wrong, naming the version and file concerned.
        message: String,
    },
    /// A version was requested that the table does not list.
    #[error("unknown Kubernetes version {requested:?}; the versions table lists: {known}")]
    UnknownVersion {
        /// The version asked for.
        requested: String,
        /// Comma-separated list of the known versions.
        known: String,
    },
    /// The HTTP request could not be made or its response head could not be read.
    #[error("GET {url} (for {file}) failed: {source}")]
    Request {
        /// URL requested.
        url: String,
        /// Destination file.
        file: PathBuf,
        /// Underlying client error.
        source: Box<ureq::Error>,
    },
    /// The server answered with a status other than 200.
    #[error("GET {url} (for {file}) failed: HTTP status {status}")]
    HttpStatus {
        /// URL requested.
        url: String,
        /// Destination file.
        file: PathBuf,
        /// The HTTP status code received.
        status: u16,
    },
    /// The response body ended early (truncated: the connection closed before the announced
    /// `Content-Length`) or could not be read to the end.
    #[error(
        "GET {url} (for {file}): body truncated or unreadable after {received} of the expected \
         {expected} bytes: {source}"
    )]
    BodyRead {
        /// URL requested.
        url: String,
        /// Destination file.
        file: PathBuf,
        /// Pinned byte count.
        expected: u64,
        /// Bytes received before the error.
        received: u64,
        /// Underlying I/O error.
        source: io::Error,
    },
    /// The response's size differs from the pinned byte count.
    #[error("GET {url} (for {file}): expected {expected} bytes, but the {found}")]
    LengthMismatch {
        /// URL requested.
        url: String,
        /// Destination file.
        file: PathBuf,
        /// Pinned byte count.
        expected: u64,
        /// What was found, e.g. `body has 12 bytes` or `Content-Length header says 12`.
        found: String,
    },
    /// The downloaded bytes do not have the pinned sha256.
    #[error(
        "GET {url} (for {file}): sha256 mismatch: expected {expected}, got {actual} \
         ({bytes} bytes received)"
    )]
    HashMismatch {
        /// URL requested.
        url: String,
        /// Destination file.
        file: PathBuf,
        /// Pinned sha256 (lowercase hex).
        expected: String,
        /// sha256 of the received body (lowercase hex).
        actual: String,
        /// Number of bytes received.
        bytes: u64,
    },
    /// A local file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `cannot create directory`.
        action: &'static str,
        /// File or directory concerned.
        path: PathBuf,
        /// Underlying I/O error.
        source: io::Error,
    },
    /// A file of a built version (no download URL) was to be downloaded without `--base-url`.
    #[error(
        "{file}: Kubernetes {version} has no download URL (its files are built: \
         `cargo xtask spec fetch --version {version}` builds and starts its apiserver)"
    )]
    NoUrl {
        /// The version.
        version: String,
        /// The file, relative to the spec root.
        file: PathBuf,
    },
    /// Producing the files of a built version failed (Go or binaries missing, the apiserver did
    /// not start, a served document differs from its pin, ...).
    #[error("Kubernetes {version} (built from {module}): {message}")]
    Built {
        /// The version.
        version: String,
        /// Its Go module and version.
        module: String,
        /// What went wrong, naming the file or command concerned.
        message: String,
    },
    /// Laying out the proto IDL of a version (`proto/`) failed: a module zip could not be
    /// found or downloaded, its hash differs from the pin, or a file could not be written.
    #[error("proto IDL of Kubernetes {version} (module {module}): {message}")]
    Proto {
        /// The version.
        version: String,
        /// The go.sum line of the module concerned (`-` when none).
        module: String,
        /// What went wrong, naming the file or URL.
        message: String,
    },
    /// The command line of `cargo xtask spec` is wrong.
    #[error("{0}\n\n{usage}", usage = USAGE)]
    Usage(String),
}

/// Usage text of `cargo xtask spec`.
pub const USAGE: &str = "\
usage: cargo xtask spec <command>

commands:
  fetch [--version V] [--dest DIR] [--base-url URL] [--timeout SECS] [--versions FILE]
        Download swagger.json and the OpenAPI v3 documents of version V (default: every
        version in spec/versions.toml) into DIR/v<V>/ (default DIR: <workspace>/spec),
        verifying the pinned size and sha256 of each file. Files already present with the
        right hash are skipped. --base-url URL fetches URL/v<V>/swagger.json and
        URL/v<V>/v3/<file> instead of the pinned upstream URLs (a mirror or test server).
        V may be written 1.36.0, v1.36.0 or latest. A version without a download URL
        (`module` in the table) is built instead: its kube-apiserver is built (cached, as
        `cargo xtask envtest install --kubernetes V`; needs Go), started with the table's
        flags, and its documents fetched (as `spec fetch --server`) and verified.
        A version with `proto_modules` also gets DIR/v<V>/proto/: every generated.proto of
        its Go module zips (Go module cache, else GOPROXY), each zip checked against its
        pinned go.sum hash.
  list  [--versions FILE]
        Print the versions of spec/versions.toml.
  where [--spec-dir DIR]
        Print where the generator would read specs from.";

#[path = "spec_proto.rs"]
pub mod proto;
#[path = "spec_versions.rs"]
mod versions;
// Not every item is used by each of the two crates this file is compiled into.
use versions::is_version;
#[allow(unused_imports)]
pub use versions::{SpecFile, V3Document, VersionEntry, VersionsFile, load_versions};

/// Where the generator reads Kubernetes specs from; the result of [`resolve_spec_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecSource {
    /// Given explicitly (`--spec-dir DIR`).
    Explicit(PathBuf),
    /// From the `K8S_SPEC_DIR` environment variable.
    Env(PathBuf),
    /// The fetched cache `<workspace>/spec/`, which holds at least one `v<version>/swagger.json`.
    Cache(PathBuf),
    /// No spec directory: use the API model committed to the repository.
    Embedded,
}

impl SpecSource {
    /// The spec directory, or `None` for [`SpecSource::Embedded`].
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Self::Explicit(p) | Self::Env(p) | Self::Cache(p) => Some(p),
            Self::Embedded => None,
        }
    }

    /// `<dir>/v<version>/swagger.json` if this source has a directory and that file exists.
    /// `version` may be written `1.36.0` or `v1.36.0`.
    pub fn swagger_path(&self, version: &str) -> Option<PathBuf> {
        let version = version.strip_prefix('v').unwrap_or(version);
        let path = self.dir()?.join(format!("v{version}")).join("swagger.json");
        path.is_file().then_some(path)
    }
}

impl fmt::Display for SpecSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit(p) => write!(f, "{} (--spec-dir)", p.display()),
            Self::Env(p) => write!(f, "{} (${SPEC_DIR_ENV})", p.display()),
            Self::Cache(p) => write!(f, "{} (fetched cache)", p.display()),
            Self::Embedded => f.write_str("the committed API model (no spec directory)"),
        }
    }
}

/// Decides where specs are read from, in this order:
///
/// 1. `explicit` (the `--spec-dir` argument), as given;
/// 2. the `K8S_SPEC_DIR` environment variable, if set and not empty;
/// 3. the cache `<workspace_root>/spec/`, if it holds some `v<version>/swagger.json`;
/// 4. otherwise [`SpecSource::Embedded`].
///
/// Steps 1 and 2 do not check that the directory exists: a wrong path the user asked for
/// should fail loudly later rather than silently fall back.
pub fn resolve_spec_dir(explicit: Option<&Path>, workspace_root: &Path) -> SpecSource {
    resolve_spec_dir_with_env(explicit, std::env::var_os(SPEC_DIR_ENV), workspace_root)
}

/// [`resolve_spec_dir`] with the value of `K8S_SPEC_DIR` passed in instead of read from the
/// process environment (for tests, and callers that already read it).
pub fn resolve_spec_dir_with_env(
    explicit: Option<&Path>,
    env_value: Option<OsString>,
    workspace_root: &Path,
) -> SpecSource {
    if let Some(dir) = explicit {
        return SpecSource::Explicit(dir.to_owned());
    }
    if let Some(value) = env_value.filter(|v| !v.is_empty()) {
        return SpecSource::Env(PathBuf::from(value));
    }
    let cache = workspace_root.join("spec");
    if cache_has_swagger(&cache) {
        return SpecSource::Cache(cache);
    }
    SpecSource::Embedded
}

/// Whether `dir` has a subdirectory `v<X.Y.Z>` holding `swagger.json`.
fn cache_has_swagger(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let name = entry.file_name();
        name.to_str()
            .and_then(|n| n.strip_prefix('v'))
            .is_some_and(is_version)
            && entry.path().join("swagger.json").is_file()
    })
}

/// Options of [`fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Fetch from `<base_url>/v<version>/swagger.json` and `<base_url>/v<version>/v3/<file>`
    /// (the destination layout) instead of the pinned upstream URLs; for mirrors and tests.
    /// Plain `http://` is allowed here: the pinned hashes still protect the content.
    pub base_url: Option<String>,
    /// Time allowed for each file, from connecting to the end of its body.
    pub timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// What [`fetch`] did with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Downloaded, verified and moved into place.
    Downloaded,
    /// Already present with the pinned size and sha256; not downloaded.
    AlreadyPresent,
}

/// The outcome for one file of a [`fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutcome {
    /// Final path of the file (under the destination root).
    pub path: PathBuf,
    /// URL it was (or would have been) fetched from.
    pub url: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// What was done.
    pub status: FileStatus,
}

/// Summary of a successful [`fetch`] of one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The version fetched (`X.Y.Z`).
    pub version: String,
    /// Directory of that version: `<dest_root>/v<version>`.
    pub dir: PathBuf,
    /// One outcome per file, `swagger.json` first.
    pub files: Vec<FileOutcome>,
}

impl FetchReport {
    /// Number of files downloaded.
    pub fn downloaded(&self) -> usize {
        self.count(FileStatus::Downloaded)
    }

    /// Number of files skipped because they were already present and verified.
    pub fn already_present(&self) -> usize {
        self.count(FileStatus::AlreadyPresent)
    }

    fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }
}

/// Downloads `swagger.json` and the v3 documents of one version into
/// `dest_root/v<version>/swagger.json` and `dest_root/v<version>/v3/<file>`.
///
/// Each file is streamed into a temporary file in its destination directory while its size and
/// sha256 are computed; only when both match the pins is it synced and renamed into place. A
/// wrong hash, a wrong size, a truncated body or an HTTP error leaves the destination as it was
/// (an older file there is not touched) and returns an error naming the URL. A file that is
/// already present with the pinned size and hash is skipped without a request. The first error
/// stops the fetch; files completed before it stay (they are verified).
pub fn fetch(
    entry: &VersionEntry,
    dest_root: &Path,
    opts: &FetchOptions,
) -> Result<FetchReport, SpecError> {
    fetch_with_progress(entry, dest_root, opts, &mut |_| {})
}

/// [`fetch`], calling `progress` after each file is done (downloaded or found present).
pub fn fetch_with_progress(
    entry: &VersionEntry,
    dest_root: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(&FileOutcome),
) -> Result<FetchReport, SpecError> {
    let agent = make_agent(opts);
    let mut outcomes = Vec::new();
    for file in entry.files() {
        let url = match (&opts.base_url, &file.url) {
            (Some(base), _) => format!(
                "{}/{}",
                base.trim_end_matches('/'),
                relative_url_path(&file.relative_path)
            ),
            (None, Some(url)) => url.clone(),
            (None, None) => {
                return Err(SpecError::NoUrl {
                    version: entry.version.clone(),
                    file: file.relative_path.clone(),
                });
            }
        };
        let path = dest_root.join(&file.relative_path);
        let status = if is_verified(&path, &file)? {
            FileStatus::AlreadyPresent
        } else {
            download_verified(&agent, &url, &path, &file)?;
            FileStatus::Downloaded
        };
        let outcome = FileOutcome {
            path,
            url,
            bytes: file.bytes,
            status,
        };
        progress(&outcome);
        outcomes.push(outcome);
    }
    Ok(FetchReport {
        version: entry.version.clone(),
        dir: dest_root.join(entry.dir_name()),
        files: outcomes,
    })
}

fn relative_url_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn make_agent(opts: &FetchOptions) -> ureq::Agent {
    agent(
        opts.timeout,
        opts.base_url.as_deref().is_some_and(is_loopback_url),
    )
}

/// The HTTP agent of every xtask download (spec files, proto module zips).
///
/// TLS trusts the platform's roots (rustls-platform-verifier: the system store,
/// `SSL_CERT_FILE`), as the go command and curl do, so that a proxy with its own CA in that
/// store works; ureq's default (Mozilla's roots only) refuses it with `UnknownIssuer`.
/// Non-200 answers are not errors here: callers report them with the URL and file. A loopback
/// server (tests' mirrors) is reached without a proxy taken from the environment.
pub(crate) fn agent(timeout: Duration, loopback: bool) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let mut config = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(timeout))
        .http_status_as_error(false);
    if loopback {
        config = config.proxy(None);
    }
    ureq::Agent::new_with_config(config.build())
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    ["127.", "localhost:", "localhost/", "[::1]"]
        .iter()
        .any(|p| rest.starts_with(p))
        || rest == "localhost"
}

/// Whether `path` exists with the pinned size and sha256. A missing file is `false`; a file that
/// exists but cannot be read is an error.
pub fn is_verified(path: &Path, file: &SpecFile) -> Result<bool, SpecError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(SpecError::Io {
                action: "cannot stat",
                path: path.to_owned(),
                source,
            });
        }
    };
    if !meta.is_file() || meta.len() != file.bytes {
        return Ok(false);
    }
    let hash = sha256_file(path)?;
    Ok(hash == file.sha256)
}

/// Lowercase hex sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> Result<String, SpecError> {
    let io_err = |source| SpecError::Io {
        action: "cannot read",
        path: path.to_owned(),
        source,
    };
    let mut f = File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn download_verified(
    agent: &ureq::Agent,
    url: &str,
    dest: &Path,
    file: &SpecFile,
) -> Result<(), SpecError> {
    let dir = dest.parent().ok_or_else(|| SpecError::Io {
        action: "no parent directory for",
        path: dest.to_owned(),
        source: io::Error::from(io::ErrorKind::InvalidInput),
    })?;
    fs::create_dir_all(dir).map_err(|source| SpecError::Io {
        action: "cannot create directory",
        path: dir.to_owned(),
        source,
    })?;

    let response = agent.get(url).call().map_err(|source| SpecError::Request {
        url: url.to_owned(),
        file: dest.to_owned(),
        source: Box::new(source),
    })?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(SpecError::HttpStatus {
            url: url.to_owned(),
            file: dest.to_owned(),
            status,
        });
    }
    let body = response.into_body();
    let announced = body.content_length();
    if let Some(announced) = announced.filter(|&n| n != file.bytes) {
        return Err(SpecError::LengthMismatch {
            url: url.to_owned(),
            file: dest.to_owned(),
            expected: file.bytes,
            found: format!("Content-Length header says {announced}"),
        });
    }

    // Hidden name (`.<name>.XXXXXX.part`) in the destination directory, so the final rename is
    // atomic; the temporary file is deleted on drop, i.e. on every error path below.
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|source| SpecError::Io {
            action: "cannot create temporary file in",
            path: dir.to_owned(),
            source,
        })?;

    let mut reader = body.into_reader();
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(SpecError::BodyRead {
                    url: url.to_owned(),
                    file: dest.to_owned(),
                    expected: file.bytes,
                    received,
                    source,
                });
            }
        };
        if n == 0 {
            break;
        }
        received += n as u64;
        if received > file.bytes {
            return Err(SpecError::LengthMismatch {
                url: url.to_owned(),
                file: dest.to_owned(),
                expected: file.bytes,
                found: format!("body has more than {} bytes", file.bytes),
            });
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(|source| SpecError::Io {
            action: "cannot write",
            path: tmp.path().to_owned(),
            source,
        })?;
    }
    if received != file.bytes {
        return Err(SpecError::LengthMismatch {
            url: url.to_owned(),
            file: dest.to_owned(),
            expected: file.bytes,
            found: format!("body has {received} bytes"),
        });
    }
    let actual = hex(&hasher.finalize());
    if actual != file.sha256 {
        return Err(SpecError::HashMismatch {
            url: url.to_owned(),
            file: dest.to_owned(),
            expected: file.sha256.clone(),
            actual,
            bytes: received,
        });
    }

    let tmp_path = tmp.path().to_owned();
    let io_err = |action, source| SpecError::Io {
        action,
        path: tmp_path.clone(),
        source,
    };
    tmp.flush().map_err(|e| io_err("cannot flush", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // tempfile creates files 0600; spec files are ordinary readable files.
        fs::set_permissions(&tmp_path, fs::Permissions::from_mode(0o644))
            .map_err(|e| io_err("cannot set permissions of", e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_err("cannot sync", e))?;
    tmp.persist(dest).map_err(|e| SpecError::Io {
        action: "cannot rename temporary file into place at",
        path: dest.to_owned(),
        source: e.error,
    })?;
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| SpecError::Io {
            action: "cannot sync directory",
            path: dir.to_owned(),
            source,
        })?;
    Ok(())
}

/// Root of the workspace this xtask was built from (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_owned(), Path::to_owned)
}

/// Entry point of `cargo xtask spec ...`.
///
/// `args` are the arguments after `spec`, e.g. `["fetch", "--version", "1.36.0"]`. Progress is
/// printed to stdout, one line per file.
pub fn run(args: &[String]) -> Result<(), SpecError> {
    run_with(args, &|entry, _dest| {
        Err(SpecError::Built {
            version: entry.version.clone(),
            module: entry.module.clone().unwrap_or_default(),
            message: "this command cannot build an apiserver; run `cargo xtask spec fetch`"
                .to_owned(),
        })
    })
}

/// Produces the files of a built version (see [`VersionEntry::module`]) under
/// `<dest_root>/v<version>/`, verified against the pins; `cargo xtask` passes `spec_built::produce`.
pub type Builder<'a> = &'a dyn Fn(&VersionEntry, &Path) -> Result<(), SpecError>;

/// [`run`] with the function that produces the files of built versions.
pub fn run_with(args: &[String], builder: Builder<'_>) -> Result<(), SpecError> {
    let root = workspace_root();
    let Some((command, rest)) = args.split_first() else {
        return Err(SpecError::Usage("missing command".to_owned()));
    };
    match command.as_str() {
        "fetch" => run_fetch(rest, &root, builder),
        "list" => run_list(rest, &root),
        "where" => run_where(rest, &root),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(SpecError::Usage(format!("unknown command {other:?}"))),
    }
}

/// Parsed `--flag value` options; each flag at most once.
struct Flags<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Flags<'a> {
    fn parse(args: &'a [String], allowed: &[&str]) -> Result<Self, SpecError> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v)),
                _ => (arg.as_str(), None),
            };
            if !allowed.contains(&flag) {
                return Err(SpecError::Usage(format!("unexpected argument {arg:?}")));
            }
            let value = match inline {
                Some(v) => v,
                None => iter
                    .next()
                    .ok_or_else(|| SpecError::Usage(format!("{flag} needs a value")))?,
            };
            if pairs.iter().any(|(f, _)| *f == flag) {
                return Err(SpecError::Usage(format!("{flag} given twice")));
            }
            pairs.push((flag, value));
        }
        Ok(Self { pairs })
    }

    fn get(&self, flag: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(f, _)| *f == flag).map(|(_, v)| *v)
    }
}

fn versions_path(flags: &Flags<'_>, root: &Path) -> PathBuf {
    flags
        .get("--versions")
        .map_or_else(|| root.join(VERSIONS_FILE), PathBuf::from)
}

fn run_fetch(args: &[String], root: &Path, builder: Builder<'_>) -> Result<(), SpecError> {
    let flags = Flags::parse(
        args,
        &[
            "--version",
            "--dest",
            "--base-url",
            "--timeout",
            "--versions",
        ],
    )?;
    let table = load_versions(&versions_path(&flags, root))?;
    let dest = flags
        .get("--dest")
        .map_or_else(|| root.join("spec"), PathBuf::from);
    let timeout =
        match flags.get("--timeout") {
            Some(s) => Duration::from_secs(s.parse::<u64>().map_err(|_| {
                SpecError::Usage(format!("--timeout wants whole seconds, got {s:?}"))
            })?),
            None => DEFAULT_TIMEOUT,
        };
    let opts = FetchOptions {
        base_url: flags.get("--base-url").map(str::to_owned),
        timeout,
    };
    let entries: Vec<&VersionEntry> = match flags.get("--version") {
        Some(v) => vec![table.get(v)?],
        None => table.versions.iter().collect(),
    };
    for entry in entries {
        println!(
            "spec fetch: Kubernetes {} ({} files) -> {}",
            entry.version,
            entry.v3.len() + 1,
            dest.join(entry.dir_name()).display()
        );
        if entry.is_built() && opts.base_url.is_none() {
            fetch_built(entry, &dest, builder)?;
        } else {
            fetch_downloaded(entry, &dest, &opts)?;
        }
        fetch_proto(entry, &dest, &proto::ProtoSources::from_env(opts.timeout))?;
    }
    Ok(())
}

/// The proto IDL of `entry` (its `proto_modules`), laid out from the Go module zips.
fn fetch_proto(
    entry: &VersionEntry,
    dest: &Path,
    sources: &proto::ProtoSources,
) -> Result<(), SpecError> {
    match proto::lay_out(entry, dest, sources)? {
        None => println!(
            "spec fetch: Kubernetes {}: no proto_modules (no protobuf IDL for this version)",
            entry.version
        ),
        Some(r) if r.already_present => println!(
            "spec fetch: Kubernetes {}: proto/ present ({} generated.proto files, sha256 ok)",
            entry.version, r.files
        ),
        Some(r) => {
            for origin in &r.origins {
                println!("  module zip from {origin} (go.sum hash ok)");
            }
            println!(
                "spec fetch: Kubernetes {}: wrote {} ({} generated.proto files, {} bytes)",
                entry.version,
                r.dir.display(),
                r.files,
                r.bytes
            );
        }
    }
    Ok(())
}

/// A downloaded version: every file fetched (or found present) and verified.
fn fetch_downloaded(
    entry: &VersionEntry,
    dest: &Path,
    opts: &FetchOptions,
) -> Result<(), SpecError> {
    let report = fetch_with_progress(entry, dest, opts, &mut |outcome| {
        let what = match outcome.status {
            FileStatus::Downloaded => "downloaded",
            FileStatus::AlreadyPresent => "present   ",
        };
        let shown = outcome.path.strip_prefix(dest).unwrap_or(&outcome.path);
        println!(
            "  {what} {} ({} bytes, sha256 ok)",
            shown.display(),
            outcome.bytes
        );
    })?;
    println!(
        "spec fetch: Kubernetes {}: {} downloaded, {} already present",
        report.version,
        report.downloaded(),
        report.already_present()
    );
    Ok(())
}

/// A built version: nothing to do when every file is present and verified; else `builder`
/// produces them, and they are checked again.
fn fetch_built(entry: &VersionEntry, dest: &Path, builder: Builder<'_>) -> Result<(), SpecError> {
    let unverified = |entry: &VersionEntry| -> Result<Vec<SpecFile>, SpecError> {
        let mut out = Vec::new();
        for file in entry.files() {
            if !is_verified(&dest.join(&file.relative_path), &file)? {
                out.push(file);
            }
        }
        Ok(out)
    };
    let missing = unverified(entry)?;
    if missing.is_empty() {
        println!(
            "spec fetch: Kubernetes {}: all {} files present (sha256 ok)",
            entry.version,
            entry.v3.len() + 1
        );
        return Ok(());
    }
    println!(
        "spec fetch: Kubernetes {}: {} of {} files missing or different; built from {} (no download URL)",
        entry.version,
        missing.len(),
        entry.v3.len() + 1,
        entry.module.as_deref().unwrap_or_default()
    );
    builder(entry, dest)?;
    let still = unverified(entry)?;
    if let Some(file) = still.first() {
        return Err(SpecError::Built {
            version: entry.version.clone(),
            module: entry.module.clone().unwrap_or_default(),
            message: format!(
                "{} does not match its pin after the build ({} files in all)",
                dest.join(&file.relative_path).display(),
                still.len()
            ),
        });
    }
    println!(
        "spec fetch: Kubernetes {}: {} files produced and verified",
        entry.version,
        entry.v3.len() + 1
    );
    Ok(())
}

fn run_list(args: &[String], root: &Path) -> Result<(), SpecError> {
    let flags = Flags::parse(args, &["--versions"])?;
    let table = load_versions(&versions_path(&flags, root))?;
    for entry in &table.versions {
        let mut notes = Vec::new();
        if entry.latest {
            notes.push("latest");
        }
        if entry.regression_only {
            notes.push("regression only");
        }
        if entry.is_built() {
            notes.push("built from source");
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        };
        println!(
            "{}{notes}: swagger.json + {} v3 documents",
            entry.version,
            entry.v3.len()
        );
    }
    Ok(())
}

fn run_where(args: &[String], root: &Path) -> Result<(), SpecError> {
    let flags = Flags::parse(args, &["--spec-dir"])?;
    let explicit = flags.get("--spec-dir").map(Path::new);
    println!("{}", resolve_spec_dir(explicit, root));
    Ok(())
}
