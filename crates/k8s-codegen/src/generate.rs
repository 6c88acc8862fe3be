//! The whole run: load each version (spec files, else the committed model), apply fixups, plan,
//! emit, and write the generated crate atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::emit::{self, Counts};
use crate::error::{Error, Result};
use crate::ir::ApiModel;
use crate::{fixups, load_v2, model_text, naming, plan};
#[cfg(feature = "spec")]
use crate::{load_proto, load_v3};

/// Where a version's model came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// `swagger.json` (and the v3 documents beside it, when present).
    Spec(PathBuf),
    /// The committed model (`spec/v<version>.api`): no descriptions.
    Model(PathBuf),
}

/// One version to generate.
#[derive(Clone, Debug)]
pub struct VersionJob {
    /// `1.36.0`
    pub version: String,
    /// Input.
    pub input: Input,
}

/// What a run does.
#[derive(Clone, Debug)]
pub struct Options {
    /// Versions to emit.
    pub jobs: Vec<VersionJob>,
    /// All supported versions (for the crate's feature list), newest last.
    pub supported: Vec<String>,
    /// The k8s-api crate directory.
    pub api_crate: PathBuf,
    /// Directory of the committed models (`spec/`).
    pub model_dir: PathBuf,
    /// Rewrite the committed models from spec input.
    pub write_models: bool,
}

/// The result of one version.
#[derive(Clone, Debug)]
pub struct VersionSummary {
    /// Version.
    pub version: String,
    /// Input used.
    pub input: Input,
    /// Counts.
    pub counts: Counts,
    /// Fixups and how much each changed.
    pub fixups: Vec<(&'static str, usize)>,
    /// Files written (the committed tree).
    pub files: usize,
    /// Time taken.
    pub elapsed: Duration,
    /// Whether descriptions were available (and so the documented tree was written).
    pub docs: bool,
}

/// Loads one version's model from its input, merging v3 facts when the documents are present.
pub fn load(job: &VersionJob) -> Result<ApiModel> {
    match &job.input {
        Input::Spec(swagger) => {
            let mut m = load_v2::load_file(swagger, &job.version)?;
            merge_beside(&mut m, swagger, &job.version)?;
            Ok(m)
        }
        Input::Model(path) => model_text::read_file(path),
    }
}

/// Merges the OpenAPI v3 documents (`v3/`) and the protobuf IDL (`proto/`) found beside
/// `swagger.json` into its model.
#[cfg(feature = "spec")]
fn merge_beside(m: &mut ApiModel, swagger: &Path, version: &str) -> Result<()> {
    if let Some(dir) = swagger.parent().map(|p| p.join("v3")) {
        if dir.is_dir() {
            let v3 = load_v3::load_dir(&dir, version)?;
            load_v3::merge_into(m, &v3);
        }
    }
    if let Some(dir) = swagger.parent().map(|p| p.join("proto")) {
        if dir.is_dir() {
            load_proto::merge_into(m, &dir)?;
            load_proto::merge_shapes(m, &load_proto::shapes_file(version))?;
        }
    }
    Ok(())
}

/// Without the `spec` feature the v3 documents and the IDL cannot be read: refuse them rather
/// than generate a model that silently lacks their facts.
#[cfg(not(feature = "spec"))]
fn merge_beside(_: &mut ApiModel, swagger: &Path, _: &str) -> Result<()> {
    for (sub, what) in [("v3", "OpenAPI v3 documents"), ("proto", "protobuf IDL")] {
        if let Some(dir) = swagger.parent().map(|p| p.join(sub)).filter(|d| d.is_dir()) {
            return Err(Error::Spec {
                path: dir,
                pointer: String::new(),
                message: format!(
                    "reading the {what} beside swagger.json needs k8s-codegen's feature `spec` (on by default)"
                ),
            });
        }
    }
    Ok(())
}

/// Writes `contents` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    std::fs::write(&tmp, contents).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// The committed tree of generated code, without descriptions (`crates/k8s-api/src/generated`).
pub const COMMITTED_DIR: &str = "src/generated";
/// The same code with the spec's descriptions as rustdoc (`crates/k8s-api/src/documented`,
/// gitignored): written when generating from spec files; `build.rs` compiles it instead of the
/// committed tree when its fingerprints match.
pub const DOCUMENTED_DIR: &str = "src/documented";
/// The line of a version's `mod.rs` that carries the fingerprint of its committed tree.
pub const FINGERPRINT_PREFIX: &str = "// k8s-api fingerprint: ";

/// One version's emitted trees: the committed one (facts only) and, when the model has
/// descriptions, the documented one. Both carry the committed tree's fingerprint.
#[derive(Clone, Debug)]
pub struct VersionTrees {
    /// Version module name (`v1_36`).
    pub module: String,
    /// Files of the committed tree, relative to the version directory.
    pub committed: BTreeMap<PathBuf, String>,
    /// Files of the documented tree, when descriptions were available.
    pub documented: Option<BTreeMap<PathBuf, String>>,
    /// The committed tree's fingerprint (FNV-1a 64 over paths and contents), in hex.
    pub fingerprint: String,
    /// Feature dependencies between top-level modules.
    pub feature_deps: BTreeMap<String, BTreeSet<String>>,
    /// Counts.
    pub counts: Counts,
    /// Fixups and how much each changed.
    pub fixups: Vec<(&'static str, usize)>,
}

/// Fixups, plan and emission of one model.
fn emit_model(mut model: ApiModel) -> Result<(emit::Emitted, Vec<(&'static str, usize)>)> {
    let (facts, fixup_counts) = fixups::apply_all(&mut model)?;
    let plan = plan::plan(&model, &facts)?;
    Ok((emit::emit_version(&model, &facts, &plan)?, fixup_counts))
}

/// Emits a version's trees from its model (in memory; nothing is written).
pub fn emit_trees(model: &ApiModel) -> Result<VersionTrees> {
    let docs = model.has_docs();
    let (facts_only, fixup_counts) = emit_model(model_text::without_docs(model))?;
    let fingerprint = fingerprint(&facts_only.files);
    let mut committed = facts_only.files;
    stamp(&mut committed, &fingerprint);
    let documented = if docs {
        let (mut e, _) = emit_model(model.clone())?;
        stamp(&mut e.files, &fingerprint);
        Some(e.files)
    } else {
        None
    };
    Ok(VersionTrees {
        module: naming::version_module(&model.version),
        committed,
        documented,
        fingerprint,
        feature_deps: facts_only.feature_deps,
        counts: facts_only.counts,
        fixups: fixup_counts,
    })
}

/// FNV-1a (64 bit) over each file's path and contents: stable across Rust versions and
/// platforms, which `std`'s hasher is not promised to be; collisions only need to be unlikely
/// between two generations of the same tree.
fn fingerprint(files: &BTreeMap<PathBuf, String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (p, text) in files {
        let path = p.to_string_lossy().replace('\\', "/");
        for b in path.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Puts the fingerprint line under the first line of the version's `mod.rs`.
fn stamp(files: &mut BTreeMap<PathBuf, String>, fingerprint: &str) {
    if let Some(root) = files.get_mut(Path::new("mod.rs")) {
        let at = root.find('\n').map_or(root.len(), |i| i + 1);
        root.insert_str(at, &format!("{FINGERPRINT_PREFIX}{fingerprint}\n"));
    }
}

/// Reads the fingerprint line of a generated version directory, if any.
pub fn read_fingerprint(version_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(version_dir.join("mod.rs")).ok()?;
    text.lines()
        .take(5)
        .find_map(|l| l.strip_prefix(FINGERPRINT_PREFIX))
        .map(str::to_owned)
}

/// Runs the generator: the committed tree of each version (and the documented tree when the
/// input has descriptions), the root modules, and the crate's feature table.
pub fn run(
    opts: &Options,
    mut progress: impl FnMut(&VersionSummary),
) -> Result<Vec<VersionSummary>> {
    let committed_dir = opts.api_crate.join(COMMITTED_DIR);
    let documented_dir = opts.api_crate.join(DOCUMENTED_DIR);
    let mut summaries = Vec::new();
    let mut all_deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for job in &opts.jobs {
        let start = Instant::now();
        let model = load(job)?;
        if opts.write_models && matches!(job.input, Input::Spec(_)) {
            let text = model_text::write(&model_text::without_docs(&model));
            write_atomic(
                &opts.model_dir.join(format!("v{}.api", job.version)),
                text.as_bytes(),
            )?;
        }
        let trees = emit_trees(&model)?;
        for (g, d) in &trees.feature_deps {
            all_deps
                .entry(g.clone())
                .or_default()
                .extend(d.iter().cloned());
        }
        write_tree(&committed_dir.join(&trees.module), &trees.committed)?;
        let doc_version_dir = documented_dir.join(&trees.module);
        match &trees.documented {
            Some(files) => write_tree(&doc_version_dir, files)?,
            // A documented tree of an older generation would be ignored by build.rs; remove it.
            None if doc_version_dir.exists()
                && read_fingerprint(&doc_version_dir).as_ref() != Some(&trees.fingerprint) =>
            {
                std::fs::remove_dir_all(&doc_version_dir).map_err(|source| Error::Io {
                    path: doc_version_dir.clone(),
                    source,
                })?;
            }
            None => {}
        }
        let summary = VersionSummary {
            version: job.version.clone(),
            input: job.input.clone(),
            counts: trees.counts,
            fixups: trees.fixups,
            files: trees.committed.len(),
            elapsed: start.elapsed(),
            docs: trees.documented.is_some(),
        };
        progress(&summary);
        summaries.push(summary);
    }
    write_atomic(
        &committed_dir.join("mod.rs"),
        root_module(&opts.supported, |m| {
            committed_dir.join(m).join("mod.rs").exists()
        })
        .as_bytes(),
    )?;
    if documented_dir.is_dir() {
        write_atomic(
            &documented_dir.join("mod.rs"),
            root_module(&opts.supported, |m| {
                documented_dir.join(m).join("mod.rs").exists()
            })
            .as_bytes(),
        )?;
    }
    let all: BTreeSet<&String> = opts.jobs.iter().map(|j| &j.version).collect();
    if opts.supported.iter().all(|v| all.contains(v)) {
        update_features(
            &opts.api_crate.join("Cargo.toml"),
            &features_toml(&opts.supported, &all_deps),
        )?;
    }
    Ok(summaries)
}

const BEGIN: &str = "# BEGIN GENERATED FEATURES";
const END: &str = "# END GENERATED FEATURES";

/// Replaces the generated part of the `[features]` table (between the markers) of k8s-api's
/// manifest; writes only when it changed.
pub fn update_features(manifest: &Path, table: &str) -> Result<()> {
    let text = std::fs::read_to_string(manifest).map_err(|source| Error::Io {
        path: manifest.to_owned(),
        source,
    })?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        return Err(Error::Spec {
            path: manifest.to_owned(),
            pointer: String::new(),
            message: format!("the markers `{BEGIN}` and `{END}` are missing"),
        });
    };
    let line_end = text[b..].find('\n').map_or(text.len(), |i| b + i + 1);
    let new = format!("{}{}{}", &text[..line_end], table, &text[e..]);
    if new != text {
        write_atomic(manifest, new.as_bytes())?;
    }
    Ok(())
}

/// Writes a version's tree: into a fresh sibling directory, then swapped in with renames, so a
/// failed run leaves the previous output intact, and files no longer generated (a layout change:
/// `core/v1.rs` -> `core/v1/mod.rs`) go with the old directory.
pub(crate) fn write_tree(dir: &Path, files: &BTreeMap<PathBuf, String>) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let staging = parent.join(format!(".{name}.new{}", std::process::id()));
    let old = parent.join(format!(".{name}.old{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    for (rel, text) in files {
        let p = staging.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        std::fs::write(&p, text.as_bytes()).map_err(io(&p))?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io(dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// The root `mod.rs` of a generated tree: one gated module per supported version for which
/// `present(module)` holds, and `latest`.
pub fn root_module(supported: &[String], present: impl Fn(&str) -> bool) -> String {
    let mut text = String::from("// Generated by `cargo xtask generate`. Do not edit.\n\n");
    let latest = supported.last().cloned().unwrap_or_default();
    for v in supported {
        let m = naming::version_module(v);
        if present(&m) {
            text.push_str(&format!(
                "#[cfg(feature = \"{m}\")]\n#[path = \"{m}/mod.rs\"]\npub mod {m};\n"
            ));
        }
    }
    let lm = naming::version_module(&latest);
    text.push_str(&format!(
        "\n/// The newest supported Kubernetes version ({latest}).\n#[cfg(feature = \"{lm}\")]\npub use self::{lm} as latest;\n"
    ));
    text
}

/// The `[features]` table of the k8s-api crate, from the supported versions and the group
/// dependencies found while emitting.
pub fn features_toml(supported: &[String], deps: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut s = String::new();
    let latest = supported
        .last()
        .map(|v| naming::version_module(v))
        .unwrap_or_default();
    let groups: Vec<&String> = deps.keys().collect();
    s.push_str("default = [\"latest\", \"all-groups\"]\n");
    s.push_str(&format!("latest = [\"{latest}\"]\n"));
    for v in supported {
        s.push_str(&format!("{} = []\n", naming::version_module(v)));
    }
    s.push_str(&format!(
        "all-groups = [{}]\n",
        groups
            .iter()
            .map(|g| format!("\"{g}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Apply configurations (`<group>::<version>::apply`), off by default: see `emit/apply.rs`.
    s.push_str("apply = []\n");
    // Protobuf codecs (`k8s_core::protobuf::Message` impls), off by default: see `emit/protobuf.rs`.
    s.push_str("protobuf = [\"k8s-core/protobuf\"]\n");
    for (g, d) in deps {
        s.push_str(&format!(
            "{g} = [{}]\n",
            d.iter()
                .map(|x| format!("\"{x}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<PathBuf, String> {
        list.iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect()
    }

    /// A regenerated tree replaces the old one whole: a file of the previous layout does not
    /// survive next to its replacement (`core/v1.rs` beside `core/v1/mod.rs` would not compile),
    /// and no staging directory is left behind.
    #[test]
    fn write_tree_removes_files_no_longer_generated() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v1_36");
        write_tree(&dir, &files(&[("mod.rs", "old"), ("core/v1.rs", "old")])).unwrap();
        let new = files(&[
            ("mod.rs", "new"),
            ("core/v1/mod.rs", "new"),
            ("core/v1/pod.rs", "new"),
        ]);
        write_tree(&dir, &new).unwrap();
        assert!(!dir.join("core/v1.rs").exists());
        for (rel, text) in &new {
            assert_eq!(&std::fs::read_to_string(dir.join(rel)).unwrap(), text);
        }
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("v1_36")]);
    }
}
