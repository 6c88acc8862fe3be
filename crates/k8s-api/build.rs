//! Fails early, with the command to run, when the generated code is missing.
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated");
    println!("cargo:rerun-if-changed=src/generated/mod.rs");
    if !dir.join("mod.rs").exists() {
        panic!(
            "k8s-api: the generated code is missing ({}). Run `cargo xtask generate --all` \
             (with K8S_SPEC_DIR pointing at the spec files, or offline from the committed models).",
            dir.display()
        );
    }
    for (key, _) in std::env::vars() {
        if let Some(v) = key.strip_prefix("CARGO_FEATURE_V1_") {
            let m = format!("v1_{}", v.to_lowercase());
            if !dir.join(&m).join("mod.rs").exists() {
                panic!(
                    "k8s-api: feature `{m}` is enabled but {m} was not generated. Run `cargo xtask generate --all`."
                );
            }
        }
    }
}
