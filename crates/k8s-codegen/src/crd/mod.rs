//! Custom resources: CRD manifests → typed Rust through the same IR, fixups, plan and emitter
//! as the built-in kinds.
//!
//! Each served version of each CRD becomes a kind of the IR (group, version, kind, with the
//! required `metadata: k8s_core::ObjectMeta` and checked `apiVersion`/`kind`), its nested
//! objects and string enums named by path ([`schema`] has the mapping and the collision rule),
//! and the operations the API server offers for it (list/watch, create, get, replace, patch,
//! delete, delete collection, and the `status` and `scale` subresources when the CRD declares
//! them), so the emitter writes the same `impl k8s_core::Resource`/`Object` and typed
//! functions (`Widget::get(ns, name)`, `Widget::list(ns)`, `Widget::watch(ns)`,
//! `Widget::replace_status(…)`, `Widget::read_scale(…)`, …) as for `Pod`.
//!
//! # Output layout
//!
//! `DIR/mod.rs` (one `pub mod` per group), `DIR/<group>/mod.rs` (one `pub mod` per version),
//! `DIR/<group>/<version>.rs` (the types and operations), where `<group>` is the API group with
//! `.` and `-` replaced by `_` (`cert-manager.io` → `cert_manager_io`). The code depends only on
//! `k8s_core`, `serde` and `serde_json`, and refers to nothing outside its own module, so it can
//! be mounted anywhere: with `mod` (a tree written into a crate's sources) or, from a build
//! script's `OUT_DIR`, with `include!` of `DIR/all.rs`, the same modules inline in one file
//! (`#[path]` takes no macros, and `mod x;` in an included file resolves next to the includer).
//!
//! # From a build script
//!
//! ```no_run
//! // build.rs (with k8s-codegen in [build-dependencies])
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("crds");
//! println!("cargo:rerun-if-changed=crds");
//! k8s_codegen::crd::generate(&["crds".into()], &out).unwrap();
//! ```
//!
//! ```ignore
//! // src/lib.rs
//! pub mod crds {
//!     include!(concat!(env!("OUT_DIR"), "/crds/all.rs"));
//! }
//! // client.send(crds::example_com::v1::Widget::read("default", "w1")).await?
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::emit;
use crate::error::{Error, Result};
use crate::fixups;
use crate::ir::{ApiModel, DefKind, Definition, Field, Gvk, Operation, Param, ParamIn, Type};
use crate::plan;

pub mod load;
pub mod schema;
mod text;

pub use load::{CrdSource, read_paths, read_text};

/// What a run generated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrdCounts {
    /// CRDs read.
    pub crds: usize,
    /// Distinct kinds (group and kind).
    pub kinds: usize,
    /// Served versions of those kinds (each a Rust type of its own).
    pub versions: usize,
    /// Rust types emitted (kinds, nested structs, enums, scale types).
    pub types: usize,
    /// Files written.
    pub files: usize,
}

/// The generated files (paths relative to the output directory) and the counts.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CrdOutput {
    /// `mod.rs`, `<group>/mod.rs`, `<group>/<version>.rs`, and `all.rs` (everything inline).
    pub files: BTreeMap<PathBuf, String>,
    /// Counts.
    pub counts: CrdCounts,
}

/// Reads the CRDs of `inputs` (files or directories, see [`read_paths`]) and writes their types
/// to `out` (replaced whole and atomically: on any error nothing is written).
pub fn generate(inputs: &[PathBuf], out: &Path) -> Result<CrdCounts> {
    let sources = read_paths(inputs)?;
    let output = generate_sources(&sources)?;
    crate::generate::write_tree(out, &output.files)?;
    Ok(output.counts)
}

/// Writes generated files to `out`, replacing the directory whole and atomically.
pub fn write_output(out: &Path, output: &CrdOutput) -> Result<()> {
    crate::generate::write_tree(out, &output.files)
}

/// The module name of an API group: `.` and `-` replaced by `_` (`cert-manager.io` →
/// `cert_manager_io`).
pub fn group_module(group: &str) -> String {
    let mut s: String = group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Facts of one served version of a CRD.
struct KindVersion<'a> {
    src: &'a CrdSource,
    gvk: Gvk,
    /// The Rust type name: the kind with its first letter upper-cased (`postgresql` →
    /// `Postgresql`).
    ty: String,
    plural: String,
    namespaced: bool,
    status: bool,
    scale: bool,
    schema: &'a Value,
    schema_ptr: String,
    doc: Option<String>,
}

fn str_at<'a>(src: &'a CrdSource, ptr: &str) -> Result<&'a str> {
    src.crd
        .pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| src.error(ptr, "missing or not a string"))
}

fn kind_versions(src: &CrdSource) -> Result<Vec<KindVersion<'_>>> {
    let group = str_at(src, "/spec/group")?;
    let kind = str_at(src, "/spec/names/kind")?;
    let plural = str_at(src, "/spec/names/plural")?;
    let namespaced = match str_at(src, "/spec/scope")? {
        "Namespaced" => true,
        "Cluster" => false,
        other => {
            return Err(src.error("/spec/scope", format!("unknown scope {other:?}")));
        }
    };
    if !kind.starts_with(|c: char| c.is_ascii_alphabetic())
        || !kind.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(src.error(
            "/spec/names/kind",
            format!("kind {kind:?} is not a Rust type name"),
        ));
    }
    let versions = src
        .crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .ok_or_else(|| src.error("/spec/versions", "missing or not a list"))?;
    let mut out = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let at = format!("/spec/versions/{i}");
        if !v.get("served").and_then(Value::as_bool).unwrap_or(false) {
            continue;
        }
        let version = str_at(src, &format!("{at}/name"))?;
        if !version.chars().all(|c| c.is_ascii_alphanumeric())
            || !version.starts_with(|c: char| c.is_ascii_lowercase())
        {
            return Err(src.error(
                &format!("{at}/name"),
                format!("version {version:?} is not a module name"),
            ));
        }
        let schema_ptr = format!("{at}/schema/openAPIV3Schema");
        let schema = src
            .crd
            .pointer(&schema_ptr)
            .ok_or_else(|| src.error(&schema_ptr, "a served version needs a schema"))?;
        let subs = v.get("subresources");
        let doc = printer_columns(v.get("additionalPrinterColumns"));
        out.push(KindVersion {
            src,
            gvk: Gvk {
                group: group.to_owned(),
                version: version.to_owned(),
                kind: kind.to_owned(),
            },
            ty: kind[..1].to_ascii_uppercase() + &kind[1..],
            plural: plural.to_owned(),
            namespaced,
            status: subs.is_some_and(|s| s.get("status").is_some()),
            scale: subs.is_some_and(|s| s.get("scale").is_some()),
            schema,
            schema_ptr,
            doc,
        });
    }
    Ok(out)
}

fn printer_columns(cols: Option<&Value>) -> Option<String> {
    let cols = cols?.as_array()?;
    if cols.is_empty() {
        return None;
    }
    let lines: Vec<String> = cols
        .iter()
        .map(|c| {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let path = c
                .get("jsonPath")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let ty = c.get("type").and_then(Value::as_str).unwrap_or_default();
            format!("- {name} ({ty}): {path}")
        })
        .collect();
    Some(format!(
        "Printer columns (kubectl get):\n\n{}",
        lines.join("\n")
    ))
}

/// Generates the files for already-read CRDs (no I/O), emitting the group-versions on as many
/// threads as the machine offers ([`generate_sources_on`] with
/// [`std::thread::available_parallelism`]).
pub fn generate_sources(sources: &[CrdSource]) -> Result<CrdOutput> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    generate_sources_on(sources, threads)
}

/// Generates the files for already-read CRDs (no I/O), emitting the group-versions on up to
/// `threads` threads (0 counts as 1). The output does not depend on `threads`: each
/// group-version's code names nothing outside its module, so the group-versions are split into
/// independent models (balanced by the size of their definitions), each run through `fixups` →
/// `plan` → `emit` on a thread of its own, and their files merged.
pub fn generate_sources_on(sources: &[CrdSource], threads: usize) -> Result<CrdOutput> {
    let mut all = Vec::new();
    for s in sources {
        all.extend(kind_versions(s)?);
    }
    // Group-versions, and a check that no kind is defined twice.
    let mut gvs: BTreeMap<(String, String), schema::GroupVersion> = BTreeMap::new();
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    let mut kinds: BTreeSet<(String, String)> = BTreeSet::new();
    for kv in &all {
        let gm = group_module(&kv.gvk.group);
        if let Some(other) = groups.insert(gm.clone(), kv.gvk.group.clone()) {
            if other != kv.gvk.group {
                return Err(kv.src.error(
                    "/spec/group",
                    format!(
                        "groups {other} and {} share the module name {gm}",
                        kv.gvk.group
                    ),
                ));
            }
        }
        let gv = gvs
            .entry((gm.clone(), kv.gvk.version.clone()))
            .or_insert_with(|| schema::GroupVersion::new(&gm, &kv.gvk.version));
        if !gv.reserve(&kv.ty) || !gv.reserve(&format!("{}List", kv.ty)) {
            return Err(kv.src.error(
                "/spec/names/kind",
                format!(
                    "kind {} of {}/{} is defined twice (or clashes with another kind's list)",
                    kv.gvk.kind, kv.gvk.group, kv.gvk.version
                ),
            ));
        }
        kinds.insert((kv.gvk.group.clone(), kv.gvk.kind.clone()));
    }
    let mut scale_defs: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut lists: BTreeSet<String> = BTreeSet::new();
    let mut ops: BTreeMap<(String, String), Vec<Operation>> = BTreeMap::new();
    for kv in &all {
        let key = (group_module(&kv.gvk.group), kv.gvk.version.clone());
        let Some(gv) = gvs.get_mut(&key) else {
            continue;
        };
        let mut conv = schema::Converter { src: kv.src, gv };
        conv.kind_def(&kv.gvk, &kv.ty, kv.schema, &kv.schema_ptr, kv.doc.clone())?;
        let list_def = gv.def_name(&format!("{}List", kv.ty));
        let kind_def = gv.def_name(&kv.ty);
        gv.defs_insert_list(&list_def, &kind_def, &kv.gvk);
        lists.insert(list_def.clone());
        let scale = if kv.scale {
            let name = scale_defs
                .entry(key.clone())
                .or_insert_with(|| add_scale_defs(gv))
                .clone();
            Some(name)
        } else {
            None
        };
        ops.entry(key)
            .or_default()
            .extend(operations(kv, &kind_def, &list_def, scale.as_deref()));
    }
    let types = gvs
        .values()
        .flat_map(|gv| gv.defs.keys())
        .filter(|name| !lists.contains(*name))
        .count();

    // One model per chunk of group-versions, each with the `meta/v1` definitions.
    let chunks = balance(&gvs, threads.max(1));
    let mut models = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        let mut model = ApiModel {
            version: "0.0".into(),
            ..ApiModel::default()
        };
        meta_defs(&mut model);
        for key in chunk {
            if let Some(gv) = gvs.get_mut(key) {
                model.defs.append(&mut gv.defs);
            }
            model.ops.extend(ops.remove(key).unwrap_or_default());
        }
        model
            .ops
            .sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        models.push(model);
    }
    let emitted = if models.len() == 1 {
        models.iter_mut().map(emit_model).collect::<Vec<_>>()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = models
                .iter_mut()
                .map(|m| s.spawn(move || emit_model(m)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Emit {
                            module: String::new(),
                            message: "an emitting thread panicked".into(),
                        })
                    })
                })
                .collect()
        })
    };
    let mut files = BTreeMap::new();
    for e in emitted {
        // Each group-version's files come from the one model that holds it; the version and
        // group `mod.rs` files of the emitter are not used (`text` writes its own).
        files.extend(e?);
    }
    let files = text::layout_files(&files, &groups, gvs.keys())?;
    Ok(CrdOutput {
        counts: CrdCounts {
            crds: sources.len(),
            kinds: kinds.len(),
            versions: all.len(),
            types,
            files: files.len(),
        },
        files,
    })
}

/// `fixups` → `plan` → `emit` of one model: the emitted files.
fn emit_model(model: &mut ApiModel) -> Result<BTreeMap<PathBuf, String>> {
    let (mut facts, _) = fixups::apply_all(model)?;
    facts.one_file_per_module = true;
    let plan = plan::plan(model, &facts)?;
    Ok(emit::emit_version(model, &facts, &plan)?.files)
}

/// The group-versions split into at most `n` chunks of about equal work (1 + the number of
/// fields and definitions, which the emitted text grows with), each chunk in key order; no
/// empty chunks.
fn balance(
    gvs: &BTreeMap<(String, String), schema::GroupVersion>,
    n: usize,
) -> Vec<Vec<(String, String)>> {
    let mut by_weight: Vec<(usize, &(String, String))> = gvs
        .iter()
        .map(|(k, gv)| {
            // At least 1, so that group-versions without definitions spread too.
            let w = 1 + gv
                .defs
                .values()
                .map(|d| match &d.kind {
                    DefKind::Struct(f) => 1 + f.len(),
                    _ => 1,
                })
                .sum::<usize>();
            (w, k)
        })
        .collect();
    // Heaviest first, each to the lightest chunk so far.
    by_weight.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let mut chunks: Vec<(usize, Vec<(String, String)>)> =
        vec![(0, Vec::new()); n.min(gvs.len()).max(1)];
    for (w, k) in by_weight {
        if let Some(c) = chunks.iter_mut().min_by_key(|c| c.0) {
            c.0 += w;
            c.1.push(k.clone());
        }
    }
    chunks
        .into_iter()
        .filter(|c| !c.1.is_empty())
        .map(|(_, mut keys)| {
            keys.sort();
            keys
        })
        .collect()
}

impl schema::GroupVersion {
    /// The `<Kind>List` envelope, replaced by `k8s_core::List<Kind>` (fixup `generic-list`).
    fn defs_insert_list(&mut self, list_def: &str, kind_def: &str, gvk: &Gvk) {
        let field = |n: &str, ty: Type| Field {
            proto: Vec::new(),
            go_shape: None,
            json_name: n.to_owned(),
            ty,
            required: false,
            description: None,
            default: None,
            ext: BTreeMap::new(),
        };
        self.defs.insert(
            list_def.to_owned(),
            Definition {
                name: list_def.to_owned(),
                description: None,
                gvk: vec![Gvk {
                    kind: format!("{}List", gvk.kind),
                    ..gvk.clone()
                }],
                kind: DefKind::Struct(vec![
                    field("apiVersion", Type::String),
                    field(
                        "items",
                        Type::Array(Box::new(Type::Ref(kind_def.to_owned()))),
                    ),
                    field("kind", Type::String),
                    field("metadata", Type::Ref(format!("{META}.ListMeta"))),
                ]),
                ext: BTreeMap::new(),
            },
        );
    }
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

/// The `meta/v1` definitions the kinds refer to, in the shape the `special-types` fixup checks
/// before mapping them to `k8s_core` (they are not emitted).
fn meta_defs(model: &mut ApiModel) {
    for (name, field) in [
        ("ObjectMeta", "name"),
        ("ListMeta", "continue"),
        ("Status", "code"),
        ("WatchEvent", "object"),
    ] {
        let full = format!("{META}.{name}");
        model.defs.insert(
            full.clone(),
            Definition {
                name: full,
                description: None,
                gvk: Vec::new(),
                kind: DefKind::Struct(vec![Field {
                    proto: Vec::new(),
                    go_shape: None,
                    json_name: field.to_owned(),
                    ty: Type::String,
                    required: false,
                    description: None,
                    default: None,
                    ext: BTreeMap::new(),
                }]),
                ext: BTreeMap::new(),
            },
        );
    }
}

/// `autoscaling/v1` `Scale` (with its spec and status) as types of the group-version, so the
/// output needs nothing outside its module. Returns the definition name of the scale type.
fn add_scale_defs(gv: &mut schema::GroupVersion) -> String {
    let scale = gv.free_name("Scale");
    let spec = gv.free_name(&format!("{scale}Spec"));
    let status = gv.free_name(&format!("{scale}Status"));
    let f = |n: &str, ty: Type, required: bool, doc: &str| Field {
        proto: Vec::new(),
        go_shape: None,
        json_name: n.to_owned(),
        ty,
        required,
        description: Some(doc.to_owned()),
        default: None,
        ext: BTreeMap::new(),
    };
    let (scale_d, spec_d, status_d) = (
        gv.def_name(&scale),
        gv.def_name(&spec),
        gv.def_name(&status),
    );
    let def = |name: &str, doc: &str, gvk: Vec<Gvk>, fields: Vec<Field>| Definition {
        name: name.to_owned(),
        description: Some(doc.to_owned()),
        gvk,
        kind: DefKind::Struct(fields),
        ext: BTreeMap::new(),
    };
    let defs = [
        def(
            &scale_d,
            "The scale subresource of a custom resource (autoscaling/v1 Scale).",
            vec![Gvk {
                group: "autoscaling".into(),
                version: "v1".into(),
                kind: "Scale".into(),
            }],
            vec![
                f("apiVersion", Type::String, false, "autoscaling/v1"),
                f("kind", Type::String, false, "Scale"),
                f(
                    "metadata",
                    Type::Ref(format!("{META}.ObjectMeta")),
                    false,
                    "The object's metadata.",
                ),
                f(
                    "spec",
                    Type::Ref(spec_d.clone()),
                    false,
                    "The desired scale.",
                ),
                f(
                    "status",
                    Type::Ref(status_d.clone()),
                    false,
                    "The observed scale.",
                ),
            ],
        ),
        def(
            &spec_d,
            "Desired scale.",
            Vec::new(),
            vec![f(
                "replicas",
                Type::I32,
                false,
                "Desired number of replicas.",
            )],
        ),
        def(
            &status_d,
            "Observed scale.",
            Vec::new(),
            vec![
                f("replicas", Type::I32, true, "Observed number of replicas."),
                f(
                    "selector",
                    Type::String,
                    false,
                    "Label selector of the replicas, in the string form.",
                ),
            ],
        ),
    ];
    for d in defs {
        gv.defs.insert(d.name.clone(), d);
    }
    scale_d
}

const LIST_PARAMS: &[&str] = &[
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "timeoutSeconds",
    "watch",
    "allowWatchBookmarks",
    "sendInitialEvents",
];
const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];
const DELETE_PARAMS: &[&str] = &["dryRun", "gracePeriodSeconds", "propagationPolicy"];
const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

/// The operations the API server serves for one version of a custom resource, as its OpenAPI
/// document names them.
fn operations(
    kv: &KindVersion<'_>,
    kind_def: &str,
    list_def: &str,
    scale: Option<&str>,
) -> Vec<Operation> {
    let g = &kv.gvk;
    let tok = plan::gv_token(&g.group, &g.version);
    let ns = if kv.namespaced { "Namespaced" } else { "" };
    let base = format!("/apis/{}/{}", g.group, g.version);
    let coll = if kv.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", kv.plural)
    } else {
        format!("{base}/{}", kv.plural)
    };
    let watch_coll = if kv.namespaced {
        format!("{base}/watch/namespaces/{{namespace}}/{}", kv.plural)
    } else {
        format!("{base}/watch/{}", kv.plural)
    };
    let item = format!("{coll}/{{name}}");
    let kind = &kv.ty;
    let kind_ty = Type::Ref(kind_def.to_owned());
    let status_ty = Type::Ref(format!("{META}.Status"));
    let op = |id: String,
              method: &str,
              path: &str,
              action: &str,
              query: &[&str],
              body: Option<Type>,
              ok: Option<Type>,
              gvk: &Gvk| {
        let mut params: Vec<Param> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|n| Param {
                name: n.to_owned(),
                location: ParamIn::Path,
                ty: Type::String,
                required: true,
                description: None,
            })
            .collect();
        params.extend(query.iter().map(|q| Param {
            name: (*q).to_owned(),
            location: ParamIn::Query,
            ty: Type::String,
            required: false,
            description: None,
        }));
        if let Some(b) = body {
            params.push(Param {
                name: "body".into(),
                location: ParamIn::Body,
                ty: b,
                required: true,
                description: None,
            });
        }
        params.sort_by(|a, b| (a.location, &a.name).cmp(&(b.location, &b.name)));
        Operation {
            id,
            method: method.to_owned(),
            path: path.to_owned(),
            action: Some(action.to_owned()),
            gvk: Some(gvk.clone()),
            description: None,
            params,
            consumes: if method == "PATCH" {
                PATCH_TYPES.iter().map(|s| (*s).to_owned()).collect()
            } else {
                vec!["application/json".into()]
            },
            produces: vec!["application/json".into()],
            responses: vec![(200, ok)],
        }
    };
    let list_delete: Vec<&str> = LIST_PARAMS.iter().chain(DELETE_PARAMS).copied().collect();
    let mut ops = vec![
        op(
            format!("list{tok}{ns}{kind}"),
            "GET",
            &coll,
            "list",
            LIST_PARAMS,
            None,
            Some(Type::Ref(list_def.to_owned())),
            g,
        ),
        op(
            format!("watch{tok}{ns}{kind}List"),
            "GET",
            &watch_coll,
            "watchlist",
            LIST_PARAMS,
            None,
            None,
            g,
        ),
        op(
            format!("create{tok}{ns}{kind}"),
            "POST",
            &coll,
            "post",
            WRITE_PARAMS,
            Some(kind_ty.clone()),
            Some(kind_ty.clone()),
            g,
        ),
        op(
            format!("delete{tok}Collection{ns}{kind}"),
            "DELETE",
            &coll,
            "deletecollection",
            &list_delete,
            None,
            Some(status_ty.clone()),
            g,
        ),
        op(
            format!("read{tok}{ns}{kind}"),
            "GET",
            &item,
            "get",
            &[],
            None,
            Some(kind_ty.clone()),
            g,
        ),
        op(
            format!("replace{tok}{ns}{kind}"),
            "PUT",
            &item,
            "put",
            WRITE_PARAMS,
            Some(kind_ty.clone()),
            Some(kind_ty.clone()),
            g,
        ),
        op(
            format!("patch{tok}{ns}{kind}"),
            "PATCH",
            &item,
            "patch",
            PATCH_PARAMS,
            Some(Type::Any),
            Some(kind_ty.clone()),
            g,
        ),
        op(
            format!("delete{tok}{ns}{kind}"),
            "DELETE",
            &item,
            "delete",
            DELETE_PARAMS,
            None,
            Some(status_ty),
            g,
        ),
    ];
    if kv.namespaced {
        let all = format!("{base}/{}", kv.plural);
        let watch_all = format!("{base}/watch/{}", kv.plural);
        ops.push(op(
            format!("list{tok}{kind}ForAllNamespaces"),
            "GET",
            &all,
            "list",
            LIST_PARAMS,
            None,
            Some(Type::Ref(list_def.to_owned())),
            g,
        ));
        ops.push(op(
            format!("watch{tok}{kind}ListForAllNamespaces"),
            "GET",
            &watch_all,
            "watchlist",
            LIST_PARAMS,
            None,
            None,
            g,
        ));
    }
    if kv.status {
        let p = format!("{item}/status");
        ops.push(op(
            format!("read{tok}{ns}{kind}Status"),
            "GET",
            &p,
            "get",
            &[],
            None,
            Some(kind_ty.clone()),
            g,
        ));
        ops.push(op(
            format!("replace{tok}{ns}{kind}Status"),
            "PUT",
            &p,
            "put",
            WRITE_PARAMS,
            Some(kind_ty.clone()),
            Some(kind_ty.clone()),
            g,
        ));
        ops.push(op(
            format!("patch{tok}{ns}{kind}Status"),
            "PATCH",
            &p,
            "patch",
            PATCH_PARAMS,
            Some(Type::Any),
            Some(kind_ty.clone()),
            g,
        ));
    }
    if let Some(scale) = scale {
        let p = format!("{item}/scale");
        let sg = Gvk {
            group: "autoscaling".into(),
            version: "v1".into(),
            kind: "Scale".into(),
        };
        let st = Type::Ref(scale.to_owned());
        ops.push(op(
            format!("read{tok}{ns}{kind}Scale"),
            "GET",
            &p,
            "get",
            &[],
            None,
            Some(st.clone()),
            &sg,
        ));
        ops.push(op(
            format!("replace{tok}{ns}{kind}Scale"),
            "PUT",
            &p,
            "put",
            WRITE_PARAMS,
            Some(st.clone()),
            Some(st.clone()),
            &sg,
        ));
        ops.push(op(
            format!("patch{tok}{ns}{kind}Scale"),
            "PATCH",
            &p,
            "patch",
            PATCH_PARAMS,
            Some(Type::Any),
            Some(st),
            &sg,
        ));
    }
    ops
}

/// An error for CRDs read from somewhere other than a file (`--from-cluster`).
pub fn source_error(label: &str, message: impl Into<String>) -> Error {
    Error::Crd {
        path: PathBuf::from(label),
        document: None,
        pointer: String::new(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A small CRD of `group` with the served `versions`, each with a spec of one field.
    fn crd(group: &str, kind: &str, versions: &[&str]) -> String {
        let mut text = format!(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
             metadata: {{name: {p}.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  \
             names: {{kind: {kind}, plural: {p}, singular: {p}, listKind: {kind}List}}\n  versions:\n",
            p = kind.to_ascii_lowercase() + "s"
        );
        for v in versions {
            text.push_str(&format!(
                "  - name: {v}\n    served: true\n    storage: {s}\n    subresources: {{status: {{}}}}\n    \
                 schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          \
                 spec:\n            type: object\n            properties:\n              \
                 size: {{type: integer, format: int32}}\n              name: {{type: string}}\n",
                s = *v == versions[0]
            ));
        }
        text
    }

    fn sources() -> Vec<CrdSource> {
        let features = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crds/features.yaml");
        let mut out = read_paths(&[features]).unwrap();
        for (i, (g, k, vs)) in [
            ("a.example.org", "Apple", &["v1", "v2beta1"][..]),
            ("b.example.org", "Berry", &["v1alpha1"][..]),
            (
                "c-d.example.org",
                "Cherry",
                &["v1", "v1beta1", "v1alpha1"][..],
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let path = PathBuf::from(format!("crd{i}.yaml"));
            out.extend(read_text(&path, &crd(g, k, vs)).unwrap());
        }
        out
    }

    #[test]
    fn any_number_of_threads_writes_the_same_files() {
        let sources = sources();
        let one = generate_sources_on(&sources, 1).unwrap();
        assert_eq!(one.counts.versions, 7);
        assert!(
            one.files
                .contains_key(Path::new("c_d_example_org/v1beta1.rs"))
        );
        for threads in [0, 2, 3, 16] {
            let many = generate_sources_on(&sources, threads).unwrap();
            assert_eq!(many.counts, one.counts, "{threads} threads");
            assert_eq!(many.files, one.files, "{threads} threads");
        }
    }

    #[test]
    fn files_read_on_several_threads_come_in_file_order_with_the_first_error() {
        let dir = std::env::temp_dir().join(format!("k8s-codegen-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kinds = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"];
        for (i, k) in kinds.iter().enumerate() {
            std::fs::write(
                dir.join(format!("{i}.yaml")),
                crd("x.example.org", k, &["v1"]),
            )
            .unwrap();
        }
        let read = read_paths(std::slice::from_ref(&dir)).unwrap();
        let got: Vec<&str> = read
            .iter()
            .filter_map(|s| s.crd.pointer("/spec/names/kind")?.as_str())
            .collect();
        assert_eq!(got, kinds);
        // Two bad files: the error names the first.
        std::fs::write(dir.join("1.yaml"), "a: [").unwrap();
        std::fs::write(dir.join("3.yaml"), "b: [").unwrap();
        let err = read_paths(std::slice::from_ref(&dir))
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("1.yaml"), "{err}");
    }

    #[test]
    fn balance_puts_every_group_version_in_one_non_empty_chunk() {
        let mut gvs = BTreeMap::new();
        for (g, v) in [
            ("a", "v1"),
            ("a", "v2"),
            ("b", "v1"),
            ("c", "v1"),
            ("d", "v1"),
        ] {
            gvs.insert(
                (g.to_owned(), v.to_owned()),
                schema::GroupVersion::new(g, v),
            );
        }
        assert!(balance(&BTreeMap::new(), 4).is_empty());
        for n in [1, 2, 3, 5, 8] {
            let chunks = balance(&gvs, n);
            assert_eq!(chunks.len(), n.min(gvs.len()), "{n} threads");
            assert!(chunks.iter().all(|c| !c.is_empty() && c.is_sorted()));
            let mut all: Vec<_> = chunks.into_iter().flatten().collect();
            all.sort();
            assert_eq!(all, gvs.keys().cloned().collect::<Vec<_>>());
        }
    }
}
