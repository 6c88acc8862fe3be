//! `watch-and-list`: every Pod in pages of 100, then a watch that survives a dropped
//! connection.
//!
//! 1. Lists all Pods of all namespaces 100 at a time (`limit=100`, then `continue` tokens),
//!    printing each page, and again with [`k8s_client::Client::list_all`], which does the
//!    same paging itself.
//! 2. Watches all Pods from the list's `resourceVersion` with [`k8s_client::Client::watch`]
//!    and prints every event. When the connection drops, the client reconnects from the last
//!    resource version it saw, so no event is lost or repeated; when the server has forgotten
//!    that version (410 Gone) it lists again and carries on.
//!
//! Against the test server the example first creates 250 Pods, arranges for the watch
//! connection to be dropped after 3 events (`faults().drop_watch_after(3)`), makes 5 changes,
//! and stops after those 5 events. With `--real-cluster` it lists the cluster's Pods and
//! watches until interrupted (Ctrl-C) or until `--max-events` events.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_api::latest::core::v1::{Container, Namespace, Pod, PodSpec};
use k8s_api::latest::meta::v1::ObjectMeta;
use k8s_client::{Client, WatchUpdate};
use k8s_core::{Object as _, Patch, WatchEvent};

use crate::support::{Error, RequestLog, Target, Transcript, client_from_kubeconfig};

const ADMIN_TOKEN: &str = "watch-admin-token-77c2";
/// The page size.
pub const PAGE: i64 = 100;
/// How many Pods the example creates in the test server (across two namespaces).
pub const SEEDED_PODS: usize = 250;
/// After how many events the test server drops the watch connection.
pub const DROP_AFTER: usize = 3;
/// Against the test server: how long the watch may take to deliver the expected events.
const WATCH_DEADLINE: Duration = Duration::from_secs(30);

/// Options of the example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Where to run.
    pub target: Target,
    /// Stop after this many events (bookmarks not counted); with [`Target::RealCluster`] and
    /// `None`, watch until interrupted.
    pub max_events: Option<usize>,
}

impl Options {
    /// Options for `target`.
    pub fn new(target: Target) -> Self {
        Options {
            target,
            max_events: None,
        }
    }
}

/// What happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The number of Pods in each page.
    pub pages: Vec<usize>,
    /// Pods listed page by page.
    pub total: usize,
    /// Pods yielded by `Client::list_all`.
    pub list_all_total: usize,
    /// The resource version the watch started from.
    pub resource_version: String,
    /// The events, as `TYPE namespace/name`.
    pub events: Vec<String>,
    /// How many watch requests were sent (more than one: the watch was resumed).
    pub watch_connections: usize,
    /// How many times the watch had to list again after a 410.
    pub relists: usize,
}

fn demo_pod(name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "watch-demo".into())])),
            ..Default::default()
        },
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

/// Runs the example.
pub async fn run(options: &Options, out: &Transcript) -> Result<Report, Error> {
    match options.target {
        Target::TestServer => {
            let server = k8s_testserver::TestServer::builder()
                .token(ADMIN_TOKEN, "admin", &["system:masters"])
                .start()
                .await?;
            out.line(format!(
                "Started the in-process API server at {}.",
                server.url()
            ));
            let client = client_from_kubeconfig(&server.kubeconfig_for(ADMIN_TOKEN))?;
            seed(&client, out).await?;
            let mut report = list(&client, out).await?;
            server.faults().drop_watch_after(DROP_AFTER);
            out.line(format!(
                "\n(The test server will drop the watch connection after {DROP_AFTER} events.)"
            ));
            let changer = client.clone();
            let changes = tokio::spawn(async move { make_changes(&changer).await });
            let watched = watch(
                &client,
                &mut report,
                options.max_events.or(Some(5)),
                Some(WATCH_DEADLINE),
                out,
            )
            .await;
            let changed = changes
                .await
                .map_err(|e| Error::Unexpected(format!("the change task failed: {e}")))?;
            server.shutdown().await;
            changed?;
            watched?;
            Ok(report)
        }
        _ => {
            let client = Client::infer().await?;
            let mut report = list(&client, out).await?;
            out.line("\nWatching; press Ctrl-C to stop.");
            watch(&client, &mut report, options.max_events, None, out).await?;
            Ok(report)
        }
    }
}

async fn seed(client: &Client, out: &Transcript) -> Result<(), Error> {
    client
        .send(Namespace::create(&Namespace {
            metadata: ObjectMeta {
                name: Some("team-a".into()),
                ..Default::default()
            },
            ..Default::default()
        }))
        .await?;
    let creates = (0..SEEDED_PODS).map(|i| {
        let ns = if i % 5 == 0 { "team-a" } else { "default" };
        let client = client.clone();
        async move {
            client
                .send(Pod::create(ns, &demo_pod(&format!("web-{i:03}"))))
                .await
        }
    });
    let created: Vec<Pod> = futures::stream::iter(creates)
        .buffer_unordered(16)
        .try_collect()
        .await?;
    out.line(format!(
        "Created {} Pods in namespaces default and team-a.",
        created.len()
    ));
    Ok(())
}

async fn list(client: &Client, out: &Transcript) -> Result<Report, Error> {
    let mut report = Report::default();
    out.step(format!("All Pods, {PAGE} at a time"));
    let mut token: Option<String> = None;
    // Bounded: a server that keeps sending continue tokens cannot keep us here forever.
    for page_no in 1..=100_000 {
        let mut request = Pod::list_all_namespaces().limit(PAGE);
        if let Some(t) = token.take() {
            request = request.continue_token(t);
        }
        let page = client.send(request).await?;
        if page_no == 1 {
            report.resource_version = page.metadata.resource_version.clone().unwrap_or_default();
        }
        let id = |p: Option<&Pod>| {
            p.map(|p| format!("{}/{}", p.namespace().unwrap_or(""), p.name().unwrap_or("")))
                .unwrap_or_default()
        };
        out.line(format!(
            "  page {page_no}: {:>3} pods  {} .. {}{}",
            page.items.len(),
            id(page.items.first()),
            id(page.items.last()),
            page.metadata
                .remaining_item_count
                .map_or_else(String::new, |n| format!("  ({n} more)"))
        ));
        report.pages.push(page.items.len());
        report.total += page.items.len();
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    out.line(format!(
        "  {} pods in {} pages (snapshot at resourceVersion {})",
        report.total,
        report.pages.len(),
        report.resource_version
    ));
    let all: Vec<Pod> = client
        .list_all(Pod::list_all_namespaces().limit(PAGE))
        .try_collect()
        .await?;
    report.list_all_total = all.len();
    out.line(format!(
        "  Client::list_all with limit {PAGE}: {} pods",
        all.len()
    ));
    Ok(report)
}

async fn make_changes(client: &Client) -> Result<(), Error> {
    for i in 0..3 {
        client
            .send(Pod::create(
                "default",
                &demo_pod(&format!("watch-demo-{i}")),
            ))
            .await?;
    }
    let label = Patch::Merge(serde_json::json!({"metadata": {"labels": {"tier": "front"}}}));
    client
        .send(Pod::patch("default", "watch-demo-1", label))
        .await?;
    client
        .send(Pod::delete("default", "watch-demo-2").grace_period_seconds(0))
        .await?;
    Ok(())
}

fn event_line(kind: &str, p: &Pod) -> String {
    format!(
        "{kind} {}/{}",
        p.namespace().unwrap_or(""),
        p.name().unwrap_or("")
    )
}

async fn watch(
    client: &Client,
    report: &mut Report,
    max_events: Option<usize>,
    deadline: Option<Duration>,
    out: &Transcript,
) -> Result<(), Error> {
    out.step(format!(
        "Watch all Pods from resourceVersion {}",
        report.resource_version
    ));
    let log = RequestLog::new();
    let request = Pod::watch_all_namespaces().resource_version(report.resource_version.clone());
    let stream = client.watch(request);
    let deadline = deadline.map(|d| tokio::time::Instant::now() + d);
    let result = log
        .capture(async {
            let mut stream = std::pin::pin!(stream);
            // Only a watch without a deadline (a real cluster) waits for Ctrl-C.
            let listen = deadline.is_none();
            let interrupt = async {
                if listen {
                    if tokio::signal::ctrl_c().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let mut interrupt = std::pin::pin!(interrupt);
            loop {
                if max_events.is_some_and(|m| report.events.len() >= m) {
                    return Ok(());
                }
                let sleep = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                let next = tokio::select! {
                    n = stream.next() => n,
                    _ = &mut interrupt => {
                        out.line("  interrupted");
                        return Ok(());
                    }
                    _ = sleep => {
                        return Err(Error::Unexpected(format!(
                            "the watch delivered {} events before the deadline, expected {}",
                            report.events.len(),
                            max_events.unwrap_or(0)
                        )));
                    }
                };
                let line = match next {
                    None => {
                        out.line("  the watch ended");
                        return Ok(());
                    }
                    Some(Err(e)) => return Err(Error::from(e)),
                    Some(Ok(WatchUpdate::Event(WatchEvent::Added(p)))) => event_line("ADDED   ", &p),
                    Some(Ok(WatchUpdate::Event(WatchEvent::Modified(p)))) => {
                        event_line("MODIFIED", &p)
                    }
                    Some(Ok(WatchUpdate::Event(WatchEvent::Deleted(p)))) => {
                        event_line("DELETED ", &p)
                    }
                    Some(Ok(WatchUpdate::Restarted { objects, resource_version })) => {
                        report.relists += 1;
                        out.line(format!(
                            "  (resource version too old: listed again, {} pods, resuming at {resource_version})",
                            objects.len()
                        ));
                        continue;
                    }
                    // Bookmarks only move the resume point forward.
                    Some(Ok(_)) => continue,
                };
                let connections = count_watches(&log);
                if connections > 1 && connections > report.watch_connections {
                    out.line(format!(
                        "  (connection dropped; resumed, watch request #{connections})"
                    ));
                }
                report.watch_connections = connections;
                out.line(format!("  {line}"));
                report.events.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        })
        .await;
    report.watch_connections = count_watches(&log);
    out.line(format!(
        "  {} events over {} watch connection(s)",
        report.events.len(),
        report.watch_connections
    ));
    result
}

fn count_watches(log: &RequestLog) -> usize {
    log.requests()
        .iter()
        .filter(|r| r.path.contains("watch=1") || r.path.contains("watch=true"))
        .count()
}
