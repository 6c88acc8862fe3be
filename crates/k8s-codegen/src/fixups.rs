//! Fixups: named, documented patches of the IR, each with its reason. They run in order after
//! loading and before planning; together with the emitter's rules they account for every
//! definition (emitted, mapped to a special type, or skipped with a reason).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::ir::{ApiModel, DefKind, Definition, Special, Type};

/// One fixup: a name, why it exists, and the patch.
pub struct Fixup {
    /// Short name, used in logs and ARCHITECTURE.md.
    pub name: &'static str,
    /// Why the spec needs patching here.
    pub reason: &'static str,
    apply: fn(&mut ApiModel, &mut Facts) -> Result<usize>,
}

/// What fixups found that emission needs beyond the IR.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// `*List` definition -> the item type of the generic `List<T>` that replaces it.
    pub list_items: BTreeMap<String, String>,
    /// (definition, field) pairs that must be boxed to break a recursion.
    pub boxed: BTreeSet<(String, String)>,
    /// Definitions whose `apiVersion` and `kind` fields come from their single GVK.
    pub gvk_typed: BTreeSet<String>,
    /// (definition, field) pairs whose required value the server may send as `null` or leave out:
    /// deserialized as the default.
    pub null_tolerant: BTreeSet<(String, String)>,
    /// Every module in one file (no part files): custom resources, whose group-versions are
    /// written as one `<version>.rs` each.
    pub one_file_per_module: bool,
}

/// Special types by definition name. Each is checked against the shape the spec gives it, so an
/// upstream change fails the generator instead of silently mismatching.
const SPECIALS: &[(&str, Special, &str)] = &[
    (
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        Special::Quantity,
        "scalar string",
    ),
    (
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        Special::IntOrString,
        "scalar int-or-string",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        Special::Time,
        "scalar date-time",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
        Special::MicroTime,
        "scalar date-time",
    ),
    (
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        Special::JsonValue,
        "opaque",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        Special::FieldsV1,
        "opaque",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        Special::JsonValue,
        "opaque",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        Special::JsonValue,
        "opaque",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1beta1.JSON",
        Special::JsonValue,
        "opaque",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        Special::Status,
        "struct apiVersion code details kind message metadata reason status",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails",
        Special::StatusDetails,
        "struct causes group kind name retryAfterSeconds uid",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.StatusCause",
        Special::StatusCause,
        "struct field message reason",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
        Special::ListMeta,
        "struct continue remainingItemCount resourceVersion selfLink shardInfo",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        Special::ObjectMeta,
        "struct annotations creationTimestamp deletionGracePeriodSeconds deletionTimestamp \
         finalizers generateName generation labels managedFields name namespace ownerReferences \
         resourceVersion selfLink uid",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
        Special::OwnerReference,
        "struct apiVersion blockOwnerDeletion controller kind name uid",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry",
        Special::ManagedFieldsEntry,
        "struct apiVersion fieldsType fieldsV1 manager operation subresource time",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
        Special::WatchEvent,
        "struct object type",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        Special::SchemaUnion,
        "opaque",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        Special::SchemaUnion,
        "opaque",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
        Special::SchemaUnion,
        "opaque",
    ),
];

/// All fixups, in the order they run.
pub const FIXUPS: &[Fixup] = &[
    Fixup {
        name: "special-types",
        reason: "Quantity, IntOrString, Time, MicroTime, RawExtension/JSON/FieldsV1/Patch, Status, \
                 ListMeta, ObjectMeta (with OwnerReference and ManagedFieldsEntry: one type for \
                 every version, custom resource and dynamic object, so generic code reads one \
                 metadata type) and WatchEvent have wire formats or genericity the schema cannot express \
                 (a quantity grammar, int-or-string, second vs microsecond timestamps, arbitrary \
                 JSON, FieldsV1 kept as compact JSON text); they map to hand-written types in \
                 k8s-core, after checking their shape",
        apply: special_types,
    },
    Fixup {
        name: "generic-list",
        reason: "every `*List` definition is the same envelope (apiVersion, items, kind, metadata); \
                 one generic k8s_core::List<T> replaces them all and shrinks the generated code",
        apply: generic_list,
    },
    Fixup {
        name: "gvk-api-version-kind",
        reason: "apiVersion and kind of a kind with one group-version-kind are constants: they are \
                 written from the type's Resource facts, not stored in each value (except the discovery kinds in LOOSE_GVK, which \
                 the server sends without them in places)",
        apply: gvk_typed,
    },
    Fixup {
        name: "recursion-boxing",
        reason: "JSONSchemaProps (and any other self-referencing definition) would have infinite \
                 size; fields on a reference cycle are boxed",
        apply: recursion_boxing,
    },
    Fixup {
        name: "required-metadata",
        reason: "every object the server stores has metadata, and users write `pod.metadata.name` \
                 as with k8s-openapi and kube: the `metadata` field of a kind with a \
                 group-version-kind is a required `k8s_core::ObjectMeta` (an absent or null \
                 `metadata` reads as empty metadata, and empty metadata is not written)",
        apply: required_metadata,
    },
    Fixup {
        name: "zero-time-optional",
        reason: "a required Time or MicroTime field is a non-pointer metav1.Time in Go, whose zero \
                 value the server writes as null (events.k8s.io/v1 Event.eventTime of every event \
                 created through core/v1); decoded as a default it would be the Unix epoch and be \
                 written back as 1970-01-01, so these fields are optional: null stays null",
        apply: zero_time_optional,
    },
    Fixup {
        name: "null-tolerant-required",
        reason: "the server sends some required fields as null or leaves them out (e.g. \
                 ContainerImage.names, empty lists); the remaining required fields (strings, \
                 numbers, booleans, lists, maps, objects, Quantity, IntOrString, raw JSON: types \
                 whose Default is what Go's zero value means) deserialize null/absent as their \
                 default instead of failing the whole response",
        apply: null_tolerant,
    },
];

/// Runs every fixup; returns the facts and per-fixup change counts.
pub fn apply_all(model: &mut ApiModel) -> Result<(Facts, Vec<(&'static str, usize)>)> {
    let mut facts = Facts::default();
    let mut counts = Vec::new();
    for f in FIXUPS {
        let n = (f.apply)(model, &mut facts)?;
        counts.push((f.name, n));
    }
    Ok((facts, counts))
}

fn shape_of(d: &Definition) -> String {
    match &d.kind {
        DefKind::Struct(fields) => {
            let mut s = "struct".to_owned();
            for f in fields {
                s.push(' ');
                s.push_str(&f.json_name);
            }
            s
        }
        DefKind::Opaque => "opaque".into(),
        DefKind::Scalar(t) => format!("scalar {}", crate::model_text::type_str(t)),
        DefKind::Special(s) => format!("special {s:?}"),
        DefKind::Skipped(r) => format!("skipped {r}"),
    }
}

fn unaccounted(model: &ApiModel, what: &str, message: String) -> Error {
    Error::Unaccounted {
        version: model.version.clone(),
        what: what.to_owned(),
        message,
    }
}

fn special_types(model: &mut ApiModel, _: &mut Facts) -> Result<usize> {
    let mut n = 0;
    for (name, special, shape) in SPECIALS {
        let Some(d) = model.defs.get(*name) else {
            continue;
        };
        let actual = shape_of(d);
        // Struct specials: every field the spec has must be modelled by the hand-written type.
        let ok = if let Some(expected) = shape.strip_prefix("struct ") {
            let expected: BTreeSet<&str> = expected.split(' ').collect();
            actual
                .strip_prefix("struct ")
                .is_some_and(|a| a.split(' ').all(|f| expected.contains(f)))
        } else {
            actual == *shape
        };
        if !ok {
            return Err(unaccounted(
                model,
                name,
                format!(
                    "special type {special:?} expects shape `{shape}`, the spec has `{actual}`"
                ),
            ));
        }
        if let Some(d) = model.defs.get_mut(*name) {
            d.kind = DefKind::Special(*special);
            n += 1;
        }
    }
    Ok(n)
}

fn generic_list(model: &mut ApiModel, facts: &mut Facts) -> Result<usize> {
    let mut lists = Vec::new();
    for d in model.defs.values() {
        let DefKind::Struct(fields) = &d.kind else {
            continue;
        };
        let is_list_kind = d.gvk.len() == 1 && d.gvk[0].kind.ends_with("List");
        if !is_list_kind {
            continue;
        }
        let names: BTreeSet<&str> = fields.iter().map(|f| f.json_name.as_str()).collect();
        let envelope: BTreeSet<&str> = ["apiVersion", "items", "kind", "metadata"].into();
        let items = fields.iter().find(|f| f.json_name == "items");
        let item = match items.map(|f| &f.ty) {
            Some(Type::Array(t)) => match t.as_ref() {
                Type::Ref(r) => Some(r.clone()),
                _ => None,
            },
            _ => None,
        };
        let meta_ok = fields.iter().any(|f| {
            f.json_name == "metadata"
                && f.ty == Type::Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta".into())
        });
        match item {
            Some(item) if names == envelope && meta_ok => lists.push((d.name.clone(), item)),
            // APIGroupList, APIResourceList, …: ordinary kinds whose name ends in List.
            _ => {}
        }
    }
    let n = lists.len();
    for (list, item) in lists {
        if let Some(d) = model.defs.get_mut(&list) {
            d.kind = DefKind::Skipped(format!("replaced by k8s_core::List<{item}>"));
        }
        facts.list_items.insert(list, item);
    }
    Ok(n)
}

/// Discovery kinds whose `apiVersion`/`kind` the server leaves out in places (legacy `/api` and
/// `/api/v1` omit `apiVersion`; `APIGroupList.groups[]` omit both): they keep both as optional
/// fields so a round trip is exact.
const LOOSE_GVK: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
];

fn gvk_typed(model: &mut ApiModel, facts: &mut Facts) -> Result<usize> {
    for d in model.defs.values() {
        let DefKind::Struct(fields) = &d.kind else {
            continue;
        };
        if LOOSE_GVK.contains(&d.name.as_str()) {
            continue;
        }
        let has = |n: &str| {
            fields
                .iter()
                .any(|f| f.json_name == n && f.ty == Type::String)
        };
        if d.gvk.len() == 1 && has("apiVersion") && has("kind") {
            facts.gvk_typed.insert(d.name.clone());
        }
    }
    Ok(facts.gvk_typed.len())
}

fn refs_of(t: &Type, out: &mut Vec<String>) {
    match t {
        Type::Ref(r) => out.push(r.clone()),
        // Vec and BTreeMap allocate: they break the size recursion by themselves.
        Type::Array(_) | Type::Map(_) => {}
        _ => {}
    }
}

fn recursion_boxing(model: &mut ApiModel, facts: &mut Facts) -> Result<usize> {
    // Direct (unboxed) reference graph between struct definitions, plus schema unions, which
    // hold JSONSchemaProps inline.
    let mut edges: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for d in model.defs.values() {
        if let DefKind::Struct(fields) = &d.kind {
            for f in fields {
                let mut r = Vec::new();
                refs_of(&f.ty, &mut r);
                for target in r {
                    edges
                        .entry(d.name.as_str())
                        .or_default()
                        .push((f.json_name.clone(), target));
                }
            }
        }
    }
    // A field is boxed when its target can reach the field's own definition: as the field is an
    // edge from its definition to the target, exactly when both are in one strongly connected
    // component (Tarjan's algorithm: linear, for CRDs with thousands of nested types). Schema
    // unions embed JSONSchemaProps: an edge from each union to it.
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (from, es) in &edges {
        let out = graph.entry((*from).to_owned()).or_default();
        out.extend(es.iter().map(|(_, t)| t.clone()));
        for (_, t) in es {
            graph.entry(t.clone()).or_default();
        }
    }
    let unions: Vec<String> = graph
        .keys()
        .filter(|n| {
            model
                .defs
                .get(*n)
                .is_some_and(|d| d.kind == DefKind::Special(Special::SchemaUnion))
        })
        .cloned()
        .collect();
    for n in unions {
        let props = n.replace(n.rsplit('.').next().unwrap_or_default(), "JSONSchemaProps");
        graph.entry(props.clone()).or_default();
        if let Some(out) = graph.get_mut(&n) {
            out.push(props);
        }
    }
    let component = strongly_connected(&graph);
    for (from, es) in &edges {
        for (field, target) in es {
            if from == target || component.get(*from) == component.get(target.as_str()) {
                facts.boxed.insert(((*from).to_owned(), field.clone()));
            }
        }
    }
    Ok(facts.boxed.len())
}

/// The strongly connected component of every node (Tarjan's algorithm, iterative).
fn strongly_connected(graph: &BTreeMap<String, Vec<String>>) -> BTreeMap<&str, usize> {
    let names: Vec<&str> = graph.keys().map(String::as_str).collect();
    let index_of: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let succ: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            graph[*n]
                .iter()
                .filter_map(|t| index_of.get(t.as_str()).copied())
                .collect()
        })
        .collect();
    let n = names.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comp = vec![usize::MAX; n];
    let mut next = 0;
    let mut comps = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next successor position)
        let mut work = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos < succ[v].len() {
                let w = succ[v][*pos];
                *pos += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp[w] = comps;
                        if w == v {
                            break;
                        }
                    }
                    comps += 1;
                }
            }
        }
    }
    names.into_iter().zip(comp).collect()
}

/// Whether a type is a point in time (`metav1.Time`, `metav1.MicroTime`, a bare date-time).
fn is_time(ty: &Type) -> bool {
    match ty {
        Type::DateTime => true,
        Type::Ref(name) => {
            name == "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
                || name == "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
        }
        _ => false,
    }
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn required_metadata(model: &mut ApiModel, _facts: &mut Facts) -> Result<usize> {
    let mut n = 0;
    for d in model.defs.values_mut() {
        if d.gvk.is_empty() {
            continue;
        }
        if let DefKind::Struct(fields) = &mut d.kind {
            for f in fields.iter_mut().filter(|f| {
                f.json_name == "metadata" && f.ty == Type::Ref(OBJECT_META.into()) && !f.required
            }) {
                f.required = true;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn zero_time_optional(model: &mut ApiModel, _facts: &mut Facts) -> Result<usize> {
    let mut n = 0;
    for d in model.defs.values_mut() {
        if let DefKind::Struct(fields) = &mut d.kind {
            for f in fields.iter_mut().filter(|f| f.required && is_time(&f.ty)) {
                f.required = false;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn null_tolerant(model: &mut ApiModel, facts: &mut Facts) -> Result<usize> {
    for d in model.defs.values() {
        if let DefKind::Struct(fields) = &d.kind {
            for f in fields.iter().filter(|f| f.required) {
                facts
                    .null_tolerant
                    .insert((d.name.clone(), f.json_name.clone()));
            }
        }
    }
    Ok(facts.null_tolerant.len())
}
