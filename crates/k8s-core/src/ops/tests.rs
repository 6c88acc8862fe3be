//! Request encoding and response decoding of the builders.

use super::*;
use crate::{ApiRequest, Patch, RequestError};

#[derive(Debug, serde::Deserialize, PartialEq)]
struct Obj {
    kind: Option<String>,
}

#[test]
fn delete_puts_propagation_policy_in_a_body() {
    let r = DeleteRequest::<Obj>::new("/apis/apps/v1/namespaces/default/deployments/web".into())
        .propagation_policy(PropagationPolicy::Foreground)
        .to_request()
        .unwrap();
    assert_eq!(
        String::from_utf8(r.body.unwrap()).unwrap(),
        r#"{"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Foreground"}"#
    );
    assert_eq!(r.content_type, Some("application/json"));
    let r = DeleteRequest::<Obj>::new("/api/v1/namespaces/default/pods/demo".into())
        .grace_period_seconds(0)
        .to_request()
        .unwrap();
    assert_eq!(
        r.path_and_query(),
        "/api/v1/namespaces/default/pods/demo?gracePeriodSeconds=0"
    );
    assert!(r.body.is_none());
}

#[test]
fn delete_response_is_object_or_status() {
    let req = DeleteRequest::<Obj>::new("/x".into());
    let s = req
        .decode_response(br#"{"kind":"Status","apiVersion":"v1","status":"Success"}"#)
        .unwrap();
    assert!(matches!(s, DeleteResponse::Status(_)));
    let o = req.decode_response(br#"{"kind":"Pod"}"#).unwrap();
    assert_eq!(
        o,
        DeleteResponse::Object(Obj {
            kind: Some("Pod".into())
        })
    );
}

#[test]
fn apply_needs_a_field_manager() {
    let p = PatchRequest::<Obj>::new("/x".into(), Patch::Apply(serde_json::json!({})));
    assert!(matches!(
        p.to_request(),
        Err(RequestError::Missing("fieldManager"))
    ));
    let r = p.field_manager("me").force().to_request().unwrap();
    assert_eq!(r.query_string(), "fieldManager=me&force=true");
    assert_eq!(r.content_type, Some("application/apply-patch+yaml"));
}

#[test]
fn watch_sets_watch_and_bookmarks() {
    let r = WatchRequest::<Obj>::new("/api/v1/namespaces/default/configmaps".into())
        .resource_version("257")
        .allow_bookmarks(true)
        .timeout_seconds(5)
        .to_request()
        .unwrap();
    assert_eq!(
        r.query_string(),
        "allowWatchBookmarks=true&resourceVersion=257&timeoutSeconds=5&watch=1"
    );
}
