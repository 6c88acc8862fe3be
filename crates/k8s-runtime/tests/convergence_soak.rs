//! Convergence under faults: a controller (its store and its reconciles) follows 2,000 changes
//! of 40 ConfigMaps while the test server drops the watch 100 times, answers reconnections with
//! 429 and 500, and compacts its history (410 Gone, relists). At the end the store equals the
//! server's state and the last change of every object was reconciled.
//!
//! The drops are paced by the writes ([`Drops`]), not by timing: each is armed, taken by a watch
//! connection, and followed by a reconnection before the next, so all 100 happen within the
//! 2,000 changes whatever the load on the machine.
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
const DROPS: usize = 100;

/// The dropped watches, paced by the writes so that every one is observed however fast the
/// writer and the watcher are. A drop after 1..=10 events is armed; a watch connection takes it
/// (the fault is then no longer pending) and is dropped at the event after that many. After
/// one write more than that, the next drop is armed and the writer waits until it is taken: a
/// new watch connection was routed, so the watcher has reconnected after the drop. After the
/// last drop, a drop that never comes marks the reconnection the same way.
struct Drops {
    /// The drop armed or taken last: after how many events.
    n: usize,
    /// Whether a connection took it, and the writes since.
    taken: Option<usize>,
    /// Drops taken and followed by a reconnection (at least as many watches were dropped).
    done: usize,
    /// Its own random numbers: the changes are the same in every run.
    rng: Rng,
    /// Reconnections that did not take the next drop within 1 s (not counted as drops).
    late: usize,
}

impl Drops {
    /// Arms the first drop (before the watcher starts, so that its first connection takes it).
    fn arm_first(server: &k8s_testserver::TestServer) -> Self {
        let mut rng = Rng(0xd40b_5eed);
        let n = 1 + rng.below(10) as usize;
        server.faults().drop_watch_after(n);
        Drops {
            n,
            taken: None,
            done: 0,
            late: 0,
            rng,
        }
    }

    async fn after_write(&mut self, server: &k8s_testserver::TestServer) {
        let rng = &mut self.rng;
        if self.done == DROPS {
            return;
        }
        let Some(writes) = self.taken.as_mut() else {
            self.taken = (!server.faults().watch_drop_pending()).then_some(0);
            return;
        };
        *writes += 1;
        if *writes <= self.n {
            return;
        }
        // That connection has had its `n` events and is dropped at the next one; the next connection takes the
        // next drop (after the last one, a drop that never comes).
        self.done += 1;
        self.n = if self.done < DROPS {
            1 + rng.below(10) as usize
        } else {
            usize::MAX
        };
        server.faults().drop_watch_after(self.n);
        // Usually the reconnection comes within milliseconds. If a 410 ended the connection
        // before its drop (a compaction), the watcher is already on a connection without a
        // fault, which the next injected error or compaction ends: that drop is not counted, the
        // armed one replaces it, and the writes go on meanwhile.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while server.faults().watch_drop_pending() {
            if tokio::time::Instant::now() > deadline {
                self.done -= 1;
                self.n = 1 + rng.below(10) as usize;
                server.faults().drop_watch_after(self.n);
                self.taken = None;
                self.late += 1;
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.taken = Some(0);
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_and_reconciles_converge_under_dropped_watches_410s_429s_and_500s() {
    let server = k8s_testserver::TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let writer = client(&server, 8);
    let watcher_client = client(&server, 0);

    let mut rng = Rng(0x5eed_c0de);
    let mut drops = Drops::arm_first(&server);

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

    let mut exists = vec![false; NAMES as usize];
    let (mut compactions, mut statuses) = (0, 0);
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
        drops.after_write(&server).await;
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
    server.faults().clear();
    let late = drops.late;
    let drops = drops.done;
    assert_eq!(drops, DROPS, "{late} late reconnections");

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
         ({late} late), {compactions} compactions, {statuses} error answers, {watches} watch requests, {lists} lists, \
         {} errors reported",
        want.len(),
        watch_errors.lock().unwrap()
    );
    assert!(compactions > 0 && statuses > 0);
}
