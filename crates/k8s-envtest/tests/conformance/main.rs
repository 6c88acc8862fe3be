//! Conformance: the same requests to k8s-testserver and to the real kube-apiserver (one
//! control plane shared by every scenario, one namespace per scenario), compared after
//! normalisation: status code, `Status.reason`, `details.causes`, message, `Warning` headers,
//! content type, `Retry-After` and the body's JSON. The recorded exchanges of
//! `apiserver-v1.36.2` give the requests (and are a third oracle: how often the real server
//! still answers as recorded is counted); `scenarios::malformed` adds the requests a user's
//! code gets wrong. Every difference must be listed in `known_differences.rs` with its reason;
//! the fidelity table of `crates/k8s-testserver/README.md` is written from the result
//! (`UPDATE_FIDELITY=1`) and otherwise checked.
//!
//! Skips with one line without the envtest binaries unless `K8S_ENVTEST_REQUIRED=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod compare;
mod http;
mod known_differences;
mod normalise;
mod report;
mod runner;
mod scenarios;

use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_server_conforms_to_the_real_apiserver() {
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let started = Instant::now();
    let mut run = runner::Runner::start(binaries).await;
    let setup = started.elapsed();
    // `CONFORMANCE_SCENARIOS=crd,malformed`: only these (no check of the README or of
    // unused known differences).
    let only: Option<Vec<String>> = std::env::var("CONFORMANCE_SCENARIOS")
        .ok()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name));
    let mut scenarios = Vec::new();
    for name in scenarios::RECORDED {
        if wanted(name) {
            scenarios.push(scenarios::load(name).unwrap());
        }
    }
    if wanted("malformed") {
        scenarios.push(scenarios::malformed());
    }
    for s in &scenarios {
        let t = Instant::now();
        run.run(s).await;
        eprintln!("conformance: {} in {:.1?}", s.name, t.elapsed());
    }
    eprintln!(
        "conformance: control planes ready in {setup:.1?}, all scenarios in {:.1?}",
        started.elapsed()
    );
    // `CONFORMANCE_VERBOSE=1`: which recorded answers today's real server no longer gives.
    let verbose = std::env::var("CONFORMANCE_VERBOSE").is_ok_and(|v| v == "1");
    for r in run.results.iter().filter(|_| verbose) {
        if r.real_as_recorded == Some(false) {
            eprintln!(
                "conformance: the real server no longer answers {}#{} ({}) as recorded",
                r.scenario, r.step, r.label
            );
        }
    }
    let outcome = report::Outcome::new(&run.results);
    eprintln!("{}", outcome.summary());
    assert!(
        outcome.unexplained.is_empty(),
        "{} differences between the test server and the real kube-apiserver are not in \
         known_differences.rs:\n{}",
        outcome.unexplained.len(),
        outcome.unexplained.join("\n")
    );
    if only.is_some() {
        return;
    }
    assert!(
        outcome.unused.is_empty(),
        "known differences that no longer occur (remove them from known_differences.rs):\n{}",
        outcome.unused.join("\n")
    );
    outcome.check_readme();
}
