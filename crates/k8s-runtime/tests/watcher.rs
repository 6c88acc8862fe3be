//! The watcher against the in-process API server over TLS on loopback: the initial state, then
//! changes; a dropped connection (resumed, no new initial state); a 410 and a watch that gives
//! up (a fresh `Init`…`InitDone` with the server's current state); selectors; the streaming list.
//!
//! The watcher is lazy: nothing reaches the server while the test does not poll it, so the
//! tests change the server's state between polls and know what each request will see.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_core::Object;
use k8s_runtime::watcher::{self, Config, Event};
use support::*;

type Events =
    std::pin::Pin<Box<dyn Stream<Item = Result<Event<ConfigMap>, watcher::Error>> + Send>>;

fn start(client: &k8s_client::Client, config: Config) -> Events {
    let config = config.backoff(Duration::from_millis(10), Duration::from_millis(50));
    Box::pin(watcher::watcher::<ConfigMap>(client.clone(), CMS, config))
}

/// The next event, described: `Init`, `InitApply a=v0`, `InitDone`, `Apply a=v1`, `Delete b`,
/// `Err <code>`.
async fn next(events: &mut Events) -> String {
    let item = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10 s")
        .expect("the watcher never ends");
    match item {
        Ok(Event::Init) => "Init".into(),
        Ok(Event::InitApply(o)) => format!("InitApply {}", o.summary()),
        Ok(Event::InitDone) => "InitDone".into(),
        Ok(Event::Apply(o)) => format!("Apply {}", o.summary()),
        Ok(Event::Delete(o)) => format!("Delete {}", o.name().unwrap_or_default()),
        Ok(other) => format!("{other:?}"),
        Err(e) => {
            let source = match &e {
                watcher::Error::InitialList(s) | watcher::Error::Watch(s) => s,
                other => panic!("{other}"),
            };
            format!("Err {}", source.status_code().unwrap_or(0))
        }
    }
}

async fn take(events: &mut Events, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(next(events).await);
    }
    out
}

/// Events up to and including the next `InitDone`.
async fn until_init_done(events: &mut Events) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let e = next(events).await;
        let done = e == "InitDone";
        out.push(e);
        if done {
            return out;
        }
    }
}

/// A server holding the selected config maps `names`, and a watcher (with `config`, selecting
/// them) that has given their initial state.
async fn synced(
    names: &[&str],
    config: Config,
) -> (k8s_testserver::TestServer, k8s_client::Client, Events) {
    let (server, client) = server_and_client().await;
    for n in names {
        create(&client, n, true).await;
    }
    let mut events = start(&client, config.labels(SEL));
    let initial = until_init_done(&mut events).await;
    assert_eq!(initial.len(), names.len() + 2, "{initial:?}");
    (server, client, events)
}

fn watches_with_initial_events(server: &k8s_testserver::TestServer) -> usize {
    server
        .request_log()
        .iter()
        .filter(|r| r.path_and_query.contains("sendInitialEvents=true"))
        .count()
}

async fn initial_list_then_changes(config: Config) -> (usize, Vec<String>) {
    let (server, client) = server_and_client().await;
    create(&client, "a", true).await;
    create(&client, "b", true).await;
    create(&client, "other", false).await;
    let mut events = start(&client, config.labels(SEL));
    let mut story = until_init_done(&mut events).await;
    create(&client, "c", true).await;
    set(&client, "a", "v1").await;
    delete(&client, "b").await;
    create(&client, "other2", false).await;
    set(&client, "c", "v1").await;
    story.extend(take(&mut events, 4).await);
    (watches_with_initial_events(&server), story)
}

const INITIAL_THEN_CHANGES: [&str; 8] = [
    "Init",
    "InitApply a=v0",
    "InitApply b=v0",
    "InitDone",
    "Apply c=v0",
    "Apply a=v1",
    "Delete b",
    "Apply c=v1",
];

#[tokio::test]
async fn list_then_watch_gives_the_initial_state_then_the_changes() {
    let (streamed, story) = initial_list_then_changes(Config::default()).await;
    assert_eq!(story, INITIAL_THEN_CHANGES);
    assert_eq!(streamed, 0);
}

#[tokio::test]
async fn the_streaming_list_gives_the_same_story() {
    let (streamed, story) = initial_list_then_changes(Config::default().streaming_list()).await;
    assert_eq!(story, INITIAL_THEN_CHANGES);
    assert_eq!(streamed, 1, "one streaming list, then a plain watch");
}

#[tokio::test]
async fn a_field_selector_and_small_pages() {
    let (_server, client) = server_and_client().await;
    for n in ["a", "b", "c", "d", "e"] {
        create(&client, n, true).await;
    }
    let mut events = start(&client, Config::default().labels(SEL).page_size(2));
    let story = until_init_done(&mut events).await;
    assert_eq!(
        story,
        [
            "Init",
            "InitApply a=v0",
            "InitApply b=v0",
            "InitApply c=v0",
            "InitApply d=v0",
            "InitApply e=v0",
            "InitDone"
        ]
    );
    let mut events = start(&client, Config::default().fields("metadata.name=b"));
    assert_eq!(
        until_init_done(&mut events).await,
        ["Init", "InitApply b=v0", "InitDone"]
    );
    set(&client, "a", "v1").await;
    set(&client, "b", "v1").await;
    assert_eq!(next(&mut events).await, "Apply b=v1");
}

/// The list requests (not watches) the server received, with `continue=` or without.
fn list_requests(server: &k8s_testserver::TestServer) -> (usize, usize) {
    let lists: Vec<_> = server
        .request_log()
        .into_iter()
        .filter(|r| r.path_and_query.contains("limit=") && !r.path_and_query.contains("watch="))
        .collect();
    let continued = lists
        .iter()
        .filter(|r| r.path_and_query.contains("continue="))
        .count();
    (lists.len() - continued, continued)
}

#[tokio::test]
async fn the_next_page_is_requested_while_the_consumer_takes_the_current_one() {
    let (server, client) = server_and_client().await;
    for n in ["a", "b", "c", "d", "e"] {
        create(&client, n, true).await;
    }
    let mut events = start(&client, Config::default().labels(SEL).page_size(2));
    // The consumer has taken one object of the first page, and stops.
    assert_eq!(take(&mut events, 2).await, ["Init", "InitApply a=v0"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while list_requests(&server) != (1, 1) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second page was not requested ahead: {:?} (first, continued) list requests",
            list_requests(&server)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // One page ahead, not more: the third page waits for the consumer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(list_requests(&server), (1, 1));
    assert_eq!(
        until_init_done(&mut events).await,
        [
            "InitApply b=v0",
            "InitApply c=v0",
            "InitApply d=v0",
            "InitApply e=v0",
            "InitDone"
        ]
    );
    assert_eq!(list_requests(&server), (1, 2));

    // Switched off, nothing is requested ahead.
    let (server, client) = server_and_client().await;
    for n in ["a", "b", "c"] {
        create(&client, n, true).await;
    }
    let config = Config::default().labels(SEL).page_size(2).prefetch(false);
    let mut events = start(&client, config);
    assert_eq!(take(&mut events, 2).await, ["Init", "InitApply a=v0"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(list_requests(&server), (1, 0));
}

#[tokio::test]
async fn a_dropped_watch_resumes_without_a_new_initial_state() {
    let (server, client, mut events) = synced(&["a", "b"], Config::default()).await;
    // The watch (not yet open) drops when it is about to send its second event.
    server.faults().drop_watch_after(1);
    create(&client, "c", true).await;
    assert_eq!(next(&mut events).await, "Apply c=v0");
    delete(&client, "b").await;
    create(&client, "d", true).await;
    assert_eq!(take(&mut events, 2).await, ["Delete b", "Apply d=v0"]);
    let watches = server
        .request_log()
        .iter()
        .filter(|r| r.path_and_query.contains("watch="))
        .count();
    assert_eq!(watches, 2, "the dropped watch was resumed once");
}

#[tokio::test]
async fn a_410_gives_a_fresh_initial_state_with_the_current_objects() {
    for config in [Config::default(), Config::default().streaming_list()] {
        let (server, client, mut events) = synced(&["a", "b"], config).await;
        // While the watcher is not polled: changes, then a compaction, so the watch from the
        // initial state's version gets 410 and the client relists.
        delete(&client, "a").await;
        create(&client, "c", true).await;
        set(&client, "b", "v1").await;
        server.compact();
        assert_eq!(
            until_init_done(&mut events).await,
            ["Init", "InitApply b=v1", "InitApply c=v0", "InitDone"]
        );
        create(&client, "d", true).await;
        assert_eq!(next(&mut events).await, "Apply d=v0");
    }
}

#[tokio::test]
async fn a_watch_that_gives_up_starts_over_with_the_current_state() {
    let (server, client, mut events) = synced(&["a"], Config::default()).await;
    delete(&client, "a").await;
    create(&client, "b", true).await;
    // Every connection attempt fails: the client's watch gives up after 8, the watcher
    // reports it, backs off and lists again; the first list fails too.
    server.faults().respond_status(500, 9);
    assert_eq!(next(&mut events).await, "Err 500");
    assert_eq!(next(&mut events).await, "Err 500");
    assert_eq!(
        until_init_done(&mut events).await,
        ["Init", "InitApply b=v0", "InitDone"]
    );
}

#[tokio::test]
async fn a_streaming_list_cut_short_starts_its_initial_state_again() {
    let (server, client) = server_and_client().await;
    for n in ["a", "b", "c"] {
        create(&client, n, true).await;
    }
    server.faults().drop_watch_after(1);
    let mut events = start(&client, Config::default().labels(SEL).streaming_list());
    assert_eq!(
        until_init_done(&mut events).await,
        [
            "Init",
            "InitApply a=v0",
            "Init",
            "InitApply a=v0",
            "InitApply b=v0",
            "InitApply c=v0",
            "InitDone"
        ]
    );
    assert_eq!(watches_with_initial_events(&server), 2);
}

#[tokio::test]
async fn an_expired_continue_token_restarts_the_initial_list() {
    let (server, client) = server_and_client().await;
    for n in ["a", "b", "c"] {
        create(&client, n, true).await;
    }
    // Without prefetching, so that the second page is requested only after the compaction.
    let config = Config::default().labels(SEL).page_size(2).prefetch(false);
    let mut events = start(&client, config);
    assert_eq!(
        take(&mut events, 3).await,
        ["Init", "InitApply a=v0", "InitApply b=v0"]
    );
    // Before the second page: a change and a compaction expire the continue token.
    create(&client, "d", true).await;
    server.compact();
    assert_eq!(
        until_init_done(&mut events).await,
        [
            "Init",
            "InitApply a=v0",
            "InitApply b=v0",
            "InitApply c=v0",
            "InitApply d=v0",
            "InitDone"
        ]
    );
}
