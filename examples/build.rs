//! Generates the `Widget` types of the `widget-operator` example from its CustomResourceDefinition
//! (`crds/widget.yaml`), as an operator's own build script would: `k8s_codegen::crd` writes the
//! Rust modules to `OUT_DIR/crds/` (`all.rs` holds them inline, for `include!`), and the CRD
//! itself is written as JSON to `OUT_DIR/widget-crd.json`, so that the operator installs exactly
//! the manifest its types were generated from.

use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        println!("cargo::error={e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let crd = manifest.join("crds").join("widget.yaml");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed={}", crd.display());

    let sources =
        k8s_codegen::crd::read_paths(std::slice::from_ref(&crd)).map_err(|e| e.to_string())?;
    let [source] = sources.as_slice() else {
        return Err(format!(
            "{}: expected one CustomResourceDefinition, found {}",
            crd.display(),
            sources.len()
        ));
    };
    let output = k8s_codegen::crd::generate_sources(&sources).map_err(|e| e.to_string())?;
    k8s_codegen::crd::write_output(&out.join("crds"), &output).map_err(|e| e.to_string())?;

    let json = serde_json::to_string(&source.crd).map_err(|e| e.to_string())?;
    let path = out.join("widget-crd.json");
    // Atomically: written beside, then renamed over.
    let tmp = out.join("widget-crd.json.tmp");
    std::fs::write(&tmp, json).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
}
