//! The example binaries themselves, in `--real-cluster` mode, against the in-process test
//! server standing in for a real cluster: each binary gets a `KUBECONFIG` (or a proxy URL, or
//! downward-API variables and a volume) in a clean environment, as it would on a workstation
//! or in a Pod.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use k8s_testserver::TestServer;

async fn run(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_clear().env("HOME", "/nonexistent");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn kubeconfig(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn server() -> TestServer {
    TestServer::builder()
        .token("bin-admin-token-0042", "admin", &["system:masters"])
        .token("bin-reader-token-0043", "reader", &[])
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_create_pod_with_a_kubeconfig() {
    let server = server().await;
    let bin = env!("CARGO_BIN_EXE_in-cluster-create-pod");
    // Without permission: the 403 and what an administrator would run.
    let kc = server.kubeconfig_for("bin-reader-token-0043");
    let o = run(bin, &["--real-cluster"], &[("KUBECONFIG", kubeconfig(&kc))]).await;
    let text = stdout(&o);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("-> 403 (Authorization: Bearer <redacted>"),
        "{text}"
    );
    assert!(
        text.contains("kubectl -n default create role pod-creator"),
        "{text}"
    );
    assert!(!text.contains("bin-reader-token-0043"), "{text}");
    // With it: 201, then the Pod is deleted again.
    let kc = server.kubeconfig_for("bin-admin-token-0042");
    let o = run(bin, &["--real-cluster"], &[("KUBECONFIG", kubeconfig(&kc))]).await;
    let text = stdout(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("201 Created: pod default/nginx"), "{text}");
    assert!(text.contains("deleted pod default/nginx"), "{text}");
    assert!(!text.contains("bin-admin-token-0042"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaulting_auth_and_watch_with_a_kubeconfig() {
    let server = server().await;
    let kc = server.kubeconfig_for("bin-admin-token-0042");
    let env = [("KUBECONFIG", kubeconfig(&kc))];

    let o = run(
        env!("CARGO_BIN_EXE_defaulting-and-validation"),
        &["--real-cluster"],
        &env,
    )
    .await;
    let text = stdout(&o);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("spec.dnsPolicy = \"ClusterFirst\""), "{text}");
    assert!(text.contains("422 Invalid"), "{text}");
    assert_eq!(text.matches("  deleted ").count(), 2, "{text}");

    let o = run(env!("CARGO_BIN_EXE_auth-kinds"), &["--real-cluster"], &env).await;
    let text = stdout(&o);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("no credentials                           -> 403 Forbidden"),
        "{text}"
    );
    assert!(
        text.contains("current configuration                    -> 200 OK"),
        "{text}"
    );

    let o = run(
        env!("CARGO_BIN_EXE_watch-and-list"),
        &["--real-cluster", "--max-events", "0"],
        &env,
    )
    .await;
    let text = stdout(&o);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("0 pods in 1 pages"), "{text}");
    assert!(text.contains("0 events over"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_discovery_with_a_url() {
    let server = TestServer::builder().plain_http().start().await.unwrap();
    let bin = env!("CARGO_BIN_EXE_proxy-discovery");
    let o = run(bin, &["--real-cluster", "--url", server.url()], &[]).await;
    let text = stdout(&o);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("versions: batch/v1; preferred: batch/v1"),
        "{text}"
    );
    assert!(text.contains("0 jobs"), "{text}");
    assert!(text.contains("-> 404 NotFound: the server could not find the requested resource"));
    server.shutdown().await;

    // Nothing listening: a clear error, exit status 1.
    let o = run(bin, &["--real-cluster", "--url", "http://127.0.0.1:9"], &[]).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is `kubectl proxy` running and listening on http://127.0.0.1:9?"),
        "{err}"
    );

    let o = run(bin, &["--url"], &[]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--url needs a value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downward_api_in_a_pod() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("labels"), "app=\"web\"\n").unwrap();
    std::fs::write(dir.path().join("annotations"), "note=\"a\\tb\"\n").unwrap();
    let o = run(
        env!("CARGO_BIN_EXE_downward-api"),
        &["--real-cluster", "--volume", dir.path().to_str().unwrap()],
        &[
            ("POD_NAME", "api-7"),
            ("POD_NAMESPACE", "prod"),
            ("MEMORY_LIMIT", "1048576"),
        ],
    )
    .await;
    let text = stdout(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("  name            api-7\n"), "{text}");
    assert!(text.contains("  namespace       prod\n"), "{text}");
    assert!(text.contains("  node            (not set)\n"), "{text}");
    assert!(text.contains("  memory limit    1048576 bytes\n"), "{text}");
    assert!(text.contains("    app = web\n"), "{text}");
    assert!(text.contains("    note = a\tb\n"), "{text}");
}
