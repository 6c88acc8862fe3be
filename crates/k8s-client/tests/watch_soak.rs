//! Soak test of the resuming watch under faults (issue 13): 2,000 changes to ConfigMaps while
//! the watch loses its connection 100 times, reconnections and relists get 429/500/503, and
//! compactions make the server answer 410 (some of them followed by a relist that fails). The
//! state rebuilt from the stream must equal the server's, with no event delivered twice and no
//! change (deletions included) lost without a `Restarted`.
//!
//! The writer and the fault injection run in one task, in rounds, so that each fault reaches
//! the watch and not the writer: the server drops a connection when it is about to send one
//! more event than `drop_watch_after` allows, so the driver counts the events each connection
//! delivered, sets the next connection's limit before the change that drops the current one,
//! and queues error answers for the resume in the 100 ms the server waits before the drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_client::{Client, ConfigLoader, WatchUpdate};
use k8s_core::ops::{
    CreateRequest, DeleteRequest, DeleteResponse, ListRequest, ReplaceRequest, WatchRequest,
};
use k8s_core::{List, Object, WatchEvent, WatchEventType};
use k8s_testserver::TestServer;
use support::ConfigMap;

const CMS: &str = "/api/v1/namespaces/default/configmaps";
/// The namespace also holds the server's `kube-root-ca.crt`: the test selects its own objects.
const SEL: &str = "test=watch-soak";
const CHANGES: usize = 2000;
const DROPS: usize = 100;
const NAMES: u64 = 40;
const SEED: u64 = 0x1337_5eed;

type Data = Option<BTreeMap<String, String>>;
/// name -> (resourceVersion, data)
type State = BTreeMap<String, (u64, Data)>;

/// splitmix64: a fixed-seed generator without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rv_of(o: &ConfigMap) -> u64 {
    o.resource_version()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("object without a numeric resourceVersion: {o:?}"))
}

// ---- the consumer ------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Item {
    Event(WatchEventType, String, u64),
    Restart(u64),
}

#[derive(Default)]
struct Consumer {
    state: State,
    /// Highest resource version of an event or relist.
    last_rv: u64,
    /// Events and relists in the order received.
    log: Vec<Item>,
    /// (name, resourceVersion) of the events since the last relist.
    since_restart: HashSet<(String, u64)>,
    /// The version the next event must exceed (the last event's, or the relist's).
    floor: u64,
    duplicates: Vec<String>,
    out_of_order: Vec<String>,
    errors: Vec<String>,
    events: usize,
    bookmarks: usize,
    restarts: usize,
    ended: bool,
}

impl Consumer {
    fn update(&mut self, u: Result<WatchUpdate<ConfigMap>, k8s_client::Error>) {
        match u {
            Ok(WatchUpdate::Event(WatchEvent::Bookmark(_))) => self.bookmarks += 1,
            Ok(WatchUpdate::Event(e)) => {
                let t = e.event_type();
                let Some(o) = e.object() else {
                    self.errors.push(format!("event without an object: {t:?}"));
                    return;
                };
                let name = o.name().unwrap_or_default().to_owned();
                let rv = rv_of(o);
                self.events += 1;
                if !self.since_restart.insert((name.clone(), rv)) {
                    self.duplicates.push(format!("{t:?} {name} at {rv}"));
                }
                if rv <= self.floor {
                    self.out_of_order
                        .push(format!("{t:?} {name} at {rv} after {}", self.floor));
                }
                self.floor = self.floor.max(rv);
                self.last_rv = self.last_rv.max(rv);
                match t {
                    WatchEventType::Deleted => {
                        self.state.remove(&name);
                    }
                    _ => {
                        self.state.insert(name.clone(), (rv, o.data.clone()));
                    }
                }
                self.log.push(Item::Event(t, name, rv));
            }
            Ok(WatchUpdate::Restarted {
                objects,
                resource_version,
            }) => {
                let rv: u64 = resource_version.parse().unwrap();
                self.restarts += 1;
                self.state = objects
                    .iter()
                    .map(|o| {
                        (
                            o.name().unwrap_or_default().to_owned(),
                            (rv_of(o), o.data.clone()),
                        )
                    })
                    .collect();
                self.since_restart.clear();
                self.floor = rv;
                self.last_rv = self.last_rv.max(rv);
                self.log.push(Item::Restart(rv));
            }
            Ok(other) => self.errors.push(format!("unexpected update {other:?}")),
            Err(e) => self.errors.push(e.to_string()),
        }
    }

    fn summary(&self) -> String {
        format!(
            "events {}, bookmarks {}, restarts {}, last rv {}, errors {:?}, ended {}",
            self.events, self.bookmarks, self.restarts, self.last_rv, self.errors, self.ended
        )
    }
}

// ---- the writer and the fault driver --------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Create,
    Update,
    Delete,
}

struct Driver {
    server: TestServer,
    writer: Client,
    consumer: Arc<Mutex<Consumer>>,
    rng: Rng,
    /// What the writer believes the server holds.
    model: State,
    /// Every change: (resourceVersion, name, op).
    changes: Vec<(u64, String, Op)>,
    counter: u64,
    /// Error answers that reached the writer instead of the watch (lost timing races).
    writer_absorbed: usize,
    /// Queued error answers by code.
    injected: BTreeMap<u16, usize>,
    drops: usize,
    gone_drops: usize,
    gone_open: usize,
    failing_relists: usize,
    /// Rounds whose change did not drop the connection (the limit went to another one).
    missed: usize,
    /// Times the rebuilt state was compared with the writer's.
    checkpoints: usize,
}

impl Driver {
    async fn change(&mut self) -> u64 {
        self.change_or_delete(false).await
    }

    /// One change; with `delete`, the deletion of an existing object (if there is one).
    async fn change_or_delete(&mut self, delete: bool) -> u64 {
        let mut name = format!("cm-{}", self.rng.below(NAMES));
        if delete && !self.model.is_empty() {
            let i = self.rng.below(self.model.len() as u64) as usize;
            name = self.model.keys().nth(i).unwrap().clone();
        }
        let op = if !self.model.contains_key(&name) {
            Op::Create
        } else if delete {
            Op::Delete
        } else if self.rng.below(100) < 65 {
            Op::Update
        } else {
            Op::Delete
        };
        self.counter += 1;
        let data: BTreeMap<String, String> = [
            ("v".to_string(), self.counter.to_string()),
            ("r".to_string(), self.rng.below(1000).to_string()),
        ]
        .into();
        let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"test": "watch-soak"}}, "data": data});
        let path = format!("{CMS}/{name}");
        let mut attempt = 0;
        let rv = loop {
            let r = match op {
                Op::Create => self
                    .writer
                    .send(CreateRequest::<ConfigMap>::new(CMS.into(), &body))
                    .await
                    .map(|o| rv_of(&o)),
                Op::Update => self
                    .writer
                    .send(ReplaceRequest::<ConfigMap>::new(path.clone(), &body))
                    .await
                    .map(|o| rv_of(&o)),
                Op::Delete => self
                    .writer
                    .send(DeleteRequest::<ConfigMap>::new(path.clone()))
                    .await
                    .map(|r| match r {
                        DeleteResponse::Object(o) => rv_of(&o),
                        // A `Status` names no version: the writer is the only one, so the
                        // deletion made the server's current one.
                        _ => self.server.resource_version(),
                    }),
            };
            match r {
                Ok(rv) => break rv,
                // An injected answer meant for the watch came first: the change was not made.
                Err(e) if attempt < 5 && matches!(e.status_code(), Some(410 | 429 | 500 | 503)) => {
                    attempt += 1;
                    self.writer_absorbed += 1;
                }
                Err(e) => panic!("{op:?} {name}: {e}"),
            }
        };
        match op {
            Op::Delete => {
                self.model.remove(&name);
            }
            _ => {
                self.model.insert(name.clone(), (rv, Some(data)));
            }
        }
        self.changes.push((rv, name, op));
        rv
    }

    async fn wait_for(&self, what: &str, mut done: impl FnMut(&Consumer) -> bool) {
        let start = Instant::now();
        loop {
            {
                let c = self.consumer.lock().unwrap();
                if done(&c) {
                    return;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20) && !c.ended,
                    "timed out waiting for {what}: {}",
                    c.summary()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits until the watch has delivered the change at `rv` (or a relist from after it);
    /// the writer is the only one, so the rebuilt state must then be the writer's.
    async fn caught_up(&mut self, rv: u64) {
        self.wait_for(&format!("the watch to reach {rv}"), |c| c.last_rv >= rv)
            .await;
        self.check_state(rv);
    }

    fn check_state(&mut self, rv: u64) {
        let c = self.consumer.lock().unwrap();
        assert!(
            c.state == self.model,
            "at {rv}, the state rebuilt from the watch differs from the writer's: {}",
            c.summary()
        );
        self.checkpoints += 1;
    }

    fn watch_requests_since(&self, log_len: usize) -> usize {
        self.server.request_log()[log_len..]
            .iter()
            .filter(|r| {
                r.path_and_query.contains("?watch=") || r.path_and_query.contains("&watch=")
            })
            .count()
    }

    /// After a relist: waits until the watch has reconnected (`n` watch requests since
    /// `log_len`), so that a limit set next goes to the connection after it.
    async fn reconnected(&self, log_len: usize, n: usize) {
        let start = Instant::now();
        while self.watch_requests_since(log_len) < n && start.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The server takes the connection's limit just after logging the request.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    fn inject(&mut self, codes: &[u16]) {
        let faults = self.server.faults();
        for &code in codes {
            if code == 429 {
                faults.respond_429(1, 0);
            } else {
                faults.respond_status(code, 1);
            }
            *self.injected.entry(code).or_default() += 1;
        }
    }

    /// The open watch gets 410 from a compaction (at its next bookmark tick, within 1 s) and
    /// relists, the first list requests answered with `relist_faults`; the connection after the
    /// relist drops after `limit` events.
    async fn gone_while_open(&mut self, relist_faults: &[u16], limit: usize) {
        let restarts = self.consumer.lock().unwrap().restarts;
        let log_len = self.server.request_log().len();
        self.server.faults().drop_watch_after(limit);
        self.inject(relist_faults);
        self.server.compact();
        self.gone_open += 1;
        if relist_faults.iter().any(|c| *c != 429) {
            self.failing_relists += 1;
        }
        self.wait_for("a relist after compaction", |c| c.restarts > restarts)
            .await;
        self.check_state(self.changes.last().map_or(0, |c| c.0));
        self.reconnected(log_len, 1).await;
    }

    /// Makes the change that drops the connection; the resume is answered with `faults`
    /// (`gone`: after a compaction, a 410 and then `faults` for the relist). Returns whether the
    /// connection did drop.
    async fn drop_round(&mut self, faults: &[u16], gone: bool, limit: usize) -> bool {
        self.server.faults().drop_watch_after(limit);
        let log_len = self.server.request_log().len();
        // After a compaction, the deletion must reach the consumer through the relist.
        let rv = self.change_or_delete(gone).await;
        // The server sends the last events and drops the connection 100 ms later.
        if gone {
            self.server.compact();
            self.inject(&[410]);
            self.gone_drops += 1;
            if faults.iter().any(|c| *c != 429) {
                self.failing_relists += 1;
            }
        }
        self.inject(faults);
        self.caught_up(rv).await;
        if gone {
            // The resume answered 410, then the watch after the relist.
            self.reconnected(log_len, 2).await;
        }
        let dropped = self.watch_requests_since(log_len) > 0;
        if dropped {
            self.drops += 1;
        } else {
            self.missed += 1;
        }
        dropped
    }
}

async fn admin_client(server: &TestServer) -> Client {
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([server.kubeconfig_for("admin-token")])
        .kubeconfig()
        .unwrap();
    config.retry.base_delay = Duration::from_millis(5);
    config.retry.max_delay = Duration::from_millis(20);
    Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_state_survives_drops_errors_and_compactions() {
    let started = Instant::now();
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let writer = admin_client(&server).await;
    let watcher = admin_client(&server).await;
    let consumer = Arc::new(Mutex::new(Consumer::default()));

    let mut rng = Rng(SEED);
    // Events a connection delivers before the one that drops it; mean 17, so that the 100
    // drops take ~1,800 of the 2,000 changes.
    let mut limit = 8 + rng.below(19) as usize;
    server.faults().drop_watch_after(limit);
    let start_rv = server.resource_version();
    let req = WatchRequest::<ConfigMap>::new(CMS.into())
        .label_selector(SEL)
        .resource_version(start_rv.to_string());
    let c2 = consumer.clone();
    let task = tokio::spawn(async move {
        let mut w = std::pin::pin!(watcher.watch(req));
        while let Some(u) = w.next().await {
            c2.lock().unwrap().update(u);
        }
        c2.lock().unwrap().ended = true;
    });
    // The watch is open before the first change (its request is in the log).
    let mut d = Driver {
        server,
        writer,
        consumer: consumer.clone(),
        rng,
        model: State::new(),
        changes: Vec::new(),
        counter: 0,
        writer_absorbed: 0,
        injected: BTreeMap::new(),
        drops: 0,
        gone_drops: 0,
        gone_open: 0,
        failing_relists: 0,
        missed: 0,
        checkpoints: 0,
    };
    let t0 = Instant::now();
    while d.watch_requests_since(0) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the watch never connected"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;

    let resume_faults: [&[u16]; 5] = [&[500], &[503], &[429], &[500, 503], &[503, 429, 500]];
    let relist_faults: [&[u16]; 5] = [&[500], &[503, 500], &[], &[500, 429], &[500, 500]];
    // Events the current connection has delivered (counted by the server toward its limit).
    let mut delivered = 0;
    let mut round = 0usize;
    let mut heal = false;
    while d.drops < DROPS {
        assert!(
            round < DROPS + 20,
            "too many rounds without a drop: {}",
            d.missed
        );
        if heal || round % 12 == 11 {
            // Also what puts a limit on the connection again after a round went wrong.
            limit = 8 + d.rng.below(19) as usize;
            let faults = relist_faults[d.gone_open % relist_faults.len()];
            d.gone_while_open(faults, limit).await;
            delivered = 0;
        }
        while delivered < limit {
            d.change().await;
            delivered += 1;
        }
        let rv = d.changes.last().map(|c| c.0).unwrap_or(0);
        d.caught_up(rv).await;
        let next = 8 + d.rng.below(19) as usize;
        let (faults, gone): (&[u16], bool) = match round % 10 {
            3 | 8 => (resume_faults[(round / 5) % resume_faults.len()], false),
            6 => (relist_faults[(round / 10) % relist_faults.len()], true),
            _ => (&[], false),
        };
        let dropped = d.drop_round(faults, gone, next).await;
        // After a drop the change is replayed on the new connection; after a relist it is in
        // the list.
        delivered = if gone { 0 } else { 1 };
        limit = next;
        heal = !dropped;
        if !dropped {
            // Queued answers that did not reach the watch must not stay for the next requests.
            d.server.faults().clear();
        }
        round += 1;
    }
    // The rest of the changes; the connection open now drops once more when its limit is
    // reached, and the one after it never does.
    while d.changes.len() < CHANGES {
        if delivered == limit {
            d.drop_round(&[], false, usize::MAX).await;
            delivered = 1;
            limit = usize::MAX;
        } else {
            d.change().await;
            delivered += 1;
        }
    }
    let last_rv = d.changes.last().unwrap().0;
    d.caught_up(last_rv).await;
    let writing = started.elapsed();

    // The server's state, listed by a fresh client.
    let fresh = admin_client(&d.server).await;
    let list: List<ConfigMap> = fresh
        .send(ListRequest::new(CMS.into()).label_selector(SEL))
        .await
        .unwrap();
    let server_state: State = list
        .items
        .iter()
        .map(|o| (o.name().unwrap().to_owned(), (rv_of(o), o.data.clone())))
        .collect();

    let c = consumer.lock().unwrap();
    assert!(c.errors.is_empty() && !c.ended, "{}", c.summary());
    assert!(
        c.duplicates.is_empty(),
        "duplicate events: {:?}",
        c.duplicates
    );
    assert!(
        c.out_of_order.is_empty(),
        "events out of order: {:?}",
        c.out_of_order
    );
    assert_eq!(
        server_state, d.model,
        "the writer's view differs from the server's"
    );
    assert_eq!(
        c.state, server_state,
        "rebuilt state differs from the server's"
    );

    // Every change reached the consumer as its event, or falls in a gap that a relist covered
    // (after the last version seen before the relist, up to the list's version).
    let mut delivered_events: BTreeMap<u64, (WatchEventType, String)> = BTreeMap::new();
    let mut gaps: Vec<(u64, u64)> = Vec::new();
    let mut seen = start_rv;
    for item in &c.log {
        match item {
            Item::Event(t, name, rv) => {
                delivered_events.insert(*rv, (*t, name.clone()));
                seen = seen.max(*rv);
            }
            Item::Restart(rv) => {
                gaps.push((seen, *rv));
                seen = seen.max(*rv);
            }
        }
    }
    let mut covered = 0;
    let mut covered_deletions = 0;
    for (rv, name, op) in &d.changes {
        match delivered_events.get(rv) {
            Some((t, n)) => {
                let want = match op {
                    Op::Create => WatchEventType::Added,
                    Op::Update => WatchEventType::Modified,
                    Op::Delete => WatchEventType::Deleted,
                };
                assert_eq!((t, n), (&want, name), "event at {rv}");
            }
            None => {
                assert!(
                    gaps.iter().any(|(after, upto)| after < rv && rv <= upto),
                    "{op:?} of {name} at {rv} was lost without a Restarted"
                );
                covered += 1;
                if *op == Op::Delete {
                    covered_deletions += 1;
                }
            }
        }
    }
    assert_eq!(c.restarts, gaps.len());
    assert!(d.drops >= DROPS, "{} drops", d.drops);
    assert!(covered_deletions >= 1, "no deletion was left to a relist");
    assert!(d.failing_relists >= 1 && c.restarts >= d.gone_drops + d.gone_open);

    println!(
        "watch soak: {} changes ({} covered by relists, {} of them deletions), {} events, {} bookmarks, {} restarts \
         ({} after a dropped connection, {} on an open watch, {} with a failing relist), \
         {} dropped connections, injected errors {:?} ({} reached the writer), \
         {} rounds without a drop, {} state checkpoints; {:.1} s writing, {:.1} s in all",
        d.changes.len(),
        covered,
        covered_deletions,
        c.events,
        c.bookmarks,
        c.restarts,
        d.gone_drops,
        d.gone_open,
        d.failing_relists,
        d.drops,
        d.injected,
        d.writer_absorbed,
        d.missed,
        d.checkpoints,
        writing.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(c);
    task.abort();
}
