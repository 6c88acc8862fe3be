//! Convergence under faults: a controller (its store and its reconciles) follows 2,000 changes
//! of 40 ConfigMaps while the test server drops the watch 100 times, answers reconnections with
//! 429 and 500, and compacts its history (410 Gone, relists). At the end the store equals the
//! server's state and the last change of every object was reconciled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_client::{Client, ConfigLoader};
use k8s_core::ops::{CreateRequest, DeleteRequest, ListRequest, PatchRequest};
use k8s_core::{List, Object, Patch};
use k8s_runtime::controller::Config as ControllerConfig;
use k8s_runtime::watcher::Config;
use k8s_runtime::{Action, Controller};
use support::{CMS, ConfigMap, SEL};

const CHANGES: usize = 2000;
const NAMES: u64 = 40;
const FAULT_EVERY: usize = CHANGES / 60;

/// Sends a write again when an injected 500 or 429 meant for the watcher reached it (the
/// server refused it before doing anything).
macro_rules! retry {
    ($send:expr) => {{
        let mut tries = 0;
        loop {
            match $send.await {
                Ok(_) => break,
                Err(e)
                    if tries < 10 && (e.status_code() == Some(500) || e.is_too_many_requests()) =>
                {
                    tries += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }};
}

/// splitmix64 with a fixed seed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

fn client(server: &k8s_testserver::TestServer, retries: u32) -> Client {
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([server.kubeconfig_for("admin-token")])
        .kubeconfig()
        .unwrap();
    config.retry.base_delay = Duration::from_millis(5);
    config.retry.max_delay = Duration::from_millis(20);
    config.retry.max_retries = retries;
    Client::try_from(config).unwrap()
}

/// How many watch requests the server got.
fn watch_requests(server: &k8s_testserver::TestServer) -> usize {
    server
        .request_log()
        .iter()
        .filter(|r| r.path_and_query.contains("watch=1"))
        .count()
}

/// name -> resourceVersion of the selected objects on the server.
async fn server_state(client: &Client) -> BTreeMap<String, String> {
    let list: List<ConfigMap> = client
        .send(ListRequest::new(CMS.into()).label_selector(SEL))
        .await
        .unwrap();
    list.items
        .iter()
        .map(|o| {
            (
                o.name_any().to_owned(),
                o.resource_version().unwrap().to_owned(),
            )
        })
        .collect()
}

// Ignored in the default run: how many watch connections get dropped within the run depends on
// how fast writes go against how fast the watcher reconnects (a clean-clone CI run reached 64 of
// the 100 drops in its 2,000 changes; topping up with extra changes took minutes once). Run it
// with `cargo test -p k8s-runtime --test convergence_soak -- --ignored`.
#[ignore = "timing-dependent; see the comment above"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_and_reconciles_converge_under_dropped_watches_410s_429s_and_500s() {
    let server = k8s_testserver::TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let writer = client(&server, 8);
    let watcher_client = client(&server, 0);

    // name -> resourceVersions reconciled, in order.
    let reconciled: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let controller = Controller::<ConfigMap>::namespaced(
        watcher_client,
        "default",
        Config::default()
            .labels(SEL)
            .backoff(Duration::from_millis(10), Duration::from_millis(100)),
    )
    .with_config(ControllerConfig::default().concurrency(4));
    let store = controller.store();
    let results = controller.run(
        |cm: Arc<ConfigMap>, seen: Arc<Mutex<HashMap<String, Vec<String>>>>| async move {
            let rv = cm.resource_version().unwrap_or_default().to_owned();
            seen.lock()
                .unwrap()
                .entry(cm.name_any().to_owned())
                .or_default()
                .push(rv);
            Ok::<_, std::io::Error>(Action::await_change())
        },
        |_, _, _| None,
        reconciled.clone(),
    );
    let watch_errors = Arc::new(Mutex::new(0usize));
    let counter = watch_errors.clone();
    let _results = tokio::spawn(results.for_each(move |r| {
        if r.is_err() {
            *counter.lock().unwrap() += 1;
        }
        async {}
    }));
    store.wait_until_ready().await.unwrap();

    let mut rng = Rng(0x5eed_c0de);
    let mut exists = vec![false; NAMES as usize];
    let (mut drops, mut compactions, mut statuses, mut armed_at) = (0, 0, 0, 0);
    for i in 0..CHANGES {
        let n = rng.below(NAMES);
        let name = format!("cm-{n}");
        let path = format!("{CMS}/{name}");
        if !exists[n as usize] {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"test": "runtime"}}, "data": {"k": format!("{i}")}});
            retry!(writer.send(CreateRequest::<ConfigMap>::new(CMS.into(), &body)));
            exists[n as usize] = true;
        } else if rng.below(5) == 0 {
            retry!(writer.send(DeleteRequest::<serde_json::Value>::new(path.clone())));
            exists[n as usize] = false;
        } else {
            let patch = Patch::Merge(serde_json::json!({"data": {"k": format!("{i}")}}));
            retry!(writer.send(PatchRequest::<ConfigMap>::new(path.clone(), patch.clone())));
        }
        // A fault armed with `drop_watch_after` applies to the next watch connection: arm one
        // for each new connection until 100 have been dropped.
        let connections = watch_requests(&server);
        if connections > armed_at && drops < 100 {
            server.faults().drop_watch_after(1 + rng.below(10) as usize);
            armed_at = connections;
            drops += 1;
        }
        if i % FAULT_EVERY == FAULT_EVERY - 1 {
            // An error answer for the next request, a compaction (410 for the next resume, then
            // a relist); the writer pauses so that they reach the watcher, but a write may get
            // the error instead (and is sent again).
            match rng.below(3) {
                0 => {
                    server.faults().respond_429(1, 0);
                    statuses += 1;
                }
                1 => {
                    server.faults().respond_status(500, 1);
                    statuses += 1;
                }
                _ => {
                    server.compact();
                    compactions += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    // Reconnects take their own time (faster writes leave fewer of them within the 2,000
    // changes): keep changing one object until 100 connections have been dropped and the last
    // armed one has seen its events.
    let mut extra = 0;
    while (drops < 100 || watch_requests(&server) <= armed_at) && extra < 20_000 {
        let connections = watch_requests(&server);
        if connections > armed_at && drops < 100 {
            server.faults().drop_watch_after(1 + rng.below(10) as usize);
            armed_at = connections;
            drops += 1;
        }
        let patch = Patch::Merge(
            serde_json::json!({"metadata": {"annotations": {"extra": format!("{extra}")}}}),
        );
        let n = exists.iter().position(|e| *e).unwrap();
        retry!(writer.send(PatchRequest::<ConfigMap>::new(
            format!("{CMS}/cm-{n}"),
            patch.clone()
        )));
        extra += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.faults().clear();
    assert_eq!(drops, 100);

    let want = server_state(&writer).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let in_store: BTreeMap<String, String> = store
            .state()
            .iter()
            .map(|o| {
                (
                    o.name_any().to_owned(),
                    o.resource_version().unwrap().to_owned(),
                )
            })
            .collect();
        let last_reconciled: BTreeMap<String, String> = reconciled
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| want.contains_key(*n))
            .map(|(n, rvs)| (n.clone(), rvs.last().cloned().unwrap_or_default()))
            .collect();
        if in_store == want && last_reconciled == want {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not converged:\nserver     {want:?}\nstore      {in_store:?}\nreconciled {last_reconciled:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The faults reached the watcher: a reconnection per dropped watch, relists after 410s.
    let log = server.request_log();
    let watches = watch_requests(&server);
    let lists = log
        .iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with(&format!("{CMS}?")))
        .filter(|r| !r.path_and_query.contains("watch=1"))
        .count();
    assert!(watches > drops, "{watches} watch requests");
    assert!(lists > compactions / 2, "{lists} lists");
    let total: usize = reconciled.lock().unwrap().values().map(Vec::len).sum();
    eprintln!(
        "converged: {} objects, {total} reconciles for {CHANGES} changes, {drops} dropped watches, \
         {compactions} compactions, {statuses} error answers, {watches} watch requests, {lists} lists, \
         {} errors reported",
        want.len(),
        watch_errors.lock().unwrap()
    );
    assert!(compactions > 0 && statuses > 0);
}
