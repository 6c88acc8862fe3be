//! The typed API as the README shows it: building objects and requests, `Resource` facts, and
//! secrets kept out of `Debug`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use k8s_api::latest::core::v1::{Container, Pod, PodSpec, Secret};
use k8s_api::latest::meta::v1::ObjectMeta;
use k8s_core::{ApiRequest, ByteString, Patch, Resource, Scope};

fn pod() -> Pod {
    Pod {
        metadata: Some(ObjectMeta {
            name: Some("web-0".into()),
            ..Default::default()
        }),
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
