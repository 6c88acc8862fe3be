//! Apply configurations (`<group>::<version>::apply`, feature `apply`): a typed server-side apply
//! sends only the fields that were set, checked on the wire against the in-process API server
//! (`k8s-testserver`'s request log) and in the server's `managedFields`; `From<&Kind>` takes
//! ownership of everything a recorded object says.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;

use k8s_api::v1_36::apps::v1::{Deployment, DeploymentSpec, apply};
use k8s_api::v1_36::core::v1::{Container, PodSpec, PodTemplateSpec, Secret};
use k8s_api::v1_36::meta::v1::{LabelSelector, ObjectMeta};
use k8s_client::{Client, ConfigLoader};
use k8s_core::Patch;
use k8s_testserver::{LoggedRequest, TestServer};
use serde_json::{Value, json};

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_owned(), "web".to_owned())])
}

/// What manager "a" applies: a whole Deployment, through the full type (its required fields are
/// all meant here).
fn full_deployment() -> Deployment {
    Deployment {
        metadata: ObjectMeta::named("web"),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(labels()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "nginx".into(),
                        image: Some("nginx:1.27".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn server_and_client() -> (TestServer, Client) {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([server.kubeconfig_for("admin-token")])
        .kubeconfig()
        .unwrap();
    let client = Client::try_from(config).unwrap();
    (server, client)
}

/// The last PATCH the server received.
fn last_patch(server: &TestServer) -> LoggedRequest {
    server
        .request_log()
        .into_iter()
        .rev()
        .find(|r| r.method == "PATCH")
        .expect("a PATCH was sent")
}

/// The `fieldsV1` of one manager's `Apply` entry in the object's managedFields, as JSON.
fn owned_by(d: &Deployment, manager: &str) -> Value {
    let entries = d.metadata.managed_fields.as_ref().expect("managedFields");
    let e = entries
        .iter()
        .find(|e| e.manager.as_deref() == Some(manager))
        .unwrap_or_else(|| panic!("no managedFields entry of {manager}: {entries:?}"));
    assert_eq!(e.operation.as_deref(), Some("Apply"));
    serde_json::to_value(e.fields_v1.as_ref().expect("fieldsV1")).unwrap()
}

#[tokio::test]
async fn typed_apply_sends_only_the_fields_set_and_leaves_other_owners_alone() {
    let (server, client) = server_and_client().await;

    // Manager "a" applies the whole Deployment.
    client
        .send(
            Deployment::patch("default", "web", Patch::apply(&full_deployment()).unwrap())
                .field_manager("a"),
        )
        .await
        .unwrap();

    // Before: the full type with only `spec.replicas` set also writes its required `selector`
    // and `template`, empty, and would claim them.
    let before = Deployment {
        metadata: ObjectMeta::named("web"),
        spec: Some(DeploymentSpec {
            replicas: Some(3),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        String::from_utf8(Patch::apply(&before).unwrap().to_body().unwrap()).unwrap(),
        r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3,"selector":{},"template":{}}}"#
    );

    // After: the apply configuration says exactly what it sets.
    let replicas = apply::Deployment {
        spec: Some(apply::DeploymentSpec {
            replicas: Some(3),
            ..Default::default()
        }),
        ..apply::Deployment::new("web")
    };
    let applied = client
        .send(
            Deployment::patch("default", "web", Patch::apply(&replicas).unwrap())
                .field_manager("b")
                .force(),
        )
        .await
        .unwrap();

    let sent = last_patch(&server);
    assert_eq!(
        sent.path_and_query,
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=b&force=true"
    );
    assert_eq!(
        sent.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    let expected = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3}}"#;
    assert_eq!(String::from_utf8(sent.body.clone()).unwrap(), expected);
    assert_eq!(
        serde_json::from_slice::<Value>(&sent.body).unwrap(),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"replicas": 3}})
    );

    // The server's view: "b" owns the replicas only; "a" keeps the selector and the template,
    // whose values are untouched.
    for d in [
        applied,
        client
            .send(Deployment::read("default", "web"))
            .await
            .unwrap(),
    ] {
        let spec = d.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.selector.match_labels, Some(labels()));
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.containers[0].image.as_deref(), Some("nginx:1.27"));

        assert_eq!(owned_by(&d, "b"), json!({"f:spec": {"f:replicas": {}}}));
        let a = owned_by(&d, "a");
        assert!(a["f:spec"]["f:template"].is_object(), "{a}");
        assert!(a["f:spec"]["f:selector"].is_object(), "{a}");
        assert!(
            a["f:spec"].get("f:replicas").is_none(),
            "b forced the replicas away from a: {a}"
        );
    }
}

/// `From<&Deployment>`: a recorded object, converted, says everything the object says except
/// the metadata the server owns.
#[test]
fn conversion_from_a_recorded_object_keeps_all_but_server_metadata() {
    let path = k8s_sdk_tests::fixtures_dir().join("apiserver-v1.36.2/deployment.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let exchanges: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for x in &exchanges {
        let Some(body) = x["response_body"].as_str() else {
            continue;
        };
        let Ok(recorded) = serde_json::from_str::<Value>(body) else {
            continue;
        };
        if recorded["kind"] != "Deployment" {
            continue;
        }
        let full: Deployment = serde_json::from_value(recorded.clone()).unwrap();
        let config = apply::Deployment::from(&full);
        let mut expected = recorded.clone();
        let meta = expected["metadata"].as_object_mut().unwrap();
        for server_owned in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ] {
            meta.remove(server_owned);
        }
        assert!(recorded["metadata"]["managedFields"].is_array());
        assert_eq!(serde_json::to_value(&config).unwrap(), expected);
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} recorded Deployments");
}

/// The keys of a list of type map can be set alone (the server merges the list by them), and a
/// Secret's apply configuration keeps its values out of `Debug`.
#[test]
fn list_map_keys_alone_and_secret_debug() {
    use k8s_api::v1_36::core::v1::apply as core;
    let image_only = core::PodSpec {
        containers: Some(vec![core::Container {
            name: Some("nginx".into()),
            image: Some("nginx:1.28".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&image_only).unwrap(),
        json!({"containers": [{"name": "nginx", "image": "nginx:1.28"}]})
    );

    let secret = Secret {
        metadata: ObjectMeta::named("s"),
        string_data: Some(BTreeMap::from([("password".into(), "hunter2".into())])),
        ..Default::default()
    };
    let config = core::Secret::from(&secret);
    let shown = format!("{config:?}");
    assert!(
        shown.contains("password") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert_eq!(
        serde_json::to_value(&config).unwrap(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
               "stringData": {"password": "hunter2"}})
    );
}
