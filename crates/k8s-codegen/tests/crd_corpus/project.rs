//! The cargo workspace the corpus test compiles, under `target/crd-corpus/`:
//!
//! ```text
//! Cargo.toml            [workspace]: groups/*, roundtrip; profile dev: debug = 0, no incremental
//! Cargo.lock            the repository's, so nothing is resolved anew (--offline)
//! groups/<group>/       one library crate per API group of the CRDs with example objects
//!                       (`<group>/mod.rs` as lib.rs, its versions), built into the round trip
//! checked/<group>/      the same for the other CRDs, only type-checked
//! roundtrip/src/main.rs the round-trip binary; depends on every crate of `groups/`
//! target/               shared by all, kept between runs
//! ```
//!
//! One crate per group (not one crate for the corpus) lets cargo compile groups on every core
//! and skip unchanged groups on a re-run: files are rewritten only when their text changed, so
//! their modification times (cargo's fingerprints of path dependencies) stay as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_codegen::crd::CrdOutput;

/// The package name of a group's crate (`cert_manager_io` → `crds-cert_manager_io`, or
/// `crds-checked-cert_manager_io` in `checked/`); its library is `crds_cert_manager_io`.
pub fn package(group: &str, checked: bool) -> String {
    if checked {
        format!("crds-checked-{group}")
    } else {
        format!("crds-{group}")
    }
}

/// Writes `text` to `path` unless the file already holds exactly that text.
fn sync(path: &Path, text: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Removes every entry of `dir` not named in `keep`.
fn prune(dir: &Path, keep: &BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if !keep.contains(&name) {
            let p = e.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
        }
    }
}

/// The generated files of each group: group module → (file name in the crate's `src/`, text).
pub fn split_by_group(out: &CrdOutput) -> BTreeMap<String, Vec<(String, String)>> {
    let mut groups: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (path, text) in &out.files {
        let parts: Vec<&str> = path.iter().map(|c| c.to_str().unwrap()).collect();
        // `mod.rs` and `all.rs` at the top hold the same modules again: not compiled.
        let [group, file] = parts.as_slice() else {
            continue;
        };
        let file = if *file == "mod.rs" { "lib.rs" } else { file };
        groups
            .entry((*group).to_owned())
            .or_default()
            .push((file.to_owned(), text.clone()));
    }
    groups
}

/// The workspace of the corpus test.
pub struct Project {
    /// `target/crd-corpus`.
    pub root: PathBuf,
}

impl Project {
    /// Writes the workspace: the crates of `built` (`groups/`) and `checked` (`checked/`), and
    /// the round-trip binary `main` depending on every crate of `built`. `core` is the path of
    /// `k8s-core`, `lock` the lock file to use.
    pub fn write(
        &self,
        built: &BTreeMap<String, Vec<(String, String)>>,
        checked: &BTreeMap<String, Vec<(String, String)>>,
        main: &str,
        core: &Path,
        lock: &Path,
    ) {
        let root = &self.root;
        // Layouts of earlier versions of this test.
        for old in ["check", "examples"] {
            if root.join(old).is_dir() {
                std::fs::remove_dir_all(root.join(old)).unwrap();
            }
        }
        sync(
            &root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"groups/*\", \"checked/*\", \"roundtrip\"]\nresolver = \"3\"\n\n\
             [profile.dev]\ndebug = 0\nincremental = false\n",
        );
        sync(
            &root.join("Cargo.lock"),
            &std::fs::read_to_string(lock).unwrap(),
        );
        let deps = format!(
            "k8s-core = {{ path = {:?} }}\nserde = \"1\"\nserde_json = \"1\"\n",
            core.display().to_string()
        );
        let manifest = |name: &str, more: &str| {
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
                 publish = false\n\n[dependencies]\n{deps}{more}"
            )
        };
        for (dir, groups, is_checked) in [("groups", built, false), ("checked", checked, true)] {
            for (group, files) in groups {
                let dir = root.join(dir).join(group);
                sync(
                    &dir.join("Cargo.toml"),
                    &manifest(&package(group, is_checked), ""),
                );
                for (file, text) in files {
                    sync(&dir.join("src").join(file), text);
                }
                prune(
                    &dir.join("src"),
                    &files.iter().map(|(f, _)| f.clone()).collect(),
                );
            }
            prune(&root.join(dir), &groups.keys().cloned().collect());
        }
        let more: String = built
            .keys()
            .map(|g| format!("{} = {{ path = \"../groups/{g}\" }}\n", package(g, false)))
            .collect();
        let dir = root.join("roundtrip");
        sync(
            &dir.join("Cargo.toml"),
            &manifest("crd-corpus-roundtrip", &more),
        );
        sync(&dir.join("src/main.rs"), main);
    }
}
