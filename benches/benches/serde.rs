//! Decode and encode: a 5,000-pod PodList (about 9 MB) into k8s-sdk's `List<Pod>` and into
//! k8s-openapi's `List<Pod>`, and back; a 10,000-event watch stream decoded event by event.
//! Throughput in bytes of JSON (criterion reports MB/s; BENCHMARKS.md the ratios).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use k8s_sdk_benches::podgen;

type OursPod = k8s_api::v1_34::core::v1::Pod;
type OursList = k8s_core::List<OursPod>;
type OursEvent = k8s_core::WatchEvent<OursPod>;
type TheirPod = k8s_openapi::api::core::v1::Pod;
type TheirList = k8s_openapi::List<TheirPod>;
type TheirEvent = k8s_openapi::apimachinery::pkg::apis::meta::v1::WatchEvent<TheirPod>;

const SEED: u64 = 0x6b38_735f_7364_6b00;

fn podlist(c: &mut Criterion) {
    let json = podgen::pod_list_json(SEED, 5000, "bench");
    // Both decode the same document, completely.
    let ours: OursList = serde_json::from_slice(&json).unwrap();
    let theirs: TheirList = serde_json::from_slice(&json).unwrap();
    assert_eq!((ours.items.len(), theirs.items.len()), (5000, 5000));
    let ours_out = serde_json::to_vec(&ours).unwrap();
    let theirs_out = serde_json::to_vec(&theirs).unwrap();
    eprintln!(
        "podlist: {} bytes in; encoded: ours {} bytes, k8s-openapi {} bytes",
        json.len(),
        ours_out.len(),
        theirs_out.len()
    );

    let mut g = c.benchmark_group("podlist_5000");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_function("decode/k8s-sdk", |b| {
        b.iter(|| serde_json::from_slice::<OursList>(black_box(&json)).unwrap())
    });
    g.bench_function("decode/k8s-openapi", |b| {
        b.iter(|| serde_json::from_slice::<TheirList>(black_box(&json)).unwrap())
    });
    g.throughput(Throughput::Bytes(ours_out.len() as u64));
    g.bench_function("encode/k8s-sdk", |b| {
        b.iter(|| serde_json::to_vec(black_box(&ours)).unwrap())
    });
    g.throughput(Throughput::Bytes(theirs_out.len() as u64));
    g.bench_function("encode/k8s-openapi", |b| {
        b.iter(|| serde_json::to_vec(black_box(&theirs)).unwrap())
    });
    g.finish();
}

fn watch_stream(c: &mut Criterion) {
    let body = podgen::watch_stream_json(SEED, 10_000, "bench");
    let lines: Vec<&[u8]> = podgen::lines(&body).collect();
    assert_eq!(lines.len(), 10_000);
    for l in &lines {
        OursEvent::from_json_line(l).unwrap();
        serde_json::from_slice::<TheirEvent>(l).unwrap();
    }
    let mut g = c.benchmark_group("watch_10000_events");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("decode/k8s-sdk", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(OursEvent::from_json_line(black_box(l)).unwrap());
            }
        })
    });
    g.bench_function("decode/k8s-openapi", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(serde_json::from_slice::<TheirEvent>(black_box(l)).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, podlist, watch_stream);
criterion_main!(benches);
