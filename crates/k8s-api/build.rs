//! Fails early, with the command to run, when the generated code is missing.
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated");
    println!("cargo:rerun-if-changed=src/generated");
    if !dir.join("mod.rs").exists() {
        panic!(
            "k8s-api: the generated code is missing ({}). Run `cargo xtask generate --all` \
             (with K8S_SPEC_DIR pointing at the spec files, or offline from the committed models).",
            dir.display()
        );
    }
    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    let versions: Vec<String> = vars
        .iter()
        .filter_map(|k| k.strip_prefix("CARGO_FEATURE_V1_"))
        .map(|v| format!("v1_{}", v.to_lowercase()))
        .collect();
    for m in &versions {
        if !dir.join(m).join("mod.rs").exists() {
            panic!(
                "k8s-api: feature `{m}` is enabled but {m} was not generated. Run `cargo xtask generate --all`."
            );
        }
    }
    // A group feature whose module was not generated (`cargo xtask generate --groups …`).
    for m in &versions {
        let Ok(root) = std::fs::read_to_string(dir.join(m).join("mod.rs")) else {
            continue;
        };
        for key in &vars {
            let Some(g) = key.strip_prefix("CARGO_FEATURE_") else {
                continue;
            };
            let g = g.to_lowercase().replace('_', "-");
            let gated = format!("#[cfg(feature = \"{g}\")]");
            let generated = root.contains(&format!("{gated}\npub mod {g};"));
            let known_group =
                dir.join(m).join(&g).exists() || dir.join(m).join(format!("{g}.rs")).exists();
            if !generated && !known_group && is_group_feature(&g) {
                panic!(
                    "k8s-api: feature `{g}` is enabled but the `{g}` group of {m} was not generated \
                     (it was generated with `--groups`). Disable the feature or run `cargo xtask generate --all`."
                );
            }
        }
    }
}

/// Features that are not groups.
fn is_group_feature(f: &str) -> bool {
    !(f == "default" || f == "latest" || f == "all-groups" || f.starts_with("v1-"))
}
