//! `cargo xtask diff OLD NEW`: what changed in the Kubernetes API between two versions.
//!
//! Compares two versions' API models (the committed `spec/v<version>.api` files, or the spec
//! files when `K8S_SPEC_DIR` is set; descriptions are ignored either way) and reports, grouped
//! by API group:
//!
//! * API versions (`group/version` path prefixes) added or removed;
//! * kinds (group/version/kind) added or removed;
//! * definitions added or removed;
//! * fields added, removed, or changed in type or optionality (and definitions that changed
//!   shape, e.g. from an object to any JSON);
//! * operations (path + method) added, removed or changed: operation id, action, parameters
//!   (added, removed, type, required), response types, content types.
//!
//! ```text
//! cargo xtask diff 1.35.0 1.36.0                      # text, coloured on a terminal
//! cargo xtask diff 1.35.0 1.36.0 --format markdown    # markdown on stdout
//! cargo xtask diff 1.35.0 1.36.0 --out FILE           # written atomically
//! cargo xtask diff --write-docs                       # docs/api-changes/ for every adjacent pair
//! ```
//!
//! Colour is used only when stdout is a terminal and `NO_COLOR` is unset or empty.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use k8s_codegen::generate::{self, Input, VersionJob};
use k8s_codegen::ir::{ApiModel, DefKind, Field, Gvk, Operation, Param, ParamIn, Type};
use k8s_codegen::model_text;

mod cli;
mod render;

pub use cli::*;
use render::plural;
pub use render::*;

const USAGE: &str = "usage: cargo xtask diff OLD NEW [--format text|markdown] [--out FILE]
       cargo xtask diff --write-docs [--check]
  OLD, NEW      Kubernetes versions with a committed model in spec/ (1.35.0, v1.35.0 or 1.35)
  --format      text (default; coloured when stdout is a terminal and NO_COLOR is unset) or markdown
  --out FILE    write to FILE (atomically) instead of stdout; never coloured
  --write-docs  write docs/api-changes/<old>-to-<new>.md for each adjacent pair of supported
                versions and docs/api-changes/README.md, from the committed models
  --check       with --write-docs: write nothing, fail if a file differs from what it would be";

/// Directory of the checked-in changelogs, relative to the workspace root.
pub const DOCS_DIR: &str = "docs/api-changes";

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain text, optionally with ANSI colours.
    Text {
        /// Use ANSI colours.
        color: bool,
    },
    /// Markdown.
    Markdown,
}

/// Whether a line adds, removes or changes something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sign {
    /// Added (`+`).
    Added,
    /// Removed (`-`).
    Removed,
    /// Changed (`~`).
    Changed,
}

impl Sign {
    fn symbol(self) -> &'static str {
        match self {
            Sign::Added => "+",
            Sign::Removed => "-",
            Sign::Changed => "~",
        }
    }
    fn ansi(self) -> &'static str {
        match self {
            Sign::Added => "\x1b[32m",
            Sign::Removed => "\x1b[31m",
            Sign::Changed => "\x1b[33m",
        }
    }
}

/// One change inside a definition or an operation: `subject` (e.g. `field spec`) and a
/// `detail` (e.g. `string, optional` or `i32 -> i64`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Added, removed or changed.
    pub sign: Sign,
    /// What changed: `field NAME`, `query parameter NAME`, `response 200`, `kind`, ….
    pub subject: String,
    /// How: the type and optionality of an added or removed item, `old -> new` for a change.
    pub detail: String,
}

/// A definition or operation that exists in both versions and changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// The definition (short name, e.g. `apps.v1.DeploymentSpec`) or operation
    /// (`GET /apis/apps/v1/deployments`).
    pub name: String,
    /// An extra label (the operation id), possibly empty.
    pub label: String,
    /// The operation's `x-kubernetes-action` in the new version (`list`, `watch`, …), or empty.
    pub action: String,
    /// What changed, sorted.
    pub changes: Vec<Change>,
}

/// An operation added or removed: `METHOD path` and its operation id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpRef {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path template.
    pub path: String,
    /// `operationId`.
    pub id: String,
}

/// The changes of one API group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupDiff {
    /// API versions (`apps/v1`) whose paths appeared.
    pub versions_added: Vec<String>,
    /// API versions whose paths disappeared.
    pub versions_removed: Vec<String>,
    /// Kinds added, as `group/version Kind` (`v1 Pod` for core); a `…List` kind is folded
    /// into its item kind as `Kind (+List)`.
    pub kinds_added: Vec<String>,
    /// Kinds removed.
    pub kinds_removed: Vec<String>,
    /// Definitions added (short names).
    pub defs_added: Vec<String>,
    /// Definitions removed.
    pub defs_removed: Vec<String>,
    /// Definitions in both versions whose fields or shape changed.
    pub defs_changed: Vec<Changed>,
    /// Operations added.
    pub ops_added: Vec<OpRef>,
    /// Operations removed.
    pub ops_removed: Vec<OpRef>,
    /// Operations in both versions that changed.
    pub ops_changed: Vec<Changed>,
}

impl GroupDiff {
    fn is_empty(&self) -> bool {
        *self == GroupDiff::default()
    }
}

/// A change made to many operations at once (e.g. a query parameter added to every list):
/// reported once instead of on each operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommonChange {
    /// The change.
    pub change: Change,
    /// On how many operations.
    pub operations: usize,
    /// How many of them per action (`list`, `watch`, …; `other` without one).
    pub by_action: BTreeMap<String, usize>,
}

/// A change on at least this many operations is reported once, as a [`CommonChange`].
pub const COMMON_THRESHOLD: usize = 10;

/// Everything that changed between two models, by API group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiDiff {
    /// The old version.
    pub old: String,
    /// The new version.
    pub new: String,
    /// Changes made to [`COMMON_THRESHOLD`] or more operations, most frequent first; they are
    /// not repeated under the operations.
    pub common: Vec<CommonChange>,
    /// How many operations of both versions changed (counting those changed only by common
    /// changes).
    pub operations_changed: usize,
    /// Changes per group, in display order (see [`group_order`]); groups without changes are
    /// left out.
    pub groups: Vec<(String, GroupDiff)>,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// API versions added.
    pub versions_added: usize,
    /// API versions removed.
    pub versions_removed: usize,
    /// Kinds added.
    pub kinds_added: usize,
    /// Kinds removed.
    pub kinds_removed: usize,
    /// Definitions added.
    pub defs_added: usize,
    /// Definitions removed.
    pub defs_removed: usize,
    /// Definitions changed.
    pub defs_changed: usize,
    /// Fields added (in definitions of both versions).
    pub fields_added: usize,
    /// Fields removed.
    pub fields_removed: usize,
    /// Fields changed in type or optionality.
    pub fields_changed: usize,
    /// Operations added.
    pub ops_added: usize,
    /// Operations removed.
    pub ops_removed: usize,
    /// Operations changed (including those changed only by a common change).
    pub ops_changed: usize,
}

impl ApiDiff {
    /// Counts over all groups.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for (_, g) in &self.groups {
            t.versions_added += g.versions_added.len();
            t.versions_removed += g.versions_removed.len();
            t.kinds_added += g.kinds_added.len();
            t.kinds_removed += g.kinds_removed.len();
            t.defs_added += g.defs_added.len();
            t.defs_removed += g.defs_removed.len();
            t.defs_changed += g.defs_changed.len();
            for d in &g.defs_changed {
                for c in &d.changes {
                    if c.subject.starts_with("field ") {
                        match c.sign {
                            Sign::Added => t.fields_added += 1,
                            Sign::Removed => t.fields_removed += 1,
                            Sign::Changed => t.fields_changed += 1,
                        }
                    }
                }
            }
            t.ops_added += g.ops_added.len();
            t.ops_removed += g.ops_removed.len();
            t.ops_changed += g.ops_changed.len();
        }
        t.ops_changed = self.operations_changed;
        t
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing

/// Group key of the definitions of `io.k8s.apimachinery.*` (meta, runtime, quantities, …).
pub const APIMACHINERY: &str = "(apimachinery)";
/// Group key of paths outside any API group (`/apis/`, `/version/`, `/openapi/v2`, `/logs/`…).
pub const NON_GROUP: &str = "(non-group paths)";

/// The display name of a group key: `core` for the legacy group, the group name otherwise.
pub fn group_title(key: &str) -> String {
    match key {
        "" => "core (legacy group, /api/v1)".to_owned(),
        APIMACHINERY => "meta and apimachinery types".to_owned(),
        NON_GROUP => "discovery and other non-group paths".to_owned(),
        g => g.to_owned(),
    }
}

/// Sort key of a group: core first, then named groups alphabetically, then apimachinery types,
/// then non-group paths.
pub fn group_order(key: &str) -> (u8, String) {
    match key {
        "" => (0, String::new()),
        APIMACHINERY => (2, String::new()),
        NON_GROUP => (3, String::new()),
        g => (1, g.to_owned()),
    }
}

/// A definition's short name: `io.k8s.api.apps.v1.Deployment` -> `apps.v1.Deployment`.
pub fn short_def(name: &str) -> String {
    for prefix in [
        "io.k8s.api.",
        "io.k8s.apimachinery.pkg.apis.",
        "io.k8s.apiextensions-apiserver.pkg.apis.",
        "io.k8s.kube-aggregator.pkg.apis.",
        "io.k8s.apimachinery.pkg.",
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    name.to_owned()
}

/// A type in the model's syntax with short definition names (`[core.v1.Container]`).
pub fn type_name(t: &Type) -> String {
    match t {
        Type::Ref(n) => short_def(n),
        Type::Array(i) => format!("[{}]", type_name(i)),
        Type::Map(i) => format!("{{{}}}", type_name(i)),
        other => model_text::type_str(other),
    }
}

fn optionality(required: bool) -> &'static str {
    if required { "required" } else { "optional" }
}

/// The package of a definition: its name without the last segment.
fn package(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(p, _)| p)
}

/// The group of each definition package, learnt from the kinds defined in it.
fn package_groups<'a>(models: &[&'a ApiModel]) -> BTreeMap<&'a str, String> {
    let mut seen: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in models {
        for d in m.defs.values() {
            if d.name.starts_with("io.k8s.apimachinery.") {
                continue;
            }
            let groups: BTreeSet<&str> = d.gvk.iter().map(|g| g.group.as_str()).collect();
            if groups.len() == 1 {
                seen.entry(package(&d.name)).or_default().extend(groups);
            }
        }
    }
    seen.into_iter()
        .filter(|(_, g)| g.len() == 1)
        .filter_map(|(p, g)| g.into_iter().next().map(|g| (p, g.to_owned())))
        .collect()
}

/// The group key of a definition.
fn def_group(name: &str, packages: &BTreeMap<&str, String>) -> String {
    if name.starts_with("io.k8s.apimachinery.") {
        return APIMACHINERY.to_owned();
    }
    let pkg = package(name);
    if let Some(g) = packages.get(pkg) {
        return g.clone();
    }
    // A package without kinds (rare): its module name (`io.k8s.api.X.v1` -> `X`).
    let parts: Vec<&str> = pkg.split('.').collect();
    match parts.len() {
        n if n >= 2 => parts[n - 2].to_owned(),
        _ => pkg.to_owned(),
    }
}

/// The group key and `group/version` of a path: `/api/v1/pods` -> (``, `v1`),
/// `/apis/apps/v1/deployments` -> (`apps`, `apps/v1`), `/apis/apps/` -> (`apps`, none).
pub fn path_group(path: &str) -> (String, Option<String>) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["api", v, ..] => (String::new(), Some((*v).to_owned())),
        ["apis", g, v, ..] => ((*g).to_owned(), Some(format!("{g}/{v}"))),
        ["apis", g] => ((*g).to_owned(), None),
        _ => (NON_GROUP.to_owned(), None),
    }
}

fn gvk_label(g: &Gvk) -> String {
    format!("{} {}", g.api_version(), g.kind)
}

/// Kinds of a model by group: `group/version Kind`, with `…List` kinds folded into their item
/// kind when both exist.
fn kinds(m: &ApiModel) -> BTreeMap<String, BTreeSet<String>> {
    let mut all: BTreeSet<&Gvk> = BTreeSet::new();
    for d in m.defs.values() {
        if d.name.starts_with("io.k8s.apimachinery.") {
            continue;
        }
        all.extend(d.gvk.iter());
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in &all {
        let list = Gvk {
            kind: format!("{}List", g.kind),
            ..(*g).clone()
        };
        if let Some(item) = g.kind.strip_suffix("List") {
            let item = Gvk {
                kind: item.to_owned(),
                ..(*g).clone()
            };
            if all.contains(&item) {
                continue;
            }
        }
        let mut label = gvk_label(g);
        if all.contains(&list) {
            label.push_str(" (+List)");
        }
        out.entry(g.group.clone()).or_default().insert(label);
    }
    out
}

fn field_changes(old: &[Field], new: &[Field]) -> Vec<Change> {
    let o: BTreeMap<&str, &Field> = old.iter().map(|f| (f.json_name.as_str(), f)).collect();
    let n: BTreeMap<&str, &Field> = new.iter().map(|f| (f.json_name.as_str(), f)).collect();
    let mut out = Vec::new();
    for (name, f) in &n {
        match o.get(name) {
            None => out.push(Change {
                sign: Sign::Added,
                subject: format!("field {name}"),
                detail: format!("{}, {}", type_name(&f.ty), optionality(f.required)),
            }),
            Some(of) => {
                let mut parts = Vec::new();
                if of.ty != f.ty {
                    parts.push(format!("{} -> {}", type_name(&of.ty), type_name(&f.ty)));
                }
                if of.required != f.required {
                    parts.push(format!(
                        "{} -> {}",
                        optionality(of.required),
                        optionality(f.required)
                    ));
                }
                if !parts.is_empty() {
                    out.push(Change {
                        sign: Sign::Changed,
                        subject: format!("field {name}"),
                        detail: parts.join("; "),
                    });
                }
            }
        }
    }
    for (name, f) in &o {
        if !n.contains_key(name) {
            out.push(Change {
                sign: Sign::Removed,
                subject: format!("field {name}"),
                detail: format!("{}, {}", type_name(&f.ty), optionality(f.required)),
            });
        }
    }
    out.sort_by(|a, b| (&a.subject, a.sign).cmp(&(&b.subject, b.sign)));
    out
}

fn shape(k: &DefKind) -> String {
    match k {
        DefKind::Struct(_) => "object".to_owned(),
        DefKind::Opaque => "any JSON".to_owned(),
        DefKind::Scalar(t) => format!("scalar {}", type_name(t)),
        DefKind::Special(s) => format!("special {s:?}"),
        DefKind::Skipped(r) => format!("skipped ({r})"),
    }
}

fn param_subject(p: &Param) -> String {
    match p.location {
        ParamIn::Path => format!("path parameter {}", p.name),
        ParamIn::Query => format!("query parameter {}", p.name),
        ParamIn::Body => "body".to_owned(),
    }
}

fn param_changes(old: &[Param], new: &[Param]) -> Vec<Change> {
    let key = |p: &Param| (p.location, p.name.clone());
    let o: BTreeMap<_, &Param> = old.iter().map(|p| (key(p), p)).collect();
    let n: BTreeMap<_, &Param> = new.iter().map(|p| (key(p), p)).collect();
    let mut out = Vec::new();
    for (k, p) in &n {
        match o.get(k) {
            None => out.push(Change {
                sign: Sign::Added,
                subject: param_subject(p),
                detail: format!("{}, {}", type_name(&p.ty), optionality(p.required)),
            }),
            Some(op) => {
                let mut parts = Vec::new();
                if op.ty != p.ty {
                    parts.push(format!("{} -> {}", type_name(&op.ty), type_name(&p.ty)));
                }
                if op.required != p.required {
                    parts.push(format!(
                        "{} -> {}",
                        optionality(op.required),
                        optionality(p.required)
                    ));
                }
                if !parts.is_empty() {
                    out.push(Change {
                        sign: Sign::Changed,
                        subject: param_subject(p),
                        detail: parts.join("; "),
                    });
                }
            }
        }
    }
    for (k, p) in &o {
        if !n.contains_key(k) {
            out.push(Change {
                sign: Sign::Removed,
                subject: param_subject(p),
                detail: format!("{}, {}", type_name(&p.ty), optionality(p.required)),
            });
        }
    }
    out.sort_by(|a, b| (&a.subject, a.sign).cmp(&(&b.subject, b.sign)));
    out
}

fn response_type(t: &Option<Type>) -> String {
    t.as_ref().map_or_else(|| "no body".to_owned(), type_name)
}

fn list_changes(what: &str, old: &[String], new: &[String]) -> Option<Change> {
    let o: BTreeSet<&String> = old.iter().collect();
    let n: BTreeSet<&String> = new.iter().collect();
    if o == n {
        return None;
    }
    let mut parts: Vec<String> = n.difference(&o).map(|s| format!("+{s}")).collect();
    parts.extend(o.difference(&n).map(|s| format!("-{s}")));
    Some(Change {
        sign: Sign::Changed,
        subject: what.to_owned(),
        detail: parts.join(" "),
    })
}

fn op_changes(old: &Operation, new: &Operation) -> Vec<Change> {
    let mut out = Vec::new();
    if old.id != new.id {
        out.push(Change {
            sign: Sign::Changed,
            subject: "operation id".to_owned(),
            detail: format!("{} -> {}", old.id, new.id),
        });
    }
    if old.action != new.action {
        let a = |x: &Option<String>| x.clone().unwrap_or_else(|| "none".to_owned());
        out.push(Change {
            sign: Sign::Changed,
            subject: "action".to_owned(),
            detail: format!("{} -> {}", a(&old.action), a(&new.action)),
        });
    }
    if old.gvk != new.gvk {
        let g = |x: &Option<Gvk>| x.as_ref().map_or_else(|| "none".to_owned(), gvk_label);
        out.push(Change {
            sign: Sign::Changed,
            subject: "kind".to_owned(),
            detail: format!("{} -> {}", g(&old.gvk), g(&new.gvk)),
        });
    }
    out.extend(param_changes(&old.params, &new.params));
    let o: BTreeMap<u16, &Option<Type>> = old.responses.iter().map(|(c, t)| (*c, t)).collect();
    let n: BTreeMap<u16, &Option<Type>> = new.responses.iter().map(|(c, t)| (*c, t)).collect();
    for (c, t) in &n {
        match o.get(c) {
            None => out.push(Change {
                sign: Sign::Added,
                subject: format!("response {c}"),
                detail: response_type(t),
            }),
            Some(ot) if ot != t => out.push(Change {
                sign: Sign::Changed,
                subject: format!("response {c}"),
                detail: format!("{} -> {}", response_type(ot), response_type(t)),
            }),
            Some(_) => {}
        }
    }
    for (c, t) in &o {
        if !n.contains_key(c) {
            out.push(Change {
                sign: Sign::Removed,
                subject: format!("response {c}"),
                detail: response_type(t),
            });
        }
    }
    out.extend(list_changes("consumes", &old.consumes, &new.consumes));
    out.extend(list_changes("produces", &old.produces, &new.produces));
    out
}

fn op_ref(o: &Operation) -> OpRef {
    OpRef {
        method: o.method.clone(),
        path: o.path.clone(),
        id: o.id.clone(),
    }
}

/// Compares two models.
pub fn diff_models(old: &ApiModel, new: &ApiModel) -> ApiDiff {
    let mut groups: BTreeMap<String, GroupDiff> = BTreeMap::new();
    let packages = package_groups(&[old, new]);

    // API versions, from the paths.
    let versions = |m: &ApiModel| -> BTreeSet<(String, String)> {
        m.ops
            .iter()
            .filter_map(|o| {
                let (g, v) = path_group(&o.path);
                v.map(|v| (g, v))
            })
            .collect()
    };
    let (ov, nv) = (versions(old), versions(new));
    for (g, v) in nv.difference(&ov) {
        groups
            .entry(g.clone())
            .or_default()
            .versions_added
            .push(v.clone());
    }
    for (g, v) in ov.difference(&nv) {
        groups
            .entry(g.clone())
            .or_default()
            .versions_removed
            .push(v.clone());
    }

    // Kinds.
    let (ok, nk) = (kinds(old), kinds(new));
    let empty = BTreeSet::new();
    let all_groups: BTreeSet<&String> = ok.keys().chain(nk.keys()).collect();
    for g in all_groups {
        let (o, n) = (ok.get(g).unwrap_or(&empty), nk.get(g).unwrap_or(&empty));
        let added: Vec<String> = n.difference(o).cloned().collect();
        let removed: Vec<String> = o.difference(n).cloned().collect();
        if !added.is_empty() || !removed.is_empty() {
            let e = groups.entry(g.clone()).or_default();
            e.kinds_added = added;
            e.kinds_removed = removed;
        }
    }

    // Definitions.
    for (name, d) in &new.defs {
        let g = def_group(name, &packages);
        match old.defs.get(name) {
            None => groups
                .entry(g)
                .or_default()
                .defs_added
                .push(short_def(name)),
            Some(od) => {
                let mut changes = Vec::new();
                match (&od.kind, &d.kind) {
                    (DefKind::Struct(of), DefKind::Struct(nf)) => {
                        changes.extend(field_changes(of, nf));
                    }
                    (a, b) if a != b => changes.push(Change {
                        sign: Sign::Changed,
                        subject: "shape".to_owned(),
                        detail: format!("{} -> {}", shape(a), shape(b)),
                    }),
                    _ => {}
                }
                if !changes.is_empty() {
                    groups.entry(g).or_default().defs_changed.push(Changed {
                        name: short_def(name),
                        label: String::new(),
                        action: String::new(),
                        changes,
                    });
                }
            }
        }
    }
    for name in old.defs.keys() {
        if !new.defs.contains_key(name) {
            groups
                .entry(def_group(name, &packages))
                .or_default()
                .defs_removed
                .push(short_def(name));
        }
    }

    // Operations, by (path, method).
    let index = |m: &'_ ApiModel| -> BTreeMap<(String, String), Operation> {
        m.ops
            .iter()
            .map(|o| ((o.path.clone(), o.method.clone()), o.clone()))
            .collect()
    };
    let (oo, no) = (index(old), index(new));
    for (k, op) in &no {
        let g = path_group(&op.path).0;
        match oo.get(k) {
            None => groups.entry(g).or_default().ops_added.push(op_ref(op)),
            Some(prev) => {
                let changes = op_changes(prev, op);
                if !changes.is_empty() {
                    groups.entry(g).or_default().ops_changed.push(Changed {
                        name: format!("{} {}", op.method, op.path),
                        label: op.id.clone(),
                        action: op.action.clone().unwrap_or_default(),
                        changes,
                    });
                }
            }
        }
    }
    for (k, op) in &oo {
        if !no.contains_key(k) {
            groups
                .entry(path_group(&op.path).0)
                .or_default()
                .ops_removed
                .push(op_ref(op));
        }
    }

    let operations_changed = groups.values().map(|g| g.ops_changed.len()).sum();
    let common = fold_common(&mut groups);
    let mut groups: Vec<(String, GroupDiff)> =
        groups.into_iter().filter(|(_, g)| !g.is_empty()).collect();
    for (_, g) in &mut groups {
        g.versions_added.sort();
        g.versions_removed.sort();
        g.defs_added.sort();
        g.defs_removed.sort();
        g.defs_changed.sort_by(|a, b| a.name.cmp(&b.name));
        g.ops_added
            .sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        g.ops_removed
            .sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        g.ops_changed.sort_by(|a, b| a.name.cmp(&b.name));
    }
    groups.sort_by_key(|(k, _)| group_order(k));
    ApiDiff {
        old: old.version.clone(),
        new: new.version.clone(),
        common,
        operations_changed,
        groups,
    }
}

/// Takes the operation changes that occur on [`COMMON_THRESHOLD`] or more operations out of
/// the groups; operations left without changes are dropped.
fn fold_common(groups: &mut BTreeMap<String, GroupDiff>) -> Vec<CommonChange> {
    let mut seen: BTreeMap<&Change, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for g in groups.values() {
        for op in &g.ops_changed {
            for c in &op.changes {
                let e = seen.entry(c).or_default();
                e.0 += 1;
                let action = if op.action.is_empty() {
                    "other"
                } else {
                    op.action.as_str()
                };
                *e.1.entry(action.to_owned()).or_default() += 1;
            }
        }
    }
    let mut common: Vec<CommonChange> = seen
        .into_iter()
        .filter(|(_, (n, _))| *n >= COMMON_THRESHOLD)
        .map(|(c, (n, by))| CommonChange {
            change: c.clone(),
            operations: n,
            by_action: by,
        })
        .collect();
    common.sort_by(|a, b| {
        b.operations
            .cmp(&a.operations)
            .then_with(|| a.change.cmp(&b.change))
    });
    let folded: BTreeSet<Change> = common.iter().map(|c| c.change.clone()).collect();
    for g in groups.values_mut() {
        for op in &mut g.ops_changed {
            op.changes.retain(|c| !folded.contains(c));
        }
        g.ops_changed.retain(|op| !op.changes.is_empty());
    }
    common
}

/// `on 402 operations (list 120, watch 200, …)`.
fn common_where(c: &CommonChange) -> String {
    let by: Vec<String> = c
        .by_action
        .iter()
        .map(|(a, n)| format!("{a} {n}"))
        .collect();
    format!(
        "on {}: {}",
        plural(c.operations, "operation", "operations"),
        by.join(", ")
    )
}

// ---------------------------------------------------------------------------------------------
// Rendering
