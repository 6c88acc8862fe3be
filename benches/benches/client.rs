//! Client throughput: GET of one Pod, list of 1,000 Pods, and 10,000 watch events, through
//! k8s-client and through kube 5 (with k8s-openapi types), against the same in-process test
//! server over TLS on 127.0.0.1, in the same run. Requests are sequential (one in flight), so
//! requests/s is 1 / latency.
//!
//! Protobuf (`client_pb_*`): the same GET, list and watch against a real kube-apiserver
//! (`k8s-envtest`, a separate process, Go's encoders), SDK in protobuf vs SDK in JSON vs kube 5
//! (JSON), in the same run. Skipped with one line without the envtest binaries.
//!
//! `K8S_BENCH_SERVER=test` runs only the test-server groups, `=real` only the real
//! kube-apiserver's (each fills its server first, which takes a while): for profiling one side.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::{StreamExt, TryStreamExt};
use k8s_api::v1_34::core::v1::Pod;
use k8s_client::WatchUpdate;
use k8s_core::WatchEvent;
use k8s_sdk_benches::server;

type TheirPod = k8s_openapi::api::core::v1::Pod;

const SEED: u64 = 0x6b38_735f_636c_6e74;
const LIST_NS: &str = "bench-list";
const WATCH_NS: &str = "bench-watch";
const LIST_PODS: u64 = 1000;
const WATCH_EVENTS: usize = 10_000;

/// Whether the groups against `server` (`"test"` or `"real"`) run (`K8S_BENCH_SERVER`).
fn wanted(server: &str) -> bool {
    match std::env::var("K8S_BENCH_SERVER") {
        Ok(v) if !v.is_empty() => v == server,
        _ => true,
    }
}

fn bench(c: &mut Criterion) {
    if !wanted("test") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (srv, ours, kube, get_name, rv) = rt.block_on(async {
        let srv = server::start(WATCH_EVENTS * 3).await.unwrap();
        let kubeconfig = srv.kubeconfig_for(server::TOKEN);
        let ours = server::client(&kubeconfig).unwrap();
        let started = std::time::Instant::now();
        let watch_name = fill(&ours).await;
        let rv = server::modify(&ours, WATCH_NS, &watch_name, WATCH_EVENTS as u64)
            .await
            .unwrap();
        let get_name = server::first_pod(&ours, LIST_NS).await.unwrap();
        eprintln!(
            "client bench setup: {LIST_PODS} pods + {WATCH_EVENTS} modifications in {:.1?}",
            started.elapsed()
        );
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let kube = kube::Client::try_from(config).unwrap();
        (srv, ours, kube, get_name, rv)
    });
    let kube_list: kube::Api<TheirPod> = kube::Api::namespaced(kube.clone(), LIST_NS);
    let kube_watch: kube::Api<TheirPod> = kube::Api::namespaced(kube, WATCH_NS);

    // Both see the same data.
    rt.block_on(async {
        let a = ours.send(Pod::list(LIST_NS)).await.unwrap();
        let b = kube_list.list(&Default::default()).await.unwrap();
        assert_eq!(a.items.len() as u64, LIST_PODS);
        assert_eq!(b.items.len() as u64, LIST_PODS);
        let p = kube_list.get(&get_name).await.unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some(get_name.as_str()));
        assert!(p.status.is_some_and(|s| s.container_statuses.is_some()));
    });

    let mut g = c.benchmark_group("client_get_pod");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    g.bench_function("k8s-client", |b| {
        b.iter(|| {
            rt.block_on(ours.send(Pod::read(LIST_NS, &get_name)))
                .unwrap()
        })
    });
    g.bench_function("kube", |b| {
        b.iter(|| rt.block_on(kube_list.get(&get_name)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("client_list_1000_pods");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1));
    g.bench_function("k8s-client", |b| {
        b.iter(|| rt.block_on(ours.send(Pod::list(LIST_NS))).unwrap())
    });
    g.bench_function("kube", |b| {
        b.iter(|| rt.block_on(kube_list.list(&Default::default())).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("client_watch_10000_events");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(WATCH_EVENTS as u64));
    g.bench_function("k8s-client", |b| {
        b.iter(|| rt.block_on(our_watch_events(&ours, &rv)))
    });
    g.bench_function("kube", |b| {
        b.iter(|| rt.block_on(kube_watch_events(&kube_watch, &rv)))
    });
    g.finish();
    rt.block_on(srv.shutdown());
}

/// List 1,000 Pods and read 10,000 watch events from a real kube-apiserver: the SDK in
/// protobuf, the SDK in JSON, kube (JSON).
fn bench_real_apiserver(c: &mut Criterion) {
    const TOKEN: &str = "bench-admin-token";
    if !wanted("real") {
        return;
    }
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (env, pb, json, kube, get_name, watch_name) = rt.block_on(async {
        let env = k8s_envtest::EnvTest::builder()
            .binaries(binaries)
            .token(TOKEN, "bench-admin", &["system:masters"])
            // No controller manager: no service accounts for the Pods to wait for.
            .apiserver_flag("--disable-admission-plugins=ServiceAccount")
            .start()
            .await
            .unwrap();
        let kubeconfig = env.kubeconfig_for(TOKEN).unwrap();
        let json = server::client(&kubeconfig).unwrap();
        let mut config = json.config().clone();
        config.protobuf = true;
        let pb = k8s_client::Client::new(config).unwrap();
        let started = std::time::Instant::now();
        let watch_name = fill(&json).await;
        let get_name = server::first_pod(&json, LIST_NS).await.unwrap();
        eprintln!(
            "client pb bench setup (kube-apiserver {}): {LIST_PODS} pods in {:.1?}",
            env.version(),
            started.elapsed()
        );
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let kube = kube::Client::try_from(config).unwrap();
        (env, pb, json, kube, get_name, watch_name)
    });
    let kube_list: kube::Api<TheirPod> = kube::Api::namespaced(kube.clone(), LIST_NS);
    let kube_watch: kube::Api<TheirPod> = kube::Api::namespaced(kube, WATCH_NS);
    rt.block_on(async {
        let a = pb.send(Pod::list(LIST_NS)).await.unwrap();
        let b = json.send(Pod::list(LIST_NS)).await.unwrap();
        assert_eq!(a.items.len() as u64, LIST_PODS);
        assert_eq!(a.items, b.items, "protobuf and JSON decode the same Pods");
        let p = kube_list.get(&get_name).await.unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some(get_name.as_str()));
    });

    let mut g = c.benchmark_group("client_pb_get_pod");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    for (name, client) in [("k8s-client-protobuf", &pb), ("k8s-client-json", &json)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(client.send(Pod::read(LIST_NS, &get_name)))
                    .unwrap()
            })
        });
    }
    g.bench_function("kube", |b| {
        b.iter(|| rt.block_on(kube_list.get(&get_name)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("client_pb_list_1000_pods");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1));
    for (name, client) in [("k8s-client-protobuf", &pb), ("k8s-client-json", &json)] {
        g.bench_function(name, |b| {
            b.iter(|| rt.block_on(client.send(Pod::list(LIST_NS))).unwrap())
        });
    }
    g.bench_function("kube", |b| {
        b.iter(|| rt.block_on(kube_list.list(&Default::default())).unwrap())
    });
    g.finish();

    // The watches start from a version taken right before this group, not at set-up: in the
    // one full run where the GET and list groups ran ~16 minutes first (load 5-6), the first
    // protobuf watch never finished its warm-up (not reproduced since, not explained: see
    // `next_event`'s timeout, which turns such a stall into a failure that says where).
    let rv = rt.block_on(async {
        let started = std::time::Instant::now();
        let rv = server::modify(&json, WATCH_NS, &watch_name, WATCH_EVENTS as u64)
            .await
            .unwrap();
        eprintln!(
            "client pb bench: {WATCH_EVENTS} modifications from resourceVersion {rv} in {:.1?}",
            started.elapsed()
        );
        rv
    });
    let mut g = c.benchmark_group("client_pb_watch_10000_events");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(WATCH_EVENTS as u64));
    for (name, client) in [("k8s-client-protobuf", &pb), ("k8s-client-json", &json)] {
        g.bench_function(name, |b| {
            b.iter(|| rt.block_on(our_watch_events(client, &rv)))
        });
    }
    g.bench_function("kube", |b| {
        b.iter(|| rt.block_on(kube_watch_events(&kube_watch, &rv)))
    });
    g.finish();
    env.stop();
}

/// Creates the bench's Pods (`LIST_PODS` in `LIST_NS`, one in `WATCH_NS`); returns the name of
/// the one in `WATCH_NS`, whose modifications (`server::modify`) the watch groups read.
async fn fill(client: &k8s_client::Client) -> String {
    server::populate(client, LIST_NS, SEED, LIST_PODS)
        .await
        .unwrap();
    server::populate(client, WATCH_NS, SEED ^ 1, 1)
        .await
        .unwrap();
    server::first_pod(client, WATCH_NS).await.unwrap()
}

/// Reads `WATCH_EVENTS` `Modified` events from the SDK's watch, starting at `rv`.
async fn our_watch_events(client: &k8s_client::Client, rv: &str) {
    let stream = client.watch(Pod::watch(WATCH_NS).resource_version(rv.to_owned()));
    let mut stream = std::pin::pin!(stream);
    let mut n = 0;
    while n < WATCH_EVENTS {
        match next_event(stream.try_next(), rv, n).await.unwrap() {
            Some(WatchUpdate::Event(WatchEvent::Modified(_))) => n += 1,
            // The client lists again after 410 Gone and goes on from now: the modifications
            // this loop waits for would never come (kube's watch fails instead).
            Some(WatchUpdate::Restarted { .. }) => panic!(
                "the watch from resourceVersion {rv} restarted after {n} events (410 Gone: the \
                 server's watch history no longer reaches the bench's set-up)"
            ),
            Some(_) => {}
            None => panic!("watch ended after {n} events"),
        }
    }
}

/// Reads `WATCH_EVENTS` `Modified` events from kube's watch, starting at `rv`.
async fn kube_watch_events(api: &kube::Api<TheirPod>, rv: &str) {
    let stream = api
        .watch(&kube::api::WatchParams::default(), rv)
        .await
        .unwrap();
    let mut stream = std::pin::pin!(stream);
    let mut n = 0;
    while n < WATCH_EVENTS {
        match next_event(stream.next(), rv, n).await {
            Some(Ok(kube::api::WatchEvent::Modified(_))) => n += 1,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("kube watch error after {n} events: {e}"),
            None => panic!("watch ended after {n} events"),
        }
    }
}

/// The next item of a watch, or a panic that names where the watch stalled: a bench that
/// waits forever (as one run did) reports nothing.
async fn next_event<F: std::future::Future>(next: F, rv: &str, n: usize) -> F::Output {
    const STALL: Duration = Duration::from_secs(120);
    match tokio::time::timeout(STALL, next).await {
        Ok(item) => item,
        Err(_) => panic!(
            "the watch from resourceVersion {rv} stalled: no item for {STALL:?} after {n} of \
             {WATCH_EVENTS} events"
        ),
    }
}

criterion_group!(benches, bench, bench_real_apiserver);
criterion_main!(benches);
