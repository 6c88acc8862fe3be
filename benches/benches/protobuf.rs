//! Protobuf (`application/vnd.kubernetes.protobuf`): the 5,000-pod PodList of `serde.rs` decoded
//! and encoded as protobuf by k8s-sdk (`k8s_core::protobuf`, generated `Message` impls), side by
//! side with k8s-openapi decoding and encoding the same list as JSON, k8s-sdk's own JSON, and
//! k8s-pb 0.9 (prost-generated Kubernetes types) on the same protobuf bytes.
//!
//! Throughput is in pods (elements), so that formats of different sizes compare directly; the
//! body sizes are printed once (`bytes: ...`) for the wire ratio in BENCHMARKS.md.
//! k8s-pb decodes the object's message after the `k8s\0` envelope is split off without a copy
//! (`k8s_core::protobuf::unwrap_envelope`), so its figure is prost's decoding alone.
//!
//! A second group, `protobuf_podlist_5000_no_trim`, repeats the decodes with glibc's heap
//! trimming off (`mallopt(M_TRIM_THRESHOLD)`, for every decoder alike). With glibc's defaults,
//! whether the heap is handed back to the kernel after a decode's drop, and faulted in again by
//! the next decode, depends on where a few long-lived allocations happen to sit: after a
//! protobuf decode the ~114 MB are trimmed every time, after a JSON decode they stay (measured
//! with `malloc_stats`, and 609,620 vs 216,263 page faults in 5 s). The first group is what a
//! program with default glibc settings gets; the second compares the decoders themselves.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use k8s_sdk_benches::podgen;
use prost::Message as _;

type OursPod = k8s_api::v1_34::core::v1::Pod;
type OursList = k8s_core::List<OursPod>;
type TheirList = k8s_openapi::List<k8s_openapi::api::core::v1::Pod>;
type PbList = k8s_pb::api::core::v1::PodList;

const SEED: u64 = 0x6b38_735f_7364_6b00;
const PODS: u64 = 5000;

fn podlist(c: &mut Criterion) {
    let json = podgen::pod_list_json(SEED, PODS, "bench");
    let ours: OursList = serde_json::from_slice(&json).unwrap();
    let theirs: TheirList = serde_json::from_slice(&json).unwrap();
    let pb = k8s_core::protobuf::to_bytes(&ours);

    // Every side reads the whole list, and the protobuf body says what the JSON says.
    let back: OursList = k8s_core::protobuf::from_bytes(&pb).unwrap();
    assert_eq!(back.items.len(), PODS as usize);
    // Not value-equal to the JSON list: Go value fields absent from the synthetic JSON come back
    // as their zero value (see ARCHITECTURE.md, *Protobuf*); the names must match.
    assert_eq!(
        back.items[PODS as usize - 1].metadata.name,
        ours.items[PODS as usize - 1].metadata.name
    );
    assert_eq!(
        k8s_core::protobuf::to_bytes(&back),
        pb,
        "re-encoding is exact"
    );
    let (_, raw) = k8s_core::protobuf::unwrap_envelope(&pb).unwrap();
    let theirs_pb = PbList::decode(raw).unwrap();
    assert_eq!(theirs_pb.items.len(), PODS as usize);
    assert_eq!(
        theirs_pb.items[PODS as usize - 1]
            .metadata
            .as_ref()
            .and_then(|m| m.name.as_deref()),
        ours.items[PODS as usize - 1].metadata.name.as_deref(),
    );
    assert_eq!(
        theirs_pb.encode_to_vec(),
        raw,
        "prost re-encodes the same bytes"
    );
    let ours_json = serde_json::to_vec(&ours).unwrap();
    let theirs_json = serde_json::to_vec(&theirs).unwrap();
    // On stdout, beside criterion's own results: `cargo xtask bench-table` reads it there.
    println!(
        "bytes: JSON in {} (k8s-sdk out {}, k8s-openapi out {}); protobuf {} ({:.3}x of the JSON in)",
        json.len(),
        ours_json.len(),
        theirs_json.len(),
        pb.len(),
        pb.len() as f64 / json.len() as f64
    );

    let mut g = c.benchmark_group("protobuf_podlist_5000");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(PODS));
    decodes(&mut g, &pb, &json);
    g.bench_function("encode/k8s-sdk-protobuf", |b| {
        b.iter(|| k8s_core::protobuf::to_bytes(black_box(&ours)))
    });
    g.bench_function("encode/k8s-pb-protobuf", |b| {
        b.iter(|| black_box(&theirs_pb).encode_to_vec())
    });
    g.bench_function("encode/k8s-openapi-json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&theirs)).unwrap())
    });
    g.finish();

    if !glibc_trim_off() {
        eprintln!("protobuf_podlist_5000_no_trim: not glibc; skipped");
        return;
    }
    let mut g = c.benchmark_group("protobuf_podlist_5000_no_trim");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(PODS));
    decodes(&mut g, &pb, &json);
    g.finish();
}

/// The four decodes of one group: k8s-sdk and k8s-pb from the protobuf body, k8s-sdk and
/// k8s-openapi from the JSON body.
fn decodes(g: &mut BenchmarkGroup<'_, WallTime>, pb: &[u8], json: &[u8]) {
    g.bench_function("decode/k8s-sdk-protobuf", |b| {
        b.iter(|| k8s_core::protobuf::from_bytes::<OursList>(black_box(pb)).unwrap())
    });
    g.bench_function("decode/k8s-pb-protobuf", |b| {
        b.iter(|| {
            let (_, raw) = k8s_core::protobuf::unwrap_envelope(black_box(pb)).unwrap();
            PbList::decode(raw).unwrap()
        })
    });
    g.bench_function("decode/k8s-sdk-json", |b| {
        b.iter(|| serde_json::from_slice::<OursList>(black_box(json)).unwrap())
    });
    g.bench_function("decode/k8s-openapi-json", |b| {
        b.iter(|| serde_json::from_slice::<TheirList>(black_box(json)).unwrap())
    });
}

/// Turns glibc's heap trimming off for the rest of the process (a fixed, huge
/// `M_TRIM_THRESHOLD`); `false` where the C library is not glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // the FFI declaration and call below, see the comment at the call
fn glibc_trim_off() -> bool {
    use std::ffi::c_int;
    const M_TRIM_THRESHOLD: c_int = -1;
    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    // Unsafe: a call into the C library. mallopt takes two integers and only sets a parameter
    // of glibc's malloc (it returns 1 on success); no pointer, no Rust invariant is involved.
    let ok = unsafe { mallopt(M_TRIM_THRESHOLD, c_int::MAX) };
    ok == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_trim_off() -> bool {
    false
}

criterion_group!(benches, podlist);
criterion_main!(benches);
