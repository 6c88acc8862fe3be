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

#[test]
fn protobuf_content_types_are_recognised_with_parameters_and_case() {
    use super::is_protobuf;
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf(
        "application/vnd.kubernetes.protobuf;stream=watch"
    ));
    assert!(is_protobuf("Application/VND.kubernetes.protobuf ; x=y"));
    assert!(!is_protobuf("application/json"));
    assert!(!is_protobuf(""));
    assert!(!is_protobuf("application/vnd.kubernetes.protobuf-other"));
}

#[test]
fn a_request_without_a_codec_stays_json_when_protobuf_is_preferred() {
    use super::ListRequest;
    let mut r = ListRequest::<serde_json::Value>::new("/api/v1/pods".into())
        .to_request()
        .unwrap();
    assert!(r.protobuf.is_none());
    assert!(!r.prefer_protobuf());
    assert_eq!(r.accept, "application/json");
    // Its answer in protobuf is an error naming the content type, not a JSON error.
    let req = ListRequest::<serde_json::Value>::new("/api/v1/pods".into());
    let e = req
        .decode_response_as("application/vnd.kubernetes.protobuf", b"k8s\0")
        .unwrap_err()
        .to_string();
    assert!(e.contains("application/vnd.kubernetes.protobuf"), "{e}");
}

#[test]
fn prefer_protobuf_switches_accept_and_body() {
    let mut r = crate::Request::new(http::Method::POST, "/api/v1/namespaces/d/configmaps");
    r.body = Some(b"{}".to_vec());
    r.content_type = Some("application/json");
    r.protobuf = Some(crate::ProtobufForm::new(Some(b"k8s\0pb".to_vec())));
    assert!(r.prefer_protobuf());
    assert_eq!(r.accept, super::ACCEPT_PROTOBUF);
    assert_eq!(r.content_type, Some(super::CONTENT_TYPE_PROTOBUF));
    assert_eq!(r.body.as_deref(), Some(&b"k8s\0pb"[..]));
    // Once switched, there is nothing left to switch.
    assert!(!r.prefer_protobuf());
}

#[test]
fn protobuf_watch_bodies_split_into_frames() {
    let mut body = 3u32.to_be_bytes().to_vec();
    body.extend_from_slice(b"abc");
    body.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(
        super::split_frames(&body).unwrap(),
        vec![&b"abc"[..], &b""[..]]
    );
    body.extend_from_slice(&5u32.to_be_bytes());
    body.extend_from_slice(b"ab");
    let e = super::split_frames(&body).unwrap_err().to_string();
    assert!(e.contains("frame of 5 bytes (2 present)"), "{e}");
    assert!(super::split_frames(&[0, 0]).is_err());
}
