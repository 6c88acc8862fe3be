//! `cargo xtask spec fetch --server`: the command against the test server (which serves the spec
//! files as they are, so the fetch must write them back byte for byte), and the method check of
//! issue 14: a real kube-apiserver 1.36 started with the flags of upstream's
//! `hack/update-openapi-spec.sh` serves the published 1.36.0 spec.
//!
//! Both need the spec files (`K8S_SPEC_DIR`, as the round-trip tests); the second needs the
//! real control plane (`cargo xtask envtest install`). Without them each test prints one line
//! and passes, unless `K8S_ENVTEST_REQUIRED=1` (CI) says the control plane must be there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/spec_fetch.rs"]
mod spec_fetch;
#[path = "../src/spec_server.rs"]
#[allow(dead_code)]
mod spec_server;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_client::{Client, ConfigLoader};
use k8s_envtest::EnvTest;
use k8s_testserver::TestServer;

const VERSION: &str = "1.36.0";

/// The published spec files of 1.36.0, or `None` (skip).
fn published() -> Option<PathBuf> {
    let root = spec_fetch::workspace_root();
    let source = spec_fetch::resolve_spec_dir(None, &root);
    match source.dir() {
        Some(dir) if dir.join(format!("v{VERSION}/swagger.json")).is_file() => {
            Some(dir.join(format!("v{VERSION}")))
        }
        _ => {
            let other = &source;
            eprintln!(
                "skipped: no spec files of {VERSION} ({other}); set K8S_SPEC_DIR to run this test"
            );
            None
        }
    }
}

/// Relative paths of the JSON documents below `dir` (`swagger.json`, `v3/*.json`).
fn documents(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if dir.join("swagger.json").is_file() {
        out.insert("swagger.json".to_owned());
    }
    if let Ok(rd) = fs::read_dir(dir.join("v3")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                out.insert(format!("v3/{name}"));
            }
        }
    }
    out
}

/// JSON pointers where two documents differ (at most `limit`).
fn differences(a: &serde_json::Value, b: &serde_json::Value, limit: usize) -> Vec<String> {
    fn walk(
        a: &serde_json::Value,
        b: &serde_json::Value,
        at: &str,
        out: &mut Vec<String>,
        limit: usize,
    ) {
        if out.len() >= limit || a == b {
            return;
        }
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    match (x.get(k), y.get(k)) {
                        (Some(v), Some(w)) => walk(v, w, &p, out, limit),
                        (Some(_), None) => out.push(format!("{p}: only in the server's")),
                        (None, Some(_)) => out.push(format!("{p}: only in the published")),
                        (None, None) => {}
                    }
                }
            }
            (serde_json::Value::Array(x), serde_json::Value::Array(y)) if x.len() == y.len() => {
                for (i, (v, w)) in x.iter().zip(y).enumerate() {
                    walk(v, w, &format!("{at}/{i}"), out, limit);
                }
            }
            _ => out.push(format!("{at}: {} vs {}", short(a), short(b))),
        }
    }
    fn short(v: &serde_json::Value) -> String {
        let s = v.to_string();
        if s.chars().count() > 80 {
            format!("{}…", s.chars().take(80).collect::<String>())
        } else {
            s
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out, limit);
    out
}

/// The one systematic difference between what a 1.36 server serves as v3 and the published
/// 1.36.0 v3 documents: the server gives array items and map values (`items`,
/// `additionalProperties`) their zero-value `default` (`{}` through an `allOf` around a `$ref`,
/// `""`, `0`, `false`), as upstream's own 1.32, 1.34 and 1.35 v3 files do; the published 1.36
/// copy has none. Removes those defaults (unwrapping the `allOf`) and returns how many.
fn drop_element_defaults(v: &mut serde_json::Value, element: bool) -> usize {
    let mut n = 0;
    match v {
        serde_json::Value::Object(map) => {
            if element {
                let zero = match map.get("default") {
                    Some(serde_json::Value::Object(o)) => o.is_empty() && map.contains_key("allOf"),
                    Some(serde_json::Value::String(s)) => s.is_empty(),
                    Some(serde_json::Value::Number(x)) => x.as_f64() == Some(0.0),
                    Some(serde_json::Value::Bool(b)) => !b,
                    _ => false,
                };
                if zero {
                    map.remove("default");
                    n += 1;
                    if map.len() == 1 {
                        if let Some(serde_json::Value::Array(all)) = map.get("allOf") {
                            if let [serde_json::Value::Object(inner)] = all.as_slice() {
                                let inner = inner.clone();
                                *map = inner;
                            }
                        }
                    }
                }
            }
            for (k, child) in map.iter_mut() {
                n += drop_element_defaults(child, k == "items" || k == "additionalProperties");
            }
        }
        serde_json::Value::Array(items) => {
            for child in items {
                n += drop_element_defaults(child, false);
            }
        }
        _ => {}
    }
    n
}

#[test]
fn the_command_writes_back_what_the_test_server_serves() {
    let Some(published) = published() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(
            TestServer::builder()
                .token("admin-token", "admin", &["system:masters"])
                .spec_dir(&published)
                .start(),
        )
        .unwrap();
    let kubeconfig = server.kubeconfig_for("admin-token");
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("fetched");
    let run = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["spec", "fetch", "--server", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--dest")
        .arg(&dest)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("swagger.json ("), "{stdout}");

    let expected = documents(&published);
    assert!(expected.len() > 50, "{expected:?}");
    assert_eq!(documents(&dest), expected);
    for doc in &expected {
        // The published files are `jq -S` output with `info.version` "unversioned": the
        // normalisation must reproduce them byte for byte.
        let want = fs::read(published.join(doc)).unwrap();
        let got = fs::read(dest.join(doc)).unwrap();
        assert!(
            got == want,
            "{doc}: {} bytes written, {} published",
            got.len(),
            want.len()
        );
    }
    assert!(dest.join("SOURCE.txt").is_file());

    // A second fetch replaces the directory whole: a stray file does not survive.
    fs::write(dest.join("stray.json"), b"{}").unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["spec", "fetch", "--server", "--raw", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--dest")
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(!dest.join("stray.json").exists());
    assert_eq!(
        fs::read(dest.join("swagger.json")).unwrap(),
        fs::read(published.join("swagger.json")).unwrap(),
        "--raw keeps the server's bytes (the test server serves the file as is)"
    );
}

#[test]
fn an_unreachable_server_is_an_error_naming_the_path_and_nothing_is_written() {
    let out = tempfile::tempdir().unwrap();
    let kubeconfig = out.path().join("kubeconfig");
    fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: secret-token-value\ncurrent-context: x\n",
    )
    .unwrap();
    let dest = out.path().join("fetched");
    let run = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["spec", "fetch", "--server", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--dest")
        .arg(&dest)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("GET /version"), "{stderr}");
    assert!(!stderr.contains("secret-token-value"), "{stderr}");
    assert!(!dest.exists());
}

/// Upstream's `hack/update-openapi-spec.sh` starts kube-apiserver with these flags (besides
/// addresses, certificates and etcd): every API and every alpha and beta feature on, enums off.
const UPSTREAM_FLAGS: &[&str] = &[
    "--advertise-address=10.10.10.10",
    "--feature-gates=AllAlpha=true,AllBeta=true,OpenAPIEnums=false",
    "--runtime-config=api/all=true",
    "--service-account-issuer=https://kubernetes.default.svc",
    "--enable-logs-handler=true",
];

#[test]
fn a_real_apiserver_started_as_upstream_does_serves_the_published_spec() {
    let Some(published) = published() else { return };
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut builder = EnvTest::builder().binaries(binaries);
        for flag in UPSTREAM_FLAGS {
            builder = builder.apiserver_flag(*flag);
        }
        let env = builder.start().await.unwrap();
        eprintln!(
            "kube-apiserver {} (upstream's flags) ready in {:.1?}",
            env.version(),
            env.startup_time()
        );
        let config = ConfigLoader::new()
            .kubeconfig_paths([env.admin_kubeconfig().to_owned()])
            .kubeconfig()
            .unwrap();
        let client = Client::new(config).unwrap();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("fetched");
        let report = spec_server::fetch(
            &client,
            &dest,
            &spec_server::ServerFetchOptions::default(),
            &mut |_, _| {},
        )
        .await
        .unwrap();
        eprintln!(
            "served: {} paths, {} definitions, {} v3 documents",
            report.v2_paths,
            report.v2_definitions,
            report.v3_documents.len()
        );

        let want = documents(&published);
        let got = documents(&dest);
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        let mut identical = 0;
        let mut explained_docs = 0;
        let mut element_defaults = 0;
        let mut differing = Vec::new();
        for doc in want.intersection(&got) {
            let a = fs::read(dest.join(doc)).unwrap();
            let b = fs::read(published.join(doc)).unwrap();
            if a == b {
                identical += 1;
                continue;
            }
            let mut a: serde_json::Value = serde_json::from_slice(&a).unwrap();
            let b: serde_json::Value = serde_json::from_slice(&b).unwrap();
            let explained = drop_element_defaults(&mut a, false);
            if a == b {
                explained_docs += 1;
                element_defaults += explained;
            } else {
                differing.push((doc.clone(), differences(&a, &b, 8)));
            }
        }
        // The published 1.36.0 v3 set (taken from openshift/kubernetes, see its SOURCE.txt) has no
        // `.well-known/openid-configuration` document; upstream's script writes one (its comment
        // names the file) and the server serves it.
        let extra: Vec<_> = extra
            .into_iter()
            .filter(|d| *d != "v3/.well-known__openid-configuration_openapi.json")
            .collect();
        let swagger_identical = fs::read(dest.join("swagger.json")).unwrap()
            == fs::read(published.join("swagger.json")).unwrap();
        eprintln!(
            "spec method check: {identical} of {} documents byte-identical (swagger.json among them: {}), \
             {explained_docs} equal once the {element_defaults} zero-value defaults of array items and map values are \
             removed, {} differing; missing {missing:?}; extra {extra:?}",
            want.len(),
            swagger_identical,
            differing.len()
        );
        for (doc, diffs) in &differing {
            eprintln!("  {doc}:");
            for d in diffs {
                eprintln!("    {d}");
            }
        }
        if !differing.is_empty() || !missing.is_empty() || !extra.is_empty() {
            // Keep what the server served for a look (target/tmp is ignored by git).
            let keep = spec_fetch::workspace_root().join("target/tmp/spec-method-check");
            let _ = fs::remove_dir_all(&keep);
            fs::create_dir_all(keep.parent().unwrap()).unwrap();
            fs::rename(&dest, &keep).unwrap();
            eprintln!("the server's documents: {}", keep.display());
        }
        assert!(missing.is_empty() && extra.is_empty(), "documents differ: missing {missing:?}, extra {extra:?}");
        assert!(swagger_identical, "swagger.json must be byte-identical to the published one");
        assert!(differing.is_empty(), "{} documents differ (listed above)", differing.len());
    });
}

/// A built version of `spec/versions.toml` is started with the flags this file's method check
/// uses (those of upstream's `hack/update-openapi-spec.sh`).
#[test]
fn built_versions_use_the_flags_of_the_method_check() {
    let root = spec_fetch::workspace_root();
    let table = spec_fetch::load_versions(&root.join(spec_fetch::VERSIONS_FILE)).unwrap();
    let built: Vec<_> = table.versions.iter().filter(|v| v.is_built()).collect();
    assert!(!built.is_empty());
    for entry in built {
        assert_eq!(entry.apiserver_flags, UPSTREAM_FLAGS, "{}", entry.version);
    }
}

/// `cargo xtask spec fetch --version 1.37.2` (a built version: no download URL) starts the real
/// 1.37.2 apiserver and reproduces every pinned file. Needs the 1.37.2 binaries in the envtest
/// cache; CI does not build them (a cold build takes over an hour), so without them this test
/// prints one line and passes, even with `K8S_ENVTEST_REQUIRED=1`.
#[test]
fn spec_fetch_reproduces_the_pinned_files_of_the_built_version() {
    use std::io::Write as _;
    const BUILT: &str = "1.37.2";
    if let Err(e) = k8s_envtest::Binaries::locate(BUILT) {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {e}; run `cargo xtask envtest install --kubernetes {BUILT}` (not done in CI: a cold build takes over an hour) to reproduce the {BUILT} spec"
        );
        return;
    }
    let root = spec_fetch::workspace_root();
    let table = spec_fetch::load_versions(&root.join(spec_fetch::VERSIONS_FILE)).unwrap();
    let entry = table.get(BUILT).unwrap();
    assert!(entry.is_built());
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["spec", "fetch", "--version", BUILT, "--dest"])
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("66 files produced and verified"),
        "{stdout}"
    );
    for file in entry.files() {
        let path = out.path().join(&file.relative_path);
        assert!(
            spec_fetch::is_verified(&path, &file).unwrap(),
            "{}",
            path.display()
        );
    }
    // Nothing left behind but the version directory.
    let left: Vec<_> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from(format!("v{BUILT}"))]);
}
