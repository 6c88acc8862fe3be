//! Required fields that the server sends as `null` round-trip as `null`/absent, never as an
//! invented value (issue 13, defect 2): a Go `metav1.Time` zero value is written as `null`, and
//! decoding it as a default would write the Unix epoch back on a read-modify-write.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use k8s_api::v1_36::events::v1::Event;
use k8s_api::v1_36::meta::v1::Condition;
use serde_json::{Value, json};

/// An event as the API server returns it through events.k8s.io/v1 when it was created through
/// core/v1 (no eventTime; the deprecated timestamps carry the time).
fn core_created_event() -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web-0.18a2", "namespace": "default", "resourceVersion": "812"},
        "eventTime": null,
        "reason": "Scheduled",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web-0"},
        "note": "Successfully assigned default/web-0 to node-1",
        "type": "Normal",
        "reportingController": "",
        "reportingInstance": "",
        "deprecatedSource": {"component": "default-scheduler"},
        "deprecatedFirstTimestamp": "2026-11-30T10:00:00Z",
        "deprecatedLastTimestamp": "2026-11-30T10:00:00Z",
        "deprecatedCount": 1,
        "series": {"count": 2, "lastObservedTime": null}
    })
}

#[test]
fn event_time_null_is_not_the_epoch() {
    let ev: Event = serde_json::from_value(core_created_event()).unwrap();
    let back = serde_json::to_value(&ev).unwrap();
    assert!(back.get("eventTime").is_none_or(Value::is_null), "{back}");
    assert!(
        back["series"]
            .get("lastObservedTime")
            .is_none_or(Value::is_null),
        "{back}"
    );
    assert!(!back.to_string().contains("1970"), "{back}");
}

#[test]
fn event_time_absent_is_not_the_epoch() {
    let mut v = core_created_event();
    v.as_object_mut().unwrap().remove("eventTime");
    let ev: Event = serde_json::from_value(v).unwrap();
    let back = serde_json::to_value(&ev).unwrap();
    assert!(back.get("eventTime").is_none_or(Value::is_null), "{back}");
}

#[test]
fn event_time_set_round_trips() {
    let mut v = core_created_event();
    v["eventTime"] = json!("2026-11-30T10:00:00.123456Z");
    let ev: Event = serde_json::from_value(v).unwrap();
    let back = serde_json::to_value(&ev).unwrap();
    assert_eq!(back["eventTime"], json!("2026-11-30T10:00:00.123456Z"));
}

#[test]
fn condition_last_transition_time_null_is_not_the_epoch() {
    let c: Condition = serde_json::from_value(json!({
        "type": "Ready", "status": "Unknown", "lastTransitionTime": null,
        "reason": "Pending", "message": ""
    }))
    .unwrap();
    let back = serde_json::to_value(&c).unwrap();
    assert!(
        back.get("lastTransitionTime").is_none_or(Value::is_null),
        "{back}"
    );
}
