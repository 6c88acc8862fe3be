//! The whole run: load each version (spec files, else the committed model), apply fixups, plan,
//! emit, and write the generated crate atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::emit::{self, Counts};
use crate::error::{Error, Result};
use crate::ir::ApiModel;
use crate::{fixups, load_v2, load_v3, model_text, naming, plan};

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
    /// Top-level modules to emit (`core`, `apps`, …); empty: all.
    pub groups: BTreeSet<String>,
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
    /// Files written.
    pub files: usize,
    /// Time taken.
    pub elapsed: Duration,
    /// Whether descriptions were available.
    pub docs: bool,
}

/// Loads one version's model from its input, merging v3 facts when the documents are present.
pub fn load(job: &VersionJob) -> Result<ApiModel> {
    match &job.input {
        Input::Spec(swagger) => {
            let mut m = load_v2::load_file(swagger, &job.version)?;
            if let Some(dir) = swagger.parent().map(|p| p.join("v3")) {
                if dir.is_dir() {
                    let v3 = load_v3::load_dir(&dir, &job.version)?;
                    load_v3::merge_into(&mut m, &v3);
                }
            }
            Ok(m)
        }
        Input::Model(path) => model_text::read_file(path),
    }
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

/// Runs the generator.
pub fn run(
    opts: &Options,
    mut progress: impl FnMut(&VersionSummary),
) -> Result<Vec<VersionSummary>> {
    let generated = opts.api_crate.join("src/generated");
    std::fs::create_dir_all(&generated).map_err(|source| Error::Io {
        path: generated.clone(),
        source,
    })?;
    let mut summaries = Vec::new();
    let mut all_deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for job in &opts.jobs {
        let start = Instant::now();
        let mut model = load(job)?;
        if opts.write_models && matches!(job.input, Input::Spec(_)) {
            let text = model_text::write(&model_text::without_docs(&model));
            write_atomic(
                &opts.model_dir.join(format!("v{}.api", job.version)),
                text.as_bytes(),
            )?;
        }
        let docs = model.has_docs();
        let (facts, fixup_counts) = fixups::apply_all(&mut model)?;
        let plan = plan::plan(&model, &facts)?;
        let emitted = emit::emit_version(&model, &facts, &plan)?;
        for (g, d) in &emitted.feature_deps {
            all_deps
                .entry(g.clone())
                .or_default()
                .extend(d.iter().cloned());
        }
        let vmod = naming::version_module(&job.version);
        let files: BTreeMap<&PathBuf, &String> = emitted
            .files
            .iter()
            .filter(|(p, _)| {
                opts.groups.is_empty()
                    || p.components().count() == 1 && *p == Path::new("mod.rs")
                    || p.iter()
                        .next()
                        .and_then(|c| c.to_str())
                        .map(|c| c.trim_end_matches(".rs"))
                        .is_some_and(|c| opts.groups.contains(c) || naming::feature_of(c).is_none())
            })
            .collect();
        // With `--groups`, the version module declares only the groups written.
        let root = emitted
            .files
            .get(Path::new("mod.rs"))
            .map(|t| keep_groups(t, &opts.groups));
        let mut files: BTreeMap<&PathBuf, &String> = files;
        let root_path = PathBuf::from("mod.rs");
        if let Some(r) = &root {
            files.insert(&root_path, r);
        }
        write_tree(&generated.join(&vmod), &files)?;
        let summary = VersionSummary {
            version: job.version.clone(),
            input: job.input.clone(),
            counts: emitted.counts,
            fixups: fixup_counts,
            files: files.len(),
            elapsed: start.elapsed(),
            docs,
        };
        progress(&summary);
        summaries.push(summary);
    }
    write_root(opts, &generated)?;
    let all: BTreeSet<&String> = opts.jobs.iter().map(|j| &j.version).collect();
    if opts.supported.iter().all(|v| all.contains(v)) && opts.groups.is_empty() {
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

/// Removes the declarations of feature-gated group modules not in `groups` (all kept when it is
/// empty) from a version's `mod.rs`: a doc line, `#[cfg(feature = "g")]`, `pub mod g;`.
fn keep_groups(root: &str, groups: &BTreeSet<String>) -> String {
    if groups.is_empty() {
        return root.to_owned();
    }
    let lines: Vec<&str> = root.lines().collect();
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let gated = lines.get(i + 1).and_then(|l| {
            l.strip_prefix("#[cfg(feature = \"")
                .and_then(|r| r.strip_suffix("\")]"))
        });
        let decl = lines.get(i + 2).is_some_and(|l| l.starts_with("pub mod "));
        match gated {
            Some(g) if decl && lines[i].starts_with("///") && !groups.contains(g) => i += 3,
            _ => {
                out.push(lines[i]);
                i += 1;
            }
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Writes a version's tree: into a fresh sibling directory, then swapped in with renames, so a
/// failed run leaves the previous output intact.
fn write_tree(dir: &Path, files: &BTreeMap<&PathBuf, &String>) -> Result<()> {
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

/// `src/generated/mod.rs`: one gated module per version present on disk, and `latest`.
fn write_root(opts: &Options, generated: &Path) -> Result<()> {
    let mut text = String::from("// Generated by `cargo xtask generate`. Do not edit.\n\n");
    let latest = opts.supported.last().cloned().unwrap_or_default();
    for v in &opts.supported {
        let m = naming::version_module(v);
        if generated.join(&m).join("mod.rs").exists() {
            text.push_str(&format!(
                "#[cfg(feature = \"{m}\")]\n#[path = \"{m}/mod.rs\"]\npub mod {m};\n"
            ));
        }
    }
    let lm = naming::version_module(&latest);
    text.push_str(&format!(
        "\n/// The newest supported Kubernetes version ({latest}).\n#[cfg(feature = \"{lm}\")]\npub use self::{lm} as latest;\n"
    ));
    write_atomic(&generated.join("mod.rs"), text.as_bytes())
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
    use super::*;

    #[test]
    fn keep_groups_drops_only_unselected_gated_groups() {
        let root = "//! The Kubernetes 1.36.0 API.\n/// The `apps` API group.\n#[cfg(feature = \"apps\")]\npub mod apps;\n/// The `core` API group.\n#[cfg(feature = \"core\")]\npub mod core;\n/// Object metadata.\npub mod meta;\npub const RESOURCES: &[u8] = &[];\n";
        let core: BTreeSet<String> = ["core".to_owned()].into();
        let kept = keep_groups(root, &core);
        assert!(!kept.contains("pub mod apps;"), "{kept}");
        assert!(
            kept.contains("#[cfg(feature = \"core\")]\npub mod core;"),
            "{kept}"
        );
        assert!(
            kept.contains("pub mod meta;") && kept.contains("RESOURCES"),
            "{kept}"
        );
        assert_eq!(keep_groups(root, &BTreeSet::new()), root);
    }
}
