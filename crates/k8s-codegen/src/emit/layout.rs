//! Stage 1 of emission: where everything goes, decided as data before any Rust is written.
//!
//! For every definition: its module (`core::v1`, from its name). For every module: its file,
//! its definitions with their operations, free functions, child modules, the names it defines
//! and those it imports from where, and which part file each definition is written in. For every
//! operation: the name of its request type (custom operations) and the features that gate it.
//!
//! **Part files of a group-version** (see [`parts`]): a module with definitions is a directory
//! (`core/v1/mod.rs`) whose definitions are written in part files that `mod.rs` pulls in with
//! `include!`: the items stay items of the module itself (paths, `std::any::type_name`,
//! rustdoc and compile work are those of one module), and the module's `use` lines are in
//! `mod.rs`. Each kind (a definition with a group-version-kind) gets a part named after it
//! (`core/v1/pod.rs`), holding its operations and the types only it reaches; a type reached
//! from several kinds (or from none) gets a part named after it, holding the types only it
//! reaches. Precisely: a type goes with its dominator just below the kinds, in the graph of
//! references inside the module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::namer::Ctx;
use super::operations::{custom_struct_name, op_features};
use crate::error::{Error, Result};
use crate::ir::{DefKind, Definition, Special};
use crate::naming::{def_location, snake};
use crate::plan::{Builder, Owner, Plan, PlannedOp};

/// Where a definition is defined.
#[derive(Debug, Clone)]
pub(super) struct Home {
    /// Module path under the version module (`["core", "v1"]`).
    pub(super) module: Vec<String>,
    /// Rust type name.
    pub(super) name: String,
}

/// The layout of one version.
pub(super) struct Layout<'a> {
    /// Kubernetes version (for errors).
    pub(super) version: &'a str,
    /// Every emitted definition, by definition name.
    pub(super) homes: BTreeMap<String, Home>,
    /// The file of every module, in module path order.
    pub(super) files: Vec<FilePlan<'a>>,
}

/// The file of one module, with its part files.
pub(super) struct FilePlan<'a> {
    /// Path relative to the version directory.
    pub(super) path: PathBuf,
    /// Module path.
    pub(super) module: Vec<String>,
    /// Definitions written in this file, each with its operations (associated functions).
    pub(super) defs: Vec<DefPlan<'a>>,
    /// Part files holding the module's other definitions, pulled in with `include!`.
    pub(super) parts: Vec<Part<'a>>,
    /// Free functions of the module.
    pub(super) fns: Vec<OpPlan<'a>>,
    /// Public child modules.
    pub(super) children: Vec<Vec<String>>,
    /// Names the module defines.
    pub(super) locals: BTreeSet<String>,
    /// Names the module imports, by the module they come from.
    pub(super) imports: BTreeMap<Vec<String>, BTreeSet<String>>,
}

/// A part file of a module.
pub(super) struct Part<'a> {
    /// File name (`pod.rs`), beside the module's `mod.rs`.
    pub(super) file: String,
    /// Path relative to the version directory.
    pub(super) path: PathBuf,
    /// Rust name of the type it is named after.
    pub(super) named_after: String,
    /// Definitions, each with its operations.
    pub(super) defs: Vec<DefPlan<'a>>,
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

impl<'a> FilePlan<'a> {
    /// Every definition of the module: the file's own, then the parts'.
    pub(super) fn all_defs(&self) -> impl Iterator<Item = &DefPlan<'a>> {
        self.defs
            .iter()
            .chain(self.parts.iter().flat_map(|p| &p.defs))
    }

    /// Whether `name` is a type name in the module's scope (defined or imported).
    pub(super) fn in_scope(&self, name: &str) -> bool {
        self.locals.contains(name) || self.imports.values().any(|s| s.contains(name))
    }

    /// Whether the module names a definition by its bare name.
    pub(super) fn sees_bare(&self, home: &Home) -> bool {
        home.module == self.module
            || self
                .imports
                .get(&home.module)
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

/// Definitions and operations by module: the input of the layout.
struct Contents<'a> {
    /// Every module path, with its ancestors.
    modules: BTreeSet<Vec<String>>,
    /// Emitted definitions by module.
    defs: BTreeMap<Vec<String>, Vec<&'a Definition>>,
    /// Free functions by module.
    fns: BTreeMap<Vec<String>, Vec<&'a PlannedOp>>,
    /// Associated functions by kind (definition name).
    kind_ops: BTreeMap<&'a str, Vec<&'a PlannedOp>>,
}

fn contents<'a>(ctx: &Ctx<'a>, plan: &'a Plan) -> Result<Contents<'a>> {
    let mut defs: BTreeMap<Vec<String>, Vec<&'a Definition>> = BTreeMap::new();
    for d in ctx.model.defs.values() {
        match &d.kind {
            DefKind::Special(s) if *s != Special::SchemaUnion => continue,
            DefKind::Skipped(_) => continue,
            _ => {}
        }
        let (m, _) = def_location(&d.name)
            .ok_or_else(|| unaccounted(ctx, &d.name, "no module for this definition name"))?;
        defs.entry(m).or_default().push(d);
    }
    let mut fns: BTreeMap<Vec<String>, Vec<&'a PlannedOp>> = BTreeMap::new();
    let mut kind_ops: BTreeMap<&'a str, Vec<&'a PlannedOp>> = BTreeMap::new();
    for op in &plan.ops {
        match &op.owner {
            Owner::Kind(def) => kind_ops.entry(def.as_str()).or_default().push(op),
            Owner::Module(m) => fns.entry(m.clone()).or_default().push(op),
        }
    }
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    modules.insert(Vec::new());
    for m in defs.keys().chain(fns.keys()) {
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
    Ok(Contents {
        modules,
        defs,
        fns,
        kind_ops,
    })
}

/// Lays out one version: the files of every module, then the home of every definition, then
/// each file's names and imports.
pub(super) fn layout<'a>(ctx: &Ctx<'a>, plan: &'a Plan) -> Result<Layout<'a>> {
    let contents = contents(ctx, plan)?;
    let mut files = Vec::new();
    for module in &contents.modules {
        files.push(module_file(ctx, &contents, module)?);
    }
    let mut homes = BTreeMap::new();
    for f in &files {
        for d in f.all_defs() {
            let (_, name) = def_location(&d.def.name).unwrap_or_default();
            let home = Home {
                module: f.module.clone(),
                name,
            };
            homes.insert(d.def.name.clone(), home);
        }
    }
    for f in &mut files {
        f.locals = defined_names(f);
        f.imports = imports(ctx, &homes, f);
    }
    Ok(Layout {
        version: &ctx.model.version,
        homes,
        files,
    })
}

/// The file of one module (`mod.rs` or `<module>.rs`), with its part files when split.
fn module_file<'a>(
    ctx: &Ctx<'_>,
    contents: &Contents<'a>,
    module: &[String],
) -> Result<FilePlan<'a>> {
    let op_plan = |owner: Option<&Definition>, op: &'a PlannedOp| OpPlan {
        op,
        custom: matches!(op.builder, Builder::Custom { .. }).then(|| custom_struct_name(owner, op)),
        features: op_features(ctx, op, module),
    };
    let def_plan = |d: &'a Definition| DefPlan {
        def: d,
        ops: contents
            .kind_ops
            .get(d.name.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|op| op_plan(Some(d), op))
            .collect(),
    };
    let defs = contents.defs.get(module).map(Vec::as_slice).unwrap_or(&[]);
    let children: Vec<Vec<String>> = contents
        .modules
        .iter()
        .filter(|c| c.len() == module.len() + 1 && c.starts_with(module))
        .cloned()
        .collect();
    let split = split_into_files(defs, &children) && !ctx.facts.one_file_per_module;
    let dir = module.join("/");
    let path = if module.is_empty() {
        PathBuf::from("mod.rs")
    } else if children.is_empty() && !split {
        PathBuf::from(format!("{dir}.rs"))
    } else {
        PathBuf::from(format!("{dir}/mod.rs"))
    };
    let mut file = FilePlan {
        path,
        module: module.to_vec(),
        defs: Vec::new(),
        parts: Vec::new(),
        fns: contents
            .fns
            .get(module)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|op| op_plan(None, op))
            .collect(),
        children,
        locals: BTreeSet::new(),
        imports: BTreeMap::new(),
    };
    if !split {
        file.defs = defs.iter().map(|&d| def_plan(d)).collect();
        return Ok(file);
    }
    for (root, members) in parts(ctx, defs)? {
        let (_, root) = def_location(&root).unwrap_or_default();
        let name = format!("{}.rs", snake(&root));
        if name == "mod.rs" || file.parts.iter().any(|p| p.file == name) {
            return Err(unaccounted(
                ctx,
                &format!("{dir}/{name}"),
                "two files of a module get the same name",
            ));
        }
        file.parts.push(Part {
            path: PathBuf::from(format!("{dir}/{name}")),
            file: name,
            named_after: root,
            defs: members.into_iter().map(&def_plan).collect(),
        });
    }
    file.parts.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(file)
}

/// The type names a module defines: its definitions and request structs.
fn defined_names(f: &FilePlan<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in f.all_defs() {
        out.insert(def_location(&d.def.name).unwrap_or_default().1);
    }
    for op in f.all_defs().flat_map(|d| &d.ops).chain(&f.fns) {
        out.extend(op.custom.clone());
    }
    out
}

/// What a module imports: definitions of other modules whose name is unambiguous and not one of
/// the module's own.
fn imports(
    ctx: &Ctx<'_>,
    homes: &BTreeMap<String, Home>,
    f: &FilePlan<'_>,
) -> BTreeMap<Vec<String>, BTreeSet<String>> {
    let mut referenced = BTreeSet::new();
    for d in f.all_defs() {
        referenced.extend(def_refs(ctx, d.def));
        for op in &d.ops {
            op_refs(ctx, op.op, &f.module, &mut referenced);
        }
    }
    for op in &f.fns {
        op_refs(ctx, op.op, &f.module, &mut referenced);
    }
    let mut by_name: BTreeMap<&str, BTreeSet<&Vec<String>>> = BTreeMap::new();
    for h in referenced.iter().filter_map(|r| homes.get(r)) {
        if h.module != f.module {
            by_name.entry(&h.name).or_default().insert(&h.module);
        }
    }
    let mut out: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for (name, ms) in by_name {
        if ms.len() != 1 || f.locals.contains(name) {
            continue;
        }
        if let Some(m) = ms.into_iter().next() {
            out.entry(m.clone()).or_default().insert(name.to_owned());
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
