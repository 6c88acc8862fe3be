//! The resuming watch under faults: a relist that fails after a 410 (issue 13, defect 1) and
//! answers that retrying cannot fix (defect 4). Scripted loopback servers give each wire
//! behaviour exactly; the in-process API server checks the same against real state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_client::{Client, Config, ConfigLoader, WatchUpdate};
use k8s_core::List;
use k8s_core::ops::{CreateRequest, DeleteRequest, ListRequest, WatchRequest};
use k8s_testserver::TestServer;
use support::*;

const CM_PATH: &str = "/api/v1/namespaces/default/configmaps";

/// A client that backs off for milliseconds, not seconds.
fn fast_client(url: http::Uri) -> Client {
    let mut c = Config::new(url);
    c.retry.base_delay = Duration::from_millis(5);
    c.retry.max_delay = Duration::from_millis(20);
    Client::try_from(c).unwrap()
}

/// A watch response that stays open without events (until the test ends).
fn idle_watch(lines: Vec<serde_json::Value>) -> hyper::Response<Body> {
    open_watch(lines, Duration::from_secs(60))
}

/// A watch response with `lines`, then no event, that the server ends cleanly after `open_for`.
fn open_watch(lines: Vec<serde_json::Value>, open_for: Duration) -> hyper::Response<Body> {
    let (tx, body) = channel_body();
    for l in lines {
        let _ = tx.send(Ok(bytes::Bytes::from(format!("{l}\n"))));
    }
    tokio::spawn(async move {
        tokio::time::sleep(open_for).await;
        drop(tx);
    });
    hyper::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

/// A 200 whose body breaks off: a transport error while reading the list.
fn broken_body() -> hyper::Response<Body> {
    let (tx, body) = channel_body();
    let _ = tx.send(Ok(bytes::Bytes::from_static(b"{\"kind\":\"ConfigMapL")));
    let _ = tx.send(Err(std::io::Error::other("connection reset by the test")));
    hyper::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

#[derive(Clone, Copy, Debug)]
enum ListFault {
    Internal,
    Forbidden,
    Transport,
    Gone,
}

/// The story of defect 1: the watch from 10 sees `a` and `b` added, then the connection
/// drops; `b` is deleted (version 13); the resume from 12 gets 410; the first `failing_lists`
/// lists fail with `fault`, later ones return `[a]` at version 14. A watch without a resource
/// version gets what a real server sends: every current object as ADDED.
fn relist_script(fault: ListFault, failing_lists: u32) -> Handler {
    let lists = Arc::new(AtomicU32::new(0));
    Arc::new(move |r: &Recorded| {
        if r.query("watch").is_none() {
            if lists.fetch_add(1, Ordering::SeqCst) < failing_lists {
                return match fault {
                    ListFault::Internal => status(500, "InternalError", "etcd is unhappy"),
                    ListFault::Forbidden => status(403, "Forbidden", "configmaps is forbidden"),
                    ListFault::Transport => broken_body(),
                    ListFault::Gone => status(410, "Expired", "the resource has expired"),
                };
            }
            return cm_list("14", vec![cm("a", "11")]);
        }
        match r.query("resourceVersion").as_deref() {
            Some("10") => watch_response(
                vec![event("ADDED", cm("a", "11")), event("ADDED", cm("b", "12"))],
                true,
            ),
            Some("12") => status(410, "Gone", "too old resource version: 12 (13)"),
            Some(_) => idle_watch(vec![]),
            // The replay that loses b's deletion.
            None => idle_watch(vec![event("ADDED", cm("a", "11"))]),
        }
    })
}

fn describe(u: &WatchUpdate<ConfigMap>) -> String {
    match u {
        WatchUpdate::Event(e) => format!(
            "{:?} {}",
            e.event_type(),
            e.object()
                .and_then(|o| o.metadata.name.clone())
                .unwrap_or_default()
        ),
        WatchUpdate::Restarted {
            objects,
            resource_version,
        } => {
            let names: Vec<_> = objects
                .iter()
                .filter_map(|o| o.metadata.name.clone())
                .collect();
            format!("Restarted {names:?} at {resource_version}")
        }
        _ => "other".into(),
    }
}

/// What the watch yields, up to `max` updates, its end, or 10 s of silence.
async fn watch_story(client: &Client, req: WatchRequest<ConfigMap>, max: usize) -> Vec<String> {
    let mut watch = std::pin::pin!(client.watch(req));
    let mut out = Vec::new();
    while out.len() < max {
        match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
            Err(_) => {
                out.push("(silence)".to_string());
                break;
            }
            Ok(None) => {
                out.push("(end)".to_string());
                break;
            }
            Ok(Some(Ok(u))) => out.push(describe(&u)),
            Ok(Some(Err(e))) => out.push(format!(
                "error {}",
                e.status_code().map(|c| c.to_string()).unwrap_or_else(|| {
                    if e.is_connect() || matches!(e, k8s_client::Error::Transport { .. }) {
                        "transport".into()
                    } else {
                        format!("{e:?}")
                    }
                })
            )),
        }
    }
    out
}

/// What a watch from version 10 yields against `handler` (see `watch_story`), and the server.
async fn story_from_10(handler: Handler, max: usize) -> (Vec<String>, TestHttp) {
    let srv = serve(None, false, handler).await;
    let client = fast_client(srv.http_url());
    let req = WatchRequest::<ConfigMap>::new(CM_PATH.into()).resource_version("10");
    let story = watch_story(&client, req, max).await;
    (story, srv)
}

async fn run_relist_story(
    fault: ListFault,
    failing_lists: u32,
    max: usize,
) -> (Vec<String>, TestHttp) {
    story_from_10(relist_script(fault, failing_lists), max).await
}

/// A handler that answers the `n`th request (counting from 0) with `answer(n)`.
fn numbered(answer: impl Fn(u32) -> hyper::Response<Body> + Send + Sync + 'static) -> Handler {
    let n = Arc::new(AtomicU32::new(0));
    Arc::new(move |_r: &Recorded| answer(n.fetch_add(1, Ordering::SeqCst)))
}

/// A list of config maps at version `rv`.
fn cm_list(rv: &str, items: Vec<serde_json::Value>) -> hyper::Response<Body> {
    json(
        200,
        &serde_json::json!({"apiVersion": "v1", "kind": "ConfigMapList",
            "metadata": {"resourceVersion": rv}, "items": items}),
    )
}

fn watches_without_version(srv: &TestHttp) -> usize {
    srv.requests()
        .iter()
        .filter(|r| r.query("watch").is_some() && r.query("resourceVersion").is_none())
        .count()
}

fn lists(srv: &TestHttp) -> usize {
    srv.requests()
        .iter()
        .filter(|r| r.query("watch").is_none())
        .count()
}

#[tokio::test]
async fn failed_relists_are_retried_until_one_succeeds_and_say_restarted() {
    // 500s, a broken connection, and 410 more often than one list restarts on its own (1 + 3).
    for (fault, failing) in [
        (ListFault::Internal, 3),
        (ListFault::Transport, 3),
        (ListFault::Gone, 6),
    ] {
        let (story, srv) = run_relist_story(fault, failing, 3).await;
        assert_eq!(
            story,
            ["Added a", "Added b", "Restarted [\"a\"] at 14"],
            "{fault:?}: the deletion of b must reach the consumer as a relist"
        );
        assert_eq!(
            watches_without_version(&srv),
            0,
            "{fault:?}: resumed without a resource version"
        );
        assert_eq!(lists(&srv), failing as usize + 1, "{fault:?}");
    }
}

#[tokio::test]
async fn a_relist_that_keeps_failing_ends_the_watch_with_its_error() {
    let (story, srv) = run_relist_story(ListFault::Internal, u32::MAX, 5).await;
    assert_eq!(story, ["Added a", "Added b", "error 500", "(end)"]);
    assert_eq!(watches_without_version(&srv), 0);
    assert!(lists(&srv) > 1, "the relist was not retried");

    let (story, srv) = run_relist_story(ListFault::Transport, u32::MAX, 5).await;
    assert_eq!(story, ["Added a", "Added b", "error transport", "(end)"]);
    assert_eq!(watches_without_version(&srv), 0);
}

#[tokio::test]
async fn a_forbidden_relist_is_an_error_at_once() {
    let (story, srv) = run_relist_story(ListFault::Forbidden, u32::MAX, 5).await;
    assert_eq!(story, ["Added a", "Added b", "error 403", "(end)"]);
    assert_eq!(lists(&srv), 1, "a 403 is not retried");
    assert_eq!(watches_without_version(&srv), 0);
}

// ---- against the in-process API server ---------------------------------------------------------

const SEL: &str = "test=watch-faults";

fn new_cm(name: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"test": "watch-faults"}}})
}

async fn testserver_client() -> (TestServer, Client) {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([server.kubeconfig_for("admin-token")])
        .kubeconfig()
        .unwrap();
    config.retry.base_delay = Duration::from_millis(5);
    config.retry.max_delay = Duration::from_millis(20);
    let client = Client::try_from(config).unwrap();
    (server, client)
}

#[tokio::test]
async fn deletion_during_a_failed_relist_is_not_lost_against_the_test_server() {
    let (server, client) = testserver_client().await;
    for name in ["x", "y"] {
        client
            .send(CreateRequest::<ConfigMap>::new(
                CM_PATH.into(),
                &new_cm(name),
            ))
            .await
            .unwrap();
    }
    let list: List<ConfigMap> = client
        .send(ListRequest::new(CM_PATH.into()).label_selector(SEL))
        .await
        .unwrap();
    let rv = list.metadata.resource_version.unwrap();
    client
        .send(DeleteRequest::<ConfigMap>::new(format!("{CM_PATH}/y")))
        .await
        .unwrap();
    // The resume answers 410; then the relist fails twice with 500, once with a cut body.
    server
        .faults()
        .respond_status(410, 1)
        .respond_status(500, 2)
        .truncate_next_body();
    let req = WatchRequest::<ConfigMap>::new(CM_PATH.into())
        .label_selector(SEL)
        .resource_version(rv);
    let mut watch = std::pin::pin!(client.watch(req));
    let first = tokio::time::timeout(Duration::from_secs(20), watch.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        describe(&first),
        format!("Restarted [\"x\"] at {}", restarted_rv(&first))
    );
    // And the watch goes on from the list's version.
    client
        .send(CreateRequest::<ConfigMap>::new(
            CM_PATH.into(),
            &new_cm("z"),
        ))
        .await
        .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(20), watch.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(describe(&next), "Added z");
    let log = server.request_log();
    let unversioned: Vec<_> = log
        .iter()
        .filter(|r| {
            r.path_and_query.contains("watch=") && !r.path_and_query.contains("resourceVersion=")
        })
        .collect();
    assert!(unversioned.is_empty(), "{unversioned:?}");
}

fn restarted_rv(u: &WatchUpdate<ConfigMap>) -> String {
    match u {
        WatchUpdate::Restarted {
            resource_version, ..
        } => resource_version.clone(),
        _ => String::new(),
    }
}

// ---- answers that retrying cannot fix (defect 4) --------------------------------------------

/// Every watch request gets `code`; lists are never asked for.
fn refusing_watch(code: u16, reason: &'static str) -> Handler {
    Arc::new(move |_r: &Recorded| status(code, reason, "refused by the test"))
}

fn watches(srv: &TestHttp) -> usize {
    srv.requests()
        .iter()
        .filter(|r| r.query("watch").is_some())
        .count()
}

#[tokio::test]
async fn permanent_errors_end_the_watch_without_retries() {
    let (logs, _guard) = capture_logs();
    for (code, reason) in [(400, "BadRequest"), (403, "Forbidden"), (404, "NotFound")] {
        let (story, srv) = story_from_10(refusing_watch(code, reason), 3).await;
        assert_eq!(story, [format!("error {code}"), "(end)".into()]);
        assert_eq!(watches(&srv), 1, "{code} was retried");
    }
    let out = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(!out.contains("WARN"), "{out}");
}

#[tokio::test]
async fn a_401_is_retried_once_after_a_credential_refresh() {
    let dir = temp_dir("watch-401");
    let token = dir.path().join("token");
    std::fs::write(&token, "old-token").unwrap();
    let srv = serve(None, false, refusing_watch(401, "Unauthorized")).await;
    let mut c = Config::new(srv.http_url());
    c.auth = k8s_client::Auth::TokenFile(token);
    c.retry.base_delay = Duration::from_millis(5);
    let client = Client::try_from(c).unwrap();
    let req = WatchRequest::<ConfigMap>::new(CM_PATH.into()).resource_version("10");
    let story = watch_story(&client, req, 3).await;
    assert_eq!(story, ["error 401", "(end)"]);
    assert_eq!(
        watches(&srv),
        2,
        "one retry after re-reading the token file"
    );
}

#[tokio::test]
async fn transient_errors_are_still_retried() {
    let answers = numbered(|n| match n {
        0 => status(500, "InternalError", "try again"),
        _ => idle_watch(vec![event("ADDED", cm("a", "11"))]),
    });
    let (story, srv) = story_from_10(answers, 1).await;
    assert_eq!(story, ["Added a"]);
    assert_eq!(watches(&srv), 2);
}

#[tokio::test]
async fn a_watch_that_keeps_ending_without_events_says_so() {
    // 200, and the body ends at once: no event, no bookmark, every time.
    let srv = serve(
        None,
        false,
        Arc::new(|_r: &Recorded| watch_response(vec![], false)),
    )
    .await;
    let client = fast_client(srv.http_url());
    let req = WatchRequest::<ConfigMap>::new(CM_PATH.into()).resource_version("10");
    let mut watch = std::pin::pin!(client.watch(req));
    let e = tokio::time::timeout(Duration::from_secs(20), watch.try_next())
        .await
        .unwrap()
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(&e, k8s_client::Error::WatchStalled { path, attempts } if path == CM_PATH && *attempts > 1),
        "{e:?}"
    );
    assert!(!msg.contains("credentials"), "{msg}");
    assert!(
        msg.contains("ended without an event") && msg.contains(CM_PATH),
        "{msg}"
    );
    assert!(watch.next().await.is_none());
}

// ---- what ends a run of failures ----------------------------------------------------------

/// Seven failed connections, then a connection that stays open without an event for longer
/// than a stall and ends normally (a quiet collection, the server's timeout), then one more
/// failure: that is not eight failures in a row, and the watch goes on.
#[tokio::test]
async fn a_quiet_connection_that_lasted_ends_a_run_of_failures() {
    let answers = numbered(|n| match n {
        0..=6 | 8 => status(500, "InternalError", "try again"),
        7 => open_watch(vec![], Duration::from_millis(1500)),
        _ => idle_watch(vec![event("ADDED", cm("a", "11"))]),
    });
    let (story, srv) = story_from_10(answers, 1).await;
    assert_eq!(story, ["Added a"]);
    assert_eq!(watches(&srv), 10);
}

/// Seven failed relists after a 410, then one that succeeds, then one failed connection: that
/// is not eight failures in a row, and the watch goes on from the list's version.
#[tokio::test]
async fn a_successful_relist_ends_a_run_of_failures() {
    let listed = Arc::new(AtomicU32::new(0));
    let resumes = Arc::new(AtomicU32::new(0));
    let answers: Handler = Arc::new(move |r: &Recorded| {
        if r.query("watch").is_none() {
            if listed.fetch_add(1, Ordering::SeqCst) < 7 {
                return status(500, "InternalError", "etcd is unhappy");
            }
            return cm_list("14", vec![cm("a", "11")]);
        }
        match r.query("resourceVersion").as_deref() {
            Some("10") => status(410, "Gone", "too old resource version: 10 (13)"),
            _ if resumes.fetch_add(1, Ordering::SeqCst) == 0 => {
                status(500, "InternalError", "try again")
            }
            _ => idle_watch(vec![event("ADDED", cm("c", "15"))]),
        }
    });
    let (story, srv) = story_from_10(answers, 2).await;
    assert_eq!(story, ["Restarted [\"a\"] at 14", "Added c"]);
    assert_eq!(lists(&srv), 8);
    assert_eq!(watches_without_version(&srv), 0);
}
