//! The event recorder against the test server: repeats become one Event's series, different
//! events are separate Events, and the generated `events.k8s.io/v1` Event reads what it wrote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use k8s_api::v1_36::events::v1::Event as GeneratedEvent;
use k8s_core::List;
use k8s_core::ops::{DeleteRequest, ListRequest};
use k8s_runtime::events::{EventType, Recorder, Reference};
use support::*;

const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";

async fn events(client: &k8s_client::Client) -> Vec<GeneratedEvent> {
    let list: List<GeneratedEvent> = client.send(ListRequest::new(EVENTS.into())).await.unwrap();
    let mut items = list.items;
    items.sort_by(|a, b| a.reason.cmp(&b.reason));
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_are_counted_in_one_events_series() {
    let (_server, client) = server_and_client().await;
    let cm = create(&client, "web", true).await;
    let recorder = Recorder::new(client.clone(), "example.com/test-operator", "pod-1");
    let about = Reference::from_obj(&cm);
    for _ in 0..5 {
        recorder
            .publish(
                &about,
                EventType::Normal,
                "Synced",
                "Reconcile",
                Some("all good"),
            )
            .await
            .unwrap();
    }
    recorder
        .publish(&about, EventType::Warning, "Stuck", "Reconcile", None)
        .await
        .unwrap();

    let items = events(&client).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let (stuck, synced) = (&items[0], &items[1]);
    assert_eq!(synced.reason.as_deref(), Some("Synced"));
    assert_eq!(synced.series.as_ref().map(|s| s.count), Some(5));
    assert_eq!(synced.note.as_deref(), Some("all good"));
    assert_eq!(synced.type_.as_deref(), Some("Normal"));
    assert_eq!(
        synced.reporting_controller.as_deref(),
        Some("example.com/test-operator")
    );
    assert_eq!(synced.reporting_instance.as_deref(), Some("pod-1"));
    let regarding = synced.regarding.as_ref().unwrap();
    assert_eq!(regarding.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(regarding.name.as_deref(), Some("web"));
    assert_eq!(regarding.uid.as_deref(), cm.metadata.uid.as_deref());
    assert!(synced.metadata.name.as_deref().unwrap().starts_with("web."));
    assert_eq!(stuck.series, None, "a single occurrence has no series");
    assert_eq!(stuck.type_.as_deref(), Some("Warning"));

    // The series' Event gone (expired): the next repeat starts a new Event.
    let name = synced.metadata.name.clone().unwrap();
    client
        .send(DeleteRequest::<serde_json::Value>::new(format!(
            "{EVENTS}/{name}"
        )))
        .await
        .unwrap();
    recorder
        .publish(
            &about,
            EventType::Normal,
            "Synced",
            "Reconcile",
            Some("all good"),
        )
        .await
        .unwrap();
    let items = events(&client).await;
    assert_eq!(items.len(), 2);
    assert_ne!(items[1].metadata.name.as_deref(), Some(name.as_str()));
    assert_eq!(items[1].series, None);
}
