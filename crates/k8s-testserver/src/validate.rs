//! Request-body checks: JSON with duplicate detection, object names, unknown fields (from the
//! swagger document or a CRD schema), CRD schema validation, and Pod spec immutability.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses JSON, reporting duplicate keys by path (`spec.restartPolicy`).
pub(crate) fn parse_json_with_dups(
    bytes: &[u8],
) -> Result<(Value, Vec<String>), serde_json::Error> {
    let dups = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Seed {
        path: String::new(),
        dups: &dups,
        depth: 0,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((v, dups.into_inner()))
}

struct Seed<'a> {
    path: String,
    dups: &'a RefCell<Vec<String>>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        let mut i = 0usize;
        loop {
            let seed = Seed {
                path: format!("{}[{i}]", self.path),
                dups: self.dups,
                depth: self.depth + 1,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => out.push(v),
                None => break,
            }
            i += 1;
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                k.clone()
            } else {
                format!("{}.{k}", self.path)
            };
            if out.contains_key(&k) {
                self.dups.borrow_mut().push(path.clone());
            }
            let v = map.next_value_seed(Seed {
                path,
                dups: self.dups,
                depth: self.depth + 1,
            })?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Go's wording of a JSON syntax error.
pub(crate) fn go_json_error(e: &serde_json::Error) -> String {
    if e.is_eof() {
        "unexpected end of JSON input".to_string()
    } else {
        format!(
            "invalid character at line {} column {}",
            e.line(),
            e.column()
        )
    }
}

// ---------------------------------------------------------------- names

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// How a resource's names are validated.
fn name_rule(group: &str, plural: &str) -> &'static str {
    match (group, plural) {
        ("", "namespaces") => "label",
        ("", "services") => "1035",
        ("rbac.authorization.k8s.io", _) => "path",
        _ => "subdomain",
    }
}

/// Problems with a name: `(message)` as in `Invalid value: "<name>": <message>`.
pub(crate) fn check_name(group: &str, plural: &str, name: &str) -> Option<String> {
    match name_rule(group, plural) {
        "label" => (!is_label(name)).then(|| {
            if name.len() > 63 {
                "must be no more than 63 characters".to_string()
            } else {
                LABEL_MSG.to_string()
            }
        }),
        "1035" => (!(is_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase())))
            .then(|| DNS1035_MSG.to_string()),
        "path" => {
            if name == "." || name == ".." {
                Some(format!("may not be '{name}'"))
            } else if name.contains('/') || name.contains('%') {
                Some(format!(
                    "may not contain '{}'",
                    if name.contains('/') { "/" } else { "%" }
                ))
            } else {
                None
            }
        }
        _ => {
            let ok = name.len() <= 253 && name.split('.').all(is_label);
            (!ok).then(|| {
                if name.len() > 253 {
                    "must be no more than 253 characters".to_string()
                } else {
                    SUBDOMAIN_MSG.to_string()
                }
            })
        }
    }
}

// ---------------------------------------------------------------- unknown fields (swagger)

/// Fields of `obj` that the swagger definition of `group/version/kind` does not know.
pub(crate) fn unknown_fields_swagger(
    swagger: &Value,
    group: &str,
    version: &str,
    kind: &str,
    obj: &Value,
) -> Vec<String> {
    let Some(defs) = swagger.get("definitions").and_then(Value::as_object) else {
        return Vec::new();
    };
    let found = defs.values().find(|d| {
        d.get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .is_some_and(|gvks| {
                gvks.iter().any(|g| {
                    g.get("group").and_then(Value::as_str) == Some(group)
                        && g.get("version").and_then(Value::as_str) == Some(version)
                        && g.get("kind").and_then(Value::as_str) == Some(kind)
                })
            })
    });
    let mut out = Vec::new();
    if let Some(def) = found {
        walk_swagger(defs, def, obj, "", &mut out, 0);
    }
    out
}

fn resolve<'a>(defs: &'a Map<String, Value>, schema: &'a Value) -> &'a Value {
    let mut cur = schema;
    for _ in 0..8 {
        match cur.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix("#/definitions/").and_then(|n| defs.get(n)) {
                Some(d) => cur = d,
                None => return cur,
            },
            None => {
                // OpenAPI v3 style wrappers: allOf: [{$ref}]
                match cur
                    .get("allOf")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                {
                    Some(inner) if cur.get("properties").is_none() => cur = inner,
                    _ => return cur,
                }
            }
        }
    }
    cur
}

fn walk_swagger(
    defs: &Map<String, Value>,
    schema: &Value,
    v: &Value,
    path: &str,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    let schema = resolve(defs, schema);
    match v {
        Value::Object(m) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, child) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match props.get(k) {
                        Some(s) => walk_swagger(defs, s, child, &p, out, depth + 1),
                        None => {
                            if !(path.is_empty() && (k == "apiVersion" || k == "kind")) {
                                out.push(p)
                            }
                        }
                    }
                }
            } else if let Some(ap) = schema.get("additionalProperties") {
                if ap.is_object() {
                    for (k, child) in m {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        walk_swagger(defs, ap, child, &p, out, depth + 1);
                    }
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for (i, child) in a.iter().enumerate() {
                    walk_swagger(defs, items, child, &format!("{path}[{i}]"), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- CRD schemas

/// A schema failure: (reason, field, message).
pub(crate) type Cause = (String, String, String);

/// Validates and prunes a custom object against its `openAPIV3Schema`. Returns the causes of
/// failure; unknown fields are removed and listed in `unknown`.
pub(crate) fn validate_crd(
    schema: &Value,
    obj: &mut Value,
    unknown: &mut Vec<String>,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Value::Object(m) = obj {
        let props = schema.get("properties").and_then(Value::as_object);
        let keys: Vec<String> = m.keys().cloned().collect();
        for k in keys {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match props.and_then(|p| p.get(&k)) {
                Some(s) => {
                    if let Some(child) = m.get_mut(&k) {
                        walk_crd(s, child, &k, &mut causes, unknown, 0);
                    }
                }
                None => {
                    if schema.get("x-kubernetes-preserve-unknown-fields")
                        != Some(&Value::Bool(true))
                    {
                        m.remove(&k);
                        unknown.push(k);
                    }
                }
            }
        }
        check_required(schema, m, "", &mut causes);
    }
    causes
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_required(schema: &Value, m: &Map<String, Value>, path: &str, causes: &mut Vec<Cause>) {
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if !m.contains_key(r) {
                let p = if path.is_empty() {
                    r.to_string()
                } else {
                    format!("{path}.{r}")
                };
                causes.push(("FieldValueRequired".into(), p, "Required value".into()));
            }
        }
    }
}

fn walk_crd(
    schema: &Value,
    v: &mut Value,
    path: &str,
    causes: &mut Vec<Cause>,
    unknown: &mut Vec<String>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    let int_or_string = schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let actual = type_name(v);
    if int_or_string {
        if !matches!(actual, "integer" | "string") {
            causes.push((
                "FieldValueTypeInvalid".into(),
                path.into(),
                format!("Invalid value: \"{actual}\": {path} in body must be of type integer,string: \"{actual}\""),
            ));
        }
        return;
    }
    if let Some(want) = schema.get("type").and_then(Value::as_str) {
        let ok = want == actual || (want == "number" && actual == "integer");
        let nullable_null = actual == "null" && schema.get("nullable") == Some(&Value::Bool(true));
        if !(ok || nullable_null) {
            causes.push((
                "FieldValueTypeInvalid".into(),
                path.into(),
                format!("Invalid value: \"{actual}\": {path} in body must be of type {want}: \"{actual}\""),
            ));
            return;
        }
    }
    if let Some(en) = schema.get("enum").and_then(Value::as_array) {
        if !en.contains(v) {
            let allowed: Vec<String> = en.iter().map(|e| e.to_string()).collect();
            causes.push((
                "FieldValueNotSupported".into(),
                path.into(),
                format!(
                    "Unsupported value: {v}: supported values: {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    match v {
        Value::Object(m) => {
            let preserve =
                schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let p = format!("{path}.{k}");
                    match props.get(&k) {
                        Some(s) => {
                            if let Some(child) = m.get_mut(&k) {
                                walk_crd(s, child, &p, causes, unknown, depth + 1);
                            }
                        }
                        None if !preserve => {
                            m.remove(&k);
                            unknown.push(p);
                        }
                        None => {}
                    }
                }
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, child) in m.iter_mut() {
                    walk_crd(
                        ap,
                        child,
                        &format!("{path}.{k}"),
                        causes,
                        unknown,
                        depth + 1,
                    );
                }
            }
            check_required(schema, m, path, causes);
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for (i, child) in a.iter_mut().enumerate() {
                    walk_crd(
                        items,
                        child,
                        &format!("{path}[{i}]"),
                        causes,
                        unknown,
                        depth + 1,
                    );
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- Pod immutability

/// The real server's message for a forbidden Pod spec update (without the diff).
pub(crate) const POD_UPDATE_FORBIDDEN: &str = "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn mutable_view(spec: &Value) -> Value {
    let mut s = spec.clone();
    if let Value::Object(m) = &mut s {
        m.remove("activeDeadlineSeconds");
        m.remove("tolerations");
        m.remove("terminationGracePeriodSeconds");
        for list in ["containers", "initContainers"] {
            if let Some(Value::Array(cs)) = m.get_mut(list) {
                for c in cs {
                    if let Value::Object(cm) = c {
                        cm.remove("image");
                    }
                }
            }
        }
    }
    s
}

/// `Some(description of the change)` when a Pod spec update is not allowed.
pub(crate) fn pod_spec_change(old: &Value, new: &Value) -> Option<String> {
    let (a, b) = (mutable_view(old), mutable_view(new));
    if a == b {
        return None;
    }
    let mut diffs = Vec::new();
    diff_paths(&a, &b, "spec", &mut diffs, 0);
    Some(diffs.join("\n"))
}

fn diff_paths(a: &Value, b: &Value, path: &str, out: &mut Vec<String>, depth: usize) {
    if a == b || depth > 32 {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                diff_paths(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                    depth + 1,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_paths(p, q, &format!("{path}[{i}]"), out, depth + 1);
            }
        }
        _ => out.push(format!("- {path}: {a}\n+ {path}: {b}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicates_are_reported_by_path() {
        let (v, d) =
            parse_json_with_dups(br#"{"spec":{"a":1,"a":2},"l":[{"x":1,"x":2}]}"#).unwrap();
        assert_eq!(v, json!({"spec": {"a": 2}, "l": [{"x": 2}]}));
        assert_eq!(d, vec!["spec.a".to_string(), "l[0].x".to_string()]);
        let e = parse_json_with_dups(br#"{"a":"#).unwrap_err();
        assert_eq!(go_json_error(&e), "unexpected end of JSON input");
    }

    #[test]
    fn names() {
        assert!(check_name("", "pods", "demo").is_none());
        assert_eq!(
            check_name("", "pods", "Bad_Name").as_deref(),
            Some(SUBDOMAIN_MSG)
        );
        assert!(check_name("", "namespaces", "a.b").is_some());
        assert!(check_name("", "services", "1abc").is_some());
        assert!(check_name("rbac.authorization.k8s.io", "roles", "system:x").is_none());
    }

    #[test]
    fn crd_schema() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
            "properties": {"size": {"type": "integer"}, "color": {"type": "string"}}}}});
        let mut obj = json!({"spec": {"size": "big", "shape": "round"}});
        let mut unknown = Vec::new();
        let causes = validate_crd(&schema, &mut obj, &mut unknown);
        assert_eq!(causes.len(), 1);
        assert_eq!(
            causes[0].2,
            "Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
        );
        assert_eq!(unknown, vec!["spec.shape".to_string()]);
    }
}
