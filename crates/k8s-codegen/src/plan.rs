//! Operation planning: every operation of the spec is emitted as a typed function, folded into
//! another (the deprecated `/watch/` paths and the list operation's `watch` form), or dropped
//! with a reason. The generator fails on an operation it cannot classify.
//!
//! Also derives the resource table (plural, scope, verbs, subresources per kind) from the paths.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::fixups::Facts;
use crate::ir::{ApiModel, DefKind, Operation, Param, Type};
use crate::naming;

/// The typed builder an operation returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Builder {
    /// `k8s_core::ops::GetRequest<R>`
    Get,
    /// `k8s_core::ops::ListRequest<T>`
    List,
    /// `k8s_core::ops::WatchRequest<T>` (split from the list operation)
    Watch,
    /// `k8s_core::ops::CreateRequest<R>`
    Create,
    /// `k8s_core::ops::ReplaceRequest<R>`
    Replace,
    /// `k8s_core::ops::PatchRequest<R>`
    Patch,
    /// `k8s_core::ops::DeleteRequest<R>`
    Delete,
    /// `k8s_core::ops::DeleteCollectionRequest<T>`
    DeleteCollection,
    /// A dedicated builder over `k8s_core::ops::CustomRequest<D>`.
    Custom {
        /// How the response is decoded.
        decode: CustomDecode,
        /// The operation's own query parameters.
        query: Vec<Param>,
    },
}

/// Response decoding of a custom operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomDecode {
    /// JSON of this type.
    Json(Type),
    /// Text (logs).
    Text,
    /// Needs an upgraded connection (exec, attach, portforward).
    Upgrade,
    /// Raw bytes (proxy).
    Bytes,
}

/// Where a function goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// An associated function of this definition's type.
    Kind(String),
    /// A free function of this module path (under the version module; empty for the root).
    Module(Vec<String>),
}

/// One emitted function.
#[derive(Clone, Debug)]
pub struct PlannedOp {
    /// Operation ids this function covers (the list operation also yields `watch`).
    pub op_id: String,
    /// Owner.
    pub owner: Owner,
    /// Rust function name.
    pub fn_name: String,
    /// HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Path parameters in path order.
    pub path_params: Vec<String>,
    /// Body type, if the operation takes one (create/replace: the object; patch: none here).
    pub body: Option<Type>,
    /// Response type parameter (for list/watch/deletecollection: the item type).
    pub response: Option<Type>,
    /// Builder.
    pub builder: Builder,
    /// Description.
    pub description: Option<String>,
    /// `x-kubernetes-action`
    pub action: Option<String>,
}

/// One row of the resource table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRow {
    /// Definition name of the kind.
    pub def: String,
    /// Group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural.
    pub plural: String,
    /// Namespaced?
    pub namespaced: bool,
    /// Verbs, in discovery order.
    pub verbs: Vec<String>,
    /// Subresources and the kind their endpoint takes or returns.
    pub subresources: Vec<(String, String)>,
}

/// The plan of one version.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Emitted functions.
    pub ops: Vec<PlannedOp>,
    /// Operations folded into another function, with the reason.
    pub folded: Vec<(String, String)>,
    /// Operations dropped, with the reason.
    pub dropped: Vec<(String, String)>,
    /// Query parameters deliberately not offered, with the reason.
    pub dropped_params: BTreeMap<&'static str, &'static str>,
    /// Resource table.
    pub resources: Vec<ResourceRow>,
}

const LIST_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "shardSelector",
    "timeoutSeconds",
    "watch",
];
const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];
const DELETE_PARAMS: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
];

/// Parameters no builder offers, and why.
pub const DROPPED_PARAMS: &[(&str, &str)] = &[
    ("pretty", "output formatting only; clients decode JSON"),
    (
        "watch",
        "the list operation's watch form is its own function (`watch`), typed as a stream of WatchEvent<T>",
    ),
    (
        "allowWatchBookmarks",
        "offered on `watch` only; ignored by the server for a plain list",
    ),
    (
        "sendInitialEvents",
        "offered on `watch` only; ignored by the server for a plain list",
    ),
    (
        "orphanDependents",
        "deprecated by the server in favour of propagationPolicy, which is offered",
    ),
    (
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "unsafe deletion of corrupt objects can break a cluster; send it with a raw Request if you must",
    ),
];

/// Splits a path template after its group-version prefix.
struct PathParts {
    group: String,
    version: String,
    namespaced: bool,
    plural: Option<String>,
    subresource: Option<String>,
    deprecated_watch: bool,
}

fn parse_path(path: &str) -> Option<PathParts> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => (String::new(), (*v).to_owned(), rest),
        ["apis", g, v, rest @ ..] => ((*g).to_owned(), (*v).to_owned(), rest),
        _ => return None,
    };
    let (deprecated_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        r => (false, r),
    };
    let (namespaced, rest) = match rest {
        ["namespaces", "{namespace}", rest @ ..] if !rest.is_empty() => (true, rest),
        r => (false, r),
    };
    let plural = rest.first().map(|s| (*s).to_owned());
    let named = rest.get(1).is_some_and(|s| *s == "{name}");
    let subresource = if named {
        rest.get(2).map(|s| (*s).to_owned())
    } else {
        None
    };
    Some(PathParts {
        group,
        version,
        namespaced,
        plural,
        subresource,
        deprecated_watch,
    })
}

/// `rbac.authorization.k8s.io` + `v1` -> `RbacAuthorizationV1` (as operation ids spell it).
pub(crate) fn gv_token(group: &str, version: &str) -> String {
    let g = if group.is_empty() {
        "core".to_owned()
    } else {
        group.trim_end_matches(".k8s.io").replace('.', " ")
    };
    let mut s: String = g
        .split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect();
    let mut v = version.chars();
    if let Some(f) = v.next() {
        s.push(f.to_ascii_uppercase());
        s.push_str(v.as_str());
    }
    s
}

fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

fn subset(params: &BTreeSet<&str>, allowed: &[&str]) -> bool {
    params.iter().all(|p| allowed.contains(p))
}

/// Plans every operation of the model.
pub fn plan(model: &ApiModel, facts: &Facts) -> Result<Plan> {
    let mut p = Plan {
        dropped_params: DROPPED_PARAMS.iter().copied().collect(),
        ..Plan::default()
    };
    let unaccounted = |op: &Operation, message: String| Error::Unaccounted {
        version: model.version.clone(),
        what: format!("operation {} ({} {})", op.id, op.method, op.path),
        message,
    };
    // Definition of each GVK with a struct definition.
    let mut def_by_gvk: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for d in model.defs.values() {
        if matches!(d.kind, DefKind::Struct(_)) {
            for g in &d.gvk {
                def_by_gvk
                    .entry((g.group.clone(), g.version.clone(), g.kind.clone()))
                    .or_insert_with(|| d.name.clone());
            }
        }
    }
    // Owner kind of each (group, version, plural), from the main-resource operations.
    let mut owner: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for op in &model.ops {
        let Some(pp) = parse_path(&op.path) else {
            continue;
        };
        let (Some(plural), None, Some(g)) = (&pp.plural, &pp.subresource, &op.gvk) else {
            continue;
        };
        if pp.deprecated_watch {
            continue;
        }
        if let Some(def) = def_by_gvk.get(&(g.group.clone(), g.version.clone(), g.kind.clone())) {
            owner
                .entry((pp.group.clone(), pp.version.clone(), plural.clone()))
                .or_insert_with(|| def.clone());
        }
    }

    // Collections with watch operations: the `watch` verb (a list operation's `watch`
    // parameter alone does not make a resource watchable, e.g. componentstatuses).
    let watchable: BTreeSet<(String, String, String)> = model
        .ops
        .iter()
        .filter(|op| matches!(op.action.as_deref(), Some("watch" | "watchlist")))
        .filter_map(|op| parse_path(&op.path))
        .filter_map(|pp| pp.plural.map(|pl| (pp.group, pp.version, pl)))
        .collect();
    let mut rows: BTreeMap<String, ResourceRow> = BTreeMap::new();
    let mut names_seen: BTreeSet<(Owner, String)> = BTreeSet::new();

    for op in &model.ops {
        let action = op.action.as_deref();
        let pp = parse_path(&op.path);
        if matches!(action, Some("watch" | "watchlist")) {
            let reason = if pp.as_ref().is_some_and(|p| p.deprecated_watch) {
                "deprecated /watch/ path: folded into `watch` (watch=1 on the list path; one object through fieldSelector=metadata.name=…)"
            } else {
                "folded into `watch`"
            };
            p.folded.push((op.id.clone(), reason.to_owned()));
            continue;
        }
        let query: BTreeSet<&str> = op
            .query_params()
            .map(|q| q.name.as_str())
            .filter(|n| *n != "pretty")
            .collect();

        // Owner and function name.
        let (own, kind_name) = match &pp {
            Some(pp) if pp.plural.is_some() => {
                let plural = pp.plural.clone().unwrap_or_default();
                match owner.get(&(pp.group.clone(), pp.version.clone(), plural)) {
                    Some(def) => {
                        let kind = naming::def_location(def).map(|l| l.1).unwrap_or_default();
                        (Owner::Kind(def.clone()), kind)
                    }
                    None => return Err(unaccounted(op, "no kind owns this path".into())),
                }
            }
            Some(pp) => {
                // Discovery of a group version: a free function of that module.
                let module = group_module(model, &pp.group, &pp.version);
                (Owner::Module(module), String::new())
            }
            None => {
                let g = op.path.trim_matches('/').split('/').nth(1).unwrap_or("");
                let module = if op.path.starts_with("/apis/") && !g.is_empty() {
                    group_module(model, g, "").into_iter().take(1).collect()
                } else {
                    Vec::new()
                };
                (Owner::Module(module), String::new())
            }
        };
        let fn_name = function_name(op, pp.as_ref(), &kind_name);

        // Builder and types.
        let ok = op.ok_type().cloned();
        let list_item = |t: &Option<Type>| -> Option<Type> {
            match t {
                Some(Type::Ref(r)) => facts.list_items.get(r).map(|i| Type::Ref(i.clone())),
                _ => None,
            }
        };
        let is_connect = action == Some("connect");
        let is_log = op.produces.iter().any(|c| c == "text/plain") && ok == Some(Type::String);
        let (builder, response, body) = if is_connect {
            let upgrade = pp
                .as_ref()
                .and_then(|p| p.subresource.as_deref())
                .is_some_and(|s| matches!(s, "exec" | "attach" | "portforward"));
            let decode = if upgrade {
                CustomDecode::Upgrade
            } else {
                CustomDecode::Bytes
            };
            (custom(op, decode), None, None)
        } else if is_log {
            (custom(op, CustomDecode::Text), None, None)
        } else {
            match (action, op.method.as_str()) {
                (Some("get"), "GET") | (None, "GET") if subset(&query, &[]) && ok.is_some() => {
                    (Builder::Get, ok.clone(), None)
                }
                (Some("list"), "GET") if subset(&query, LIST_PARAMS) => {
                    let item = list_item(&ok)
                        .ok_or_else(|| unaccounted(op, "list response is not a *List".into()))?;
                    (Builder::List, Some(item), None)
                }
                (Some("post"), "POST") if subset(&query, WRITE_PARAMS) => {
                    // The server answers a Pod's `eviction` and `binding` with a `Status`
                    // (`Success`, 201), not with the object the spec names; decoded as the
                    // object, the kind check would (rightly) refuse it.
                    let answers_status = pp
                        .as_ref()
                        .and_then(|p| p.subresource.as_deref())
                        .is_some_and(|s| matches!(s, "eviction" | "binding"));
                    let response = if answers_status {
                        Some(Type::Ref(
                            "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into(),
                        ))
                    } else {
                        ok.clone()
                    };
                    (Builder::Create, response, op.body().map(|b| b.ty.clone()))
                }
                (Some("put"), "PUT") if subset(&query, WRITE_PARAMS) => (
                    Builder::Replace,
                    ok.clone(),
                    op.body().map(|b| b.ty.clone()),
                ),
                (Some("patch"), "PATCH") if subset(&query, PATCH_PARAMS) => {
                    (Builder::Patch, ok.clone(), None)
                }
                (Some("delete"), "DELETE") if subset(&query, DELETE_PARAMS) => {
                    // The spec types many deletes as answering `Status`, but the server answers
                    // with the object while finalizers or a grace period run (and `Status` only
                    // when it is gone at once): decode as the owning kind, which
                    // `DeleteResponse` tells apart from a `Status` by its `kind`.
                    let status = Type::Ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status".into());
                    let response = match (&own, &ok) {
                        (Owner::Kind(d), Some(t)) if *t == status => Some(Type::Ref(d.clone())),
                        _ => ok.clone(),
                    };
                    (Builder::Delete, response, None)
                }
                (Some("deletecollection"), "DELETE") => {
                    let all: Vec<&str> = LIST_PARAMS.iter().chain(DELETE_PARAMS).copied().collect();
                    if !subset(&query, &all) {
                        return Err(unaccounted(
                            op,
                            "unexpected deletecollection parameters".into(),
                        ));
                    }
                    let item = match &own {
                        Owner::Kind(d) => Type::Ref(d.clone()),
                        Owner::Module(_) => {
                            return Err(unaccounted(op, "deletecollection without a kind".into()));
                        }
                    };
                    (Builder::DeleteCollection, Some(item), None)
                }
                (_, "GET" | "POST" | "PUT" | "PATCH" | "DELETE") => {
                    // No response schema (e.g. /logs/): the body is whatever the server sends.
                    let decode = match &ok {
                        Some(t) => CustomDecode::Json(t.clone()),
                        None => CustomDecode::Bytes,
                    };
                    (
                        custom(op, decode),
                        ok.clone(),
                        op.body().map(|b| b.ty.clone()),
                    )
                }
                _ => return Err(unaccounted(op, format!("unsupported action {action:?}"))),
            }
        };
        if !names_seen.insert((own.clone(), fn_name.clone())) {
            return Err(unaccounted(
                op,
                format!("function name {fn_name} is taken twice on {own:?}"),
            ));
        }
        // Discovery documents are served without the trailing slash the spec writes (`/api/`,
        // `/apis/batch/v1/`); client-go and kubectl request them without it. `/logs/` is a
        // directory listing and keeps it.
        let path = if matches!(own, Owner::Module(_))
            && op.path.len() > 1
            && !op.path.starts_with("/logs")
        {
            op.path.trim_end_matches('/').to_owned()
        } else {
            op.path.clone()
        };
        let planned = PlannedOp {
            op_id: op.id.clone(),
            owner: own.clone(),
            fn_name: fn_name.clone(),
            method: op.method.clone(),
            path,
            path_params: path_params(&op.path),
            body,
            response: response.clone(),
            builder: builder.clone(),
            description: op.description.clone(),
            action: op.action.clone(),
        };
        if builder == Builder::List {
            let mut w = planned.clone();
            w.fn_name = fn_name.replacen("list", "watch", 1);
            w.builder = Builder::Watch;
            w.description = Some(format!(
                "watch changes to {} (the list operation's watch form)",
                kind_name
            ));
            names_seen.insert((own.clone(), w.fn_name.clone()));
            p.ops.push(planned);
            p.ops.push(w);
        } else {
            p.ops.push(planned);
        }

        // Resource table.
        if let (Owner::Kind(def), Some(pp)) = (&own, &pp) {
            let Some(g) = model.defs.get(def).and_then(|d| d.gvk.first()) else {
                continue;
            };
            let row = rows.entry(def.clone()).or_insert_with(|| ResourceRow {
                def: def.clone(),
                group: g.group.clone(),
                version: g.version.clone(),
                kind: g.kind.clone(),
                plural: pp.plural.clone().unwrap_or_default(),
                namespaced: false,
                verbs: Vec::new(),
                subresources: Vec::new(),
            });
            match &pp.subresource {
                None => {
                    let all_ns = op.id.ends_with("ForAllNamespaces");
                    if pp.namespaced {
                        row.namespaced = true;
                    }
                    let verb = match action {
                        Some("get") => Some("get"),
                        Some("list") if !all_ns => Some("list"),
                        Some("post") => Some("create"),
                        Some("put") => Some("update"),
                        Some("patch") => Some("patch"),
                        Some("delete") => Some("delete"),
                        Some("deletecollection") => Some("deletecollection"),
                        _ => None,
                    };
                    if let Some(v) = verb {
                        push_unique(&mut row.verbs, v);
                        if v == "list"
                            && watchable.contains(&(
                                pp.group.clone(),
                                pp.version.clone(),
                                row.plural.clone(),
                            ))
                        {
                            push_unique(&mut row.verbs, "watch");
                        }
                    }
                }
                Some(sub) => {
                    // The operation's own GVK names the subresource's kind as discovery does
                    // (`PodExecOptions` for pods/exec, `Scale` for deployments/scale); else the
                    // body or response type.
                    let kind = op
                        .gvk
                        .as_ref()
                        .map(|g| g.kind.clone())
                        .or_else(|| {
                            op.body()
                                .map(|b| &b.ty)
                                .or(ok.as_ref())
                                .and_then(|t| match t {
                                    Type::Ref(r) => model.defs.get(r).and_then(|d| d.gvk.first()),
                                    _ => None,
                                })
                                .map(|g| g.kind.clone())
                        })
                        .unwrap_or_default();
                    if !row.subresources.iter().any(|(s, _)| s == sub) {
                        row.subresources.push((sub.clone(), kind));
                    }
                }
            }
        }
    }
    // Discovery order of verbs.
    const ORDER: &[&str] = &[
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];
    for row in rows.values_mut() {
        row.verbs.sort_by_key(|v| ORDER.iter().position(|o| o == v));
        row.subresources.sort();
    }
    p.resources = rows
        .into_values()
        .filter(|r| !r.plural.is_empty())
        .collect();
    p.resources
        .sort_by(|a, b| (&a.group, &a.version, &a.plural).cmp(&(&b.group, &b.version, &b.plural)));
    Ok(p)
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

fn custom(op: &Operation, decode: CustomDecode) -> Builder {
    Builder::Custom {
        decode,
        query: op
            .query_params()
            .filter(|q| q.name != "pretty")
            .cloned()
            .collect(),
    }
}

/// Module path of a group (and version, when given) under the version module, from the
/// definitions that live there; falls back to the group's first label.
fn group_module(model: &ApiModel, group: &str, version: &str) -> Vec<String> {
    let top = model
        .defs
        .values()
        .find(|d| {
            d.gvk
                .iter()
                .any(|g| g.group == group && !d.name.contains("apimachinery"))
        })
        .and_then(|d| naming::def_location(&d.name))
        .and_then(|(m, _)| m.first().cloned())
        .unwrap_or_else(|| {
            if group.is_empty() {
                "core".to_owned()
            } else {
                naming::snake(group.split('.').next().unwrap_or(group))
            }
        });
    if version.is_empty() {
        vec![top]
    } else {
        vec![top, naming::snake(version)]
    }
}

/// `readCoreV1NamespacedPodLog` on Pod -> `read_log`; `listCoreV1PodForAllNamespaces` ->
/// `list_all_namespaces`; `deleteCoreV1CollectionNamespacedPod` -> `delete_collection`;
/// `connectCoreV1GetNamespacedPodExec` -> `connect_get_exec`; free functions keep their id
/// without the group-version (`getCoreV1APIResources` -> `get_api_resources`).
fn function_name(op: &Operation, pp: Option<&PathParts>, kind: &str) -> String {
    let id = op.id.as_str();
    let verb_len = id
        .find(|c: char| c.is_ascii_uppercase())
        .unwrap_or(id.len());
    let (verb, mut rest) = id.split_at(verb_len);
    if let Some(pp) = pp {
        let token = gv_token(&pp.group, &pp.version);
        rest = rest.strip_prefix(token.as_str()).unwrap_or(rest);
    }
    let mut verb = verb.to_owned();
    if let Some(r) = rest.strip_prefix("Collection") {
        verb.push_str("Collection");
        rest = r;
    }
    if verb == "connect" {
        for m in ["Get", "Post", "Put", "Patch", "Delete", "Head", "Options"] {
            if let Some(r) = rest.strip_prefix(m) {
                verb.push_str(m);
                rest = r;
                break;
            }
        }
    }
    rest = rest.strip_prefix("Namespaced").unwrap_or(rest);
    if !kind.is_empty() {
        rest = rest.strip_prefix(kind).unwrap_or(rest);
    }
    let rest = rest.replace("ForAllNamespaces", "AllNamespaces");
    let name = format!("{verb}{rest}");
    naming::snake(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gv_tokens() {
        assert_eq!(gv_token("", "v1"), "CoreV1");
        assert_eq!(
            gv_token("rbac.authorization.k8s.io", "v1"),
            "RbacAuthorizationV1"
        );
        assert_eq!(gv_token("apps", "v1"), "AppsV1");
        assert_eq!(
            gv_token("flowcontrol.apiserver.k8s.io", "v1beta3"),
            "FlowcontrolApiserverV1beta3"
        );
    }
}
