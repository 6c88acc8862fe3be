//! Tests of `xtask/src/spec_proto.rs`: the proto IDL of a version laid out from Go module zips
//! pinned by their go.sum lines. The hash is checked against what the Go command itself recorded
//! (`.ziphash` in the module cache); the layout against the published `proto/` directories of the
//! shared spec copy; tampering, path traversal, downloads and errors with synthetic zips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../src/spec_fetch.rs"]
mod spec_fetch;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{real_spec_dir, repo_root};

use spec_fetch::proto::{self, ProtoSources, check_pins, h1_of_zip, lay_out};
use spec_fetch::{SpecError, VersionEntry, load_versions};

fn table() -> Vec<VersionEntry> {
    load_versions(&repo_root().join("spec/versions.toml"))
        .unwrap()
        .versions
}

/// Every file under `dir` (relative path -> bytes).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn sources_from_env() -> ProtoSources {
    ProtoSources::from_env(Duration::from_secs(300))
}

/// The versions with protobuf in their model pin the modules; 1.28.4 (no numbers) does not.
#[test]
fn the_repository_table_pins_the_proto_modules_of_every_protobuf_version() {
    for entry in table() {
        let pins = check_pins(&entry.version, &entry.proto_modules).unwrap();
        let model =
            fs::read_to_string(repo_root().join(format!("spec/v{}.api", entry.version))).unwrap();
        let has_numbers = model.lines().any(|l| l.trim_start().starts_with("proto "));
        assert_eq!(
            pins.len(),
            if has_numbers { 4 } else { 0 },
            "{}: proto_modules vs the model's proto lines",
            entry.version
        );
    }
}

/// Our `h1:` of each pinned zip in the Go module cache equals the hash the Go command wrote
/// beside it (`<version>.ziphash`) and the pin.
#[test]
fn h1_of_cached_zips_equals_the_go_commands_hash_and_the_pin() {
    let Some(cache) = sources_from_env().mod_cache.filter(|c| c.is_dir()) else {
        println!("NOTE: no Go module cache; h1 check against the go command skipped");
        return;
    };
    let mut checked = 0;
    for entry in table() {
        for pin in check_pins(&entry.version, &entry.proto_modules).unwrap() {
            let dir = cache.join("cache/download").join(&pin.path).join("@v");
            let (Ok(zip), Ok(go)) = (
                fs::read(dir.join(format!("{}.zip", pin.version))),
                fs::read_to_string(dir.join(format!("{}.ziphash", pin.version))),
            ) else {
                continue;
            };
            let ours = h1_of_zip(&zip).unwrap();
            assert_eq!(ours, go.trim(), "{}", pin.line());
            assert_eq!(ours, pin.h1, "{}", pin.line());
            checked += 1;
        }
    }
    println!("{checked} module zips checked against the go command's hash");
    if checked == 0 {
        println!("NOTE: none of the pinned zips is in {}", cache.display());
    }
}

/// For every version whose published `proto/` is in the shared copy (taken from the staging
/// repositories' git tags, not from Go modules), the layout from the module zips is the same,
/// byte for byte, `SHA256SUMS` included; a second run finds it present.
#[test]
fn layout_from_module_zips_equals_the_published_proto_directories() {
    let Some(real) = real_spec_dir("v1.36.0/proto") else {
        println!("NOTE: no local copy of the specs with proto/; comparison skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for entry in table() {
        let published = real.join(entry.dir_name()).join("proto");
        if entry.proto_modules.is_empty() || !published.is_dir() {
            continue;
        }
        let report = lay_out(&entry, tmp.path(), &sources_from_env())
            .unwrap()
            .unwrap();
        assert!(!report.already_present);
        let mut ours = tree(&report.dir);
        let source = ours.remove("SOURCE.txt").unwrap();
        let source = String::from_utf8(source).unwrap();
        for line in &entry.proto_modules {
            assert!(source.contains(line.as_str()), "{source}");
        }
        let mut theirs = tree(&published);
        theirs.remove("SOURCE.txt");
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{}",
            entry.version
        );
        for (path, bytes) in &theirs {
            assert!(ours[path] == *bytes, "{}: {path} differs", entry.version);
        }
        assert_eq!(report.files, ours.len() - 1, "SHA256SUMS besides the files");
        let again = lay_out(&entry, tmp.path(), &sources_from_env())
            .unwrap()
            .unwrap();
        assert!(again.already_present);
        assert_eq!(again.files, report.files);
        compared += 1;
        println!(
            "{}: {} generated.proto files, {} bytes, equal to {}",
            entry.version,
            report.files,
            report.bytes,
            published.display()
        );
    }
    assert!(
        compared >= 1,
        "v1.36.0/proto exists, so at least it is compared"
    );
}

// ---------------------------------------------------------------------------------------------
// Synthetic module zips.

const VERSION: &str = "1.99.0";
const MODULE_VERSION: &str = "v0.99.0";

/// A module zip as the Go command makes it: every file under `<module>@<version>/`.
fn module_zip(module: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (path, content) in files {
        w.start_file(format!("{module}@{MODULE_VERSION}/{path}"), opts)
            .unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A module cache `<root>/cache/download/<module>/@v/<version>.zip` with the four modules, and
/// the version entry pinning them.
struct Synthetic {
    _tmp: tempfile::TempDir,
    cache: PathBuf,
    dest: PathBuf,
    entry: VersionEntry,
}

impl Synthetic {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("gomodcache");
        let mut lines = Vec::new();
        for module in proto::PROTO_MODULES {
            let zip = module_zip(
                module,
                &[
                    ("go.mod", "module x\n"),
                    ("README.md", "not copied\n"),
                    ("pkg/a/v1/generated.proto", &format!("// {module} a\n")),
                    ("pkg/a/v1/other.proto", "// not a generated.proto\n"),
                    ("pkg/b/generated.proto", &format!("// {module} b\n")),
                ],
            );
            lines.push(format!(
                "{module} {MODULE_VERSION} {}",
                h1_of_zip(&zip).unwrap()
            ));
            Self::put(&cache, module, &zip);
        }
        let mut entry = table().into_iter().next().unwrap();
        entry.version = VERSION.to_owned();
        entry.proto_modules = lines;
        Self {
            dest: tmp.path().join("spec"),
            cache,
            _tmp: tmp,
            entry,
        }
    }

    fn put(cache: &Path, module: &str, zip: &[u8]) {
        let dir = cache.join("cache/download").join(module).join("@v");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("{MODULE_VERSION}.zip")), zip).unwrap();
    }

    fn sources(&self) -> ProtoSources {
        ProtoSources {
            mod_cache: Some(self.cache.clone()),
            proxy: None,
            timeout: Duration::from_secs(20),
        }
    }

    fn proto_dir(&self) -> PathBuf {
        self.dest.join(format!("v{VERSION}/proto"))
    }
}

fn proto_error(err: SpecError) -> (String, String) {
    match err {
        SpecError::Proto {
            version,
            module,
            message,
        } => {
            assert_eq!(version, VERSION);
            (module, message)
        }
        other => panic!("expected SpecError::Proto, got {other:?}"),
    }
}

#[test]
fn lays_out_only_generated_proto_by_import_path_and_keeps_a_complete_layout() {
    let s = Synthetic::new();
    let report = lay_out(&s.entry, &s.dest, &s.sources()).unwrap().unwrap();
    assert_eq!(report.files, 8);
    assert!(
        report
            .origins
            .iter()
            .all(|o| o.starts_with("module cache "))
    );
    let files = tree(&s.proto_dir());
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "SHA256SUMS",
            "SOURCE.txt",
            "k8s.io/api/pkg/a/v1/generated.proto",
            "k8s.io/api/pkg/b/generated.proto",
            "k8s.io/apiextensions-apiserver/pkg/a/v1/generated.proto",
            "k8s.io/apiextensions-apiserver/pkg/b/generated.proto",
            "k8s.io/apimachinery/pkg/a/v1/generated.proto",
            "k8s.io/apimachinery/pkg/b/generated.proto",
            "k8s.io/kube-aggregator/pkg/a/v1/generated.proto",
            "k8s.io/kube-aggregator/pkg/b/generated.proto",
        ]
    );
    assert_eq!(
        files["k8s.io/api/pkg/b/generated.proto"],
        b"// k8s.io/api b\n"
    );
    let sums = String::from_utf8(files["SHA256SUMS"].clone()).unwrap();
    assert_eq!(sums.lines().count(), 8);
    assert!(
        sums.lines().all(|l| l.len() > 66 && &l[64..66] == "  "),
        "{sums}"
    );
    // A second run finds it complete and reads no zip.
    fs::remove_dir_all(&s.cache).unwrap();
    let again = lay_out(&s.entry, &s.dest, &s.sources()).unwrap().unwrap();
    assert!(again.already_present);
    // A changed file makes the layout incomplete: it is laid out again (and needs the zips).
    fs::write(s.proto_dir().join("k8s.io/api/pkg/b/generated.proto"), "x").unwrap();
    let (module, message) = proto_error(lay_out(&s.entry, &s.dest, &s.sources()).unwrap_err());
    assert!(module.starts_with("k8s.io/api v0.99.0 h1:"), "{module}");
    assert!(message.contains("not in the Go module cache"), "{message}");
    // An extra .proto file, too.
    let s = Synthetic::new();
    lay_out(&s.entry, &s.dest, &s.sources()).unwrap();
    fs::write(s.proto_dir().join("k8s.io/api/extra.proto"), "").unwrap();
    let report = lay_out(&s.entry, &s.dest, &s.sources()).unwrap().unwrap();
    assert!(!report.already_present);
    assert!(!s.proto_dir().join("k8s.io/api/extra.proto").exists());
}

#[test]
fn a_zip_that_differs_from_its_pin_is_refused_and_the_old_layout_stays() {
    let s = Synthetic::new();
    lay_out(&s.entry, &s.dest, &s.sources()).unwrap();
    let before = tree(&s.proto_dir());
    // One changed byte in one file of kube-aggregator's zip.
    let tampered = module_zip(
        "k8s.io/kube-aggregator",
        &[
            ("go.mod", "module x\n"),
            ("README.md", "not copied\n"),
            ("pkg/a/v1/generated.proto", "// k8s.io/kube-aggregator A\n"),
            ("pkg/a/v1/other.proto", "// not a generated.proto\n"),
            ("pkg/b/generated.proto", "// k8s.io/kube-aggregator b\n"),
        ],
    );
    Synthetic::put(&s.cache, "k8s.io/kube-aggregator", &tampered);
    fs::write(s.proto_dir().join("k8s.io/api/pkg/b/generated.proto"), "x").unwrap();
    let before_changed = tree(&s.proto_dir());
    let (module, message) = proto_error(lay_out(&s.entry, &s.dest, &s.sources()).unwrap_err());
    let pinned = s.entry.proto_modules[3].clone();
    assert_eq!(module, pinned);
    let actual = h1_of_zip(&tampered).unwrap();
    assert!(
        message.contains(&format!("the zip's hash is {actual}")),
        "{message}"
    );
    assert!(
        message.contains(pinned.split(' ').nth(2).unwrap()),
        "{message}"
    );
    assert!(
        message.contains("kube-aggregator/@v/v0.99.0.zip"),
        "{message}"
    );
    assert_eq!(tree(&s.proto_dir()), before_changed);
    assert_ne!(before, before_changed);
    // No staging directory is left behind.
    let left: Vec<String> = fs::read_dir(s.dest.join(format!("v{VERSION}")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["proto"]);
}

#[test]
fn a_zip_entry_outside_its_module_or_with_dot_dot_is_refused() {
    for bad in [
        "k8s.io/api@v0.99.0/../../../escape/generated.proto",
        "other@v0.99.0/generated.proto",
    ] {
        let s = Synthetic::new();
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file("k8s.io/api@v0.99.0/go.mod", opts).unwrap();
        w.write_all(b"module k8s.io/api\n").unwrap();
        w.start_file(bad, opts).unwrap();
        w.write_all(b"// bad\n").unwrap();
        let zip = w.finish().unwrap().into_inner();
        Synthetic::put(&s.cache, "k8s.io/api", &zip);
        let mut entry = s.entry.clone();
        entry.proto_modules[0] = format!("k8s.io/api v0.99.0 {}", h1_of_zip(&zip).unwrap());
        let (_, message) = proto_error(lay_out(&entry, &s.dest, &s.sources()).unwrap_err());
        assert!(message.contains(bad), "{message}");
        assert!(!s.proto_dir().exists());
        assert!(!s.dest.parent().unwrap().join("escape").exists());
    }
}

/// A tiny module proxy on loopback: answers `GET <path>` from `routes`, 404 otherwise; records
/// the paths asked for.
fn proxy(routes: BTreeMap<String, Vec<u8>>) -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
            let _ = tx.send(path.clone());
            let reply = match routes.get(&path) {
                Some(body) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&reply);
        }
    });
    (url, rx)
}

#[test]
fn a_zip_missing_from_the_cache_is_downloaded_from_the_proxy_and_checked() {
    let s = Synthetic::new();
    let api = fs::read(s.cache.join("cache/download/k8s.io/api/@v/v0.99.0.zip")).unwrap();
    fs::remove_dir_all(s.cache.join("cache/download/k8s.io/api")).unwrap();
    let (url, asked) = proxy(BTreeMap::from([(
        "/k8s.io/api/@v/v0.99.0.zip".to_owned(),
        api,
    )]));
    let sources = ProtoSources {
        proxy: Some(url.clone()),
        ..s.sources()
    };
    let report = lay_out(&s.entry, &s.dest, &sources).unwrap().unwrap();
    assert_eq!(
        report.origins[0],
        format!("{url}/k8s.io/api/@v/v0.99.0.zip")
    );
    assert!(report.origins[1].starts_with("module cache "));
    assert_eq!(
        asked.try_iter().collect::<Vec<_>>(),
        ["/k8s.io/api/@v/v0.99.0.zip"]
    );
    // A proxy without the zip: the error names the URL and the status.
    let s = Synthetic::new();
    fs::remove_dir_all(s.cache.join("cache/download/k8s.io/apimachinery")).unwrap();
    let (url, _) = proxy(BTreeMap::new());
    let sources = ProtoSources {
        proxy: Some(url.clone()),
        ..s.sources()
    };
    let (module, message) = proto_error(lay_out(&s.entry, &s.dest, &sources).unwrap_err());
    assert!(module.starts_with("k8s.io/apimachinery "), "{module}");
    assert_eq!(
        message,
        format!("GET {url}/k8s.io/apimachinery/@v/v0.99.0.zip: HTTP status 404")
    );
}

#[test]
fn proto_module_pins_are_validated() {
    let ok =
        |m: &str| format!("k8s.io/{m} v0.37.2 h1:PnxqnUFy93jr2GcpWDkKOm8wfy25kT9wa572MuQS8oc=");
    let four: Vec<String> = [
        "api",
        "apimachinery",
        "apiextensions-apiserver",
        "kube-aggregator",
    ]
    .into_iter()
    .map(ok)
    .collect();
    assert_eq!(check_pins("1.37.2", &four).unwrap().len(), 4);
    assert!(check_pins("1.37.2", &[]).unwrap().is_empty());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (four[..3].to_vec(), "lacks k8s.io/kube-aggregator"),
        (
            vec![
                four[0].clone(),
                four[0].clone(),
                four[1].clone(),
                four[2].clone(),
            ],
            "listed twice",
        ),
        (
            {
                let mut v = four.clone();
                v[0] = v[0].replace("v0.37.2", "v0.37.1");
                v
            },
            "modules are at v0.37.2",
        ),
        (
            {
                let mut v = four.clone();
                v[1] = v[1].replace("v0.37.2", "v0.37.2/go.mod");
                v
            },
            "pins a go.mod file",
        ),
        (
            {
                let mut v = four.clone();
                v[2] = v[2].replace("h1:Pnx", "h1:");
                v
            },
            "is not h1:<base64 of 32 bytes>",
        ),
        (
            {
                let mut v = four.clone();
                v[3] = v[3].replace("k8s.io/kube-aggregator", "k8s.io/client-go");
                v
            },
            "not one of k8s.io/api",
        ),
        (
            vec!["k8s.io/api v0.37.2".to_owned()],
            "is not a go.sum line",
        ),
    ];
    for (lines, want) in cases {
        let err = check_pins("1.37.2", &lines).unwrap_err();
        assert!(err.contains(want), "{lines:?}: {err}");
    }
    // The table loader applies the same rules, naming the version.
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo_root().join("spec/versions.toml"))
        .unwrap()
        .replacen("k8s.io/api v0.37.2", "k8s.io/api v0.36.2", 1);
    let path = tmp.path().join("versions.toml");
    fs::write(&path, text).unwrap();
    let err = load_versions(&path).unwrap_err().to_string();
    assert!(
        err.contains("version 1.37.2: proto module k8s.io/api v0.36.2"),
        "{err}"
    );
}
