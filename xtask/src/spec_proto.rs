//! The proto IDL of a version (`<dest>/v<version>/proto/`), laid out by `cargo xtask spec fetch`
//! (a module of `spec_fetch.rs`).
//!
//! The `generated.proto` files of the built-in API groups are not published beside the OpenAPI
//! documents: they live in the Go modules `k8s.io/api`, `k8s.io/apimachinery`,
//! `k8s.io/apiextensions-apiserver` and `k8s.io/kube-aggregator` at `v0.<minor>.<patch>`. A
//! version's `proto_modules` in `spec/versions.toml` pins each module zip by its go.sum line
//! (`<module> <version> h1:<hash>`). The zip is read from the local Go module cache when it is
//! there (no `go` command needed), else downloaded from the Go module proxy (`GOPROXY`, default
//! `https://proxy.golang.org`); either way its `h1:` hash (Go's `dirhash.Hash1` over the zip's
//! files) must equal the pin before anything is taken from it. Every `generated.proto` is then
//! written by import path (`proto/k8s.io/<module>/<package dir>/generated.proto`, as
//! `protoc -I proto` resolves the imports) into a staging directory with `SHA256SUMS` and
//! `SOURCE.txt`, and the staging directory replaces `proto/` with a rename.
//!
//! Why go.sum hashes and not a sha256 per file: one pin per module (four lines per version
//! instead of ~70), and the very value the Go checksum database (sum.golang.org) publishes for
//! that module version, so anyone can check a pin against a public, append-only log or any
//! go.sum; the per-file sha256 are still written to `proto/SHA256SUMS` for `sha256sum -c`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{SpecError, VersionEntry, hex};

/// The Go modules whose `generated.proto` files make up the proto IDL of the built-in API.
pub const PROTO_MODULES: &[&str] = &[
    "k8s.io/api",
    "k8s.io/apimachinery",
    "k8s.io/apiextensions-apiserver",
    "k8s.io/kube-aggregator",
];

/// The default Go module proxy.
pub const DEFAULT_PROXY: &str = "https://proxy.golang.org";

/// Largest module zip accepted (the Go command's own limit is 500 MiB; k8s.io/api is ~6 MB).
const MAX_ZIP_BYTES: u64 = 500 << 20;

/// Largest `generated.proto` accepted (the largest, k8s.io/api/core/v1, is ~300 kB).
const MAX_PROTO_BYTES: u64 = 16 << 20;

/// One pinned module zip: a go.sum line `<path> <version> h1:<base64 sha256>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulePin {
    /// Module path, e.g. `k8s.io/api`.
    pub path: String,
    /// Module version, e.g. `v0.37.2`.
    pub version: String,
    /// Go's `h1:` hash of the module zip.
    pub h1: String,
}

impl ModulePin {
    /// Parses a go.sum line of a module zip (not a `/go.mod` line).
    pub fn parse(line: &str) -> Result<Self, String> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [path, version, h1] = fields.as_slice() else {
            return Err(format!(
                "{line:?} is not a go.sum line `<module> <version> h1:<hash>`"
            ));
        };
        if version.ends_with("/go.mod") {
            return Err(format!("{line:?} pins a go.mod file, not the module zip"));
        }
        let digest = h1
            .strip_prefix("h1:")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        if digest.is_none_or(|d| d.len() != 32) {
            return Err(format!("{line:?}: {h1:?} is not h1:<base64 of 32 bytes>"));
        }
        Ok(Self {
            path: (*path).to_owned(),
            version: (*version).to_owned(),
            h1: (*h1).to_owned(),
        })
    }

    /// The go.sum line.
    pub fn line(&self) -> String {
        format!("{} {} {}", self.path, self.version, self.h1)
    }

    /// `<path>@<version>`, the prefix of every file name in the module zip.
    fn at(&self) -> String {
        format!("{}@{}", self.path, self.version)
    }
}

/// Checks a version's `proto_modules`: go.sum lines of exactly the four [`PROTO_MODULES`], each
/// once, at `v0.<minor>.<patch>` of `version` (the staging modules' tag of a release).
pub fn check_pins(version: &str, lines: &[String]) -> Result<Vec<ModulePin>, String> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let want = module_version(version);
    let mut pins: Vec<ModulePin> = Vec::new();
    for line in lines {
        let pin = ModulePin::parse(line)?;
        if !PROTO_MODULES.contains(&pin.path.as_str()) {
            return Err(format!(
                "proto module {}: not one of {}",
                pin.path,
                PROTO_MODULES.join(", ")
            ));
        }
        if pin.version != want {
            return Err(format!(
                "proto module {} {}: Kubernetes {version}'s modules are at {want}",
                pin.path, pin.version
            ));
        }
        if pins.iter().any(|p| p.path == pin.path) {
            return Err(format!("proto module {} is listed twice", pin.path));
        }
        pins.push(pin);
    }
    if pins.len() != PROTO_MODULES.len() {
        let missing: Vec<&str> = PROTO_MODULES
            .iter()
            .copied()
            .filter(|m| !pins.iter().any(|p| p.path == *m))
            .collect();
        return Err(format!(
            "proto_modules lacks {} (the IDL imports all four)",
            missing.join(", ")
        ));
    }
    Ok(pins)
}

/// `1.37.2` -> `v0.37.2`.
fn module_version(version: &str) -> String {
    let rest = version.split_once('.').map_or(version, |(_, rest)| rest);
    format!("v0.{rest}")
}

/// Where module zips come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoSources {
    /// The Go module cache (`GOMODCACHE`); a zip found there is used without a download.
    pub mod_cache: Option<PathBuf>,
    /// The module proxy's base URL; `None`: no download (only the cache).
    pub proxy: Option<String>,
    /// Time allowed for each download.
    pub timeout: Duration,
}

impl ProtoSources {
    /// As the `go` command finds them: `GOMODCACHE`, else `<first GOPATH entry>/pkg/mod`, else
    /// `$HOME/go/pkg/mod`; the first `http(s)` entry of `GOPROXY` (default
    /// [`DEFAULT_PROXY`]; `off` or only `direct` means no download).
    pub fn from_env(timeout: Duration) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mod_cache = var("GOMODCACHE")
            .map(PathBuf::from)
            .or_else(|| {
                var("GOPATH").and_then(|p| {
                    std::env::split_paths(&p)
                        .next()
                        .map(|first| first.join("pkg/mod"))
                })
            })
            .or_else(|| var("HOME").map(|h| Path::new(&h).join("go/pkg/mod")));
        let proxy = match var("GOPROXY") {
            None => Some(DEFAULT_PROXY.to_owned()),
            Some(list) => list
                .split([',', '|'])
                .map(str::trim)
                .find(|p| p.starts_with("https://") || p.starts_with("http://"))
                .map(|p| p.trim_end_matches('/').to_owned()),
        };
        Self {
            mod_cache,
            proxy,
            timeout,
        }
    }
}

/// What [`lay_out`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoReport {
    /// `<dest>/v<version>/proto`.
    pub dir: PathBuf,
    /// Number of `generated.proto` files.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// `true`: the directory was already complete (its `SOURCE.txt` names the pinned modules
    /// and every file matches `SHA256SUMS`); nothing was written.
    pub already_present: bool,
    /// Where each module zip came from (`module cache <path>` or the URL); empty when present.
    pub origins: Vec<String>,
}

/// Lays out the proto IDL of `entry` under `<dest_root>/v<version>/proto/` from its pinned module
/// zips (see the module docs). `Ok(None)` when the version pins no `proto_modules`.
pub fn lay_out(
    entry: &VersionEntry,
    dest_root: &Path,
    sources: &ProtoSources,
) -> Result<Option<ProtoReport>, SpecError> {
    let fail = |module: &str, message: String| SpecError::Proto {
        version: entry.version.clone(),
        module: module.to_owned(),
        message,
    };
    let pins = check_pins(&entry.version, &entry.proto_modules).map_err(|m| fail("-", m))?;
    if pins.is_empty() {
        return Ok(None);
    }
    let version_dir = dest_root.join(entry.dir_name());
    let dir = version_dir.join("proto");
    if let Some((files, bytes)) = present(&dir, &pins) {
        return Ok(Some(ProtoReport {
            dir,
            files,
            bytes,
            already_present: true,
            origins: Vec::new(),
        }));
    }
    fs::create_dir_all(&version_dir).map_err(|e| fail("-", io_msg(&version_dir, &e)))?;
    let staging = tempfile::Builder::new()
        .prefix(".proto-")
        .tempdir_in(&version_dir)
        .map_err(|e| fail("-", io_msg(&version_dir, &e)))?;
    let mut sums: BTreeMap<String, String> = BTreeMap::new();
    let mut bytes = 0;
    let mut origins = Vec::new();
    for pin in &pins {
        let (zip, origin) = module_zip(pin, sources).map_err(|m| fail(&pin.line(), m))?;
        let h1 = h1_of_zip(&zip).map_err(|m| fail(&pin.line(), format!("{origin}: {m}")))?;
        if h1 != pin.h1 {
            return Err(fail(
                &pin.line(),
                format!(
                    "{origin}: the zip's hash is {h1}, pinned {} (spec/versions.toml); nothing written",
                    pin.h1
                ),
            ));
        }
        let found = extract_protos(pin, &zip, staging.path(), &mut sums)
            .map_err(|m| fail(&pin.line(), format!("{origin}: {m}")))?;
        if found.0 == 0 {
            return Err(fail(&pin.line(), format!("{origin}: no generated.proto")));
        }
        bytes += found.1;
        origins.push(origin);
    }
    let write = |name: &str, text: String| {
        let path = staging.path().join(name);
        fs::write(&path, text).map_err(|e| fail("-", io_msg(&path, &e)))
    };
    write("SHA256SUMS", sha256sums(&sums))?;
    write("SOURCE.txt", source_text(&entry.version, &pins))?;
    replace_dir(staging, &dir).map_err(|m| fail("-", m))?;
    Ok(Some(ProtoReport {
        dir,
        files: sums.len(),
        bytes,
        already_present: false,
        origins,
    }))
}

fn io_msg(path: &Path, e: &io::Error) -> String {
    format!("{}: {e}", path.display())
}

/// `SHA256SUMS`: `<sha256>  <path>` lines sorted by path (`sha256sum -c` reads it).
fn sha256sums(sums: &BTreeMap<String, String>) -> String {
    sums.iter()
        .map(|(path, hash)| format!("{hash}  {path}\n"))
        .collect()
}

fn source_text(version: &str, pins: &[ModulePin]) -> String {
    let mut text = format!(
        "generated.proto files of the Kubernetes {version} API, laid out by import path by \
         `cargo xtask spec fetch`\nfrom these Go module zips, each checked against its go.sum \
         line in spec/versions.toml:\n"
    );
    for pin in pins {
        text.push_str(&format!("  {}\n", pin.line()));
    }
    text.push_str("Check the files: cd proto && sha256sum -c SHA256SUMS\n");
    text
}

/// `(files, bytes)` when `dir` is a complete layout of `pins`: `SOURCE.txt` names every pin,
/// `SHA256SUMS` lists exactly the `.proto` files there, each with its hash.
fn present(dir: &Path, pins: &[ModulePin]) -> Option<(usize, u64)> {
    let source = fs::read_to_string(dir.join("SOURCE.txt")).ok()?;
    let named: Vec<&str> = source.lines().map(str::trim).collect();
    if !pins.iter().all(|p| named.contains(&p.line().as_str())) {
        return None;
    }
    let sums = fs::read_to_string(dir.join("SHA256SUMS")).ok()?;
    let mut listed = Vec::new();
    let mut bytes = 0;
    for line in sums.lines() {
        let (hash, rel) = line.split_once("  ")?;
        let content = fs::read(dir.join(rel)).ok()?;
        if hex(&Sha256::digest(&content)) != hash {
            return None;
        }
        bytes += content.len() as u64;
        listed.push(PathBuf::from(rel));
    }
    let mut on_disk = Vec::new();
    proto_files(dir, dir, &mut on_disk).ok()?;
    listed.sort();
    on_disk.sort();
    (!listed.is_empty() && listed == on_disk).then_some((listed.len(), bytes))
}

/// Every `*.proto` under `dir`, relative to `base`.
fn proto_files(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let path = e?.path();
        if path.is_dir() {
            proto_files(base, &path, out)?;
        } else if path.extension().is_some_and(|x| x == "proto") {
            out.push(path.strip_prefix(base).unwrap_or(&path).to_owned());
        }
    }
    Ok(())
}

/// The zip of `pin` and where it came from: the module cache if it has it, else the proxy.
fn module_zip(pin: &ModulePin, sources: &ProtoSources) -> Result<(Vec<u8>, String), String> {
    let rel = format!(
        "{}/@v/{}.zip",
        escape_path(&pin.path),
        escape_path(&pin.version)
    );
    if let Some(cache) = &sources.mod_cache {
        let path = cache.join("cache/download").join(&rel);
        match fs::read(&path) {
            Ok(zip) => return Ok((zip, format!("module cache {}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_msg(&path, &e)),
        }
    }
    let Some(proxy) = &sources.proxy else {
        return Err(format!(
            "not in the Go module cache ({}) and no module proxy (GOPROXY)",
            sources
                .mod_cache
                .as_deref()
                .map_or_else(|| "none found".to_owned(), |p| p.display().to_string())
        ));
    };
    let url = format!("{}/{rel}", proxy.trim_end_matches('/'));
    download(&url, sources.timeout).map(|zip| (zip, url))
}

fn download(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let response = super::agent(timeout, super::is_loopback_url(url))
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("GET {url}: HTTP status {status}"));
    }
    let mut zip = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_ZIP_BYTES + 1)
        .read_to_end(&mut zip)
        .map_err(|e| format!("GET {url}: body unreadable after {} bytes: {e}", zip.len()))?;
    if zip.len() as u64 > MAX_ZIP_BYTES {
        return Err(format!("GET {url}: more than {MAX_ZIP_BYTES} bytes"));
    }
    Ok(zip)
}

/// The module cache's and proxy's case encoding: an upper-case letter becomes `!` + lower case.
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `dirhash.HashZip` with `Hash1`: sha256 over the lines `<hex sha256 of file>  <name>\n`
/// of every file in the zip, sorted by name, as `h1:<base64>`.
pub fn h1_of_zip(zip: &[u8]) -> Result<String, String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| format!("not a zip file: {e}"))?;
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| format!("zip entry {i}: {e}"))?;
        let name = file.name().to_owned();
        if name.contains('\n') {
            return Err(format!("zip entry {name:?}: a name with a newline"));
        }
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| format!("zip entry {name}: {e}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        if files
            .insert(name.clone(), hex(&hasher.finalize()))
            .is_some()
        {
            return Err(format!("zip entry {name} occurs twice"));
        }
    }
    let mut summary = Sha256::new();
    for (name, hash) in &files {
        summary.update(format!("{hash}  {name}\n").as_bytes());
    }
    Ok(format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    ))
}

/// Writes every `generated.proto` of the (verified) zip to `<dest>/<module path>/<dir>/`,
/// recording its hash in `sums`; returns the number of files and bytes.
fn extract_protos(
    pin: &ModulePin,
    zip: &[u8],
    dest: &Path,
    sums: &mut BTreeMap<String, String>,
) -> Result<(usize, u64), String> {
    let prefix = format!("{}/", pin.at());
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| format!("not a zip file: {e}"))?;
    let (mut count, mut bytes) = (0, 0);
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| format!("zip entry {i}: {e}"))?;
        let name = file.name().to_owned();
        let Some(rel) = name.strip_prefix(&prefix) else {
            return Err(format!("zip entry {name} is outside {prefix}"));
        };
        if !(rel == "generated.proto" || rel.ends_with("/generated.proto")) {
            continue;
        }
        if rel
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == ".." || part.contains('\\'))
        {
            return Err(format!("zip entry {name}: not a plain relative path"));
        }
        let mut content = Vec::new();
        (&mut file)
            .take(MAX_PROTO_BYTES + 1)
            .read_to_end(&mut content)
            .map_err(|e| format!("zip entry {name}: {e}"))?;
        if content.len() as u64 > MAX_PROTO_BYTES {
            return Err(format!(
                "zip entry {name}: more than {MAX_PROTO_BYTES} bytes"
            ));
        }
        let import_path = format!("{}/{rel}", pin.path);
        let path = dest.join(&import_path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| io_msg(parent, &e))?;
        }
        fs::write(&path, &content).map_err(|e| io_msg(&path, &e))?;
        sums.insert(import_path, hex(&Sha256::digest(&content)));
        count += 1;
        bytes += content.len() as u64;
    }
    Ok((count, bytes))
}

/// Moves the complete staging directory to `dir`, replacing what was there: the old directory is
/// renamed aside first, so `dir` is either the old layout or the new one, never a mix.
fn replace_dir(staging: tempfile::TempDir, dir: &Path) -> Result<(), String> {
    let staged = staging.keep();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // A temporary directory is 0700; the layout is an ordinary readable directory.
        fs::set_permissions(&staged, fs::Permissions::from_mode(0o755))
            .map_err(|e| io_msg(&staged, &e))?;
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    let old = parent.join(format!(".proto-old-{}", std::process::id()));
    let had_old = dir.exists();
    if had_old {
        let _ = fs::remove_dir_all(&old);
        fs::rename(dir, &old).map_err(|e| io_msg(dir, &e))?;
    }
    if let Err(e) = fs::rename(&staged, dir) {
        if had_old {
            let _ = fs::rename(&old, dir);
        }
        let _ = fs::remove_dir_all(&staged);
        return Err(format!(
            "cannot move {} to {}: {e}",
            staged.display(),
            dir.display()
        ));
    }
    if had_old {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}
