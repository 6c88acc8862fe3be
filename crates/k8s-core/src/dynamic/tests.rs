use serde_json::json;

use super::*;
use crate::{ApiRequest, List, Patch, Resource, Scope};

fn deployments() -> ApiResource {
    ApiResource::new("apps", "v1", "Deployment", "deployments", Scope::Namespaced)
}

#[test]
fn an_object_keeps_every_field_through_a_round_trip() {
    let text = r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","labels":{"a":"b"},"managedFields":[{"manager":"m","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]},"spec":{"size":3,"big":12345678901234567},"status":{"ok":true}}"#;
    let o: DynamicObject = serde_json::from_str(text).unwrap();
    assert_eq!(o.api_version, "example.com/v1");
    assert_eq!((o.group(), o.version()), ("example.com", "v1"));
    assert_eq!(o.kind, "Widget");
    assert_eq!(o.name(), Some("w"));
    assert_eq!(o.labels()["a"], "b");
    assert_eq!(o.data["spec"]["big"], 12345678901234567_u64);
    assert!(!o.data.contains_key("metadata"));
    let back: serde_json::Value = serde_json::to_value(&o).unwrap();
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(text).unwrap()
    );
}

#[test]
fn a_core_object_has_an_empty_group() {
    let o: DynamicObject = serde_json::from_str(r#"{"apiVersion":"v1","kind":"Pod"}"#).unwrap();
    assert_eq!((o.group(), o.version()), ("", "v1"));
}

#[test]
fn a_list_of_any_kind_decodes_and_items_take_the_lists_kind() {
    let list: List<DynamicObject> = serde_json::from_str(
        r#"{"apiVersion":"apps/v1","kind":"DeploymentList","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"a"}},{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"b"}}]}"#,
    )
    .unwrap();
    assert_eq!(list.metadata.resource_version.as_deref(), Some("7"));
    for (item, name) in list.items.iter().zip(["a", "b"]) {
        assert_eq!(
            (item.api_version.as_str(), item.kind.as_str()),
            ("apps/v1", "Deployment")
        );
        assert_eq!(item.name(), Some(name));
    }
    // A generic `List` says nothing of its items' kinds.
    let list: List<DynamicObject> = serde_json::from_str(
        r#"{"apiVersion":"v1","kind":"List","items":[{"metadata":{"name":"a"}}]}"#,
    )
    .unwrap();
    assert_eq!(list.items[0].kind, "");
}

#[test]
fn a_body_that_is_no_list_is_refused() {
    let e = serde_json::from_str::<List<DynamicObject>>(r#"{"kind":"Status","items":[]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(r#"expected a list kind ("<Kind>List"), found "Status""#),
        "{e}"
    );
}

#[test]
fn paths_follow_the_scope_and_encode_names() {
    let d = deployments();
    assert_eq!(d.collection_path(None), "/apis/apps/v1/deployments");
    assert_eq!(
        d.collection_path(Some("ns")),
        "/apis/apps/v1/namespaces/ns/deployments"
    );
    assert_eq!(
        d.object_path(Some("ns"), "a b"),
        "/apis/apps/v1/namespaces/ns/deployments/a%20b"
    );
    let nodes = ApiResource::new("", "v1", "Node", "nodes", Scope::Cluster);
    assert_eq!(nodes.object_path(Some("ignored"), "n1"), "/api/v1/nodes/n1");
    assert_eq!(
        d.subresource_path(Some("ns"), "web", "scale"),
        "/apis/apps/v1/namespaces/ns/deployments/web/scale"
    );
}

#[test]
fn the_builders_are_the_typed_ones() {
    let d = deployments();
    let r = d.get_status(Some("ns"), "web").to_request().unwrap();
    assert_eq!(r.path, "/apis/apps/v1/namespaces/ns/deployments/web/status");
    let obj = DynamicObject::new("web", &d).with_data(json!({"spec": {"replicas": 2}}));
    let r = d.create(Some("ns"), &obj).dry_run().to_request().unwrap();
    assert_eq!(r.method, http::Method::POST);
    assert_eq!(
        r.path_and_query(),
        "/apis/apps/v1/namespaces/ns/deployments?dryRun=All"
    );
    let body: serde_json::Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}})
    );
    let r = d
        .patch(Some("ns"), "web", Patch::Apply(json!({})))
        .field_manager("me")
        .force()
        .to_request()
        .unwrap();
    assert_eq!(
        r.path_and_query(),
        "/apis/apps/v1/namespaces/ns/deployments/web?fieldManager=me&force=true"
    );
    let r = d.watch(None).to_request().unwrap();
    assert_eq!(r.path, "/apis/apps/v1/deployments");
    let r = d
        .delete_collection(Some("ns"))
        .label_selector("a=b")
        .to_request()
        .unwrap();
    assert_eq!(
        r.path_and_query(),
        "/apis/apps/v1/namespaces/ns/deployments?labelSelector=a%3Db"
    );
}

struct Widget;
impl Resource for Widget {
    const API_VERSION: &'static str = "example.com/v1";
    const GROUP: &'static str = "example.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Widget";
    const PLURAL: &'static str = "widgets";
    const SCOPE: Scope = Scope::Cluster;
    const VERBS: &'static [&'static str] = &["get", "list"];
    const SUBRESOURCES: &'static [&'static str] = &["status"];
}

#[test]
fn a_typed_kind_gives_its_descriptor() {
    let r = ApiResource::from_resource::<Widget>();
    assert_eq!(r.api_version, "example.com/v1");
    assert_eq!(r.singular, "widget");
    assert_eq!(r.scope, Scope::Cluster);
    assert!(r.supports("list") && !r.supports("delete"));
    assert!(r.has_subresource("status"));
}
