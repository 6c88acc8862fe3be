//! Chooses which generated tree to compile.
//!
//! * `src/generated/` is committed: every type and operation, without the spec's descriptions
//!   (text we may not commit). A git or path dependency builds from it with no extra step.
//! * `src/documented/` (gitignored, and what `cargo xtask package` ships as `src/generated/`) is
//!   the same code with the descriptions as rustdoc, written by `cargo xtask generate` from spec
//!   files. It is compiled instead (cfg `k8s_api_documented`) when, for every enabled version, its
//!   fingerprint equals the committed tree's; a stale one is reported and ignored.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(k8s_api_documented)");
    // `src` is scanned recursively: a regenerated tree (either one) reruns this script.
    println!("cargo::rerun-if-changed=src");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = root.join("src/generated");
    let documented = root.join("src/documented");
    let enabled: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_V1_")
                .map(|v| v.to_lowercase())
        })
        .map(|v| format!("v1_{v}"))
        .collect();
    for m in &enabled {
        if fingerprint(&committed.join(m)).is_none() {
            println!(
                "cargo::error=k8s-api: feature `{m}` is enabled but {} has no generated code for it \
                 (run `cargo xtask generate --all` in the k8s-sdk repository)",
                committed.display()
            );
            return;
        }
    }
    if !documented.join("mod.rs").exists() || enabled.is_empty() {
        return;
    }
    let stale: Vec<&str> = enabled
        .iter()
        .filter(|m| fingerprint(&documented.join(m)) != fingerprint(&committed.join(m)))
        .map(String::as_str)
        .collect();
    if stale.is_empty() {
        println!("cargo::rustc-cfg=k8s_api_documented");
    } else {
        println!(
            "cargo::warning=k8s-api: src/documented is missing or stale for {}; building the \
             committed code without descriptions (refresh it with `cargo xtask generate --all` \
             and the spec files)",
            stale.join(", ")
        );
    }
}

/// The fingerprint line that `cargo xtask generate` writes near the top of a version's `mod.rs`.
fn fingerprint(version_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(version_dir.join("mod.rs")).ok()?;
    text.lines()
        .take(5)
        .find_map(|l| l.strip_prefix("// k8s-api fingerprint: "))
        .map(str::to_owned)
}
