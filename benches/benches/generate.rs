//! Generation: what `cargo xtask generate` does for one version and for all versions, in memory
//! (load the spec files, apply the fixups, plan the operations, emit the Rust), without writing
//! files. Also the load step alone, to show where the time goes.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use k8s_codegen::generate::{self, VersionJob};
use k8s_codegen::{emit, fixups, plan};
use k8s_sdk_benches::versions;

fn generate_one(job: &VersionJob) -> usize {
    let mut model = generate::load(job).unwrap();
    let (facts, _) = fixups::apply_all(&mut model).unwrap();
    let plan = plan::plan(&model, &facts).unwrap();
    let emitted = emit::emit_version(&model, &facts, &plan).unwrap();
    emitted.files.values().map(String::len).sum()
}

fn bench(c: &mut Criterion) {
    let supported = versions::supported().unwrap();
    let jobs: Vec<VersionJob> = supported
        .iter()
        .map(|v| {
            let (job, from_spec) = versions::job(v);
            if !from_spec {
                eprintln!("note: {v}: no spec files, generating from the committed model");
            }
            job
        })
        .collect();
    for job in &jobs {
        eprintln!(
            "generate {}: {} bytes of Rust",
            job.version,
            generate_one(job)
        );
    }

    let mut g = c.benchmark_group("generate");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for job in &jobs {
        g.bench_function(format!("version/{}", job.version), |b| {
            b.iter(|| black_box(generate_one(job)))
        });
    }
    // Where one version's time goes: loading (JSON parsing of swagger.json and the v3
    // documents) against fixups + plan + emit.
    if let Some(job) = jobs.last() {
        g.bench_function(format!("load_only/{}", job.version), |b| {
            b.iter(|| black_box(generate::load(job).unwrap()))
        });
        let loaded = generate::load(job).unwrap();
        g.bench_function(format!("fixups_plan_emit/{}", job.version), |b| {
            b.iter_batched(
                || loaded.clone(),
                |mut model| {
                    let (facts, _) = fixups::apply_all(&mut model).unwrap();
                    let plan = plan::plan(&model, &facts).unwrap();
                    black_box(emit::emit_version(&model, &facts, &plan).unwrap())
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("all_versions", |b| {
        b.iter(|| jobs.iter().map(generate_one).sum::<usize>())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
