//! Stage 1 of emission: where everything goes, decided as data before any Rust is written.
//!
//! For every definition: its public module (`core::v1`, from its name) and the file of that
//! module it is written in. For every file: its definitions with their operations, free functions,
//! child modules, the names it defines, and the names it imports from where. For every
//! operation: the name of its request type (custom operations) and the features that gate it.
//!
//! **Files of a group-version** (see [`parts`]): a module with definitions is a directory whose
//! `mod.rs` re-exports everything, so public paths do not depend on files. Each kind (a definition
//! with a group-version-kind) gets a file of its own, named after it (`core/v1/pod.rs`), holding
//! its operations and the types only it reaches; a type reached from several kinds (or from none)
//! gets a file of its own named after it, holding the types only it reaches. Precisely: a type
//! goes with its dominator just below the kinds, in the graph of references inside the module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::namer::Ctx;
use super::operations::{custom_struct_name, op_features};
use crate::error::{Error, Result};
use crate::ir::{DefKind, Definition, Special};
use crate::naming::{def_location, snake};
use crate::plan::{Builder, Owner, Plan, PlannedOp};

/// Where a definition is written.
#[derive(Debug, Clone)]
pub(super) struct Home {
    /// Public module path under the version module (`["core", "v1"]`).
    pub(super) module: Vec<String>,
    /// The private file module inside `module` (`pod`); `None` for the module's own file.
    pub(super) file: Option<String>,
    /// Rust type name.
    pub(super) name: String,
}

/// The layout of one version.
pub(super) struct Layout<'a> {
    /// Kubernetes version (for errors).
    pub(super) version: &'a str,
    /// Every emitted definition, by definition name.
    pub(super) homes: BTreeMap<String, Home>,
    /// Every file, in path order of modules.
    pub(super) files: Vec<FilePlan<'a>>,
}

/// Where a name is imported from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Source {
    /// Another module of the version (`crate::v1_36::meta::v1`).
    Module(Vec<String>),
    /// Another file of the same module (`super`).
    Sibling,
}

/// One emitted file.
pub(super) struct FilePlan<'a> {
    /// Path relative to the version directory.
    pub(super) path: PathBuf,
    /// Public module path.
    pub(super) module: Vec<String>,
    /// The private file module (`Some("pod")` for `core/v1/pod.rs`); `None` for a module's own
    /// file.
    pub(super) file: Option<String>,
    /// The definition this file is named after (part files only).
    pub(super) named_after: Option<String>,
    /// Definitions, each with its operations (associated functions).
    pub(super) defs: Vec<DefPlan<'a>>,
    /// Free functions of the module.
    pub(super) fns: Vec<OpPlan<'a>>,
    /// Public child modules.
    pub(super) children: Vec<Vec<String>>,
    /// Private file modules of this module and the names each re-exports.
    pub(super) parts: Vec<Part>,
    /// Names the file defines or re-exports.
    pub(super) locals: BTreeSet<String>,
    /// Names the file imports, by source.
    pub(super) imports: BTreeMap<Source, BTreeSet<String>>,
}

/// A private file module of a split module, and its public names.
pub(super) struct Part {
    /// Module name (`pod`).
    pub(super) name: String,
    /// Re-exported names, each with the features that gate it (empty: always).
    pub(super) exports: Vec<(String, Vec<String>)>,
}

/// A definition and its operations.
pub(super) struct DefPlan<'a> {
    pub(super) def: &'a Definition,
    pub(super) ops: Vec<OpPlan<'a>>,
}

/// An operation as emitted: its request type, when it has one of its own, and its gate.
pub(super) struct OpPlan<'a> {
    pub(super) op: &'a PlannedOp,
    /// Name of the request struct of a custom operation.
    pub(super) custom: Option<String>,
    /// Features of other groups whose types it names: the function is gated by them.
    pub(super) features: Vec<String>,
}

impl FilePlan<'_> {
    /// Whether `name` is a type name in the file's scope (defined, re-exported or imported).
    pub(super) fn in_scope(&self, name: &str) -> bool {
        self.locals.contains(name) || self.imports.values().any(|s| s.contains(name))
    }

    /// Whether the file names a definition by its bare name.
    pub(super) fn sees_bare(&self, home: &Home) -> bool {
        let source = if home.module == self.module {
            if self.file.is_none() || home.file == self.file {
                return true;
            }
            Source::Sibling
        } else {
            Source::Module(home.module.clone())
        };
        self.imports
            .get(&source)
            .is_some_and(|s| s.contains(&home.name))
    }
}

/// Definitions a definition refers to, inside the model (struct fields, aliases, and the schema
/// a schema union wraps).
pub(super) fn def_refs(ctx: &Ctx<'_>, d: &Definition) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match &d.kind {
        DefKind::Struct(fields) => {
            for f in fields {
                ctx.refs(&f.ty, &mut out);
            }
        }
        DefKind::Special(Special::SchemaUnion) => {
            out.insert(union_schema(d));
        }
        _ => {}
    }
    out
}

/// The definition a schema union wraps: `JSONSchemaProps` of the same module.
pub(super) fn union_schema(union: &Definition) -> String {
    match union.name.rsplit_once('.') {
        Some((prefix, _)) => format!("{prefix}.JSONSchemaProps"),
        None => union.name.clone(),
    }
}

fn unaccounted(ctx: &Ctx<'_>, what: &str, message: &str) -> Error {
    Error::Unaccounted {
        version: ctx.model.version.clone(),
        what: what.to_owned(),
        message: message.to_owned(),
    }
}

/// Whether a module's definitions are split into files of their own (see [`parts`]): every
/// module with definitions and no child module.
fn split_into_files(defs: &[&Definition], children: &[Vec<String>]) -> bool {
    !defs.is_empty() && children.is_empty()
}

/// Lays out one version.
pub(super) fn layout<'a>(ctx: &Ctx<'a>, plan: &'a Plan) -> Result<Layout<'a>> {
    // Module contents: definitions and operations per module path.
    let mut mod_defs: BTreeMap<Vec<String>, Vec<&'a Definition>> = BTreeMap::new();
    for d in ctx.model.defs.values() {
        match &d.kind {
            DefKind::Special(s) if *s != Special::SchemaUnion => continue,
            DefKind::Skipped(_) => continue,
            _ => {}
        }
        let (m, _) = def_location(&d.name)
            .ok_or_else(|| unaccounted(ctx, &d.name, "no module for this definition name"))?;
        mod_defs.entry(m).or_default().push(d);
    }
    let mut mod_ops: BTreeMap<Vec<String>, Vec<&'a PlannedOp>> = BTreeMap::new();
    let mut kind_ops: BTreeMap<&str, Vec<&'a PlannedOp>> = BTreeMap::new();
    for op in &plan.ops {
        match &op.owner {
            Owner::Kind(def) => kind_ops.entry(def.as_str()).or_default().push(op),
            Owner::Module(m) => mod_ops.entry(m.clone()).or_default().push(op),
        }
    }

    // All module paths, with their ancestors.
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    modules.insert(Vec::new());
    for m in mod_defs.keys().chain(mod_ops.keys()) {
        for i in 0..=m.len() {
            modules.insert(m[..i].to_vec());
        }
    }
    // Kind ops live in the kind's module.
    for def in kind_ops.keys() {
        if let Some((m, _)) = def_location(def) {
            if !modules.contains(&m) {
                return Err(unaccounted(
                    ctx,
                    def,
                    "operations on a kind that is not emitted",
                ));
            }
        }
    }

    let op_plan = |owner: Option<&Definition>, op: &'a PlannedOp, module: &[String]| OpPlan {
        op,
        custom: matches!(op.builder, Builder::Custom { .. }).then(|| custom_struct_name(owner, op)),
        features: op_features(ctx, op, module),
    };

    // Files of each module, and the home of each definition.
    let mut homes = BTreeMap::new();
    let mut files = Vec::new();
    for module in &modules {
        let defs = mod_defs.get(module).map(Vec::as_slice).unwrap_or(&[]);
        let children: Vec<Vec<String>> = modules
            .iter()
            .filter(|c| c.len() == module.len() + 1 && c.starts_with(module))
            .cloned()
            .collect();
        let def_plan = |d: &'a Definition| DefPlan {
            def: d,
            ops: kind_ops
                .get(d.name.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|op| op_plan(Some(d), op, module))
                .collect(),
        };
        let fns: Vec<OpPlan<'a>> = mod_ops
            .get(module)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|op| op_plan(None, op, module))
            .collect();
        let split = split_into_files(defs, &children);
        let own_path = if module.is_empty() {
            PathBuf::from("mod.rs")
        } else if children.is_empty() && !split {
            PathBuf::from(format!("{}.rs", module.join("/")))
        } else {
            PathBuf::from(format!("{}/mod.rs", module.join("/")))
        };
        let mut own = FilePlan {
            path: own_path,
            module: module.clone(),
            file: None,
            named_after: None,
            defs: Vec::new(),
            fns,
            children,
            parts: Vec::new(),
            locals: BTreeSet::new(),
            imports: BTreeMap::new(),
        };
        let mut part_files = Vec::new();
        if split {
            let mut named: Vec<(String, String, Vec<&'a Definition>)> = parts(ctx, defs)?
                .into_iter()
                .map(|(root, members)| (part_name(&root), root, members))
                .collect();
            named.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, root, members) in named {
                let file = FilePlan {
                    path: PathBuf::from(format!("{}/{name}.rs", module.join("/"))),
                    module: module.clone(),
                    file: Some(name.clone()),
                    named_after: Some(root),
                    defs: members.into_iter().map(&def_plan).collect(),
                    fns: Vec::new(),
                    children: Vec::new(),
                    parts: Vec::new(),
                    locals: BTreeSet::new(),
                    imports: BTreeMap::new(),
                };
                if own.parts.iter().any(|p| p.name == name) {
                    return Err(unaccounted(
                        ctx,
                        &format!("{}::{name}", module.join("::")),
                        "two files of a module get the same name",
                    ));
                }
                own.parts.push(Part {
                    name,
                    exports: exports(&file),
                });
                part_files.push(file);
            }
        } else {
            own.defs = defs.iter().map(|&d| def_plan(d)).collect();
        }
        for f in std::iter::once(&own).chain(&part_files) {
            for d in &f.defs {
                let (_, name) = def_location(&d.def.name).unwrap_or_default();
                homes.insert(
                    d.def.name.clone(),
                    Home {
                        module: module.clone(),
                        file: f.file.clone(),
                        name,
                    },
                );
            }
        }
        files.push(own);
        files.extend(part_files);
    }

    for f in &mut files {
        f.locals = exports(f).into_iter().map(|(n, _)| n).collect();
        f.locals.extend(
            f.parts
                .iter()
                .flat_map(|p| p.exports.iter().map(|(n, _)| n.clone())),
        );
        f.imports = imports(ctx, &homes, f);
    }
    Ok(Layout {
        version: &ctx.model.version,
        homes,
        files,
    })
}

/// The public names a file defines, each with the features that gate it.
fn exports(f: &FilePlan<'_>) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for d in &f.defs {
        out.push((def_location(&d.def.name).unwrap_or_default().1, Vec::new()));
    }
    for op in f.defs.iter().flat_map(|d| &d.ops).chain(&f.fns) {
        if let Some(c) = &op.custom {
            out.push((c.clone(), op.features.clone()));
        }
    }
    out
}

/// What a file imports: definitions of sibling files it names (from `super`), and definitions of
/// other modules whose name is unambiguous and not one of the file's own.
fn imports(
    ctx: &Ctx<'_>,
    homes: &BTreeMap<String, Home>,
    f: &FilePlan<'_>,
) -> BTreeMap<Source, BTreeSet<String>> {
    let mut referenced = BTreeSet::new();
    for d in &f.defs {
        referenced.extend(def_refs(ctx, d.def));
        for op in &d.ops {
            op_refs(ctx, op.op, &f.module, &mut referenced);
        }
    }
    for op in &f.fns {
        op_refs(ctx, op.op, &f.module, &mut referenced);
    }
    let mut out: BTreeMap<Source, BTreeSet<String>> = BTreeMap::new();
    let mut by_name: BTreeMap<&str, BTreeSet<&Vec<String>>> = BTreeMap::new();
    for h in referenced.iter().filter_map(|r| homes.get(r)) {
        if h.module == f.module {
            if f.file.is_some() && h.file != f.file {
                out.entry(Source::Sibling)
                    .or_default()
                    .insert(h.name.clone());
            }
        } else {
            by_name.entry(&h.name).or_default().insert(&h.module);
        }
    }
    let siblings = out.get(&Source::Sibling).cloned().unwrap_or_default();
    for (name, ms) in by_name {
        if ms.len() != 1 || f.locals.contains(name) || siblings.contains(name) {
            continue;
        }
        if let Some(m) = ms.into_iter().next() {
            out.entry(Source::Module(m.clone()))
                .or_default()
                .insert(name.to_owned());
        }
    }
    out
}

/// References of an operation that may be imported: not those in another feature-gated group
/// (the function is gated and names them by path, so no import goes unused).
fn op_refs(ctx: &Ctx<'_>, op: &PlannedOp, module: &[String], out: &mut BTreeSet<String>) {
    let mut refs = BTreeSet::new();
    for t in op.body.iter().chain(op.response.iter()) {
        ctx.refs(t, &mut refs);
    }
    for r in refs {
        let top = def_location(&r).and_then(|(m, _)| m.first().cloned());
        let foreign = top.as_deref().is_some_and(|t| {
            Some(t) != module.first().map(String::as_str) && crate::naming::feature_of(t).is_some()
        });
        if !foreign {
            out.insert(r);
        }
    }
}

/// The file module name of a part named after a definition: its snake-case name, with `_` added
/// when that would shadow a crate the generated code names (`http`, `serde`, …).
fn part_name(def: &str) -> String {
    let mut s = snake(&def_location(def).unwrap_or_default().1);
    if matches!(
        s.as_str(),
        "std" | "core" | "alloc" | "serde" | "serde_json" | "http" | "k8s_core"
    ) {
        s.push('_');
    }
    s
}

/// Splits a module's definitions into files: each file is named after a root and holds the
/// definitions it dominates. Roots are the kinds, and the definitions whose immediate
/// dominator is the (virtual) entry: those reached from several roots or from none.
fn parts<'a>(
    ctx: &Ctx<'_>,
    defs: &[&'a Definition],
) -> Result<BTreeMap<String, Vec<&'a Definition>>> {
    let index: BTreeMap<&str, usize> = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect();
    let n = defs.len();
    // Edges inside the module; node `n` is the entry.
    let succ: Vec<BTreeSet<usize>> = defs
        .iter()
        .map(|d| {
            def_refs(ctx, d)
                .iter()
                .filter_map(|r| index.get(r.as_str()).copied())
                .collect()
        })
        .collect();
    let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (i, s) in succ.iter().enumerate() {
        for &j in s {
            if j != i {
                preds[j].insert(i);
            }
        }
    }
    // Entries: the kinds, then definitions nothing reaches (in name order, one at a time, so a
    // cycle unreached from the kinds gets a single entry).
    let mut entries: BTreeSet<usize> = (0..n).filter(|&i| !defs[i].gvk.is_empty()).collect();
    loop {
        let reached = reach(&succ, &entries);
        let unreached: Vec<usize> = (0..n).filter(|i| !reached.contains(i)).collect();
        let Some(&first) = unreached
            .iter()
            .find(|&&i| preds[i].iter().all(|p| reached.contains(p)))
            .or(unreached.first())
        else {
            break;
        };
        entries.insert(first);
    }
    for &e in &entries {
        preds[e].insert(n);
    }
    // Dominator sets, iterated to the fixpoint.
    let all: BTreeSet<usize> = (0..=n).collect();
    let mut dom: Vec<BTreeSet<usize>> = vec![all; n + 1];
    dom[n] = BTreeSet::from([n]);
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..n {
            let mut d = preds[i]
                .iter()
                .map(|&p| dom[p].clone())
                .reduce(|a, b| a.intersection(&b).copied().collect())
                .unwrap_or_default();
            d.insert(i);
            if d != dom[i] {
                dom[i] = d;
                changed = true;
            }
        }
    }
    let mut out: BTreeMap<String, Vec<&'a Definition>> = BTreeMap::new();
    for (i, d) in defs.iter().enumerate() {
        let root = dom[i]
            .iter()
            .copied()
            .find(|&r| r != n && dom[r].len() == 2)
            .ok_or_else(|| unaccounted(ctx, &d.name, "no file for this definition"))?;
        out.entry(defs[root].name.clone()).or_default().push(d);
    }
    Ok(out)
}

/// Nodes reachable from `from`.
fn reach(succ: &[BTreeSet<usize>], from: &BTreeSet<usize>) -> BTreeSet<usize> {
    let mut seen = from.clone();
    let mut todo: Vec<usize> = from.iter().copied().collect();
    while let Some(i) = todo.pop() {
        for &j in &succ[i] {
            if seen.insert(j) {
                todo.push(j);
            }
        }
    }
    seen
}
