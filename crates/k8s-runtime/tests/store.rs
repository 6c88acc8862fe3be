//! The store: events applied by a writer (no server), then filled by a watcher against the test
//! server, equal to the server's state after changes and after a forced relist.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_core::List;
use k8s_core::ops::ListRequest;
use k8s_runtime::reflector;
use k8s_runtime::store::{Store, Writer};
use k8s_runtime::watcher::{self, Config, Event};
use support::*;

fn cm(ns: &str, name: &str, v: &str) -> ConfigMap {
    ConfigMap::new(ns, name, v)
}

/// `name=value` of every object in the store.
fn contents(store: &Store<ConfigMap>) -> BTreeSet<String> {
    store.state().iter().map(|o| o.summary()).collect()
}

fn set_of<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn events_fill_the_store_and_an_initial_state_replaces_it_at_once() {
    let mut w = Writer::<ConfigMap>::new();
    let store = w.store();
    assert!(!store.is_ready());
    for e in [
        Event::Init,
        Event::InitApply(cm("ns", "a", "1")),
        Event::InitApply(cm("ns", "b", "1")),
    ] {
        w.apply(&e);
    }
    assert!(
        store.is_empty() && !store.is_ready(),
        "nothing before InitDone"
    );
    w.apply(&Event::InitDone);
    assert!(store.is_ready());
    store.wait_until_ready().await.unwrap();
    assert_eq!(contents(&store), set_of(["a=1", "b=1"]));

    w.apply(&Event::Apply(cm("ns", "a", "2")));
    w.apply(&Event::Apply(cm("other", "c", "1")));
    w.apply(&Event::Delete(cm("ns", "b", "1")));
    assert_eq!(store.get(Some("ns"), "a").unwrap().value(), "2");
    assert!(store.get(Some("ns"), "b").is_none());
    assert_eq!(store.list("other").len(), 1);
    assert_eq!(store.len(), 2);

    // A new initial state: the old one stays readable until InitDone, then is replaced whole.
    w.apply(&Event::Init);
    w.apply(&Event::InitApply(cm("ns", "d", "1")));
    let before = store.clone();
    assert_eq!(before.len(), 2);
    let held = store.get(Some("ns"), "a").unwrap();
    w.apply(&Event::InitDone);
    assert_eq!(contents(&store), set_of(["d=1"]));
    assert_eq!(held.value(), "2", "a reader's Arc outlives the swap");
}

#[tokio::test]
async fn waiting_for_a_store_whose_writer_is_gone_fails() {
    let w = Writer::<ConfigMap>::new();
    let store = w.store();
    drop(w);
    assert!(store.wait_until_ready().await.is_err());
}

/// `name=value` of the selected objects on the server.
async fn server_state(client: &k8s_client::Client) -> BTreeSet<String> {
    let list: List<ConfigMap> = client
        .send(ListRequest::new(CMS.into()).label_selector(SEL))
        .await
        .unwrap();
    list.items.iter().map(|o| o.summary()).collect()
}

/// Polls the reflector until the store equals the server's state (10 s at most).
async fn drive_until_equal<S>(
    events: &mut S,
    store: &Store<ConfigMap>,
    client: &k8s_client::Client,
) -> Vec<String>
where
    S: Stream<Item = Result<Event<ConfigMap>, watcher::Error>> + Unpin,
{
    let want = server_state(client).await;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(store.is_ready() && contents(store) == want) {
        let item = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "store {:?} != server {want:?} after {seen:?}",
                    contents(store)
                )
            })
            .unwrap();
        seen.push(match item.unwrap() {
            Event::Init => "Init".to_string(),
            Event::InitDone => "InitDone".to_string(),
            Event::InitApply(_) => "InitApply".to_string(),
            Event::Apply(_) => "Apply".to_string(),
            Event::Delete(_) => "Delete".to_string(),
            other => format!("{other:?}"),
        });
    }
    seen
}

#[tokio::test]
async fn the_store_follows_the_server_through_changes_and_a_forced_relist() {
    let (server, client) = server_and_client().await;
    for n in ["a", "b", "c"] {
        create(&client, n, true).await;
    }
    create(&client, "unselected", false).await;
    let writer = Writer::<ConfigMap>::new();
    let store = writer.store();
    let config = Config::default()
        .labels(SEL)
        .backoff(Duration::from_millis(10), Duration::from_millis(50));
    let events = watcher::watcher::<ConfigMap>(client.clone(), CMS, config);
    let mut events = Box::pin(reflector(writer, events));
    let seen = drive_until_equal(&mut events, &store, &client).await;
    assert_eq!(seen.last().map(String::as_str), Some("InitDone"));
    assert_eq!(store.len(), 3);

    // Changes, then (with the watch not yet open) a compaction: the watch gets 410 and the
    // client relists, so the deletion of `a` arrives as a new initial state.
    delete(&client, "a").await;
    set(&client, "b", "v1").await;
    create(&client, "d", true).await;
    server.compact();
    let seen = drive_until_equal(&mut events, &store, &client).await;
    assert_eq!(seen.first().map(String::as_str), Some("Init"), "{seen:?}");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("InitDone"),
        "{seen:?}"
    );

    // And changes after it.
    create(&client, "e", true).await;
    delete(&client, "c").await;
    set(&client, "d", "v2").await;
    let seen = drive_until_equal(&mut events, &store, &client).await;
    assert!(!seen.contains(&"Init".to_string()), "{seen:?}");
    assert_eq!(contents(&store), set_of(["b=v1", "d=v2", "e=v0"]));
}

/// `cm` with label `tier` and an owner uid.
fn indexed(name: &str, tier: &str, owner: Option<&str>) -> ConfigMap {
    let mut o = cm("ns", name, "1");
    o.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
    o.metadata.owner_references =
        owner.map(|uid| vec![k8s_core::OwnerReference::new("v1", "ConfigMap", "p", uid)]);
    o
}

fn names(objects: Vec<std::sync::Arc<ConfigMap>>) -> BTreeSet<String> {
    objects
        .iter()
        .map(|o| o.metadata.name.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn indexes_follow_changes_deletions_and_new_initial_states() {
    use k8s_runtime::store::{by_label, by_owner};
    let mut w = Writer::<ConfigMap>::new();
    w.apply(&Event::Init);
    w.apply(&Event::InitApply(indexed("a", "web", Some("u1"))));
    w.apply(&Event::InitDone);
    // An index added to a filled cache indexes what is there.
    let mut w = w.index("owner", by_owner).index("tier", by_label("tier"));
    let store = w.store();
    assert_eq!(names(store.by_index("owner", "u1")), set_of(["a"]));
    w.apply(&Event::Apply(indexed("b", "web", Some("u1"))));
    w.apply(&Event::Apply(indexed("c", "db", None)));
    assert_eq!(names(store.by_index("owner", "u1")), set_of(["a", "b"]));
    assert_eq!(names(store.by_index("tier", "web")), set_of(["a", "b"]));

    // A change moves an object between keys; a deletion removes it; empty keys go.
    w.apply(&Event::Apply(indexed("b", "db", Some("u2"))));
    assert_eq!(names(store.by_index("tier", "web")), set_of(["a"]));
    assert_eq!(names(store.by_index("tier", "db")), set_of(["b", "c"]));
    assert_eq!(names(store.by_index("owner", "u2")), set_of(["b"]));
    w.apply(&Event::Delete(indexed("a", "web", Some("u1"))));
    assert!(store.by_index("owner", "u1").is_empty());
    let mut keys = store.index_keys("tier");
    keys.sort();
    assert_eq!(keys, ["db"]);
    assert!(store.by_index("nope", "x").is_empty());

    // A new initial state rebuilds the indexes.
    w.apply(&Event::Init);
    w.apply(&Event::InitApply(indexed("d", "web", Some("u1"))));
    assert_eq!(names(store.by_index("tier", "db")), set_of(["b", "c"]));
    w.apply(&Event::InitDone);
    assert!(store.by_index("tier", "db").is_empty());
    assert_eq!(names(store.by_index("owner", "u1")), set_of(["d"]));
}

/// The size of `o` as compact JSON, measured independently of the store.
fn json_len(o: &ConfigMap) -> usize {
    serde_json::to_vec(o).unwrap().len()
}

#[tokio::test]
async fn stats_count_the_objects_and_their_size_as_json() {
    let mut w = Writer::<ConfigMap>::new();
    let store = w.store();
    let empty = store.stats();
    assert_eq!((empty.objects, empty.json_bytes), (0, 0));
    assert_eq!(empty.json_bytes_per_object(), 0);

    let (a, b) = (cm("ns", "a", "1"), cm("ns", "b", "1"));
    for e in [
        Event::Init,
        Event::InitApply(a.clone()),
        Event::InitApply(b.clone()),
        Event::InitDone,
    ] {
        w.apply(&e);
    }
    let stats = store.stats();
    assert_eq!(stats.objects, 2);
    assert_eq!(stats.json_bytes, json_len(&a) + json_len(&b));
    assert_eq!(stats.json_bytes_per_object(), stats.json_bytes / 2);

    // A bigger object replaces a small one; a deletion takes its bytes away.
    let big = cm("ns", "a", &"x".repeat(10_000));
    w.apply(&Event::Apply(big.clone()));
    let stats = store.stats();
    assert_eq!(stats.objects, 2);
    assert_eq!(stats.json_bytes, json_len(&big) + json_len(&b));
    assert!(stats.json_bytes > 10_000, "{stats:?}");
    w.apply(&Event::Delete(b));
    assert_eq!(store.stats().json_bytes, json_len(&big));
}

#[tokio::test]
async fn the_shared_reflector_passes_on_the_object_the_store_holds() {
    let w = Writer::<ConfigMap>::new();
    let store = w.store();
    let events = futures::stream::iter([
        Event::Init,
        Event::InitApply(cm("ns", "a", "1")),
        Event::InitDone,
        Event::Apply(cm("ns", "a", "2")),
        Event::Delete(cm("ns", "a", "2")),
    ])
    .map(Ok::<_, std::convert::Infallible>);
    let mut out = std::pin::pin!(k8s_runtime::shared_reflector(w, events));

    assert!(matches!(out.next().await, Some(Ok(Event::Init))));
    let Some(Ok(Event::InitApply(a1))) = out.next().await else {
        panic!("expected InitApply")
    };
    assert!(store.is_empty(), "the initial state waits for InitDone");
    assert!(matches!(out.next().await, Some(Ok(Event::InitDone))));
    // The very object, not a copy.
    assert!(std::sync::Arc::ptr_eq(
        &a1,
        &store.get(Some("ns"), "a").unwrap()
    ));
    let Some(Ok(Event::Apply(a2))) = out.next().await else {
        panic!("expected Apply")
    };
    let held = store.get(Some("ns"), "a").unwrap();
    assert!(std::sync::Arc::ptr_eq(&a2, &held));
    assert_eq!(held.value(), "2");
    let Some(Ok(Event::Delete(gone))) = out.next().await else {
        panic!("expected Delete")
    };
    assert_eq!(gone.value(), "2");
    assert!(store.is_empty());
}
