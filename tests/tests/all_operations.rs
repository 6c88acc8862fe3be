//! Every operation function of Kubernetes 1.36, called. `build.rs` reads the committed model
//! (`spec/v1.36.0.api`) with the generator's own reader, fixups and planner and writes one entry
//! per planned function that calls it with dummy path arguments (`namespace` -> `"namespace-1"`,
//! a default body for create/replace, each of the four patch kinds for patch). Each call must
//! build a request whose method is the spec's, whose path is the template with every `{param}`
//! filled, and whose content type is JSON for create/replace and the patch's own type (one the
//! spec's `consumes` lists) for patch. The operation ids are also checked against the model:
//! every operation is emitted, folded or dropped, none twice.
//!
//! Run: `CARGO_TARGET_DIR=target-tests cargo test -p k8s-sdk-tests --test all_operations -- --nocapture`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use k8s_core::{ApiRequest, Patch, Request, RequestError, ResponseKind};

/// One planned function, callable.
struct OpCase {
    op_id: &'static str,
    function: &'static str,
    method: &'static str,
    path: &'static str,
    path_params: &'static [&'static str],
    consumes: &'static [&'static str],
    builder: &'static str,
    #[allow(clippy::type_complexity)]
    build: Box<dyn Fn() -> Vec<(&'static str, Result<Request, RequestError>)>>,
}

fn dummy(param: &str) -> String {
    format!("{param}-1")
}

fn patches() -> Vec<(&'static str, Patch)> {
    vec![
        (
            "application/json-patch+json",
            Patch::Json(serde_json::json!([])),
        ),
        (
            "application/merge-patch+json",
            Patch::Merge(serde_json::json!({})),
        ),
        (
            "application/strategic-merge-patch+json",
            Patch::Strategic(serde_json::json!({})),
        ),
        (
            "application/apply-patch+yaml",
            Patch::ApplyYaml("{}".to_owned()),
        ),
    ]
}

#[allow(unused_imports)]
mod generated {
    use super::{ApiRequest, OpCase, dummy, patches};
    include!(concat!(env!("OUT_DIR"), "/all_ops_v1_36.rs"));
}

/// The 1.36 plan has this many functions (`cargo xtask generate` prints it).
const EXPECTED_FUNCTIONS: usize = 1037;

fn check(case: &OpCase) -> Vec<String> {
    let mut bad = Vec::new();
    let mut expected_path = case.path.to_owned();
    for p in case.path_params {
        expected_path = expected_path.replace(&format!("{{{p}}}"), &dummy(p));
    }
    let results = (case.build)();
    if case.builder == "Patch" && results.len() != 4 {
        bad.push(format!("{} patch kinds built, expected 4", results.len()));
    }
    for (label, r) in results {
        let what = if label.is_empty() {
            String::new()
        } else {
            format!(" [{label}]")
        };
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("does not build{what}: {e}"));
                continue;
            }
        };
        if r.method.as_str() != case.method {
            bad.push(format!("method {} vs spec {}{what}", r.method, case.method));
        }
        if r.path.contains('{') || r.path.contains('}') {
            bad.push(format!("unfilled parameter in path {}{what}", r.path));
        }
        if r.path != expected_path {
            bad.push(format!("path {} vs expected {expected_path}{what}", r.path));
        }
        match case.builder {
            "Create" | "Replace" => {
                if r.content_type != Some("application/json") {
                    bad.push(format!(
                        "content type {:?}, expected application/json",
                        r.content_type
                    ));
                }
                if !case.consumes.is_empty()
                    && !case.consumes.contains(&"application/json")
                    && !case.consumes.contains(&"*/*")
                {
                    bad.push(format!("spec consumes {:?}, not JSON", case.consumes));
                }
                if r.body.is_none() {
                    bad.push("no body".to_owned());
                }
            }
            "Patch" => {
                if r.content_type != Some(label) {
                    bad.push(format!(
                        "content type {:?} for a {label} patch",
                        r.content_type
                    ));
                }
                if !case.consumes.contains(&label) {
                    bad.push(format!(
                        "{label} is not in the spec's consumes {:?}",
                        case.consumes
                    ));
                }
            }
            "Delete" | "DeleteCollection" => {}
            _ => {
                if r.body.is_some() || r.content_type.is_some() {
                    bad.push(format!(
                        "unexpected body/content type {:?}{what}",
                        r.content_type
                    ));
                }
            }
        }
        if case.builder == "Watch" {
            if !r.query.iter().any(|(k, v)| k == "watch" && v == "1") {
                bad.push(format!("watch without watch=1: {:?}", r.query));
            }
            if r.response_kind != ResponseKind::WatchStream {
                bad.push(format!("watch response kind {:?}", r.response_kind));
            }
        }
    }
    bad
}

#[test]
fn every_operation_function_builds_its_request() {
    let cases = generated::all_ops();
    let mut failures = Vec::new();
    let mut by_builder: BTreeMap<&str, usize> = BTreeMap::new();
    let mut requests = 0;
    for case in &cases {
        *by_builder.entry(case.builder).or_default() += 1;
        requests += if case.builder == "Patch" { 4 } else { 1 };
        for b in check(case) {
            failures.push(format!(
                "{} ({} {} {}): {b}",
                case.function, case.op_id, case.method, case.path
            ));
        }
    }
    println!(
        "{} operation functions of 1.36 called ({requests} requests built):",
        cases.len()
    );
    for (b, n) in &by_builder {
        println!("  {n:4}  {b}");
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert_eq!(
        cases.len(),
        EXPECTED_FUNCTIONS,
        "number of planned functions changed"
    );
}

#[test]
fn every_spec_operation_is_emitted_folded_or_dropped() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/v1.36.0.api");
    let mut model = k8s_codegen::model_text::read_file(&path).expect("committed 1.36 model");
    let (facts, _) = k8s_codegen::fixups::apply_all(&mut model).expect("fixups");
    let plan = k8s_codegen::plan::plan(&model, &facts).expect("plan");
    let spec_ids: BTreeSet<&str> = model.ops.iter().map(|o| o.id.as_str()).collect();
    let emitted: BTreeSet<&str> = generated::all_ops().iter().map(|c| c.op_id).collect();
    let folded: BTreeSet<&str> = plan.folded.iter().map(|(id, _)| id.as_str()).collect();
    let dropped: BTreeSet<&str> = plan.dropped.iter().map(|(id, _)| id.as_str()).collect();
    let accounted: BTreeSet<&str> = emitted
        .union(&folded)
        .chain(dropped.iter())
        .copied()
        .collect();
    let missing: Vec<_> = spec_ids.difference(&accounted).collect();
    let invented: Vec<_> = accounted.difference(&spec_ids).collect();
    println!(
        "1.36: {} spec operations = {} emitted + {} folded + {} dropped",
        spec_ids.len(),
        emitted.len(),
        folded.len(),
        dropped.len()
    );
    assert!(
        missing.is_empty(),
        "operations neither emitted, folded nor dropped: {missing:?}"
    );
    assert!(
        invented.is_empty(),
        "operation ids not in the spec: {invented:?}"
    );
    assert!(
        emitted.is_disjoint(&folded),
        "{:?}",
        emitted.intersection(&folded).collect::<Vec<_>>()
    );
    assert_eq!(spec_ids.len(), 1123, "the 1.36 swagger has 1123 operations");
}
