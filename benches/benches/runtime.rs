//! k8s-runtime side by side with kube-runtime 5, in one run: a store (reflector) of 10,000 Pods
//! (time until ready, heap it keeps), the same with metadata only (`PartialObjectMetadata`), and
//! a controller's throughput: time until each of the 10,000 Pods was reconciled once with a no-op
//! reconcile (concurrency 64 on both sides).
//!
//! Heap is counted by a global allocator wrapper; ours also reports `Store::stats()` (the size of
//! the cached objects as JSON), printed beside the heap it stands for. The test server runs in this process; the
//! figure is the heap kept after the store is ready (minus the level before it started), so it
//! also holds what the server keeps for one watch connection, the same for both sides.
//!
//! Not a criterion benchmark: it prints a table (`cargo bench -p k8s-sdk-benches --bench
//! runtime`; `RUNTIME_BENCH_ROUNDS` rounds, default 3, medians).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_api::v1_34::core::v1::Pod;
use k8s_sdk_benches::server;

type TheirPod = k8s_openapi::api::core::v1::Pod;

const NS: &str = "runtime-bench";
const PODS: u64 = 10_000;
const SEED: u64 = 0x6b38_735f_7274_0001;
const CONCURRENCY: usize = 64;

/// One round of one measurement: ours, theirs (a duration in seconds, or bytes).
type Pair = (f64, f64);

mod alloc_counter {
    //! A global allocator that counts live heap bytes and their peak.
    #![allow(unsafe_code)]

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CURRENT: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    pub struct Counting;

    fn add(n: usize) {
        let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
    // `GlobalAlloc` contract (layout validity, pointer provenance, size/alignment of `dealloc`
    // and `realloc` matching the allocation) is exactly the one `System` already upholds; the
    // only addition is bookkeeping on atomics, which neither allocates nor panics. A counting
    // allocator needs `unsafe impl GlobalAlloc`: there is no safe way to observe heap use of
    // every allocation in the process (including reqwest's, hyper's, serde's).
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as `System::alloc`, forwarded unchanged.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                add(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as `System::alloc_zeroed`, forwarded unchanged.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                add(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` was allocated by this allocator (i.e. by `System`) with `layout`.
            unsafe { System.dealloc(ptr, layout) };
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: same contract as `System::realloc`, forwarded unchanged.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
                add(new_size);
            }
            p
        }
    }

    /// Live heap bytes now.
    pub fn current() -> usize {
        CURRENT.load(Ordering::Relaxed)
    }
}

#[global_allocator]
static GLOBAL: alloc_counter::Counting = alloc_counter::Counting;

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Waits until `count` reaches `n` (10 minutes at most).
async fn until(count: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while count.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n}",
            count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Time until ready, heap kept, and `Store::stats().json_bytes` (taken after the heap).
async fn ours_store(client: &k8s_client::Client) -> (Duration, usize, usize) {
    let base = alloc_counter::current();
    let start = Instant::now();
    let writer = k8s_runtime::store::Writer::<Pod>::new();
    let store = writer.store();
    let events = k8s_runtime::watcher::watcher::<Pod>(
        client.clone(),
        format!("/api/v1/namespaces/{NS}/pods"),
        k8s_runtime::watcher::Config::default(),
    );
    let task = tokio::spawn(k8s_runtime::reflector(writer, events).for_each(|_| async {}));
    store.wait_until_ready().await.unwrap();
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kept = alloc_counter::current().saturating_sub(base);
    let stats = store.stats();
    assert_eq!(stats.objects, PODS as usize);
    task.abort();
    // Freed before the next measurement takes its base level.
    let _ = task.await;
    (took, kept, stats.json_bytes)
}

async fn theirs_store(kube: &kube::Client) -> (Duration, usize) {
    use kube::runtime::{reflector, watcher};
    let base = alloc_counter::current();
    let start = Instant::now();
    let api: kube::Api<TheirPod> = kube::Api::namespaced(kube.clone(), NS);
    let (reader, writer) = reflector::store::<TheirPod>();
    let stream = reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()));
    let task = tokio::spawn(stream.for_each(|_| async {}));
    reader.wait_until_ready().await.unwrap();
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kept = alloc_counter::current().saturating_sub(base);
    assert_eq!(reader.len(), PODS as usize);
    task.abort();
    // Freed before the next measurement takes its base level.
    let _ = task.await;
    (took, kept)
}

async fn ours_metadata_store(client: &k8s_client::Client) -> (Duration, usize) {
    let base = alloc_counter::current();
    let start = Instant::now();
    let writer = k8s_runtime::store::Writer::<k8s_runtime::PartialObjectMetadata<Pod>>::new();
    let store = writer.store();
    let events = k8s_runtime::watcher::metadata_watcher::<Pod>(
        client.clone(),
        format!("/api/v1/namespaces/{NS}/pods"),
        k8s_runtime::watcher::Config::default(),
    );
    let task = tokio::spawn(k8s_runtime::reflector(writer, events).for_each(|_| async {}));
    store.wait_until_ready().await.unwrap();
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kept = alloc_counter::current().saturating_sub(base);
    assert_eq!(store.len(), PODS as usize);
    task.abort();
    // Freed before the next measurement takes its base level.
    let _ = task.await;
    (took, kept)
}

async fn theirs_metadata_store(kube: &kube::Client) -> (Duration, usize) {
    use kube::core::PartialObjectMeta;
    use kube::runtime::{reflector, watcher};
    let base = alloc_counter::current();
    let start = Instant::now();
    // kube 5: an `Api` of `PartialObjectMeta` makes metadata-only requests.
    let api: kube::Api<PartialObjectMeta<TheirPod>> = kube::Api::namespaced(kube.clone(), NS);
    let (reader, writer) = reflector::store::<PartialObjectMeta<TheirPod>>();
    let stream = reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()));
    let task = tokio::spawn(stream.for_each(|_| async {}));
    reader.wait_until_ready().await.unwrap();
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kept = alloc_counter::current().saturating_sub(base);
    assert_eq!(reader.len(), PODS as usize);
    task.abort();
    // Freed before the next measurement takes its base level.
    let _ = task.await;
    (took, kept)
}

async fn ours_controller(client: &k8s_client::Client) -> Duration {
    let count = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let results = k8s_runtime::Controller::<Pod>::namespaced(
        client.clone(),
        NS,
        k8s_runtime::watcher::Config::default(),
    )
    .with_config(k8s_runtime::controller::Config::default().concurrency(CONCURRENCY))
    .shutdown_on(async {
        let _ = stopped.await;
    })
    .run(
        |_pod: Arc<Pod>, n: Arc<AtomicUsize>| async move {
            n.fetch_add(1, Ordering::Relaxed);
            Ok::<_, std::convert::Infallible>(k8s_runtime::Action::await_change())
        },
        |_, _, _| None,
        count.clone(),
    );
    let task = tokio::spawn(results.for_each(|_| async {}));
    until(&count, PODS as usize).await;
    let took = start.elapsed();
    stop.send(()).unwrap();
    task.await.unwrap();
    took
}

async fn theirs_controller(kube: &kube::Client) -> Duration {
    use kube::runtime::controller::{Action, Config, Controller};
    use kube::runtime::watcher;
    let count = Arc::new(AtomicUsize::new(0));
    let api: kube::Api<TheirPod> = kube::Api::namespaced(kube.clone(), NS);
    let start = Instant::now();
    let results = Controller::new(api, watcher::Config::default())
        .with_config(Config::default().concurrency(CONCURRENCY as u16))
        .run(
            |_pod: Arc<TheirPod>, n: Arc<AtomicUsize>| async move {
                n.fetch_add(1, Ordering::Relaxed);
                Ok::<_, std::convert::Infallible>(Action::await_change())
            },
            |_, _, _| Action::await_change(),
            count.clone(),
        );
    let task = tokio::spawn(results.for_each(|_| async {}));
    until(&count, PODS as usize).await;
    let took = start.elapsed();
    task.abort();
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = server::start(1000).await.unwrap();
    let kubeconfig = server.kubeconfig_for(server::TOKEN);
    let client = server::client(&kubeconfig).unwrap();
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let kube = kube::Client::try_from(config).unwrap();
    let t = Instant::now();
    server::populate(&client, NS, SEED, PODS).await.unwrap();
    eprintln!("populated {PODS} Pods in {:.1?}", t.elapsed());

    // Each measurement: (ours, theirs) per round.
    let mut store_time: Vec<Pair> = Vec::new();
    let mut store_heap: Vec<Pair> = Vec::new();
    // `Store::stats().json_bytes` of ours, per round.
    let mut store_json: Vec<f64> = Vec::new();
    let mut meta_time: Vec<Pair> = Vec::new();
    let mut meta_heap: Vec<Pair> = Vec::new();
    let mut reconcile: Vec<Pair> = Vec::new();
    let rounds: usize = std::env::var("RUNTIME_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds {
        // Alternate who goes first, so that neither always meets a warmer server.
        let ((a, am, json), (b, bm)) = if round % 2 == 0 {
            let ours = ours_store(&client).await;
            (ours, theirs_store(&kube).await)
        } else {
            let theirs = theirs_store(&kube).await;
            (ours_store(&client).await, theirs)
        };
        let (e, em) = ours_metadata_store(&client).await;
        let (f, fm) = theirs_metadata_store(&kube).await;
        let c = ours_controller(&client).await;
        let d = theirs_controller(&kube).await;
        eprintln!(
            "round {round}: store {a:.2?} {} (stats: {} as JSON) / {b:.2?} {}; metadata store {e:.2?} {} / {f:.2?} {}; controller {c:.2?} / {d:.2?}",
            mib(am),
            mib(json),
            mib(bm),
            mib(em),
            mib(fm)
        );
        store_time.push((a.as_secs_f64(), b.as_secs_f64()));
        store_heap.push((am as f64, bm as f64));
        store_json.push(json as f64);
        meta_time.push((e.as_secs_f64(), f.as_secs_f64()));
        meta_heap.push((em as f64, fm as f64));
        reconcile.push((c.as_secs_f64(), d.as_secs_f64()));
    }
    let median = |v: &[Pair], pick: fn(&Pair) -> f64| {
        let mut v: Vec<f64> = v.iter().map(pick).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let both = |v: &[Pair]| (median(v, |p| p.0), median(v, |p| p.1));
    let n = PODS as f64;
    println!(
        "| {PODS} Pods (median of {rounds}) | k8s-runtime | kube-runtime 5 | ratio (ours / theirs) |"
    );
    println!("|---|---|---|---|");
    let (a, b) = both(&store_time);
    println!(
        "| store: time until ready | {:.0} ms | {:.0} ms | {:.2}× |",
        a * 1e3,
        b * 1e3,
        a / b
    );
    let (a, b) = both(&store_heap);
    println!(
        "| store: heap kept | {} ({:.2} KiB per Pod) | {} ({:.2} KiB per Pod) | {:.2}× |",
        mib(a as usize),
        a / 1024.0 / n,
        mib(b as usize),
        b / 1024.0 / n,
        a / b
    );
    store_json.sort_by(f64::total_cmp);
    let json = store_json[store_json.len() / 2];
    println!(
        "| store: `Store::stats()`, size as JSON | {} ({:.2} KiB per Pod; heap / JSON = {:.2}) | — | — |",
        mib(json as usize),
        json / 1024.0 / n,
        a / json
    );
    let (a, b) = both(&meta_time);
    println!(
        "| metadata store: time until ready | {:.0} ms | {:.0} ms | {:.2}× |",
        a * 1e3,
        b * 1e3,
        a / b
    );
    let (a, b) = both(&meta_heap);
    println!(
        "| metadata store: heap kept | {} ({:.2} KiB per Pod) | {} ({:.2} KiB per Pod) | {:.2}× |",
        mib(a as usize),
        a / 1024.0 / n,
        mib(b as usize),
        b / 1024.0 / n,
        a / b
    );
    let (a, b) = both(&reconcile);
    println!(
        "| controller: every Pod reconciled once (no-op, concurrency {CONCURRENCY}) | {:.0} ms ({:.0}/s) | {:.0} ms ({:.0}/s) | {:.2}× throughput |",
        a * 1e3,
        n / a,
        b * 1e3,
        n / b,
        b / a
    );
}
