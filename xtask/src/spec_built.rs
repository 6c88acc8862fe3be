//! `cargo xtask spec fetch` of a *built* version (`module` in `spec/versions.toml`): a version
//! whose spec files have no download URL, so they are produced the way upstream's
//! `hack/update-openapi-spec.sh` produces them. The version's `kube-apiserver` and etcd are built
//! from its Go module (`cargo xtask envtest install --kubernetes <version>`; cached), started on
//! loopback with the table's `apiserver_flags`, and its documents fetched and normalised as
//! `spec fetch --server` does. Every pinned file must then match its size and sha256, and the
//! server must serve no document the table does not pin; only then are the files moved into
//! `<dest>/v<version>/` (each with a rename, so a file there is either the old one or a verified
//! new one). On a mismatch the served documents are kept under `target/tmp/` for a look.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use k8s_envtest::{Binaries, EnvTest};

use crate::spec_fetch::{SpecError, VersionEntry, is_verified, workspace_root};
use crate::spec_server::{ServerFetchOptions, fetch};

/// Produces the files of the built version `entry` under `<dest_root>/v<version>/`: the
/// [`crate::spec_fetch::Builder`] of `cargo xtask spec fetch`.
pub fn produce(entry: &VersionEntry, dest_root: &Path) -> Result<(), SpecError> {
    let fail = |message: String| SpecError::Built {
        version: entry.version.clone(),
        module: entry.module.clone().unwrap_or_default(),
        message,
    };
    let binaries = binaries(&entry.version).map_err(fail)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the async runtime: {e}")))?;
    fs::create_dir_all(dest_root).map_err(|e| fail(format!("{}: {e}", dest_root.display())))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}-built-", entry.dir_name()))
        .tempdir_in(dest_root)
        .map_err(|e| {
            fail(format!(
                "cannot create a directory in {}: {e}",
                dest_root.display()
            ))
        })?;
    let fetched = staging.path().join("fetched");
    runtime.block_on(async {
        let mut builder = EnvTest::builder().binaries(binaries);
        for flag in &entry.apiserver_flags {
            builder = builder.apiserver_flag(flag.clone());
        }
        let env = builder
            .start()
            .await
            .map_err(|e| fail(format!("the control plane did not start: {e}")))?;
        println!(
            "  kube-apiserver {} ready in {:.1?} ({} flags from the table) on {}",
            env.version(),
            env.startup_time(),
            entry.apiserver_flags.len(),
            env.url()
        );
        let started = Instant::now();
        let report = fetch(
            &env.client(),
            &fetched,
            &ServerFetchOptions::default(),
            &mut |_, _| {},
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
        println!(
            "  fetched swagger.json ({} paths, {} definitions) and {} v3 documents in {:.1?}",
            report.v2_paths,
            report.v2_definitions,
            report.v3_documents.len(),
            started.elapsed()
        );
        Ok::<(), SpecError>(())
    })?;
    if let Err(message) = verify(entry, &fetched) {
        let keep = workspace_root()
            .join("target/tmp")
            .join(format!("spec-built-{}", entry.dir_name()));
        let _ = fs::remove_dir_all(&keep);
        let kept = fs::create_dir_all(keep.parent().unwrap_or(&keep))
            .and_then(|()| fs::rename(&fetched, &keep))
            .is_ok();
        return Err(fail(if kept {
            format!("{message}; the served documents are in {}", keep.display())
        } else {
            message
        }));
    }
    move_into_place(entry, &fetched, &dest_root.join(entry.dir_name())).map_err(fail)
}

/// The binaries of `version`: built (or found up to date) with Go; without Go, those already in
/// the install directory.
fn binaries(version: &str) -> Result<Binaries, String> {
    let dir = match crate::envtest::find_go() {
        Ok(_) => crate::envtest::ensure_installed(version)?,
        Err(no_go) => match Binaries::locate(version) {
            Ok(b) => {
                println!(
                    "  note: Go not found; using the binaries already built in {} (not checked \
                     against envtest/)",
                    b.dir.display()
                );
                return Ok(b);
            }
            Err(e) => {
                return Err(format!(
                    "{no_go}\nand no binaries of Kubernetes {version} were built before ({e}). \
                     Install Go, then `cargo xtask envtest install --kubernetes {version}` \
                     (a cold build takes over an hour on two cores), or run this command again with Go installed."
                ));
            }
        },
    };
    Binaries::in_dir(version, dir).map_err(|e| e.to_string())
}

/// Every pinned file is in `fetched` with its size and sha256, and every served document is
/// pinned.
fn verify(entry: &VersionEntry, fetched: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    for file in entry.files() {
        let rel = strip_version_dir(&file.relative_path);
        let path = fetched.join(&rel);
        match is_verified(&path, &file) {
            Ok(true) => {}
            Ok(false) if !path.exists() => {
                problems.push(format!("{}: not served", rel.display()));
            }
            Ok(false) => {
                let actual = crate::spec_fetch::sha256_file(&path).unwrap_or_default();
                let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or_default();
                problems.push(format!(
                    "{}: served {bytes} bytes with sha256 {actual}, pinned {} bytes with sha256 {}",
                    rel.display(),
                    file.bytes,
                    file.sha256
                ));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let pinned: BTreeSet<&str> = entry.v3.iter().map(|d| d.file.as_str()).collect();
    if let Ok(rd) = fs::read_dir(fetched.join("v3")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !pinned.contains(name.as_str()) {
                problems.push(format!(
                    "v3/{name}: served but not pinned in spec/versions.toml"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} difference(s) from spec/versions.toml:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    }
}

/// `v1.37.2/v3/x.json` -> `v3/x.json`.
fn strip_version_dir(relative: &Path) -> PathBuf {
    relative.components().skip(1).collect()
}

/// Renames every verified file (and `SOURCE.txt`) from `fetched` into `dir`.
fn move_into_place(entry: &VersionEntry, fetched: &Path, dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir.join("v3")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<PathBuf> = entry
        .files()
        .iter()
        .map(|f| strip_version_dir(&f.relative_path))
        .collect();
    names.push(PathBuf::from("SOURCE.txt"));
    for rel in names {
        let (from, to) = (fetched.join(&rel), dir.join(&rel));
        fs::rename(&from, &to)
            .map_err(|e| format!("cannot move {} to {}: {e}", from.display(), to.display()))?;
        println!("  produced {}", to.display());
    }
    Ok(())
}
