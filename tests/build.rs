//! Generates test code from the committed API models (`spec/v*.api`):
//!
//! * `dispatch.rs`: per Kubernetes version, a `match` from `(apiVersion, kind)` to the generated
//!   Rust type (`*List` kinds to `k8s_core::List<T>`), used by the round-trip tests;
//! * `all_ops_v1_36.rs`: one entry per planned operation function of 1.36 that calls the
//!   generated function with dummy arguments, used by `tests/all_operations.rs`;
//! * `crds/`: the custom resource types of `k8s-codegen/tests/crds/features.yaml`, used by
//!   `tests/custom_resources.rs`.
//!
//! Reading the model through `k8s-codegen` (the generator's own reader, fixups and planner) keeps
//! the tables exactly in step with what `cargo xtask generate` emits; nothing is hand-listed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use k8s_codegen::ir::{ApiModel, DefKind};
use k8s_codegen::naming::def_location;
use k8s_codegen::plan::{Builder, Owner};

/// Versions the tests use: (model file, version module).
const VERSIONS: &[(&str, &str)] = &[
    ("v1.32.0.api", "v1_32"),
    ("v1.33.1.api", "v1_33"),
    ("v1.34.0.api", "v1_34"),
    ("v1.36.0.api", "v1_36"),
    ("v1.37.2.api", "v1_37"),
];

fn main() {
    if let Err(e) = run() {
        println!("cargo::error={e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let spec = manifest.join("..").join("spec");
    println!("cargo::rerun-if-changed=build.rs");
    let mut dispatch = String::new();
    for (file, module) in VERSIONS {
        let path = spec.join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        let (model, facts) = load(&path)?;
        dispatch.push_str(&dispatch_fn(&model, &facts, module, "Visit", "dispatch"));
        if matches!(*module, "v1_36" | "v1_37") {
            // The same table for the protobuf tests (`T: k8s_core::protobuf::Message`).
            dispatch.push_str(&dispatch_fn(
                &model,
                &facts,
                module,
                "VisitProto",
                "dispatch_proto",
            ));
        }
        if *module == "v1_36" {
            let plan = k8s_codegen::plan::plan(&model, &facts)
                .map_err(|e| format!("{}: planning failed: {e}", path.display()))?;
            write(
                &out.join("all_ops_v1_36.rs"),
                &all_ops(&model, &plan, module)?,
            )?;
        }
    }
    // Custom resources (`tests/custom_resources.rs`): the feature CRD of k8s-codegen's tests,
    // generated as a user's build script would.
    let crd = manifest.join("../crates/k8s-codegen/tests/crds/features.yaml");
    println!("cargo::rerun-if-changed={}", crd.display());
    k8s_codegen::crd::generate(&[crd], &out.join("crds")).map_err(|e| e.to_string())?;
    write(&out.join("dispatch.rs"), &dispatch)
}

fn load(path: &Path) -> Result<(ApiModel, k8s_codegen::fixups::Facts), String> {
    let mut model = k8s_codegen::model_text::read_file(path).map_err(|e| e.to_string())?;
    let (facts, _) = k8s_codegen::fixups::apply_all(&mut model)
        .map_err(|e| format!("{}: fixups failed: {e}", path.display()))?;
    Ok((model, facts))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn rust_path(module: &str, def: &str) -> Option<String> {
    let (mods, ty) = def_location(def)?;
    Some(format!("k8s_api::{module}::{}::{ty}", mods.join("::")))
}

fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// `pub fn dispatch_v1_36<V: Visit>(api_version, kind, v) -> Option<V::Out>`.
fn dispatch_fn(
    model: &ApiModel,
    facts: &k8s_codegen::fixups::Facts,
    module: &str,
    visit: &str,
    name: &str,
) -> String {
    // (apiVersion, kind) -> Rust type; single-GVK kinds win over multi-GVK option types.
    let mut arms: BTreeMap<(String, String), (bool, String)> = BTreeMap::new();
    for d in model.defs.values() {
        let ty = match &d.kind {
            DefKind::Struct(_) => match rust_path(module, &d.name) {
                Some(p) => p,
                None => continue,
            },
            DefKind::Skipped(_) => {
                let Some(item) = facts.list_items.get(&d.name) else {
                    continue;
                };
                let Some(p) = rust_path(module, item) else {
                    continue;
                };
                // List<T> needs T: Resource: only single-GVK items.
                if !facts.gvk_typed.contains(item) {
                    continue;
                }
                format!("k8s_core::List<{p}>")
            }
            _ => continue,
        };
        let single = d.gvk.len() == 1;
        for g in &d.gvk {
            let key = (api_version(&g.group, &g.version), g.kind.clone());
            match arms.get(&key) {
                Some((true, _)) => {}
                Some((false, _)) if !single => {}
                _ => {
                    arms.insert(key, (single, ty.clone()));
                }
            }
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/// Calls `v.visit::<T>()` with the `{module}` type of this apiVersion and kind; `None` if \
         there is none.\npub fn {name}_{module}<V: {visit}>(api_version: &str, kind: &str, v: V) \
         -> Option<V::Out> {{\n    Some(match (api_version, kind) {{"
    );
    for ((av, k), (_, ty)) in &arms {
        let _ = writeln!(s, "        ({av:?}, {k:?}) => v.visit::<{ty}>(),");
    }
    let _ = writeln!(
        s,
        "        _ => return None,\n    }})\n}}\n/// Number of kinds `{name}_{module}` knows.\n\
         pub const {}_KINDS_{}: usize = {};\n",
        name.to_uppercase(),
        module.to_uppercase(),
        arms.len()
    );
    s
}

/// One `OpCase` per planned function.
fn all_ops(
    model: &ApiModel,
    plan: &k8s_codegen::plan::Plan,
    module: &str,
) -> Result<String, String> {
    let consumes: BTreeMap<&str, &Vec<String>> = model
        .ops
        .iter()
        .map(|o| (o.id.as_str(), &o.consumes))
        .collect();
    let mut s = String::from(
        "/// Every planned operation function of the version, callable.\npub fn all_ops() -> Vec<OpCase> {\n    vec![\n",
    );
    for op in &plan.ops {
        let fpath = match &op.owner {
            Owner::Kind(def) => {
                let p = rust_path(module, def)
                    .ok_or_else(|| format!("{}: owner {def} has no Rust location", op.op_id))?;
                format!("{p}::{}", op.fn_name)
            }
            Owner::Module(m) if m.is_empty() => format!("k8s_api::{module}::{}", op.fn_name),
            Owner::Module(m) => format!("k8s_api::{module}::{}::{}", m.join("::"), op.fn_name),
        };
        let args: Vec<String> = op
            .path_params
            .iter()
            .map(|p| format!("&dummy({p:?})"))
            .collect();
        let args = args.join(", ");
        let sep = if args.is_empty() { "" } else { ", " };
        let (kind, call) = match op.builder {
            Builder::Get => ("Get", format!("vec![(\"\", {fpath}({args}).to_request())]")),
            Builder::List => (
                "List",
                format!("vec![(\"\", {fpath}({args}).to_request())]"),
            ),
            Builder::Watch => (
                "Watch",
                format!("vec![(\"\", {fpath}({args}).to_request())]"),
            ),
            Builder::Delete => (
                "Delete",
                format!("vec![(\"\", {fpath}({args}).to_request())]"),
            ),
            Builder::DeleteCollection => (
                "DeleteCollection",
                format!("vec![(\"\", {fpath}({args}).to_request())]"),
            ),
            Builder::Create => (
                "Create",
                format!("vec![(\"\", {fpath}({args}{sep}&Default::default()).to_request())]"),
            ),
            Builder::Replace => (
                "Replace",
                format!("vec![(\"\", {fpath}({args}{sep}&Default::default()).to_request())]"),
            ),
            Builder::Patch => (
                "Patch",
                format!(
                    "patches().into_iter().map(|(label, p)| (label, {fpath}({args}{sep}p).field_manager(\"t\").to_request())).collect()"
                ),
            ),
            Builder::Custom { .. } => (
                "Custom",
                format!("vec![(\"\", {fpath}({args}).to_request())]"),
            ),
        };
        let params: Vec<String> = op.path_params.iter().map(|p| format!("{p:?}")).collect();
        let cons: Vec<String> = consumes
            .get(op.op_id.as_str())
            .map(|c| c.iter().map(|x| format!("{x:?}")).collect())
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "        OpCase {{ op_id: {:?}, function: {:?}, method: {:?}, path: {:?}, path_params: &[{}], consumes: &[{}], builder: {kind:?}, build: Box::new(|| {call}) }},",
            op.op_id,
            fpath,
            op.method,
            op.path,
            params.join(", "),
            cons.join(", "),
        );
    }
    s.push_str("    ]\n}\n");
    Ok(s)
}
