//! Tests of `xtask/src/spec_fetch.rs`: fetching against a loopback HTTP server (no network),
//! the versions table of the repository, and spec directory resolution.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../src/spec_fetch.rs"]
mod spec_fetch;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{real_spec_dir, repo_root};

use sha2::{Digest, Sha256};
use spec_fetch::{
    FetchOptions, FileStatus, SpecError, SpecSource, VersionEntry, fetch, load_versions,
    resolve_spec_dir_with_env,
};

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server on 127.0.0.1, one request per connection.

#[derive(Clone)]
enum Reply {
    /// 200 with the body and its exact Content-Length.
    Ok(Vec<u8>),
    /// 200 announcing `announced` bytes, then sending only `body` and closing.
    Truncated { announced: usize, body: Vec<u8> },
    /// 200 without Content-Length: the body ends when the connection closes.
    CloseDelimited(Vec<u8>),
    /// 404.
    NotFound,
}

struct Server {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (routes, hits, stop) = (routes.clone(), hits.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    serve_one(stream, &routes, &hits);
                }
            })
        };
        Self {
            addr,
            routes,
            hits,
            stop,
            handle: Some(handle),
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn route(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_owned(), reply);
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn serve_one(stream: TcpStream, routes: &Mutex<HashMap<String, Reply>>, hits: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || request_line.is_empty() {
        return; // the wake-up connection of Drop, or a broken client
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    hits.lock().unwrap().push(path.clone());
    let reply = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Reply::NotFound);
    let mut out = stream;
    let (status, announced, body) = match reply {
        Reply::Ok(body) => ("200 OK", Some(body.len()), body),
        Reply::Truncated { announced, body } => ("200 OK", Some(announced), body),
        Reply::CloseDelimited(body) => ("200 OK", None, body),
        Reply::NotFound => ("404 Not Found", Some(10), b"not found\n".to_vec()),
    };
    let length = announced.map_or_else(String::new, |n| format!("Content-Length: {n}\r\n"));
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n"
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// Synthetic versions table.

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const SWAGGER: &[u8] = br#"{"swagger":"2.0","info":{"title":"Kubernetes","version":"unversioned"}}
"#;
const APPS_V1: &[u8] = br#"{"openapi":"3.0.0","paths":{"/apis/apps/v1/":{}}}
"#;
const CORE_V1: &[u8] = br#"{"openapi":"3.0.0","paths":{"/api/v1/":{}},"components":{}}
"#;

struct Fixture {
    _tmp: tempfile::TempDir,
    dest: PathBuf,
    entry: VersionEntry,
    server: Server,
}

impl Fixture {
    /// A server that serves the three synthetic files of version 9.9.0 correctly, and a table
    /// pinning them; `dest` is an empty destination root.
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let table_path = tmp.path().join("versions.toml");
        fs::write(&table_path, synthetic_table()).unwrap();
        let table = load_versions(&table_path).unwrap();
        let entry = table.get("9.9.0").unwrap().clone();
        let server = Server::start();
        server.route("/v9.9.0/swagger.json", Reply::Ok(SWAGGER.to_vec()));
        server.route(
            "/v9.9.0/v3/apis__apps__v1_openapi.json",
            Reply::Ok(APPS_V1.to_vec()),
        );
        server.route(
            "/v9.9.0/v3/api__v1_openapi.json",
            Reply::Ok(CORE_V1.to_vec()),
        );
        let dest = tmp.path().join("dest");
        Self {
            _tmp: tmp,
            dest,
            entry,
            server,
        }
    }

    fn opts(&self) -> FetchOptions {
        FetchOptions {
            base_url: Some(self.server.base_url()),
            timeout: Duration::from_secs(20),
        }
    }

    fn swagger_path(&self) -> PathBuf {
        self.dest.join("v9.9.0/swagger.json")
    }
}

fn synthetic_table() -> String {
    format!(
        r#"
[[version]]
version = "9.9.0"
latest = true
swagger_url = "https://example.invalid/v9.9.0/swagger.json"
swagger_sha256 = "{}"
swagger_bytes = {}
v3_base_url = "https://example.invalid/v9.9.0/v3"

[[version.v3]]
file = "apis__apps__v1_openapi.json"
sha256 = "{}"
bytes = {}

[[version.v3]]
file = "api__v1_openapi.json"
sha256 = "{}"
bytes = {}

[[version]]
version = "9.8.0"
regression_only = true
swagger_url = "https://example.invalid/v9.8.0/swagger.json"
swagger_sha256 = "{}"
swagger_bytes = {}
v3_base_url = "https://example.invalid/v9.8.0/v3"
"#,
        sha256_hex(SWAGGER),
        SWAGGER.len(),
        sha256_hex(APPS_V1),
        APPS_V1.len(),
        sha256_hex(CORE_V1),
        CORE_V1.len(),
        sha256_hex(SWAGGER),
        SWAGGER.len(),
    )
}

/// Every file below `dir` (recursively), as paths relative to `dir`, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Fetch.

#[test]
fn fetch_downloads_and_verifies_all_files() {
    let fx = Fixture::new();
    let report = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap();
    assert_eq!(report.version, "9.9.0");
    assert_eq!(report.dir, fx.dest.join("v9.9.0"));
    assert_eq!(report.downloaded(), 3);
    assert_eq!(report.already_present(), 0);
    assert_eq!(report.files[0].path, fx.swagger_path());
    assert_eq!(
        report.files[0].url,
        format!("{}/v9.9.0/swagger.json", fx.server.base_url())
    );
    assert_eq!(
        tree(&fx.dest),
        [
            "v9.9.0/swagger.json",
            "v9.9.0/v3/api__v1_openapi.json",
            "v9.9.0/v3/apis__apps__v1_openapi.json",
        ]
    );
    assert_eq!(fs::read(fx.swagger_path()).unwrap(), SWAGGER);
    assert_eq!(
        fs::read(fx.dest.join("v9.9.0/v3/apis__apps__v1_openapi.json")).unwrap(),
        APPS_V1
    );
    assert_eq!(
        fs::read(fx.dest.join("v9.9.0/v3/api__v1_openapi.json")).unwrap(),
        CORE_V1
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(fx.swagger_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}

#[test]
fn fetch_skips_files_already_present_with_the_right_hash() {
    let fx = Fixture::new();
    fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap();
    let hits_after_first = fx.server.hits().len();
    assert_eq!(hits_after_first, 3);

    let report = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap();
    assert_eq!(report.already_present(), 3);
    assert_eq!(report.downloaded(), 0);
    assert!(
        report
            .files
            .iter()
            .all(|f| f.status == FileStatus::AlreadyPresent)
    );
    assert_eq!(fx.server.hits().len(), hits_after_first, "no new request");

    // A damaged copy (same size, other bytes) is not trusted: it is downloaded again.
    let mut damaged = SWAGGER.to_vec();
    damaged[0] = b'[';
    fs::write(fx.swagger_path(), &damaged).unwrap();
    let report = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap();
    assert_eq!(report.downloaded(), 1);
    assert_eq!(report.files[0].status, FileStatus::Downloaded);
    assert_eq!(fs::read(fx.swagger_path()).unwrap(), SWAGGER);
    let hits = fx.server.hits();
    assert_eq!(hits.len(), hits_after_first + 1);
    assert_eq!(hits[hits_after_first], "/v9.9.0/swagger.json");
}

#[test]
fn fetch_refuses_a_wrong_hash_and_leaves_nothing() {
    let fx = Fixture::new();
    // Same length, different bytes: only the sha256 can tell.
    let mut evil = SWAGGER.to_vec();
    evil[1] = b'X';
    fx.server
        .route("/v9.9.0/swagger.json", Reply::Ok(evil.clone()));

    let err = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap_err();
    let url = format!("{}/v9.9.0/swagger.json", fx.server.base_url());
    match &err {
        SpecError::HashMismatch {
            url: u,
            expected,
            actual,
            bytes,
            file,
        } => {
            assert_eq!(u, &url);
            assert_eq!(expected, &sha256_hex(SWAGGER));
            assert_eq!(actual, &sha256_hex(&evil));
            assert_eq!(*bytes, SWAGGER.len() as u64);
            assert_eq!(file, &fx.swagger_path());
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");
    assert!(msg.contains(&sha256_hex(SWAGGER)), "{msg}");
    assert!(msg.contains(&sha256_hex(&evil)), "{msg}");
    // No destination file and no temporary file left behind; later files not attempted.
    assert_eq!(tree(&fx.dest), Vec::<String>::new());
    assert_eq!(fx.server.hits(), ["/v9.9.0/swagger.json"]);
}

#[test]
fn fetch_with_a_wrong_hash_keeps_the_previous_file() {
    let fx = Fixture::new();
    // A previous, complete file is at the destination (e.g. fetched under an older pin).
    let previous = b"{\"swagger\":\"2.0\",\"previous\":true}\n".to_vec();
    fs::create_dir_all(fx.dest.join("v9.9.0")).unwrap();
    fs::write(fx.swagger_path(), &previous).unwrap();

    let mut evil = SWAGGER.to_vec();
    evil[2] = b'Y';
    fx.server.route("/v9.9.0/swagger.json", Reply::Ok(evil));
    let err = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap_err();
    assert!(matches!(err, SpecError::HashMismatch { .. }), "{err:?}");
    assert_eq!(fs::read(fx.swagger_path()).unwrap(), previous);
    assert_eq!(tree(&fx.dest), ["v9.9.0/swagger.json"]);
}

#[test]
fn fetch_refuses_a_truncated_body() {
    let fx = Fixture::new();
    let half = APPS_V1[..APPS_V1.len() / 2].to_vec();
    fx.server.route(
        "/v9.9.0/v3/apis__apps__v1_openapi.json",
        Reply::Truncated {
            announced: APPS_V1.len(),
            body: half.clone(),
        },
    );
    let err = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap_err();
    let url = format!(
        "{}/v9.9.0/v3/apis__apps__v1_openapi.json",
        fx.server.base_url()
    );
    match &err {
        SpecError::BodyRead {
            url: u,
            expected,
            received,
            ..
        } => {
            assert_eq!(u, &url);
            assert_eq!(*expected, APPS_V1.len() as u64);
            assert!(*received <= half.len() as u64, "{received}");
        }
        other => panic!("expected BodyRead, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");
    assert!(msg.contains(&APPS_V1.len().to_string()), "{msg}");
    // swagger.json (before it) was completed and verified; the truncated file is not there.
    assert_eq!(tree(&fx.dest), ["v9.9.0/swagger.json"]);
}

#[test]
fn fetch_refuses_a_wrong_content_length_and_a_short_body() {
    let fx = Fixture::new();
    // Announced and sent in full, but shorter than pinned.
    fx.server.route(
        "/v9.9.0/swagger.json",
        Reply::Ok(SWAGGER[..SWAGGER.len() - 1].to_vec()),
    );
    let err = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap_err();
    match &err {
        SpecError::LengthMismatch {
            expected, found, ..
        } => {
            assert_eq!(*expected, SWAGGER.len() as u64);
            assert!(found.contains(&(SWAGGER.len() - 1).to_string()), "{found}");
        }
        other => panic!("expected LengthMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("/v9.9.0/swagger.json"), "{err}");
    assert_eq!(tree(&fx.dest), Vec::<String>::new());

    // No Content-Length, connection closed early: the pinned size catches it.
    fx.server.route(
        "/v9.9.0/swagger.json",
        Reply::CloseDelimited(SWAGGER[..10].to_vec()),
    );
    let err = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap_err();
    assert!(
        matches!(&err, SpecError::LengthMismatch { found, .. } if found == "body has 10 bytes"),
        "{err:?}"
    );
    // ... and so does a body longer than pinned.
    let mut long = SWAGGER.to_vec();
    long.extend_from_slice(b"trailing garbage");
    fx.server
        .route("/v9.9.0/swagger.json", Reply::CloseDelimited(long));
    let err = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap_err();
    assert!(
        matches!(&err, SpecError::LengthMismatch { found, .. } if found.starts_with("body has more than")),
        "{err:?}"
    );
    assert_eq!(tree(&fx.dest), Vec::<String>::new());
}

#[test]
fn fetch_refuses_http_404_naming_the_url() {
    let fx = Fixture::new();
    fx.server
        .route("/v9.9.0/v3/api__v1_openapi.json", Reply::NotFound);
    let err = fetch(&fx.entry, &fx.dest, &fx.opts()).unwrap_err();
    let url = format!("{}/v9.9.0/v3/api__v1_openapi.json", fx.server.base_url());
    match &err {
        SpecError::HttpStatus {
            url: u,
            status,
            file,
        } => {
            assert_eq!(u, &url);
            assert_eq!(*status, 404);
            assert_eq!(file, &fx.dest.join("v9.9.0/v3/api__v1_openapi.json"));
        }
        other => panic!("expected HttpStatus, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&url) && msg.contains("404"), "{msg}");
    assert_eq!(
        tree(&fx.dest),
        [
            "v9.9.0/swagger.json",
            "v9.9.0/v3/apis__apps__v1_openapi.json"
        ]
    );
}

#[test]
fn fetch_reports_an_unreachable_server_with_the_url() {
    let fx = Fixture::new();
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let opts = FetchOptions {
        base_url: Some(format!("http://127.0.0.1:{port}/")),
        timeout: Duration::from_secs(5),
    };
    let err = fetch(&fx.entry, &fx.dest, &opts).unwrap_err();
    assert!(matches!(err, SpecError::Request { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("http://127.0.0.1:{port}/v9.9.0/swagger.json")),
        "{err}"
    );
    assert_eq!(tree(&fx.dest), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// The versions table.

fn write_table(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("versions.toml");
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn load_versions_rejects_broken_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let good = synthetic_table();
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("regression_only = true", "latest = true"),
            "exactly one version",
        ),
        (good.replace("latest = true\n", ""), "exactly one version"),
        (good.replace("9.8.0", "9.9.0"), "listed twice"),
        (
            good.replace("version = \"9.8.0\"", "version = \"v9.8\""),
            "X.Y.Z",
        ),
        (
            good.replace("\"apis__apps__v1_openapi.json\"", "\"../../etc/passwd\""),
            "plain file name",
        ),
        (
            good.replace(
                "\"api__v1_openapi.json\"",
                "\"apis__apps__v1_openapi.json\"",
            ),
            "listed twice",
        ),
        (
            good.replacen(&sha256_hex(SWAGGER), &"A".repeat(64), 1),
            "lowercase hex",
        ),
        (
            good.replacen(
                "https://example.invalid/v9.9.0/swagger.json",
                "http://x/s.json",
                1,
            ),
            "https://",
        ),
        (
            good.replacen("latest = true", "latest = true\nlatset = true", 1),
            "unknown field",
        ),
        (
            good.replacen("swagger_bytes = ", "swagger_bytes = -", 1),
            "cannot parse",
        ),
    ];
    for (text, want) in cases {
        let path = write_table(tmp.path(), &text);
        let err = load_versions(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(want), "want {want:?} in: {msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
    let err = load_versions(&tmp.path().join("missing.toml")).unwrap_err();
    assert!(matches!(err, SpecError::ReadVersions { .. }), "{err:?}");
}

#[test]
fn version_lookup() {
    let tmp = tempfile::tempdir().unwrap();
    let table = load_versions(&write_table(tmp.path(), &synthetic_table())).unwrap();
    assert_eq!(table.latest().unwrap().version, "9.9.0");
    assert_eq!(table.find("latest").unwrap().version, "9.9.0");
    assert_eq!(table.find("v9.8.0").unwrap().version, "9.8.0");
    assert!(table.find("9.8.0").unwrap().regression_only);
    let err = table.get("1.2.3").unwrap_err();
    assert!(err.to_string().contains("9.9.0, 9.8.0"), "{err}");
    let entry = table.get("9.9.0").unwrap();
    let files = entry.files();
    assert_eq!(files.len(), 3);
    assert_eq!(
        files[1].url.as_deref(),
        Some("https://example.invalid/v9.9.0/v3/apis__apps__v1_openapi.json")
    );
    assert_eq!(
        files[1].relative_path,
        Path::new("v9.9.0/v3/apis__apps__v1_openapi.json")
    );
}

#[test]
fn repository_versions_table_is_valid() {
    let table = load_versions(&repo_root().join("spec/versions.toml")).unwrap();
    let versions: Vec<&str> = table.versions.iter().map(|v| v.version.as_str()).collect();
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "1.28.4", "1.32.0", "1.33.1", "1.34.0", "1.35.0", "1.36.0", "1.37.2"
        ]
    );
    let latest: Vec<&str> = table
        .versions
        .iter()
        .filter(|v| v.latest)
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(latest, ["1.37.2"]);
    let regression: Vec<&str> = table
        .versions
        .iter()
        .filter(|v| v.regression_only)
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(regression, ["1.28.4"]);
    let built: Vec<&str> = table
        .versions
        .iter()
        .filter(|v| v.is_built())
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(built, ["1.37.2"]);
    for entry in &table.versions {
        if entry.is_built() {
            // The flags of upstream's hack/update-openapi-spec.sh that shape the spec.
            for flag in [
                "--feature-gates=AllAlpha=true,AllBeta=true,OpenAPIEnums=false",
                "--runtime-config=api/all=true",
            ] {
                assert!(
                    entry.apiserver_flags.iter().any(|f| f == flag),
                    "{}: {flag} missing",
                    entry.version
                );
            }
        } else {
            let tag = format!("/v{}/", entry.version);
            let swagger = entry.swagger_url.as_deref().unwrap();
            let v3 = entry.v3_base_url.as_deref().unwrap();
            assert!(swagger.contains(&tag), "{swagger}");
            assert!(v3.contains(&tag), "{v3}");
            assert!(swagger.ends_with("/api/openapi-spec/swagger.json"));
            assert!(v3.ends_with("/api/openapi-spec/v3"));
        }
        assert!(
            entry.v3.iter().any(|d| d.file == "api__v1_openapi.json"),
            "{}: no core v1 document",
            entry.version
        );
        assert!(
            entry
                .v3
                .iter()
                .any(|d| d.file == "apis__apps__v1_openapi.json"),
            "{}: no apps/v1 document",
            entry.version
        );
    }
}

#[test]
fn repository_versions_table_matches_real_spec_files() {
    let Some(dir) = real_spec_dir("v1.36.0/swagger.json") else {
        println!(
            "NOTE: no local copy of the Kubernetes specs (K8S_SPEC_DIR, ../shared/spec or \
             /work/shared/spec); hashes of spec/versions.toml not checked against real files"
        );
        return;
    };
    let table = load_versions(&repo_root().join("spec/versions.toml")).unwrap();
    let mut checked = 0;
    let mut checked_built = 0;
    let mut problems = Vec::new();
    for entry in &table.versions {
        // A built version is not in the shared copy (nothing to download); its files are in the
        // workspace cache once `spec fetch` produced them.
        let dir = if entry.is_built() && !dir.join(entry.dir_name()).is_dir() {
            let cache = repo_root().join("spec");
            if !cache.join(entry.dir_name()).join("swagger.json").is_file() {
                println!(
                    "NOTE: {} is built (no download); not in {} nor {}: run `cargo xtask spec \
                     fetch --version {}` to produce and check it",
                    entry.version,
                    dir.display(),
                    cache.display(),
                    entry.version
                );
                continue;
            }
            cache
        } else {
            dir.clone()
        };
        // Every pinned file is there with the pinned size and hash ...
        for file in entry.files() {
            let path = dir.join(&file.relative_path);
            let Ok(meta) = fs::metadata(&path) else {
                problems.push(format!("{}: missing", path.display()));
                continue;
            };
            if meta.len() != file.bytes {
                problems.push(format!(
                    "{}: {} bytes, pinned {}",
                    path.display(),
                    meta.len(),
                    file.bytes
                ));
                continue;
            }
            let actual = spec_fetch::sha256_file(&path).unwrap();
            if actual != file.sha256 {
                problems.push(format!(
                    "{}: sha256 {actual}, pinned {}",
                    path.display(),
                    file.sha256
                ));
            }
            if entry.is_built() {
                checked_built += 1;
            } else {
                checked += 1;
            }
        }
        // ... and every v3 document of the local copy is pinned.
        let pinned: Vec<&str> = entry.v3.iter().map(|d| d.file.as_str()).collect();
        let v3_dir = dir.join(entry.dir_name()).join("v3");
        for e in fs::read_dir(&v3_dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !pinned.contains(&name.as_str()) {
                problems.push(format!("{}/{name}: not in versions.toml", v3_dir.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    println!(
        "checked {checked} pinned files against {} and {checked_built} of built versions",
        dir.display()
    );
    assert_eq!(checked, 239);
    assert!(checked_built == 0 || checked_built == 66, "{checked_built}");
}

// ---------------------------------------------------------------------------------------------
// Spec directory resolution.

#[test]
fn resolve_spec_dir_lookup_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let explicit = root.join("explicit");

    // Nothing: the committed model. A spec/ directory with only versions.toml is not a cache.
    assert_eq!(
        resolve_spec_dir_with_env(None, None, root),
        SpecSource::Embedded
    );
    fs::create_dir_all(root.join("spec/v1.36.0")).unwrap();
    fs::write(root.join("spec/versions.toml"), "").unwrap();
    assert_eq!(
        resolve_spec_dir_with_env(None, None, root),
        SpecSource::Embedded
    );
    // An empty K8S_SPEC_DIR counts as unset.
    assert_eq!(
        resolve_spec_dir_with_env(None, Some(OsString::new()), root),
        SpecSource::Embedded
    );

    // The cache, once it holds v<ver>/swagger.json.
    fs::write(root.join("spec/v1.36.0/swagger.json"), "{}").unwrap();
    let cache = resolve_spec_dir_with_env(None, None, root);
    assert_eq!(cache, SpecSource::Cache(root.join("spec")));
    assert_eq!(
        cache.swagger_path("v1.36.0"),
        Some(root.join("spec/v1.36.0/swagger.json"))
    );
    assert_eq!(cache.swagger_path("1.35.0"), None);

    // The environment beats the cache; an explicit directory beats both.
    let env = resolve_spec_dir_with_env(None, Some("/from/env".into()), root);
    assert_eq!(env, SpecSource::Env(PathBuf::from("/from/env")));
    assert_eq!(env.dir(), Some(Path::new("/from/env")));
    assert_eq!(
        resolve_spec_dir_with_env(Some(&explicit), Some("/from/env".into()), root),
        SpecSource::Explicit(explicit.clone())
    );
    assert_eq!(SpecSource::Embedded.dir(), None);
    assert!(SpecSource::Embedded.to_string().contains("committed"));
}

#[test]
fn run_rejects_bad_command_lines() {
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["fetch", "--version"],
        vec!["fetch", "--bogus", "x"],
        vec!["fetch", "--timeout", "soon"],
    ] {
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let err = spec_fetch::run(&args).unwrap_err();
        assert!(matches!(err, SpecError::Usage(_)), "{args:?}: {err:?}");
        assert!(err.to_string().contains("usage: cargo xtask spec"), "{err}");
    }
    let err = spec_fetch::run(&[
        "fetch".to_owned(),
        "--version".to_owned(),
        "0.0.1".to_owned(),
    ])
    .unwrap_err();
    assert!(matches!(err, SpecError::UnknownVersion { .. }), "{err:?}");
}

#[test]
fn run_fetch_with_a_mirror() {
    let fx = Fixture::new();
    let table = fx.dest.parent().unwrap().join("versions.toml");
    let args: Vec<String> = [
        "fetch",
        "--versions",
        table.to_str().unwrap(),
        "--version",
        "latest",
        "--dest",
        fx.dest.to_str().unwrap(),
        "--base-url",
        &fx.server.base_url(),
        "--timeout=20",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    spec_fetch::run(&args).unwrap();
    assert_eq!(fs::read(fx.swagger_path()).unwrap(), SWAGGER);
    assert_eq!(tree(&fx.dest).len(), 3);
}

#[test]
fn fetch_latest_real_version_from_a_local_mirror() {
    let Some(dir) = real_spec_dir("v1.36.0/swagger.json") else {
        println!(
            "NOTE: no local copy of the Kubernetes specs; real fetch through a mirror skipped"
        );
        return;
    };
    let table = load_versions(&repo_root().join("spec/versions.toml")).unwrap();
    // The newest downloadable version (a built one is not in the shared copy).
    let entry = table.versions.iter().find(|v| !v.is_built()).unwrap();
    let server = Server::start();
    for file in entry.files() {
        let url_path = format!("/{}", file.relative_path.display());
        server.route(
            &url_path,
            Reply::Ok(fs::read(dir.join(&file.relative_path)).unwrap()),
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let opts = FetchOptions {
        base_url: Some(server.base_url()),
        timeout: Duration::from_secs(60),
    };
    let report = fetch(entry, tmp.path(), &opts).unwrap();
    assert_eq!(report.downloaded(), entry.v3.len() + 1);
    let report = fetch(entry, tmp.path(), &opts).unwrap();
    assert_eq!(report.already_present(), entry.v3.len() + 1);
    assert_eq!(server.hits().len(), entry.v3.len() + 1);
}

// ---------------------------------------------------------------------------------------------
// Built versions (no download URL: `module` and `apiserver_flags`).

/// The synthetic table with 9.9.0 turned into a built version.
fn built_table() -> String {
    synthetic_table().replacen(
        "swagger_url = \"https://example.invalid/v9.9.0/swagger.json\"",
        "module = \"k8s.io/kubernetes v9.9.0\"\napiserver_flags = [\"--runtime-config=api/all=true\"]",
        1,
    )
    .replacen("v3_base_url = \"https://example.invalid/v9.9.0/v3\"\n", "", 1)
}

#[test]
fn built_versions_are_validated() {
    let tmp = tempfile::tempdir().unwrap();
    let good = built_table();
    let table = load_versions(&write_table(tmp.path(), &good)).unwrap();
    let entry = table.get("9.9.0").unwrap();
    assert!(entry.is_built());
    assert!(entry.files().iter().all(|f| f.url.is_none()));
    assert!(!table.get("9.8.0").unwrap().is_built());
    let cases: Vec<(String, &str)> = vec![
        (
            good.replacen(
                "module = ",
                "swagger_url = \"https://example.invalid/s.json\"\nmodule = ",
                1,
            ),
            "excludes `swagger_url`",
        ),
        (
            good.replacen("k8s.io/kubernetes v9.9.0", "k8s.io/kubernetes v9.9.1", 1),
            "come from \"k8s.io/kubernetes v9.9.0\"",
        ),
        (
            good.replacen("apiserver_flags = [\"--runtime-config=api/all=true\"]", "", 1),
            "needs `apiserver_flags`",
        ),
        (
            good.replacen("\"--runtime-config=api/all=true\"", "\"runtime-config\"", 1),
            "not --name[=value]",
        ),
        (
            good.replacen(
                "\"--runtime-config=api/all=true\"",
                "\"--etcd-servers=http://x\"",
                1,
            ),
            "set by the control plane",
        ),
        (
            good.replacen("module = \"k8s.io/kubernetes v9.9.0\"\n", "", 1),
            "needs `swagger_url` and `v3_base_url`",
        ),
        (
            synthetic_table().replacen(
                "v3_base_url = \"https://example.invalid/v9.9.0/v3\"",
                "v3_base_url = \"https://example.invalid/v9.9.0/v3\"\napiserver_flags = [\"--v=2\"]",
                1,
            ),
            "only for a built version",
        ),
    ];
    for (text, want) in cases {
        let path = write_table(tmp.path(), &text);
        let msg = load_versions(&path).unwrap_err().to_string();
        assert!(msg.contains(want), "want {want:?} in: {msg}");
        assert!(msg.contains("version 9.9.0"), "{msg}");
    }
}

#[test]
fn a_built_version_is_not_downloaded_except_from_a_mirror() {
    let fx = Fixture::new();
    let tmp = tempfile::tempdir().unwrap();
    let table = load_versions(&write_table(tmp.path(), &built_table())).unwrap();
    let entry = table.get("9.9.0").unwrap();
    let no_mirror = FetchOptions {
        base_url: None,
        timeout: Duration::from_secs(20),
    };
    let err = fetch(entry, &fx.dest, &no_mirror).unwrap_err();
    assert!(matches!(err, SpecError::NoUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("v9.9.0/swagger.json"), "{err}");
    assert!(!fx.dest.exists());
    // A mirror holds the files in the destination layout, built or not; the pins still apply.
    let report = fetch(entry, &fx.dest, &fx.opts()).unwrap();
    assert_eq!(report.downloaded(), 3);
}

/// `spec fetch` of a built version: the builder runs only when a file is missing or differs,
/// and what it produced is checked against the pins afterwards.
#[test]
fn run_fetch_builds_a_built_version_only_when_needed_and_checks_the_result() {
    let tmp = tempfile::tempdir().unwrap();
    let table = write_table(tmp.path(), &built_table());
    let dest = tmp.path().join("dest");
    let args: Vec<String> = [
        "fetch",
        "--versions",
        table.to_str().unwrap(),
        "--version",
        "9.9.0",
        "--dest",
        dest.to_str().unwrap(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let calls = std::cell::Cell::new(0);
    let swagger = std::cell::RefCell::new(SWAGGER.to_vec());
    let builder = |entry: &VersionEntry, root: &Path| -> Result<(), SpecError> {
        calls.set(calls.get() + 1);
        assert_eq!(root, dest);
        let dir = root.join(entry.dir_name());
        fs::create_dir_all(dir.join("v3")).unwrap();
        fs::write(dir.join("swagger.json"), &*swagger.borrow()).unwrap();
        fs::write(dir.join("v3/apis__apps__v1_openapi.json"), APPS_V1).unwrap();
        fs::write(dir.join("v3/api__v1_openapi.json"), CORE_V1).unwrap();
        Ok(())
    };
    spec_fetch::run_with(&args, &builder).unwrap();
    assert_eq!(calls.get(), 1);
    assert_eq!(tree(&dest).len(), 3);
    // Everything present and verified: no build.
    spec_fetch::run_with(&args, &builder).unwrap();
    assert_eq!(calls.get(), 1);
    // A changed file is produced again; a build that does not reproduce the pins fails.
    fs::write(dest.join("v9.9.0/swagger.json"), b"{}").unwrap();
    swagger.borrow_mut().push(b' ');
    let err = spec_fetch::run_with(&args, &builder).unwrap_err();
    assert_eq!(calls.get(), 2);
    assert!(matches!(err, SpecError::Built { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("v9.9.0/swagger.json does not match its pin"),
        "{msg}"
    );
    assert!(msg.contains("k8s.io/kubernetes v9.9.0"), "{msg}");
    // `run` (no builder) says how to build.
    fs::remove_file(dest.join("v9.9.0/swagger.json")).unwrap();
    let err = spec_fetch::run(&args).unwrap_err();
    assert!(
        err.to_string().contains("cannot build an apiserver"),
        "{err}"
    );
}
