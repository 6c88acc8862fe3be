//! Helpers shared by xtask's integration tests.

use std::path::{Path, PathBuf};

/// The repository's root (the parent of the xtask crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the repository")
        .to_owned()
}

/// The local copy of the real specs, if this machine has one and it holds `marker` (a path
/// inside it): `$K8S_SPEC_DIR`, else `shared/spec` beside the checkout (CI), else
/// `/work/shared/spec`.
pub fn real_spec_dir(marker: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("K8S_SPEC_DIR").filter(|v| !v.is_empty()) {
        candidates.push(dir.into());
    }
    if let Some(parent) = repo_root().parent() {
        candidates.push(parent.join("shared/spec"));
    }
    candidates.push("/work/shared/spec".into());
    candidates.into_iter().find(|d| d.join(marker).exists())
}
