//! Discovery against the recorded responses of a real kube-apiserver 1.36.2
//! (`$K8S_FIXTURES_DIR/apiserver-v1.36.2/discovery.json`) and against the test server: the
//! aggregated and the legacy documents give the same resources, and names resolve by kubectl's
//! rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use k8s_client::discovery::{Discovery, DiscoveryError, DiscoveryMode};
use k8s_core::{ApiResource, Scope};
use k8s_testserver::TestServer;
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    std::env::var("K8S_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

/// The response body of the recorded exchange whose note starts with `note` and URL is `url`.
fn body(exchanges: &[Value], note: &str, url: &str) -> Vec<u8> {
    exchanges
        .iter()
        .find(|e| e["note"].as_str().unwrap_or("").starts_with(note) && e["request_url"] == url)
        .unwrap_or_else(|| panic!("no recorded {note} exchange for {url}"))["response_body"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec()
}

fn recorded() -> Vec<Value> {
    let path = fixtures_dir().join("apiserver-v1.36.2/discovery.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read fixture {} ({e}); set K8S_FIXTURES_DIR to the shared fixtures",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn aggregated(exchanges: &[Value]) -> Discovery {
    let agg = "aggregated discovery";
    Discovery::from_aggregated(
        &body(exchanges, agg, "/api"),
        &body(exchanges, agg, "/apis"),
    )
    .unwrap()
}

/// A resource with its subresources sorted (the two formats need not list them in one order).
fn normal(r: &ApiResource) -> ApiResource {
    let mut r = r.clone();
    r.subresources.sort();
    r
}

#[test]
fn aggregated_and_legacy_documents_of_a_real_server_give_the_same_resources() {
    let ex = recorded();
    let agg = aggregated(&ex);
    assert_eq!(agg.mode(), DiscoveryMode::Aggregated);
    let legacy_docs = [
        ("", "v1", body(&ex, "legacy discovery", "/api/v1")),
        (
            "batch",
            "v1",
            body(&ex, "legacy discovery", "/apis/batch/v1"),
        ),
        ("apps", "v1", body(&ex, "legacy discovery", "/apis/apps/v1")),
    ];
    let legacy =
        Discovery::from_legacy(legacy_docs.iter().map(|(g, v, b)| (*g, *v, b.as_slice()))).unwrap();
    let mut compared = 0;
    for group in legacy.groups() {
        let from_agg = agg.group(&group.name).unwrap();
        let a: Vec<ApiResource> = from_agg
            .resources
            .iter()
            .filter(|r| r.version == "v1")
            .map(normal)
            .collect();
        let l: Vec<ApiResource> = group.resources.iter().map(normal).collect();
        assert_eq!(a, l, "group {:?}", group.name);
        compared += l.len();
    }
    assert!(compared >= 20, "only {compared} resources compared");
    let pods = agg.resolve("po").unwrap();
    assert_eq!(
        pods.subresources
            .iter()
            .filter(|s| *s == "status" || *s == "eviction")
            .count(),
        2,
        "{pods:?}"
    );
}

fn gvr(r: &ApiResource) -> String {
    format!("{}/{}/{}", r.group, r.version, r.plural)
}

#[test]
fn names_resolve_by_kubectls_rules_on_a_real_servers_discovery() {
    let d = aggregated(&recorded());
    for (name, want) in [
        ("deploy", "apps/v1/deployments"),
        ("deployment", "apps/v1/deployments"),
        ("Deployment", "apps/v1/deployments"),
        ("deployments.apps", "apps/v1/deployments"),
        ("deployments.v1.apps", "apps/v1/deployments"),
        ("deploy.apps", "apps/v1/deployments"),
        // Core first: `events` and its short name `ev` are core events.
        ("events", "/v1/events"),
        ("ev", "/v1/events"),
        ("events.events.k8s.io", "events.k8s.io/v1/events"),
        ("ev.events.k8s.io", "events.k8s.io/v1/events"),
        // The preferred version, unless one is named.
        ("hpa", "autoscaling/v2/horizontalpodautoscalers"),
        (
            "hpa.v1.autoscaling",
            "autoscaling/v1/horizontalpodautoscalers",
        ),
        (
            "horizontalpodautoscalers.v1.autoscaling",
            "autoscaling/v1/horizontalpodautoscalers",
        ),
        // A short name with the start of a group.
        ("hpa.autoscal", "autoscaling/v2/horizontalpodautoscalers"),
        ("crd", "apiextensions.k8s.io/v1/customresourcedefinitions"),
        ("crds", "apiextensions.k8s.io/v1/customresourcedefinitions"),
        ("service", "/v1/services"),
        ("SVC", "/v1/services"),
        ("endpoints", "/v1/endpoints"),
        ("cj", "batch/v1/cronjobs"),
    ] {
        let r = d.resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(gvr(&r), want, "{name}");
    }
    assert_eq!(d.preferred_version("autoscaling"), Some("v2"));
    assert_eq!(d.preferred_version(""), Some("v1"));
    let e = d.resolve("nope").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"the server doesn't have a resource type "nope""#
    );
    let e = d.resolve("deployments.v2.apps").unwrap_err();
    assert!(matches!(e, DiscoveryError::NotFound { .. }), "{e}");

    let r = d.resolve_kind("apps/v1", "Deployment").unwrap();
    assert_eq!(
        (r.plural.as_str(), r.scope),
        ("deployments", Scope::Namespaced)
    );
    let r = d.resolve_kind("v1", "Namespace").unwrap();
    assert_eq!(r.scope, Scope::Cluster);
    let e = d.resolve_kind("apps/v1beta1", "Deployment").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"the server has no kind "Deployment" in "apps/v1beta1""#
    );
}

#[test]
fn two_resources_of_one_group_version_answering_to_a_name_are_ambiguous() {
    let doc = |resources: Value| {
        serde_json::to_vec(&serde_json::json!({
            "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "items": [{"metadata": {"name": "example.com"}, "versions": [{"version": "v1", "resources": resources}]}]
        }))
        .unwrap()
    };
    let empty =
        serde_json::to_vec(&serde_json::json!({"kind": "APIGroupDiscoveryList", "items": []}))
            .unwrap();
    let apis = doc(serde_json::json!([
        {"resource": "widgets", "singularResource": "widget", "scope": "Namespaced", "responseKind": {"kind": "Widget"}, "verbs": ["get"]},
        {"resource": "widget", "singularResource": "widgetsingle", "scope": "Namespaced", "responseKind": {"kind": "WidgetSingle"}, "verbs": ["get"]},
    ]));
    let d = Discovery::from_aggregated(&empty, &apis).unwrap();
    let e = d.resolve("widget").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#""widget" is ambiguous: it matches widgets.v1.example.com, widget.v1.example.com"#
    );
    // The plural alone is not ambiguous.
    assert_eq!(d.resolve("widgets").unwrap().kind, "Widget");
}

#[tokio::test]
async fn the_test_server_serves_aggregated_and_legacy_discovery_that_agree() {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let client = k8s_client::Client::try_from(
        k8s_client::ConfigLoader::new()
            .env_map(Default::default())
            .kubeconfig_paths([server.kubeconfig_for("admin-token")])
            .kubeconfig()
            .unwrap(),
    )
    .unwrap();
    let agg = Discovery::run(&client).await.unwrap();
    assert_eq!(agg.mode(), DiscoveryMode::Aggregated);
    let legacy = Discovery::run_legacy(&client).await.unwrap();
    assert_eq!(legacy.mode(), DiscoveryMode::Legacy);
    assert!(legacy.failed().is_empty(), "{:?}", legacy.failed());
    let a: Vec<ApiResource> = agg.resources().map(normal).collect();
    let l: Vec<ApiResource> = legacy.resources().map(normal).collect();
    assert_eq!(a.len(), l.len());
    for (a, l) in a.iter().zip(&l) {
        assert_eq!(a, l);
    }
    // The test server's resources of the recorded real server's core group agree with it.
    let real = aggregated(&recorded());
    for r in real.group("").unwrap().resources.iter().map(normal) {
        let ours = agg
            .group("")
            .unwrap()
            .resources
            .iter()
            .find(|o| o.plural == r.plural)
            .map(normal);
        assert_eq!(ours.as_ref(), Some(&r), "core {}", r.plural);
    }
}
