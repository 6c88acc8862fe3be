//! `cargo xtask package [--out DIR] [--spec-dir DIR] [--no-docs]`: publishable `.crate` files of
//! k8s-core, k8s-api and k8s-client.
//!
//! `cargo package` runs on a staged copy of those three crates (and the workspace manifest), in
//! which k8s-api's `src/generated/` holds the documented tree: the same code as the committed one
//! (its fingerprint is checked) with the spec's descriptions as rustdoc, generated from spec files
//! whose sha256 and size match `spec/versions.toml`. Without spec files (or with `--no-docs`) the
//! committed tree is packaged as it is and the crate has no descriptions. The repository itself is
//! never modified, so no spec text can end up in a commit.

use std::path::{Path, PathBuf};

use k8s_codegen::generate::{self, Input, VersionJob};

use crate::spec_fetch::{self, VersionEntry};

/// The crates that make the SDK as a dependency, in publishing order.
pub const CRATES: &[&str] = &["k8s-core", "k8s-api", "k8s-client"];
/// Staged beside them but not packaged: k8s-client's dev-dependency (cargo drops path-only
/// dev-dependencies from a package, but the staged workspace must still resolve).
const STAGED_ONLY: &[&str] = &["k8s-testserver"];

struct Args {
    out: Option<PathBuf>,
    spec_dir: Option<PathBuf>,
    docs: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        out: None,
        spec_dir: None,
        docs: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--out" => a.out = Some(value("--out")?),
            "--spec-dir" => a.spec_dir = Some(value("--spec-dir")?),
            "--no-docs" => a.docs = false,
            other => return Err(format!("package: unknown argument {other:?}")),
        }
    }
    Ok(a)
}

/// Entry point of `cargo xtask package`.
pub fn run(args: &[String]) -> Result<(), String> {
    let a = parse(args)?;
    let root = spec_fetch::workspace_root();
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/package-sdk"));
    let versions = spec_fetch::load_versions(&root.join(spec_fetch::VERSIONS_FILE))
        .map_err(|e| e.to_string())?;
    let mut supported: Vec<&VersionEntry> = versions
        .versions
        .iter()
        .filter(|v| !v.regression_only)
        .collect();
    supported.sort_by_key(|v| crate::version_key(&v.version));

    let source = spec_fetch::resolve_spec_dir(a.spec_dir.as_deref(), &root);
    let spec_dir = if a.docs { source.dir() } else { None };
    let staging = tempfile::Builder::new()
        .prefix("k8s-sdk-package")
        .tempdir()
        .map_err(|e| format!("cannot create a staging directory: {e}"))?;
    let version = stage(&root, staging.path())?;
    match spec_dir {
        Some(dir) => {
            println!("descriptions from {source}");
            document(dir, &supported, staging.path())?;
        }
        None => println!(
            "note: no spec files{}: the packaged k8s-api has no descriptions",
            if a.docs { "" } else { " (--no-docs)" }
        ),
    }
    let target = root.join("target/xtask-package");
    let mut cmd = crate::cargo();
    cmd.current_dir(staging.path())
        .args(["package", "--no-verify", "--allow-dirty", "--quiet"])
        .arg("--target-dir")
        .arg(&target);
    for c in CRATES {
        cmd.args(["-p", c]);
    }
    crate::run(&mut cmd)?;
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for c in CRATES {
        let name = format!("{c}-{version}.crate");
        let from = target.join("package").join(&name);
        let to = out.join(&name);
        let bytes =
            std::fs::read(&from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        generate::write_atomic(&to, &bytes).map_err(|e| e.to_string())?;
        println!("{} ({} KiB)", to.display(), bytes.len() / 1024);
    }
    Ok(())
}

/// Copies what `cargo package` needs into `dir`: the workspace manifest (members limited to the
/// packaged crates), the lock file and the three crates' files (without `target/` or the
/// documented tree). Returns the workspace's package version.
fn stage(root: &Path, dir: &Path) -> Result<String, String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("cannot read {}: {e}", root.join("Cargo.toml").display()))?;
    let mut doc: toml::Table = manifest
        .parse()
        .map_err(|e| format!("{}: {e}", root.join("Cargo.toml").display()))?;
    let version = doc
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
        .ok_or("Cargo.toml: no workspace.package.version")?;
    let ws = doc
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        .ok_or("Cargo.toml: no [workspace] table")?;
    let members: Vec<toml::Value> = CRATES
        .iter()
        .chain(STAGED_ONLY)
        .map(|c| toml::Value::String(format!("crates/{c}")))
        .collect();
    ws.insert("members".into(), toml::Value::Array(members));
    ws.remove("default-members");
    write(&dir.join("Cargo.toml"), doc.to_string().as_bytes())?;
    if let Ok(lock) = std::fs::read(root.join("Cargo.lock")) {
        write(&dir.join("Cargo.lock"), &lock)?;
    }
    for c in CRATES.iter().chain(STAGED_ONLY) {
        copy_tree(
            &root.join("crates").join(c),
            &dir.join("crates").join(c),
            &|rel| rel != Path::new("target") && rel != Path::new(generate::DOCUMENTED_DIR),
        )?;
    }
    Ok(version)
}

/// Replaces the staged k8s-api's committed tree with the documented one, generated from the spec
/// files after checking them against `spec/versions.toml`.
fn document(spec_dir: &Path, supported: &[&VersionEntry], staging: &Path) -> Result<(), String> {
    let api = staging.join("crates/k8s-api");
    let generated = api.join(generate::COMMITTED_DIR);
    let cache = spec_fetch::workspace_root().join("spec");
    for v in supported {
        // A built version (no download URL) is usually not in a shared spec copy: its files are
        // in the workspace cache once `spec fetch` produced them; without them it is packaged
        // without descriptions rather than not at all.
        let spec_dir = if v.is_built() && !spec_dir.join(v.dir_name()).is_dir() {
            if !cache.join(v.dir_name()).join("swagger.json").is_file() {
                println!(
                    "  note: {}: no spec files in {} nor {} (a built version: `cargo xtask spec \
                     fetch --version {}` produces them); packaged without descriptions",
                    v.version,
                    spec_dir.display(),
                    cache.display(),
                    v.version
                );
                continue;
            }
            cache.as_path()
        } else {
            spec_dir
        };
        for f in v.files() {
            let path = spec_dir.join(&f.relative_path);
            match spec_fetch::is_verified(&path, &f) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(format!(
                        "{} is missing or does not match spec/versions.toml (size {}, sha256 {}); \
                         run `cargo xtask spec fetch --version {}` or package with --no-docs",
                        path.display(),
                        f.bytes,
                        f.sha256,
                        v.version
                    ));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let job = VersionJob {
            version: v.version.clone(),
            input: Input::Spec(spec_dir.join(v.dir_name()).join("swagger.json")),
        };
        let model = generate::load(&job).map_err(|e| e.to_string())?;
        let trees = generate::emit_trees(&model).map_err(|e| e.to_string())?;
        let vdir = generated.join(&trees.module);
        if generate::read_fingerprint(&vdir).as_deref() != Some(trees.fingerprint.as_str()) {
            return Err(format!(
                "the committed code of {} (crates/k8s-api/{}/{}) is not what the spec files \
                 generate; run `cargo xtask generate --all` and commit it first",
                v.version,
                generate::COMMITTED_DIR,
                trees.module
            ));
        }
        let Some(files) = trees.documented else {
            return Err(format!(
                "{}: the spec files carry no descriptions",
                v.version
            ));
        };
        std::fs::remove_dir_all(&vdir).map_err(|e| format!("{}: {e}", vdir.display()))?;
        for (rel, text) in &files {
            write(&vdir.join(rel), text.as_bytes())?;
        }
        println!("  {}: {} files with descriptions", v.version, files.len());
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Copies the regular files under `from` to `to`, skipping paths (relative to `from`) for which
/// `keep` is false.
fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<(), String> {
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let dir = from.join(&rel);
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for e in entries {
            let e = e.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let r = rel.join(e.file_name());
            if !keep(&r) {
                continue;
            }
            let ty = e
                .file_type()
                .map_err(|err| format!("{}: {err}", e.path().display()))?;
            if ty.is_dir() {
                todo.push(r);
            } else if ty.is_file() {
                let bytes = std::fs::read(e.path())
                    .map_err(|err| format!("cannot read {}: {err}", e.path().display()))?;
                write(&to.join(&r), &bytes)?;
            }
        }
    }
    Ok(())
}
