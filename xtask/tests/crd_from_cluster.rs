//! `cargo xtask crd --out DIR --from-cluster`: the command (the built binary, reading the
//! cluster of `KUBECONFIG`) against the test server and the real kube-apiserver of
//! `k8s-envtest`. A CRD is created on the server; the files generated from the server's copy
//! must equal, byte for byte, those generated from the manifest it was created from.
//!
//! Without the envtest binaries (`cargo xtask envtest install`) the real-apiserver test prints
//! one line and passes, unless `K8S_ENVTEST_REQUIRED=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_client::Client;
use k8s_envtest::{ControlPlane, EnvTest};
use k8s_testserver::TestServer;

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/k8s-codegen/tests/crds/features.yaml")
}

/// Every file below `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let text = std::fs::read_to_string(&p).unwrap();
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), text);
            }
        }
    }
    out
}

async fn create_crd(client: &Client) {
    let text = std::fs::read_to_string(manifest()).unwrap();
    let crd: serde_json::Value = k8s_core::yaml::from_str(&text).unwrap();
    let mut req = k8s_core::Request::new(
        http::Method::POST,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    );
    req.body = Some(serde_json::to_vec(&crd).unwrap());
    req.content_type = Some("application/json");
    client.send_raw(&req).await.unwrap();
}

async fn from_cluster(server: &dyn ControlPlane) {
    let who = server.name();
    let client = server.client_for("admin-token").unwrap();
    create_crd(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("crds");
    let kubeconfig = server.kubeconfig_for("admin-token").unwrap();
    // On the blocking pool: the in-process test server runs on this test's runtime.
    let cmd_out = out.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["crd", "--out"])
            .arg(&cmd_out)
            .arg("--from-cluster")
            .env("KUBECONFIG", &kubeconfig)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{who}: {stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.starts_with("1 CRDs, 1 kinds, 1 versions: "),
        "{who}: {stdout}"
    );
    let got = files(&out);
    let names: Vec<String> = got.keys().map(|p| p.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "all.rs",
            "example_com/mod.rs",
            "example_com/v1.rs",
            "mod.rs"
        ],
        "{who}"
    );
    let v1 = &got[Path::new("example_com/v1.rs")];
    for item in [
        "pub struct Widget {",
        "impl k8s_core::Resource for Widget {",
        "pub fn replace_status(",
        "pub mod apply {",
    ] {
        assert!(v1.contains(item), "{who}: example_com/v1.rs lacks {item:?}");
    }

    // The server's copy generates exactly what the manifest does.
    let from_file = tmp.path().join("from-file");
    k8s_codegen::crd::generate(&[manifest()], &from_file).unwrap();
    let want = files(&from_file);
    for (path, text) in &want {
        assert_eq!(
            got.get(path),
            Some(text),
            "{who}: {} differs between the cluster's CRD and the manifest",
            path.display()
        );
    }
}

#[tokio::test]
async fn crd_from_cluster_against_the_test_server() {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    from_cluster(&server).await;
}

#[tokio::test]
async fn crd_from_cluster_against_the_real_apiserver() {
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let env = EnvTest::builder()
        .token("admin-token", "admin", &["system:masters"])
        .binaries(binaries)
        .start()
        .await
        .unwrap();
    from_cluster(&env).await;
}
