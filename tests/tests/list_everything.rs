//! "List everything" against the real kube-apiserver (k8s-envtest): the kubectl corpus
//! (`fixtures/kubectl/out/*.json`) is created with the real kubectl, the controller-manager adds
//! what controllers make (ReplicaSets, pods, events, leases, tokens, …); then every resource of
//! `k8s_api::v1_36::RESOURCES` that the server serves with `list` is listed across all
//! namespaces and the server's bytes go through the typed `List<T>` and back: equal JSON.
//!
//! Skips with one line without the envtest binaries unless `K8S_ENVTEST_REQUIRED=1`.
//!
//! The same against a real 1.37.2 apiserver with `k8s_api::v1_37` (every API enabled, so its
//! alpha and beta resources are listed too): the round trip of 1.37, for which no recorded
//! fixtures exist. Its binaries are not built in CI (a cold build takes over an hour), so that
//! test skips with one line when they are not cached, even with `K8S_ENVTEST_REQUIRED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

#[path = "common/real_1_37.rs"]
mod real_1_37;

use k8s_core::Request;
use k8s_envtest::EnvTest;
use k8s_sdk_tests::{RoundTrip, RoundTripText, dispatch};
use serde_json::Value;

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listable_resource_round_trips_from_the_real_server() {
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let env = EnvTest::builder()
        .binaries(binaries)
        .controller_manager()
        .start()
        .await
        .unwrap();
    list_everything(&env, k8s_api::v1_36::RESOURCES, "v1_36", 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listable_resource_round_trips_from_the_real_1_37_server() {
    let Some(env) = real_1_37::start("the 1.37 round trip").await else {
        return;
    };
    list_everything(&env, k8s_api::v1_37::RESOURCES, "v1_37", 60).await;
}

/// Creates the kubectl corpus, then lists every resource of `resources` that `env` serves and
/// round-trips each list through the types of the version module `module`.
async fn list_everything(
    env: &EnvTest,
    resources: &[k8s_core::ResourceInfo],
    module: &str,
    min_listed: usize,
) {
    let kubeconfig = env.admin_kubeconfig().to_path_buf();

    // The corpus: webhooks last (they would intercept the other writes).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kubectl/out");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort_by_key(|p| (p.to_string_lossy().contains("webhook"), p.clone()));
    for ns in ["ingress", "policy"] {
        kubectl(&kubeconfig, &["create", "namespace", ns]).unwrap();
    }
    let mut created = 0;
    let mut refused = Vec::new();
    for f in &files {
        match kubectl(&kubeconfig, &["create", "-f", &f.to_string_lossy()]) {
            Ok(_) => created += 1,
            Err(e) => refused.push(format!("{}: {e}", f.file_name().unwrap().to_string_lossy())),
        }
    }
    eprintln!(
        "list-everything ({module}): kubectl created {created} of {} corpus objects; refused: {refused:#?}",
        files.len()
    );
    assert!(
        created * 10 >= files.len() * 8,
        "kubectl created only {created} of {}: {refused:#?}",
        files.len()
    );
    // Let the controllers act (ReplicaSets, pods, endpoint slices, events).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;

    let client = env.client();
    let (mut listed, mut not_served, mut objects) = (0, Vec::new(), 0);
    let mut failures = Vec::new();
    for r in resources {
        if !r.verbs.contains(&"list") {
            continue;
        }
        let path = if r.group.is_empty() {
            format!("/api/{}/{}", r.version, r.plural)
        } else {
            format!("/apis/{}/{}/{}", r.group, r.version, r.plural)
        };
        let bytes = match client
            .send_raw(&Request::new(http::Method::GET, &path))
            .await
        {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                not_served.push(path);
                continue;
            }
            Err(e) => panic!("GET {path}: {e}"),
        };
        listed += 1;
        let text = String::from_utf8(bytes).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let (api_version, kind) = (
            v["apiVersion"].as_str().unwrap_or(""),
            v["kind"].as_str().unwrap_or(""),
        );
        assert_eq!(kind, r.list_kind, "{path}");
        objects += v["items"].as_array().map_or(0, Vec::len);
        match dispatch(module, api_version, kind, RoundTripText(&text)) {
            None => failures.push(format!("{path}: no type for {api_version} {kind}")),
            Some(RoundTrip::Equal(_)) => {}
            Some(other) => failures.push(format!("{path}: {other}")),
        }
    }
    eprintln!(
        "list-everything ({module}, {}): {listed} resources listed, {objects} objects; not served: {not_served:?}",
        env.version()
    );
    assert!(
        failures.is_empty(),
        "{} of {listed} lists do not round-trip:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(listed >= min_listed, "only {listed} resources listed");
    assert!(objects >= 100, "only {objects} objects listed");
}
