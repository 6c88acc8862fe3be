//! The CRD corpus (`K8S_CRDS_DIR`, default `../shared/crds` from the workspace root: third-party
//! CRDs and example objects, never committed): every CRD of `*/crds/` generates, the generated
//! code compiles, and every example object of `*/examples/` decodes into its Rust type and
//! serialises back to equal JSON (`serde_json::Value`), with the tolerances of the built-in
//! round trips (`k8s_sdk_tests::json_diff_k8s`): an explicit `null` equals an absent field, and
//! numbers compare by value (`1` = `1.0`).
//!
//! The CRDs whose kinds have example objects and the other CRDs are generated separately into a
//! cargo workspace under `target/crd-corpus/` with one crate per API group
//! (`crd_corpus/project.rs`): the first are built into the round-trip binary (`cargo build`,
//! `debug = 0`), the others only type-checked (`cargo check`). The binary instantiates the serde
//! code of only the kind versions that occur in the examples.
//!
//! Without the corpus the test skips with one line, unless `K8S_CRDS_REQUIRED=1` (CI).
//! `K8S_CRDS_COMPILE=0` stops after generating (for a quick local run). The counts, times and
//! every failure are printed (`--nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "crd_corpus/project.rs"]
mod project;

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

/// A generated kind version: apiVersion, kind, Rust path under `crds::`.
struct Kind {
    api_version: String,
    kind: String,
    path: String,
}

/// Every generated kind version, read from the generated `impl k8s_core::Resource` blocks of
/// `<group>/<version>.rs` (the `autoscaling/v1` `Scale` types emitted for scale subresources are
/// not kinds of the corpus).
fn kinds(files: &std::collections::BTreeMap<PathBuf, String>) -> Vec<Kind> {
    let mut out = Vec::new();
    for (path, text) in files {
        let parts: Vec<&str> = path.iter().map(|c| c.to_str().unwrap()).collect();
        let [group, file] = parts.as_slice() else {
            continue;
        };
        let Some(version) = file.strip_suffix(".rs").filter(|v| *v != "mod") else {
            continue;
        };
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
            let api_version = konst("API_VERSION");
            if api_version == "autoscaling/v1" {
                continue;
            }
            out.push(Kind {
                api_version,
                kind: konst("KIND"),
                path: format!("crds::{group}::{version}::{ty}"),
            });
        }
    }
    out
}

/// The round-trip binary. `GROUPS` becomes the `pub use` of each group crate, `ARMS` one match
/// arm per kind version that occurs in the examples.
const MAIN: &str = r#"//! Decodes every example document into its generated kind and compares the re-encoded JSON.

mod crds {
GROUPS}

use serde_json::Value;

/// Every difference between the example `e` and the round trip `a`, as JSON pointers. Tolerated,
/// as in the built-in round trips: an explicit `null` that is absent after the round trip, and
/// the same number written differently (`1` and `1.0`).
fn diff(ptr: &str, e: &Value, a: &Value, out: &mut Vec<String>) {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            for (k, ev) in eo {
                let p = format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1"));
                match ao.get(k) {
                    Some(av) => diff(&p, ev, av, out),
                    None if ev.is_null() => {}
                    None => out.push(format!("{p}: missing after the round trip (was {ev})")),
                }
            }
            for (k, av) in ao {
                if !eo.contains_key(k) {
                    out.push(format!("{ptr}/{k}: added by the round trip: {av}"));
                }
            }
        }
        (Value::Array(ea), Value::Array(aa)) if ea.len() == aa.len() => {
            for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                diff(&format!("{ptr}/{i}"), ev, av, out);
            }
        }
        _ if e == a => {}
        (Value::Number(en), Value::Number(an)) if en.as_f64().is_some() && en.as_f64() == an.as_f64() => {}
        _ => out.push(format!("{ptr}: was {e}, is {a}")),
    }
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &Value) -> Result<(), String> {
    let t: T = serde_json::from_value(v.clone()).map_err(|e| format!("decode: {e}"))?;
    let back = serde_json::to_value(&t).map_err(|e| format!("encode: {e}"))?;
    let mut out = Vec::new();
    diff("", v, &back, &mut out);
    if out.is_empty() { Ok(()) } else { Err(out.join("; ")) }
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
ARMS                _ => None,
            };
            match r {
                None => {
                    println!("SKIP {path} #{i}: {av} {kind} is not a generated kind");
                    skipped += 1;
                }
                Some(Ok(())) => {
                    println!("OK {path} #{i}: {av} {kind}");
                    ok += 1;
                }
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

/// (apiVersion, kind) of every document of the example files (documents that do not parse are
/// reported by the round-trip binary).
fn example_kinds(files: &[PathBuf]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for doc in k8s_core::yaml::from_str_multi::<Value>(&text).flatten() {
            let at = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default();
            out.insert((at("apiVersion").to_owned(), at("kind").to_owned()));
        }
    }
    out
}

/// CPU seconds (user + system) of this process' waited-for children, from `/proc/self/stat`
/// (clock ticks of 1/100 s); `None` where there is no procfs.
fn children_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(13)? + ticks(14)?) / 100.0)
}

/// Runs cargo in the corpus workspace; panics (with cargo's output above) on failure. Returns
/// (wall, CPU) seconds.
fn cargo(dir: &Path, args: &[&str]) -> (f64, f64) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (start, cpu) = (Instant::now(), children_cpu().unwrap_or_default());
    let status = Command::new(&cargo)
        .args(args)
        .args(["--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo {} in {} failed (see above)",
        args.join(" "),
        dir.display()
    );
    (
        start.elapsed().as_secs_f64(),
        children_cpu().unwrap_or_default() - cpu,
    )
}

/// The sum of two counts.
fn add(a: &crd::CrdCounts, b: &crd::CrdCounts) -> crd::CrdCounts {
    let mut c = a.clone();
    c.crds += b.crds;
    c.kinds += b.kinds;
    c.versions += b.versions;
    c.types += b.types;
    c.files += b.files;
    c
}

#[test]
fn corpus_compiles_and_examples_round_trip() {
    let Some(corpus) = corpus_dir() else { return };
    let examples = example_files(&corpus);
    let wanted = example_kinds(&examples);
    // The CRDs of kinds with examples are built into the round trip, the others checked.
    let (with_examples, others): (Vec<crd::CrdSource>, Vec<crd::CrdSource>) =
        crd::read_paths(&subdirs(&corpus, "crds"))
            .unwrap()
            .into_iter()
            .partition(|s| {
                let at = |p: &str| s.crd.pointer(p).and_then(Value::as_str).unwrap_or_default();
                let group = at("/spec/group");
                let kind = at("/spec/names/kind");
                wanted.iter().any(|(av, k)| {
                    k == kind && av.rsplit_once('/').is_some_and(|(g, _)| g == group)
                })
            });
    let start = Instant::now();
    let built = crd::generate_sources(&with_examples).unwrap();
    let checked = crd::generate_sources(&others).unwrap();
    let c = add(&built.counts, &checked.counts);
    eprintln!(
        "corpus: {} CRDs, {} kinds, {} versions, {} types, {} files; generated in {:.0} ms",
        c.crds,
        c.kinds,
        c.versions,
        c.types,
        c.files,
        start.elapsed().as_secs_f64() * 1000.0
    );
    eprintln!(
        "corpus: {} CRDs ({} types) have example objects",
        built.counts.crds, built.counts.types
    );
    assert!(c.crds > 0 && c.types >= c.versions);
    let kinds = kinds(&built.files);
    let n_kinds = kinds.len() + self::kinds(&checked.files).len();
    assert_eq!(n_kinds, c.versions, "one Resource impl per kind version");

    let used: Vec<&Kind> = kinds
        .iter()
        .filter(|k| wanted.contains(&(k.api_version.clone(), k.kind.clone())))
        .collect();
    assert!(!used.is_empty(), "no example has a kind of the corpus");
    let built_groups = project::split_by_group(&built);
    let checked_groups = project::split_by_group(&checked);
    let uses: String = built_groups
        .keys()
        .map(|g| {
            format!(
                "    pub use {} as {g};\n",
                project::package(g, false).replace('-', "_")
            )
        })
        .collect();
    let arms: String = used
        .iter()
        .map(|k| {
            format!(
                "                ({:?}, {:?}) => Some(round_trip::<{}>(&doc)),\n",
                k.api_version, k.kind, k.path
            )
        })
        .collect();
    let main = MAIN.replace("GROUPS", &uses).replace("ARMS", &arms);
    let project = project::Project {
        root: workspace().join("target/crd-corpus"),
    };
    project.write(
        &built_groups,
        &checked_groups,
        &main,
        &workspace().join("crates/k8s-core"),
        &workspace().join("Cargo.lock"),
    );
    eprintln!(
        "corpus: {} kind versions in {} groups built ({} used by the examples), {} groups checked",
        kinds.len(),
        built_groups.len(),
        used.len(),
        checked_groups.len()
    );
    if std::env::var("K8S_CRDS_COMPILE").is_ok_and(|v| v == "0") {
        eprintln!("corpus: compiling skipped (K8S_CRDS_COMPILE=0)");
        return;
    }

    let (wall, cpu) = cargo(&project.root, &["build", "-p", "crd-corpus-roundtrip"]);
    eprintln!(
        "corpus: `cargo build` of the round-trip binary ({} groups) in {wall:.1} s ({cpu:.1} s CPU)",
        built_groups.len()
    );
    let rest: Vec<String> = checked_groups
        .keys()
        .flat_map(|g| ["-p".to_owned(), project::package(g, true)])
        .collect();
    if !rest.is_empty() {
        let mut args = vec!["check"];
        args.extend(rest.iter().map(String::as_str));
        let (wall, cpu) = cargo(&project.root, &args);
        eprintln!(
            "corpus: `cargo check` of the other {} groups in {wall:.1} s ({cpu:.1} s CPU)",
            rest.len() / 2
        );
    }

    let run = Command::new(project.root.join("target/debug/crd-corpus-roundtrip"))
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
