//! The typed API as the README shows it: building objects and requests, `Resource` facts, and
//! secrets kept out of `Debug`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use k8s_api::latest::core::v1::{Container, Pod, PodSpec, Secret};
use k8s_api::latest::meta::v1::ObjectMeta;
use k8s_core::{ApiRequest, ByteString, Patch, Resource, Scope};

fn pod() -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web-0".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("nginx:1.27".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn readme_quick_start_requests() {
    let r = Pod::create("default", &pod())
        .field_manager("me")
        .to_request()
        .unwrap();
    assert_eq!(r.method, http::Method::POST);
    assert_eq!(
        r.path_and_query(),
        "/api/v1/namespaces/default/pods?fieldManager=me"
    );
    let body: serde_json::Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["apiVersion"], "v1");
    assert_eq!(body["kind"], "Pod");
    assert_eq!(body["spec"]["containers"][0]["image"], "nginx:1.27");

    let r = Pod::list("default")
        .label_selector("app=web")
        .limit(500)
        .to_request()
        .unwrap();
    assert_eq!(
        r.path_and_query(),
        "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=500"
    );

    let r = Pod::patch(
        "default",
        "web-0",
        Patch::Merge(serde_json::json!({"metadata": {"labels": {"tier": "web"}}})),
    )
    .to_request()
    .unwrap();
    assert_eq!(r.content_type, Some("application/merge-patch+json"));

    let log = Pod::read_log("default", "web-0")
        .container("app")
        .tail_lines(20);
    let r = log.to_request().unwrap();
    assert_eq!(
        r.path_and_query(),
        "/api/v1/namespaces/default/pods/web-0/log?container=app&tailLines=20"
    );
    assert_eq!(
        log.decode_response(b"line 1\nline 2\n").unwrap(),
        "line 1\nline 2\n"
    );

    let exec = Pod::connect_post_exec("default", "web-0")
        .command("sh")
        .command("-c")
        .command("echo hi")
        .to_request()
        .unwrap();
    assert_eq!(
        exec.query_string(),
        "command=sh&command=-c&command=echo+hi",
        "exec's command is repeated, in order"
    );
    assert_eq!(exec.response_kind, k8s_core::ResponseKind::Upgrade);
}

#[test]
fn resource_facts_come_from_the_spec() {
    assert_eq!(Pod::API_VERSION, "v1");
    assert_eq!(Pod::PLURAL, "pods");
    assert_eq!(Pod::SCOPE, Scope::Namespaced);
    assert!(Pod::SUBRESOURCES.contains(&"eviction"));
    use k8s_api::latest::apps::v1::Deployment;
    assert_eq!(Deployment::API_VERSION, "apps/v1");
    assert!(Deployment::VERBS.contains(&"deletecollection"));
    use k8s_api::latest::core::v1::Namespace;
    assert_eq!(Namespace::SCOPE, Scope::Cluster);
    let pods = k8s_api::latest::RESOURCES
        .iter()
        .find(|r| r.group.is_empty() && r.plural == "pods")
        .unwrap();
    assert_eq!(pods.kind, "Pod");
    assert!(pods.subresources.contains(&("exec", "PodExecOptions")));
}

#[test]
fn secret_values_stay_out_of_debug() {
    let s = Secret {
        data: Some(BTreeMap::from([(
            "password".to_owned(),
            ByteString(b"hunter2-secret".to_vec()),
        )])),
        string_data: Some(BTreeMap::from([(
            "token".to_owned(),
            "s3cr3t-token".to_owned(),
        )])),
        ..Default::default()
    };
    let d = format!("{s:?}");
    assert!(
        d.contains("password") && d.contains("token"),
        "keys are shown: {d}"
    );
    assert!(
        !d.contains("hunter2") && !d.contains("s3cr3t"),
        "values are not: {d}"
    );
}

#[test]
fn readme_yaml_manifests() {
    use k8s_api::latest::apps::v1::Deployment;
    use k8s_core::yaml;

    let web = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}}\n";
    let deployment: Deployment = yaml::from_str(web).unwrap();
    assert_eq!(deployment.spec.replicas, Some(2));

    let all = format!(
        "{web}---\napiVersion: v1\nkind: Service\nmetadata: {{name: web}}\n---\n# nothing\n---\nkind: Oops\nmetadata: [\n"
    );
    let docs: Vec<_> = yaml::from_str_multi::<serde_json::Value>(&all).collect();
    let names: Vec<String> = docs
        .iter()
        .filter_map(|d| d.as_ref().ok())
        .map(|o| format!("{} {}", o["kind"], o["metadata"]["name"]))
        .collect();
    assert_eq!(names, [r#""Deployment" "web""#, r#""Service" "web""#]);
    let e = docs[2].as_ref().unwrap_err();
    assert_eq!(e.document, Some(3), "the comment-only document counts: {e}");
    assert!(
        matches!(e.line, Some(16) | Some(17)),
        "the line in the whole stream: {e}"
    );

    let text: String = yaml::to_string(&deployment).unwrap();
    assert!(text.contains("replicas: 2"), "{text}");
}

/// The README quick start's server-side applies: a YAML manifest through `From<&Deployment>`,
/// and one field through an apply configuration.
#[test]
fn readme_quick_start_apply_configurations() {
    use k8s_api::latest::apps::v1::{Deployment, apply};
    use k8s_core::yaml;

    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, uid: u-1, resourceVersion: '7'}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}}\n";
    let web: Deployment = yaml::from_str(manifest).unwrap();
    let owned = apply::Deployment::from(&web);
    let r = Deployment::patch("default", "web", Patch::apply(&owned).unwrap())
        .field_manager("me")
        .to_request()
        .unwrap();
    assert_eq!(r.content_type, Some("application/apply-patch+yaml"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(r.body.as_deref().unwrap()).unwrap(),
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}}}}),
        "uid and resourceVersion are the server's"
    );

    let scale = apply::Deployment {
        spec: Some(apply::DeploymentSpec {
            replicas: Some(3),
            ..Default::default()
        }),
        ..apply::Deployment::new("web")
    };
    let r = Deployment::patch("default", "web", Patch::apply(&scale).unwrap())
        .field_manager("scaler")
        .force()
        .to_request()
        .unwrap();
    assert_eq!(
        r.path_and_query(),
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=scaler&force=true"
    );
    assert_eq!(
        std::str::from_utf8(r.body.as_deref().unwrap()).unwrap(),
        r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3}}"#
    );
}

#[test]
fn metadata_is_required_and_read_through_the_object_accessors() {
    use k8s_core::Object;
    let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","namespace":"shop",
        "labels":{"app":"web"},"generation":2,"finalizers":["example.com/x"],
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"u1","controller":true}]}}"#;
    let pod: Pod = serde_json::from_str(json).unwrap();
    // A field, not an Option: the k8s-openapi / kube way.
    assert_eq!(pod.metadata.name.as_deref(), Some("web-0"));
    assert_eq!(pod.name(), Some("web-0"));
    assert_eq!(pod.name_any(), "web-0");
    assert_eq!(pod.namespace(), Some("shop"));
    assert_eq!(pod.labels()["app"], "web");
    assert!(pod.annotations().is_empty());
    assert_eq!(pod.generation(), Some(2));
    assert_eq!(pod.finalizers(), ["example.com/x"]);
    assert_eq!(pod.owner_references()[0].kind, "ReplicaSet");
    assert!(pod.creation_timestamp().is_none());
    // `meta::v1::ObjectMeta` is the one hand-written type of every version.
    let _: &k8s_core::ObjectMeta = &pod.metadata;
    let meta: k8s_api::v1_32::meta::v1::ObjectMeta = pod.metadata.clone();
    assert_eq!(meta, pod.metadata);
    // generateName only: name_any falls back to it.
    let pending = Pod {
        metadata: ObjectMeta {
            generate_name: Some("web-".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(pending.name_any(), "web-");
    // No metadata at all reads as empty metadata and is not written back.
    let bare: Pod = serde_json::from_str(r#"{"spec":{"containers":[]}}"#).unwrap();
    assert!(bare.metadata.is_empty());
    assert!(
        serde_json::to_value(&bare)
            .unwrap()
            .get("metadata")
            .is_none()
    );
}

#[test]
fn decoding_checks_api_version_and_kind_of_objects_lists_and_watch_events() {
    use k8s_api::latest::apps::v1::Deployment;
    use k8s_api::latest::core::v1::Service;
    use k8s_core::{List, WatchEvent};

    let service = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"}}"#;
    let e = serde_json::from_str::<Deployment>(service)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(r#"expected apiVersion "apps/v1" for a Deployment, found "v1""#),
        "{e}"
    );
    let e = serde_json::from_str::<Pod>(service)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(r#"expected kind "Pod" for a Pod, found "Service""#),
        "{e}"
    );
    // Absent apiVersion/kind (list items leave them out) are accepted.
    let s: Service = serde_json::from_str(r#"{"metadata":{"name":"web"}}"#).unwrap();
    assert_eq!(s.metadata.name.as_deref(), Some("web"));

    let service_list = r#"{"apiVersion":"v1","kind":"ServiceList","metadata":{},"items":[]}"#;
    let e = serde_json::from_str::<List<Pod>>(service_list)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(r#"expected kind "PodList" (or "List"), found "ServiceList""#),
        "{e}"
    );
    let generic =
        r#"{"apiVersion":"v1","kind":"List","metadata":{},"items":[{"metadata":{"name":"a"}}]}"#;
    assert_eq!(
        serde_json::from_str::<List<Pod>>(generic)
            .unwrap()
            .items
            .len(),
        1
    );

    let event = format!(r#"{{"type":"ADDED","object":{service}}}"#);
    let e = serde_json::from_str::<WatchEvent<Pod>>(&event)
        .unwrap_err()
        .to_string();
    assert!(e.contains(r#"found "Service""#), "{e}");
    let ok =
        r#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}}"#;
    assert!(serde_json::from_str::<WatchEvent<Pod>>(ok).is_ok());
}
