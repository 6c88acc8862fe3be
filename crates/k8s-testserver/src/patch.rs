//! JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch, and the field sets
//! (`managedFields`) of server-side apply.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Merge keys of associative lists, by field name (strategic merge patch and apply).
#[derive(Clone, Debug)]
pub(crate) struct MergeKeys {
    keys: BTreeMap<String, String>,
}

impl Default for MergeKeys {
    fn default() -> Self {
        let mut keys = BTreeMap::new();
        for (f, k) in [
            ("containers", "name"),
            ("initContainers", "name"),
            ("ephemeralContainers", "name"),
            ("env", "name"),
            ("volumes", "name"),
            ("volumeMounts", "mountPath"),
            ("volumeDevices", "devicePath"),
            ("ports", "containerPort"),
            ("conditions", "type"),
            ("ownerReferences", "uid"),
            ("imagePullSecrets", "name"),
            ("hostAliases", "ip"),
            ("topologySpreadConstraints", "topologyKey"),
            ("resourceClaims", "name"),
            ("schedulingGates", "name"),
            ("secrets", "name"),
            ("subsets", ""),
        ] {
            if !k.is_empty() {
                keys.insert(f.to_string(), k.to_string());
            }
        }
        MergeKeys { keys }
    }
}

impl MergeKeys {
    /// Adds the `x-kubernetes-patch-merge-key` values of a swagger document.
    pub(crate) fn add_from_swagger(&mut self, swagger: &Value) {
        let Some(defs) = swagger.get("definitions").and_then(Value::as_object) else {
            return;
        };
        for def in defs.values() {
            let Some(props) = def.get("properties").and_then(Value::as_object) else {
                continue;
            };
            for (name, prop) in props {
                if let Some(k) = prop
                    .get("x-kubernetes-patch-merge-key")
                    .and_then(Value::as_str)
                {
                    // `ports` differs between containers and services; items decide (below).
                    self.keys
                        .entry(name.clone())
                        .or_insert_with(|| k.to_string());
                }
            }
        }
    }

    /// The merge key of list `field` given its items (service ports use `port`).
    fn key_for(&self, field: &str, items: &[&Value]) -> Option<String> {
        let k = self.keys.get(field)?;
        if field == "ports"
            && items
                .iter()
                .any(|i| i.get("port").is_some() && i.get("containerPort").is_none())
        {
            return Some("port".into());
        }
        Some(k.clone())
    }
}

// ---------------------------------------------------------------- JSON patch

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    if !path.starts_with('/') {
        return Err(format!("invalid JSON pointer {path:?}"));
    }
    Ok(path[1..].split('/').map(unescape).collect())
}

fn parent_mut<'a>(
    doc: &'a mut Value,
    tokens: &[String],
    path: &str,
) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| format!("doc is missing path: \"{path}\": missing value"))?,
            Value::Array(a) => {
                let i: usize = t
                    .parse()
                    .map_err(|_| format!("doc is missing path: \"{path}\": invalid index {t:?}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("doc is missing path: \"{path}\": index out of range"))?
            }
            _ => return Err(format!("doc is missing path: \"{path}\"")),
        };
    }
    Ok(cur)
}

fn get_at(doc: &Value, path: &str) -> Result<Value, String> {
    let ptr = if path.is_empty() { "" } else { path };
    doc.pointer(ptr)
        .cloned()
        .ok_or_else(|| format!("doc is missing path: \"{path}\": missing value"))
}

fn add_at(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = split_pointer(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid array index {last:?} in {path:?}"))?;
            if i > a.len() {
                return Err(format!("unable to add to {path:?}: index out of bounds"));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("doc is missing path: \"{path}\"")),
    }
}

fn remove_at(doc: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = split_pointer(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        return Err("unable to remove the whole document".into());
    };
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("unable to remove nonexistent key: {last}: missing value")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid array index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("unable to remove {path:?}: index out of bounds"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("doc is missing path: \"{path}\"")),
    }
}

/// Applies an RFC 6902 patch. `Err(BadRequest text)` for a malformed patch, `Ok(Err(text))` for
/// an operation that failed against the document.
pub(crate) fn json_patch(doc: &Value, patch: &Value) -> Result<Result<Value, String>, String> {
    let ops = patch
        .as_array()
        .ok_or("json: cannot unmarshal object into Go value of type jsonpatch.Patch")?;
    let mut doc = doc.clone();
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str);
        let from = op.get("from").and_then(Value::as_str);
        let value = op.get("value").cloned();
        let result = match (name, path) {
            ("add", Some(p)) => match value {
                Some(v) => add_at(&mut doc, p, v),
                None => Err("missing value".into()),
            },
            ("remove", Some(p)) => remove_at(&mut doc, p).map(|_| ()),
            ("replace", Some(p)) => match value {
                Some(v) => remove_at(&mut doc, p).and_then(|_| add_at(&mut doc, p, v)),
                None => Err("missing value".into()),
            },
            ("move", Some(p)) => match from {
                Some(f) => remove_at(&mut doc, f).and_then(|v| add_at(&mut doc, p, v)),
                None => Err("missing from".into()),
            },
            ("copy", Some(p)) => match from {
                Some(f) => get_at(&doc, f).and_then(|v| add_at(&mut doc, p, v)),
                None => Err("missing from".into()),
            },
            ("test", Some(p)) => {
                let actual = get_at(&doc, p)?;
                if Some(&actual) == value.as_ref() {
                    Ok(())
                } else {
                    Err(format!("testing value {p} failed: test failed"))
                }
            }
            (_, None) => return Err(format!("operation missing path: {op}")),
            (other, _) => Err(format!("Unexpected kind: {other}")),
        };
        if let Err(e) = result {
            return Ok(Err(e));
        }
    }
    Ok(Ok(doc))
}

// ---------------------------------------------------------------- merge patch

/// RFC 7386 merge patch.
pub(crate) fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

// ---------------------------------------------------------------- strategic merge patch

/// Strategic merge patch with the `$patch`, `$setElementOrder`, `$retainKeys` and
/// `$deleteFromPrimitiveList` directives.
pub(crate) fn strategic_merge(target: &Value, patch: &Value, keys: &MergeKeys) -> Value {
    match (target, patch) {
        (_, Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut m = p.clone();
                m.remove("$patch");
                return Value::Object(m);
            }
            let mut out = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            let retain: Option<Vec<String>> =
                p.get("$retainKeys").and_then(Value::as_array).map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                });
            for (k, v) in p {
                if k.starts_with('$') {
                    if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                        if let (Some(Value::Array(cur)), Value::Array(del)) =
                            (out.get_mut(field), v)
                        {
                            cur.retain(|x| !del.contains(x));
                        }
                    }
                    continue;
                }
                if v.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match (out.get(k), v) {
                    (Some(Value::Array(cur)), Value::Array(pl)) => merge_list(k, cur, pl, keys),
                    (Some(cur), Value::Object(_)) => {
                        if v.get("$patch").and_then(Value::as_str) == Some("delete") {
                            out.remove(k);
                            continue;
                        }
                        strategic_merge(cur, v, keys)
                    }
                    (None, Value::Array(pl)) => Value::Array(
                        pl.iter()
                            .filter(|i| i.get("$patch").is_none())
                            .map(strip_directives)
                            .collect(),
                    ),
                    (None, _) => strip_directives(v),
                    (_, _) => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            if let Some(retain) = retain {
                out.retain(|k, _| retain.contains(k) || p.contains_key(k));
            }
            Value::Object(out)
        }
        (_, other) => other.clone(),
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

fn merge_list(field: &str, cur: &[Value], patch: &[Value], keys: &MergeKeys) -> Value {
    if field == "finalizers" {
        let mut out = cur.to_vec();
        for p in patch {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        return Value::Array(out);
    }
    let all: Vec<&Value> = cur.iter().chain(patch.iter()).collect();
    let Some(key) = keys.key_for(field, &all) else {
        return Value::Array(patch.iter().map(strip_directives).collect());
    };
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Value::Array(
            patch
                .iter()
                .filter(|p| p.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        );
    }
    let mut out: Vec<Value> = cur.to_vec();
    for p in patch {
        let pk = p.get(&key);
        let pos = pk.and_then(|pk| out.iter().position(|c| c.get(&key) == Some(pk)));
        let delete = p.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                let merged = strategic_merge(&out[i], p, keys);
                out[i] = merged;
            }
            (None, false) => out.push(strip_directives(p)),
        }
    }
    Value::Array(out)
}

// ---------------------------------------------------------------- field sets

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Step {
    /// `f:name`
    Field(String),
    /// `k:{...}`: list item by its key fields (JSON text)
    Key(String),
    /// `v:...`: set member
    Val(String),
    /// `i:N`
    Index(usize),
}

/// A set of owned field paths.
pub(crate) type FieldSet = BTreeSet<Vec<Step>>;

const TOP_LEVEL_STRUCTS: &[&str] = &["metadata", "spec", "status"];

/// The fields an object (or an applied configuration) sets.
pub(crate) fn field_set(obj: &Value, keys: &MergeKeys) -> FieldSet {
    let mut set = FieldSet::new();
    if let Value::Object(m) = obj {
        for (k, v) in m {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            if k == "metadata" {
                if let Value::Object(md) = v {
                    for (mk, mv) in md {
                        if matches!(
                            mk.as_str(),
                            "labels" | "annotations" | "finalizers" | "ownerReferences"
                        ) {
                            walk(
                                &mut set,
                                vec![Step::Field("metadata".into()), Step::Field(mk.clone())],
                                mk,
                                mv,
                                keys,
                                true,
                            );
                        }
                    }
                }
                continue;
            }
            walk(
                &mut set,
                vec![Step::Field(k.clone())],
                k,
                v,
                keys,
                !TOP_LEVEL_STRUCTS.contains(&k.as_str()),
            );
        }
    }
    set
}

fn walk(
    set: &mut FieldSet,
    path: Vec<Step>,
    name: &str,
    v: &Value,
    keys: &MergeKeys,
    own_node: bool,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            if own_node {
                set.insert(path.clone());
            }
            for (k, child) in m {
                let mut p = path.clone();
                p.push(Step::Field(k.clone()));
                walk(set, p, k, child, keys, true);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let items: Vec<&Value> = a.iter().collect();
            if name == "finalizers" {
                for item in a {
                    let mut p = path.clone();
                    p.push(Step::Val(item.to_string()));
                    set.insert(p);
                }
                return;
            }
            match keys.key_for(name, &items) {
                Some(key) if a.iter().all(|i| i.get(&key).is_some()) => {
                    for item in a {
                        let mut p = path.clone();
                        let kv = item.get(&key).cloned().unwrap_or(Value::Null);
                        let mut km = Map::new();
                        km.insert(key.clone(), kv);
                        p.push(Step::Key(Value::Object(km).to_string()));
                        set.insert(p.clone());
                        if let Value::Object(im) = item {
                            for (k, child) in im {
                                let mut cp = p.clone();
                                cp.push(Step::Field(k.clone()));
                                walk(set, cp, k, child, keys, true);
                            }
                        }
                    }
                }
                _ => {
                    set.insert(path);
                }
            }
        }
        _ => {
            set.insert(path);
        }
    }
}

/// `FieldsV1` JSON of a set.
pub(crate) fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for (i, step) in path.iter().enumerate() {
            let key = step_key(step);
            let entry = cur.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(m) = entry else { break };
            cur = m;
            if i == path.len() - 1 && !is_leaf_only(set, path) {
                cur.insert(".".into(), Value::Object(Map::new()));
            }
        }
    }
    Value::Object(root)
}

fn is_leaf_only(set: &FieldSet, path: &[Step]) -> bool {
    !set.iter()
        .any(|p| p.len() > path.len() && p.starts_with(path))
}

fn step_key(step: &Step) -> String {
    match step {
        Step::Field(f) => format!("f:{f}"),
        Step::Key(k) => format!("k:{k}"),
        Step::Val(v) => format!("v:{v}"),
        Step::Index(i) => format!("i:{i}"),
    }
}

/// Parses `FieldsV1` JSON into a set.
pub(crate) fn from_fields_v1(v: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    fn rec(set: &mut FieldSet, path: &mut Vec<Step>, v: &Value, depth: usize) {
        let Value::Object(m) = v else { return };
        if depth > 64 {
            return;
        }
        if (m.is_empty() || m.contains_key(".")) && !path.is_empty() {
            set.insert(path.clone());
        }
        for (k, child) in m {
            if k == "." {
                continue;
            }
            let step = if let Some(f) = k.strip_prefix("f:") {
                Step::Field(f.into())
            } else if let Some(f) = k.strip_prefix("k:") {
                Step::Key(f.into())
            } else if let Some(f) = k.strip_prefix("v:") {
                Step::Val(f.into())
            } else if let Some(f) = k.strip_prefix("i:") {
                Step::Index(f.parse().unwrap_or(0))
            } else {
                continue;
            };
            path.push(step);
            rec(set, path, child, depth + 1);
            path.pop();
        }
    }
    rec(&mut set, &mut Vec::new(), v, 0);
    set
}

/// The value at a field path, if present.
pub(crate) fn value_at<'a>(obj: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut cur = obj;
    for step in path {
        cur = match step {
            Step::Field(f) => cur.get(f)?,
            Step::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).ok()?;
                cur.as_array()?
                    .iter()
                    .find(|item| key.iter().all(|(kk, kv)| item.get(kk) == Some(kv)))?
            }
            Step::Val(v) => {
                let want: Value = serde_json::from_str(v).ok()?;
                cur.as_array()?.iter().find(|x| **x == want)?
            }
            Step::Index(i) => cur.as_array()?.get(*i)?,
        };
    }
    Some(cur)
}

/// Removes the value at a field path (used when an applier gives up a field).
pub(crate) fn remove_at_path(obj: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for step in parents {
        let next = match step {
            Step::Field(f) => cur.get_mut(f),
            Step::Key(k) => {
                let Ok(key) = serde_json::from_str::<Map<String, Value>>(k) else {
                    return;
                };
                cur.as_array_mut().and_then(|a| {
                    a.iter_mut()
                        .find(|item| key.iter().all(|(kk, kv)| item.get(kk) == Some(kv)))
                })
            }
            Step::Val(_) => None,
            Step::Index(i) => cur.as_array_mut().and_then(|a| a.get_mut(*i)),
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match last {
        Step::Field(f) => {
            if let Value::Object(m) = cur {
                m.remove(f);
            }
        }
        Step::Key(k) => {
            if let (Ok(key), Value::Array(a)) = (serde_json::from_str::<Map<String, Value>>(k), cur)
            {
                a.retain(|item| !key.iter().all(|(kk, kv)| item.get(kk) == Some(kv)));
            }
        }
        Step::Val(v) => {
            if let (Ok(want), Value::Array(a)) = (serde_json::from_str::<Value>(v), cur) {
                a.retain(|x| *x != want);
            }
        }
        Step::Index(i) => {
            if let Value::Array(a) = cur {
                if *i < a.len() {
                    a.remove(*i);
                }
            }
        }
    }
}

/// `.data.color`, `.spec.containers[name="c"].image`: how apply conflicts name a field.
pub(crate) fn path_string(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Step::Key(k) => {
                let inner = serde_json::from_str::<Map<String, Value>>(k)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_else(|_| k.clone());
                s.push_str(&format!("[{inner}]"));
            }
            Step::Val(v) => s.push_str(&format!("[={v}]")),
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Leaves of a set (paths with no owned descendants).
pub(crate) fn leaves(set: &FieldSet) -> Vec<Vec<Step>> {
    set.iter()
        .filter(|p| is_leaf_only(set, p))
        .cloned()
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_ops() {
        let doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        let patch = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "test", "path": "/c", "value": "y"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e"}
        ]);
        let out = json_patch(&doc, &patch).unwrap().unwrap();
        assert_eq!(out, json!({"a": {"b": [2, 3]}, "c": "y", "e": "y"}));
        let failed =
            json_patch(&doc, &json!([{"op": "test", "path": "/c", "value": "no"}])).unwrap();
        assert!(failed.is_err());
        assert!(json_patch(&doc, &json!({"op": "add"})).is_err());
    }

    #[test]
    fn merge_patch_rfc7386() {
        let t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        let p = json!({"a": "z", "c": {"f": null}});
        assert_eq!(merge_patch(&t, &p), json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn strategic_merge_by_key() {
        let keys = MergeKeys::default();
        let t = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let p = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}});
        let out = strategic_merge(&t, &p, &keys);
        assert_eq!(
            out,
            json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}})
        );
        let del = json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}});
        let out = strategic_merge(&t, &del, &keys);
        assert_eq!(
            out,
            json!({"spec": {"containers": [{"name": "b", "image": "y"}]}})
        );
    }

    #[test]
    fn field_sets_round_trip() {
        let keys = MergeKeys::default();
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "b"}}, "data": {"color": "red"}});
        let set = field_set(&obj, &keys);
        let v1 = to_fields_v1(&set);
        assert_eq!(
            v1,
            json!({"f:data": {".": {}, "f:color": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
        );
        assert_eq!(from_fields_v1(&v1), set);
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "i"}]}});
        let set = field_set(&pod, &keys);
        let leaf: Vec<String> = leaves(&set).iter().map(|p| path_string(p)).collect();
        assert!(
            leaf.contains(&".spec.containers[name=\"c\"].image".to_string()),
            "{leaf:?}"
        );
    }
}
