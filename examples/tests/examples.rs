//! Every example run against the in-process test server, with the facts it demonstrates
//! checked: the status codes, the Status reasons and causes, what discovery lists, what the
//! server filled in, pages and watch events, and that no secret reaches the transcript.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_sdk_examples::support::LoggedRequest;
use k8s_sdk_examples::{
    Target, Transcript, auth_kinds, cli, defaulting_and_validation, downward_api,
    in_cluster_create_pod, logs_and_exec, proxy_discovery, watch_and_list,
};

/// Every `Bearer`/`Basic` in the text is followed by `<redacted>`.
fn assert_redacted(text: &str) {
    for scheme in ["Bearer ", "Basic "] {
        for (i, _) in text.match_indices(scheme) {
            assert!(
                text[i + scheme.len()..].starts_with("<redacted>"),
                "unredacted credentials at byte {i}: {}",
                &text[i..(i + 40).min(text.len())]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_create_pod_is_forbidden_then_created() {
    let out = Transcript::new();
    let options = in_cluster_create_pod::Options::new(Target::TestServer);
    let report = in_cluster_create_pod::run(&options, &out).await.unwrap();
    let text = out.text();

    // The namespace comes from the service-account directory.
    assert_eq!(report.namespace, in_cluster_create_pod::NAMESPACE);
    assert_eq!(
        report.refused,
        Some((403, "Forbidden".to_owned())),
        "{text}"
    );
    assert_eq!(report.created, Some(201), "{text}");
    assert!(report.pod_uid.as_deref().is_some_and(|u| !u.is_empty()));
    let codes: Vec<(String, u16)> = report
        .requests
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        codes,
        [
            ("POST".to_owned(), 403),
            ("POST".to_owned(), 201),
            ("DELETE".to_owned(), 200)
        ]
    );
    assert!(
        report.requests[0]
            .path
            .starts_with("/api/v1/namespaces/demo/pods")
    );
    for r in &report.requests {
        assert!(
            r.line.contains("Authorization: Bearer <redacted>"),
            "{}",
            r.line
        );
    }
    // The Status message names the service account, as the real server's does.
    assert!(
        text.contains(
            "403 Forbidden: pods is forbidden: User \"system:serviceaccount:demo:app\" cannot create resource \"pods\""
        ),
        "{text}"
    );
    assert!(text.contains("KUBERNETES_SERVICE_HOST=127.0.0.1"), "{text}");
    assert!(text.contains("201 Created: pod demo/nginx"), "{text}");
    // The token never appears.
    assert!(!text.contains(in_cluster_create_pod::APP_TOKEN), "{text}");
    assert!(!format!("{report:?}").contains(in_cluster_create_pod::APP_TOKEN));
    assert_redacted(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_discovery_lists_groups_batch_resources_jobs_and_404s() {
    let out = Transcript::new();
    let options = proxy_discovery::Options::new(Target::TestServer);
    let report = proxy_discovery::run(&options, &out).await.unwrap();
    let text = out.text();

    assert!(
        report.url.starts_with("http://127.0.0.1:"),
        "{}",
        report.url
    );
    for g in ["apps", "batch", "rbac.authorization.k8s.io"] {
        assert!(
            report.groups.iter().any(|x| x == g),
            "{g}: {:?}",
            report.groups
        );
    }
    assert!(report.batch_versions.contains(&"batch/v1".to_owned()));
    assert_eq!(report.batch_preferred.as_deref(), Some("batch/v1"));

    let resource = |name: &str| {
        report
            .batch_v1_resources
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} missing: {:?}", report.batch_v1_resources))
    };
    let jobs = resource("jobs");
    assert_eq!(jobs.kind, "Job");
    assert!(jobs.namespaced);
    for verb in [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ] {
        assert!(jobs.verbs.iter().any(|v| v == verb), "jobs: {verb}");
    }
    let mut status_verbs = resource("jobs/status").verbs.clone();
    status_verbs.sort();
    assert_eq!(status_verbs, ["get", "patch", "update"]);
    assert_eq!(resource("cronjobs").kind, "CronJob");

    let mut listed = report.jobs.clone();
    listed.sort();
    assert_eq!(listed, ["default/pi", "kube-system/pi-short"]);
    assert_eq!(report.job_read.as_deref(), Some("default/pi"));

    assert_eq!(report.not_found.len(), 2, "{text}");
    let wrong = &report.not_found[0];
    assert_eq!(wrong.path, proxy_discovery::WRONG_PATH);
    assert_eq!(wrong.code, Some(404));
    assert_eq!(wrong.reason, "NotFound");
    assert_eq!(
        wrong.message,
        "the server could not find the requested resource"
    );
    let missing = &report.not_found[1];
    assert_eq!(missing.code, Some(404));
    assert_eq!(missing.message, "jobs.batch \"no-such-job\" not found");
    assert!(text.contains("404 NotFound"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downward_api_reads_environment_and_volume() {
    let out = Transcript::new();
    let options = downward_api::Options::new(Target::TestServer);
    let report = downward_api::run(&options, &out).await.unwrap();
    let info = &report.info;
    let env = downward_api::sample_environment();
    assert_eq!(info.name.as_deref(), Some(env["POD_NAME"]));
    assert_eq!(info.namespace.as_deref(), Some(env["POD_NAMESPACE"]));
    assert_eq!(info.ip.as_deref(), Some(env["POD_IP"]));
    assert_eq!(info.ips, [env["POD_IP"]]);
    assert_eq!(info.node_name.as_deref(), Some(env["NODE_NAME"]));
    assert_eq!(
        info.service_account.as_deref(),
        Some(env["POD_SERVICE_ACCOUNT"])
    );
    assert_eq!(info.cpu_request.as_deref(), Some("250"));
    assert_eq!(info.memory_limit.as_deref(), Some("134217728"));
    assert_eq!(info.cpu_limit, None);
    // The volume's files, in the kubelet's Go-quoted format, decoded.
    assert_eq!(info.labels.len(), 2);
    assert_eq!(info.labels["app"], "web");
    assert_eq!(info.labels["tier"], "frontend");
    assert_eq!(info.annotations["build"], "2024-06-01");
    assert_eq!(info.annotations["owner"], "team \"a\"");
    let text = out.text();
    assert!(text.contains("memory limit    134217728 bytes"), "{text}");
    assert!(text.contains("owner = team \"a\""), "{text}");
    assert!(text.contains("No request was sent to the API server."));
    // The manifest shown declares every variable the example reads.
    for var in env.keys() {
        assert!(
            downward_api::POD_MANIFEST.contains(&format!("name: {var},")),
            "{var}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaulting_and_validation_shows_defaults_and_422_causes() {
    let out = Transcript::new();
    let options = defaulting_and_validation::Options::new(Target::TestServer);
    let report = defaulting_and_validation::run(&options, &out)
        .await
        .unwrap();
    let text = out.text();

    let filled = &report.dry_run_filled;
    for (path, value) in [
        ("spec.dnsPolicy", "\"ClusterFirst\""),
        ("spec.restartPolicy", "\"Always\""),
        ("spec.schedulerName", "\"default-scheduler\""),
        ("spec.terminationGracePeriodSeconds", "30"),
        ("spec.containers[0].imagePullPolicy", "\"IfNotPresent\""),
        (
            "spec.containers[0].terminationMessagePath",
            "\"/dev/termination-log\"",
        ),
        ("spec.serviceAccountName", "\"default\""),
    ] {
        assert_eq!(
            filled.get(path).map(String::as_str),
            Some(value),
            "{path}: {filled:#?}"
        );
    }
    assert!(filled.contains_key("metadata.uid"));
    assert!(filled.contains_key("metadata.creationTimestamp"));
    // What was sent is not reported as filled in.
    assert!(
        !filled
            .keys()
            .any(|k| k.starts_with("spec.containers[0].image")
                && !k.starts_with("spec.containers[0].imagePull"))
    );
    assert!(!filled.contains_key("metadata.name"));
    assert!(!report.dry_run_persisted, "{text}");

    assert!(report.image_update_ok, "{text}");
    assert_eq!(report.immutable_code, Some(422), "{text}");
    assert_eq!(report.immutable_reason, "Invalid");
    assert_eq!(report.immutable_causes.len(), 1, "{text}");
    let cause = &report.immutable_causes[0];
    assert_eq!(cause.field, "spec");
    assert_eq!(cause.reason, "FieldValueForbidden");
    assert!(
        cause
            .message
            .starts_with("Forbidden: pod updates may not change fields other than"),
        "{}",
        cause.message
    );

    let d = &report.deployment_filled;
    assert_eq!(
        d.get("spec.revisionHistoryLimit").map(String::as_str),
        Some("10")
    );
    assert_eq!(
        d.get("spec.progressDeadlineSeconds").map(String::as_str),
        Some("600")
    );
    assert!(
        d.get("spec.strategy")
            .is_some_and(|s| s.contains("RollingUpdate") && s.contains("25%")),
        "{d:#?}"
    );
    assert_eq!(
        d.get("spec.template.spec.dnsPolicy").map(String::as_str),
        Some("\"ClusterFirst\"")
    );
    assert!(!d.contains_key("spec.replicas"), "replicas was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_kinds_answer_403_401_200_200() {
    let out = Transcript::new();
    let options = auth_kinds::Options::new(Target::TestServer);
    let report = auth_kinds::run(&options, &out).await.unwrap();
    let text = out.text();
    let got: Vec<(&str, u16, &str)> = report
        .outcomes
        .iter()
        .map(|o| (o.label.as_str(), o.code, o.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (auth_kinds::ANONYMOUS, 403, "Forbidden"),
            (auth_kinds::WRONG_CERT, 401, "Unauthorized"),
            (auth_kinds::GOOD_CERT, 200, "OK"),
            (auth_kinds::TOKEN, 200, "OK"),
        ],
        "{text}"
    );
    assert_eq!(report.code(auth_kinds::WRONG_CERT), Some(401));
    assert_eq!(report.outcomes[0].auth, "no credentials");
    assert_eq!(report.outcomes[2].auth, "a client certificate");
    assert!(report.outcomes[3].auth.starts_with("a bearer token"));
    assert!(
        text.contains("User \"system:anonymous\" cannot list resource \"pods\""),
        "{text}"
    );
    assert!(text.contains("(Authorization: Bearer <redacted>, attempt 0)"));
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert_redacted(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_and_list_pages_by_100_and_survives_a_dropped_watch() {
    let out = Transcript::new();
    let options = watch_and_list::Options::new(Target::TestServer);
    let report = watch_and_list::run(&options, &out).await.unwrap();
    let text = out.text();

    assert_eq!(report.pages, [100, 100, 50], "{text}");
    assert_eq!(report.total, watch_and_list::SEEDED_PODS);
    assert_eq!(report.list_all_total, watch_and_list::SEEDED_PODS);
    assert!(!report.resource_version.is_empty());
    // Every change arrives once and in order, across the dropped connection.
    assert_eq!(
        report.events,
        [
            "ADDED default/watch-demo-0",
            "ADDED default/watch-demo-1",
            "ADDED default/watch-demo-2",
            "MODIFIED default/watch-demo-1",
            "DELETED default/watch-demo-2",
        ],
        "{text}"
    );
    assert_eq!(report.watch_connections, 2, "{text}");
    assert_eq!(report.relists, 0);
    assert!(
        text.contains("(connection dropped; resumed, watch request #2)"),
        "{text}"
    );
}

#[test]
fn command_line() {
    let specs = [cli::OptionSpec {
        name: "--kubeconfig",
        takes_value: true,
        help: "a kubeconfig",
    }];
    let usage = cli::usage("auth-kinds", "about", &specs);
    assert!(usage.contains("usage: auth-kinds [--real-cluster] [--kubeconfig VALUE]"));
    let args = |v: &[&str]| cli::parse(v.iter().map(|s| s.to_string()), &specs, &usage);

    let a = args(&[]).unwrap();
    assert_eq!(a.target, Target::TestServer);
    let a = args(&[
        "--real-cluster",
        "--kubeconfig",
        "a.yaml",
        "--kubeconfig=b.yaml",
    ])
    .unwrap();
    assert_eq!(a.target, Target::RealCluster);
    assert_eq!(a.values("--kubeconfig"), ["a.yaml", "b.yaml"]);
    assert_eq!(a.value("--kubeconfig"), Some("b.yaml"));
    let e = args(&["--kubeconfig"]).unwrap_err();
    assert!(e.starts_with("--kubeconfig needs a value"), "{e}");
    let e = args(&["--nope"]).unwrap_err();
    assert!(e.starts_with("unknown argument \"--nope\""), "{e}");
    assert_eq!(args(&["--help"]).unwrap_err(), usage);
}

#[test]
fn request_log_lines_and_filled_in_fields() {
    let r = LoggedRequest::parse(
        "POST /api/v1/namespaces/demo/pods?fieldManager=x -> 403 (Authorization: Bearer <redacted>, attempt 0)",
    )
    .unwrap();
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.status),
        ("POST", "/api/v1/namespaces/demo/pods?fieldManager=x", 403)
    );
    assert!(LoggedRequest::parse("401: fetched fresh credentials, retrying once").is_none());

    let sent = serde_json::json!({"spec": {"containers": [{"name": "a"}], "x": null}});
    let got = serde_json::json!({
        "metadata": {"uid": "u", "resourceVersion": "1", "managedFields": []},
        "spec": {"containers": [{"name": "a", "imagePullPolicy": "Always"}], "x": 1, "dnsPolicy": "ClusterFirst"}
    });
    let filled = defaulting_and_validation::filled_in(&sent, &got);
    let keys: Vec<&str> = filled.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "metadata",
            "spec.containers[0].imagePullPolicy",
            "spec.dnsPolicy",
            "spec.x"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_exec_follows_a_log_and_runs_commands() {
    let out = Transcript::new();
    let report = logs_and_exec::run(&logs_and_exec::Options::new(Target::TestServer), &out)
        .await
        .unwrap();
    // Every line once, in order, across the broken connection.
    let expected: Vec<String> = (1..=5).map(|i| format!("request {i} served")).collect();
    assert_eq!(report.log, expected);
    assert_eq!(report.echo, "hello from exec");
    assert_eq!(report.cat, "fed through stdin");
    assert_eq!(report.exit_code, 3);
    assert_eq!(report.protocol, "v5.channel.k8s.io");
    assert_eq!(report.forwarded, "hello through the tunnel");
    assert_redacted(&out.text());
}
