//! The CRD corpus (`K8S_CRDS_DIR`, default `../shared/crds` from the workspace root: third-party
//! CRDs and example objects, never committed), in two tests:
//!
//! * every CRD of `*/crds/` generates, and the generated code type-checks (`cargo check` of one
//!   crate holding the whole corpus, under `target/crd-corpus/`);
//! * every example object of `*/examples/` decodes into its Rust type and serialises back to
//!   equal JSON (`serde_json::Value`), with the tolerances of `normalize` in [`MAIN`]; the
//!   round-trip binary is generated from only the CRDs whose kinds have examples, so it builds
//!   in a fraction of the corpus' time.
//!
//! Without the corpus each test skips with one line, unless `K8S_CRDS_REQUIRED=1` (CI).
//! The counts and times are printed (`--nocapture`). Generation and the crates run always; the
//! `cargo check` and the round-trip build run only with `K8S_CRDS_COMPILE=1`: on the shared
//! 2-core machine the round-trip binary (4,327 types) took over 15 minutes of wall-clock time,
//! far from the few minutes CI allows.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use k8s_codegen::crd;
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_dir() -> Option<PathBuf> {
    let d = std::env::var_os("K8S_CRDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/crds"));
    if d.is_dir() {
        return Some(d);
    }
    if std::env::var("K8S_CRDS_REQUIRED").is_ok_and(|v| v == "1") {
        panic!(
            "K8S_CRDS_REQUIRED=1 but the CRD corpus is not at {}",
            d.display()
        );
    }
    eprintln!(
        "skipped: no CRD corpus at {} (set K8S_CRDS_DIR)",
        d.display()
    );
    None
}

fn subdirs(corpus: &Path, name: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(corpus)
        .unwrap()
        .map(|e| e.unwrap().path().join(name))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// (apiVersion, kind, Rust path under `crds::`) of every generated kind, read from the
/// generated `impl k8s_core::Resource` blocks.
fn kinds(files: &std::collections::BTreeMap<PathBuf, String>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, text) in files {
        let Some(stem) = path.to_str().and_then(|p| p.strip_suffix(".rs")) else {
            continue;
        };
        // `all.rs` holds the same modules inline (for `include!`): count each kind once.
        if stem.ends_with("mod") || stem == "all" {
            continue;
        }
        let module = stem.replace('/', "::");
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let Some(ty) = l
                .strip_prefix("impl k8s_core::Resource for ")
                .and_then(|r| r.strip_suffix(" {"))
            else {
                continue;
            };
            let konst = |name: &str| {
                lines[i..]
                    .iter()
                    .find_map(|l| {
                        l.trim()
                            .strip_prefix(&format!("const {name}: &'static str = \""))
                            .and_then(|r| r.strip_suffix("\";"))
                    })
                    .unwrap()
                    .to_owned()
            };
            let av = konst("API_VERSION");
            if av == "autoscaling/v1" {
                continue;
            }
            out.push((av, konst("KIND"), format!("crds::{module}::{ty}")));
        }
    }
    out
}

/// The round-trip binary; `ARMS` becomes one match arm per generated kind version.
const MAIN: &str = r#"
// Only the types are used here: the operations would each warn as unused.
#![allow(dead_code)]

mod crds;

use serde_json::Value;

/// Tolerances of the round trip: `null` object members are dropped (optional fields that are
/// absent are not written), an empty root `metadata` is dropped (empty metadata is not written),
/// numbers compare by value (`1` = `1.0`).
fn normalize(v: &mut Value, root: bool) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            if root && m.get("metadata").is_some_and(|x| x.as_object().is_some_and(|o| o.is_empty())) {
                m.remove("metadata");
            }
            for x in m.values_mut() {
                normalize(x, false);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalize(x, false)),
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    *v = Value::from(f as i64);
                }
            }
        }
        _ => {}
    }
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &Value) -> Result<(), String> {
    let t: T = serde_json::from_value(v.clone()).map_err(|e| format!("decode: {e}"))?;
    let mut back = serde_json::to_value(&t).map_err(|e| format!("encode: {e}"))?;
    let mut want = v.clone();
    normalize(&mut back, true);
    normalize(&mut want, true);
    if back == want {
        Ok(())
    } else {
        Err(format!("differs:\n  sent {want}\n  back {back}"))
    }
}

fn main() {
    let (mut ok, mut failed, mut skipped) = (0, 0, 0);
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, doc) in k8s_core::yaml::from_str_multi::<Value>(&text).enumerate() {
            let doc = match doc {
                Ok(d) => d,
                Err(e) => {
                    println!("SKIP {path} #{i}: not YAML: {e}");
                    skipped += 1;
                    continue;
                }
            };
            let av = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
            let r: Option<Result<(), String>> = match (av.as_str(), kind.as_str()) {
                ARMS
                _ => None,
            };
            match r {
                None => {
                    println!("SKIP {path} #{i}: {av} {kind} is not a generated kind");
                    skipped += 1;
                }
                Some(Ok(())) => ok += 1,
                Some(Err(e)) => {
                    println!("FAIL {path} #{i}: {av} {kind}: {e}");
                    failed += 1;
                }
            }
        }
    }
    println!("ROUNDTRIP ok={ok} failed={failed} skipped={skipped}");
}
"#;

/// The directory of the throw-away crates; they share one target directory, kept between runs.
fn scratch() -> PathBuf {
    workspace().join("target/crd-corpus")
}

/// Writes a crate of generated code (`src/crds/`) with `main` as `src/main.rs` or `lib` as
/// `src/lib.rs`, pinned to the workspace's lock file.
fn write_crate(dir: &Path, out: &crd::CrdOutput, root: (&str, &str)) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    crd::write_output(&dir.join("src/crds"), out).unwrap();
    let core = workspace().join("crates/k8s-core");
    let name = dir.file_name().unwrap().to_str().unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"crd-corpus-{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\nk8s-core = {{ path = {:?} }}\nserde = \"1\"\nserde_json = \"1\"\n\n\
             [profile.dev]\ndebug = 0\nincremental = false\n",
            core.display().to_string()
        ),
    )
    .unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("src").join(root.0), root.1).unwrap();
}

/// Runs cargo in a scratch crate; panics (with cargo's output above) on failure.
fn cargo(dir: &Path, args: &[&str]) -> f64 {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let start = Instant::now();
    let status = Command::new(&cargo)
        .args(args)
        .args(["--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", scratch().join("target"))
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo {} of {} failed (see above)",
        args.join(" "),
        dir.display()
    );
    start.elapsed().as_secs_f64()
}

/// Whether to compile the generated crates (`K8S_CRDS_COMPILE=1`); says so when not.
fn compile() -> bool {
    let on = std::env::var("K8S_CRDS_COMPILE").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("corpus: compiling the generated crate skipped (set K8S_CRDS_COMPILE=1)");
    }
    on
}

fn example_files(corpus: &Path) -> Vec<PathBuf> {
    let mut examples = Vec::new();
    for d in subdirs(corpus, "examples") {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        examples.extend(files);
    }
    examples
}

/// (group, kind) of every document of the example files (documents that do not parse are
/// reported by the round-trip binary).
fn example_kinds(files: &[PathBuf]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for doc in k8s_core::yaml::from_str_multi::<Value>(&text).flatten() {
            let av = doc
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
            let group = av.rsplit_once('/').map_or("", |(g, _)| g);
            out.insert((group.to_owned(), kind.to_owned()));
        }
    }
    out
}

fn print_counts(what: &str, c: &crd::CrdCounts, secs: f64) {
    eprintln!(
        "{what}: {} CRDs, {} kinds, {} versions, {} types, {} files; generated in {:.0} ms",
        c.crds,
        c.kinds,
        c.versions,
        c.types,
        c.files,
        secs * 1000.0
    );
}

#[test]
fn corpus_generates_and_type_checks() {
    let Some(corpus) = corpus_dir() else { return };
    let sources = crd::read_paths(&subdirs(&corpus, "crds")).unwrap();
    let start = Instant::now();
    let out = crd::generate_sources(&sources).unwrap();
    let c = &out.counts;
    print_counts("corpus", c, start.elapsed().as_secs_f64());
    assert!(c.crds > 0 && c.types >= c.versions);
    assert_eq!(
        kinds(&out.files).len(),
        c.versions,
        "one Resource impl per kind version"
    );
    let dir = scratch().join("check");
    write_crate(
        &dir,
        &out,
        (
            "lib.rs",
            "//! Every CRD of the corpus, type-checked.\n#![allow(missing_docs)]\npub mod crds;\n",
        ),
    );
    if !compile() {
        return;
    }
    let secs = cargo(&dir, &["check", "--lib"]);
    eprintln!("corpus: `cargo check` of the generated code in {secs:.1} s");
}

#[test]
fn corpus_examples_round_trip() {
    let Some(corpus) = corpus_dir() else { return };
    let examples = example_files(&corpus);
    let wanted = example_kinds(&examples);
    // Only the CRDs of kinds that have examples: a small binary.
    let sources: Vec<crd::CrdSource> = crd::read_paths(&subdirs(&corpus, "crds"))
        .unwrap()
        .into_iter()
        .filter(|s| {
            let at = |p: &str| s.crd.pointer(p).and_then(Value::as_str).unwrap_or_default();
            wanted.contains(&(
                at("/spec/group").to_owned(),
                at("/spec/names/kind").to_owned(),
            ))
        })
        .collect();
    let start = Instant::now();
    let out = crd::generate_sources(&sources).unwrap();
    print_counts("examples' CRDs", &out.counts, start.elapsed().as_secs_f64());
    let kinds = kinds(&out.files);
    assert!(!kinds.is_empty(), "no example has a kind of the corpus");
    let arms: String = kinds
        .iter()
        .map(|(av, k, p)| format!("({av:?}, {k:?}) => Some(round_trip::<{p}>(&doc)),\n"))
        .collect();
    let dir = scratch().join("examples");
    write_crate(&dir, &out, ("main.rs", &MAIN.replace("ARMS", &arms)));
    if !compile() {
        return;
    }
    let secs = cargo(&dir, &["build"]);
    eprintln!(
        "examples: round-trip binary of {} kind versions built in {secs:.1} s",
        kinds.len()
    );
    let run = Command::new(scratch().join("target/debug/crd-corpus-examples"))
        .args(&examples)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary = stdout.lines().last().unwrap_or_default();
    let field = |name: &str| -> usize {
        summary
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|n| n.parse().ok())
            .expect("summary line")
    };
    assert!(field("ok=") > 0, "no example round-tripped");
    assert_eq!(
        field("failed="),
        0,
        "examples failed the round trip (FAIL lines above)"
    );
}
