//! `cargo xtask`: workspace tasks.
//!
//! * `generate [--version V | --all] [--spec-dir DIR]`: emit the k8s-api crate's committed code
//!   (no descriptions) and, from spec files, the documented code beside it (see `generate.rs`).
//! * `spec fetch|list|where`: download and verify the pinned spec files (see `spec_fetch.rs`);
//!   `spec fetch --server`: the documents a live API server serves (see `spec_server.rs`).
//! * `test`: run the workspace tests (the benchmarks' crate is left out: it compiles kube and
//!   k8s-openapi, and `cargo bench` is where it belongs).
//! * `package`: publishable `.crate` files of the SDK (see `package.rs`).
//! * `diff OLD NEW`: the API changes between two Kubernetes versions (see `diff.rs`).
//! * `bench-build`: build cost of a minimal program three ways (see `bench_build.rs`).
//! * `bench-table`: issue 18's performance table from one run (see `bench_table.rs`).
//! * `fuzz TARGET|all [--time N]`: longer runs of the `fuzz/` crate's targets (see `fuzz.rs`).
//! * `crd --out DIR FILE…|--from-cluster`: custom resource types from CRDs (see `crd.rs`).
//! * `envtest install [--kubernetes V] | envtest where`: build the real control plane (etcd,
//!   kube-apiserver, kube-controller-manager) of the `k8s-envtest` tests (see `envtest.rs`).

mod bench_build;
mod bench_table;
mod crd;
mod diff;
mod envtest;
mod fuzz;
mod package;
mod spec_built;
mod spec_fetch;
mod spec_server;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use k8s_codegen::generate::{self, Input, Options, VersionJob};

const USAGE: &str = "usage: cargo xtask <command>
  generate [--version V | --all] [--spec-dir DIR] [--no-models]
  spec fetch [--version V] [--dest DIR] [--base-url URL] | spec list | spec where
  spec fetch --server [--kubeconfig FILE] [--context NAME] [--dest DIR] [--raw]
                                  the OpenAPI v2 and v3 documents of a live API server
                                  (normalised as upstream's hack/update-openapi-spec.sh)
  test [-- <cargo test args>]     run the workspace tests (not the benchmarks)
  package [--out DIR] [--spec-dir DIR] [--no-docs]
                                  .crate files of k8s-core, k8s-api (with descriptions
                                  from verified spec files) and k8s-client
  diff OLD NEW                    what changed in the API between two Kubernetes versions
  bench-build                     build cost of a minimal program: k8s-sdk vs kube + k8s-openapi
  bench-table [--no-run] [--no-build] [--no-write]
                                  the serde, protobuf and client benches and bench-build in one
                                  run, summarised as issue 18's table in BENCHMARKS.md
  fuzz TARGET|all [--time N] [--seed S]
                                  fuzz in release for N s per target (default 60)
  crd --out DIR FILE…|--from-cluster
                                  custom resource types from CRD manifests (files or
                                  directories) or from the kubeconfig's cluster
  envtest install [--kubernetes V] | envtest where [--kubernetes V]
                                  build etcd, kube-apiserver and kube-controller-manager with Go
                                  for the k8s-envtest tests (per-user cache, K8S_ENVTEST_DIR)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => cmd_generate(&args[1..]).map(|_| ()),
        Some("spec")
            if args.get(1).map(String::as_str) == Some("fetch")
                && args.iter().any(|a| a == "--server") =>
        {
            spec_server::run(&args[2..]).map_err(|e| e.to_string())
        }
        Some("spec") => {
            spec_fetch::run_with(&args[1..], &spec_built::produce).map_err(|e| e.to_string())
        }
        Some("test") => cmd_test(&args[1..]),
        Some("diff") => diff::run(&args[1..]),
        Some("package") => package::run(&args[1..]),
        Some("bench-build") => bench_build::run(&args[1..]),
        Some("bench-table") => bench_table::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("envtest") => envtest::run(&args[1..]),
        Some("crd") => crd::run(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct GenArgs {
    version: Option<String>,
    spec_dir: Option<PathBuf>,
    write_models: bool,
}

fn parse_generate(args: &[String]) -> Result<GenArgs, String> {
    let mut g = GenArgs {
        version: None,
        spec_dir: None,
        write_models: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--all" => g.version = None,
            "--version" => g.version = Some(value("--version")?),
            "--spec-dir" => g.spec_dir = Some(PathBuf::from(value("--spec-dir")?)),
            "--no-models" => g.write_models = false,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(g)
}

fn cmd_generate(args: &[String]) -> Result<Vec<generate::VersionSummary>, String> {
    let g = parse_generate(args)?;
    let root = spec_fetch::workspace_root();
    let versions = spec_fetch::load_versions(&root.join(spec_fetch::VERSIONS_FILE))
        .map_err(|e| e.to_string())?;
    // Supported versions, oldest first; regression-only ones are not emitted into the crate.
    let mut supported: Vec<&spec_fetch::VersionEntry> = versions
        .versions
        .iter()
        .filter(|v| !v.regression_only)
        .collect();
    supported.sort_by_key(|v| version_key(&v.version));
    let selected: Vec<&spec_fetch::VersionEntry> = match &g.version {
        Some(v) => vec![versions.get(v).map_err(|e| e.to_string())?],
        None => supported.clone(),
    };
    let source = spec_fetch::resolve_spec_dir(g.spec_dir.as_deref(), &root);
    println!("spec source: {source}");
    let mut jobs = Vec::new();
    let mut offline = Vec::new();
    for v in &selected {
        let input = match source.swagger_path(&v.version) {
            Some(p) => Input::Spec(p),
            None => {
                let model = root.join(format!("spec/v{}.api", v.version));
                if !model.exists() {
                    return Err(format!(
                        "no spec files for {} and no committed model at {}; run `cargo xtask spec fetch --version {}` or set K8S_SPEC_DIR",
                        v.version,
                        model.display(),
                        v.version
                    ));
                }
                offline.push(v.version.clone());
                Input::Model(model)
            }
        };
        jobs.push(VersionJob {
            version: v.version.clone(),
            input,
        });
    }
    if !offline.is_empty() {
        println!(
            "note: {} generated from the committed API model(s): no spec files, so only the committed code (without descriptions) was written",
            offline.join(", ")
        );
    }
    let opts = Options {
        jobs,
        supported: supported.iter().map(|v| v.version.clone()).collect(),
        api_crate: root.join("crates/k8s-api"),
        model_dir: root.join("spec"),
        write_models: g.write_models,
    };
    let start = Instant::now();
    let summaries = generate::run(&opts, |s| {
        let c = &s.counts;
        println!(
            "{:>7}: {} definitions -> {} types, {} special, {} skipped; {} operations -> {} emitted ({} functions), {} folded, {} dropped; {} files in {:.0?}{}",
            s.version,
            c.definitions,
            c.emitted,
            c.special,
            c.skipped,
            c.operations,
            c.ops_emitted,
            c.functions,
            c.ops_folded,
            c.ops_dropped,
            s.files,
            s.elapsed,
            if s.docs { "" } else { " (no docs)" },
        );
    })
    .map_err(|e| e.to_string())?;
    println!(
        "generated {} version(s) in {:.2?}",
        summaries.len(),
        start.elapsed()
    );
    Ok(summaries)
}

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').filter_map(|p| p.parse().ok()).collect()
}

fn cmd_test(args: &[String]) -> Result<(), String> {
    let root = spec_fetch::workspace_root();
    run(cargo()
        .current_dir(&root)
        .args(["test", "--workspace", "--exclude", "k8s-sdk-benches"])
        .args(args))
}

/// The cargo that runs this xtask (`$CARGO`), else `cargo` from `PATH`.
fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}
