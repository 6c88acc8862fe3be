//! Just enough Kubernetes protobuf decoding for the typed requests `kubectl` sends with
//! protobuf bodies: access reviews, whoami, token requests, evictions, and `kubectl create`
//! of ConfigMaps, Secrets, Namespaces, ServiceAccounts, Roles and bindings. Other kinds get
//! 415. Responses are JSON, which those clients accept too.

use serde_json::{Map, Value, json};

/// Decoded protobuf fields: (field number, value).
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(out);
        }
    }
    None
}

fn fields(buf: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (num, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((num, Field::Varint(varint(buf, &mut pos)?))),
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let end = pos.checked_add(len)?;
                out.push((num, Field::Bytes(buf.get(pos..end)?)));
                pos = end;
            }
            1 => pos = pos.checked_add(8)?,
            5 => pos = pos.checked_add(4)?,
            _ => return None,
        }
    }
    Some(out)
}

fn string_fields(buf: &[u8], names: &[(u64, &str)]) -> Option<Value> {
    let mut m = Map::new();
    for (num, f) in fields(buf)? {
        if let (Some((_, name)), Field::Bytes(b)) = (names.iter().find(|(n, _)| *n == num), f) {
            m.insert(name.to_string(), json!(String::from_utf8_lossy(b)));
        }
    }
    Some(Value::Object(m))
}

fn text(b: &[u8]) -> Value {
    json!(String::from_utf8_lossy(b))
}

/// One entry of a `map<string, string>` (or of bytes, base64-encoded as in JSON).
fn map_entry(b: &[u8], bytes_values: bool) -> Option<(String, Value)> {
    let mut key = String::new();
    let mut value = json!("");
    for (n, f) in fields(b)? {
        if let Field::Bytes(x) = f {
            match n {
                1 => key = String::from_utf8_lossy(x).into_owned(),
                2 if bytes_values => {
                    use base64::Engine;
                    value = json!(base64::engine::general_purpose::STANDARD.encode(x));
                }
                2 => value = text(x),
                _ => {}
            }
        }
    }
    Some((key, value))
}

fn insert_map(
    out: &mut Map<String, Value>,
    name: &str,
    b: &[u8],
    bytes_values: bool,
) -> Option<()> {
    let (k, v) = map_entry(b, bytes_values)?;
    if let Value::Object(m) = out.entry(name.to_string()).or_insert_with(|| json!({})) {
        m.insert(k, v);
    }
    Some(())
}

fn push(out: &mut Map<String, Value>, name: &str, v: Value) {
    if let Value::Array(a) = out.entry(name.to_string()).or_insert_with(|| json!([])) {
        a.push(v);
    }
}

fn object_meta(buf: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    for (n, f) in fields(buf)? {
        let Field::Bytes(b) = f else { continue };
        match n {
            1 => {
                m.insert("name".into(), text(b));
            }
            2 => {
                m.insert("generateName".into(), text(b));
            }
            3 => {
                m.insert("namespace".into(), text(b));
            }
            6 => {
                m.insert("resourceVersion".into(), text(b));
            }
            11 => insert_map(&mut m, "labels", b, false)?,
            12 => insert_map(&mut m, "annotations", b, false)?,
            14 => push(&mut m, "finalizers", text(b)),
            _ => {}
        }
    }
    Some(Value::Object(m))
}

fn policy_rule(buf: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    for (n, f) in fields(buf)? {
        let Field::Bytes(b) = f else { continue };
        let name = match n {
            1 => "verbs",
            2 => "apiGroups",
            3 => "resources",
            4 => "resourceNames",
            5 => "nonResourceURLs",
            _ => continue,
        };
        push(&mut m, name, text(b));
    }
    Some(Value::Object(m))
}

/// Body fields (after `metadata`) of the simple built-in kinds `kubectl create` sends.
fn body_fields(kind: &str, num: u64, f: &Field<'_>, out: &mut Map<String, Value>) -> Option<()> {
    match (kind, num, f) {
        ("ConfigMap", 2, Field::Bytes(b)) => insert_map(out, "data", b, false)?,
        ("ConfigMap", 3, Field::Bytes(b)) => insert_map(out, "binaryData", b, true)?,
        ("ConfigMap", 4, Field::Varint(v)) | ("Secret", 5, Field::Varint(v)) => {
            out.insert("immutable".into(), json!(*v != 0));
        }
        ("Secret", 2, Field::Bytes(b)) => insert_map(out, "data", b, true)?,
        ("Secret", 3, Field::Bytes(b)) => {
            out.insert("type".into(), text(b));
        }
        ("Secret", 4, Field::Bytes(b)) => insert_map(out, "stringData", b, false)?,
        ("ServiceAccount", 4, Field::Varint(v)) => {
            out.insert("automountServiceAccountToken".into(), json!(*v != 0));
        }
        ("Role" | "ClusterRole", 2, Field::Bytes(b)) => push(out, "rules", policy_rule(b)?),
        ("RoleBinding" | "ClusterRoleBinding", 2, Field::Bytes(b)) => push(
            out,
            "subjects",
            string_fields(
                b,
                &[(1, "kind"), (2, "apiGroup"), (3, "name"), (4, "namespace")],
            )?,
        ),
        ("RoleBinding" | "ClusterRoleBinding", 3, Field::Bytes(b)) => {
            let r = string_fields(b, &[(1, "apiGroup"), (2, "kind"), (3, "name")])?;
            out.insert("roleRef".into(), r);
        }
        _ => {}
    }
    Some(())
}

fn resource_attributes(buf: &[u8]) -> Option<Value> {
    string_fields(
        buf,
        &[
            (1, "namespace"),
            (2, "verb"),
            (3, "group"),
            (4, "version"),
            (5, "resource"),
            (6, "subresource"),
            (7, "name"),
        ],
    )
}

fn access_review_spec(buf: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    let mut groups = Vec::new();
    for (num, f) in fields(buf)? {
        let Field::Bytes(b) = f else { continue };
        match num {
            1 => {
                m.insert("resourceAttributes".into(), resource_attributes(b)?);
            }
            2 => {
                m.insert(
                    "nonResourceAttributes".into(),
                    string_fields(b, &[(1, "path"), (2, "verb")])?,
                );
            }
            3 => {
                m.insert("user".into(), json!(String::from_utf8_lossy(b)));
            }
            4 => groups.push(json!(String::from_utf8_lossy(b))),
            6 => {
                m.insert("uid".into(), json!(String::from_utf8_lossy(b)));
            }
            _ => {}
        }
    }
    if !groups.is_empty() {
        m.insert("groups".into(), Value::Array(groups));
    }
    Some(Value::Object(m))
}

fn token_request_spec(buf: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    let mut audiences = Vec::new();
    for (num, f) in fields(buf)? {
        match (num, f) {
            (1, Field::Bytes(b)) => audiences.push(json!(String::from_utf8_lossy(b))),
            (4, Field::Varint(v)) => {
                m.insert("expirationSeconds".into(), json!(v));
            }
            _ => {}
        }
    }
    m.insert("audiences".into(), Value::Array(audiences));
    Some(Value::Object(m))
}

/// Decodes a `k8s\0`-enveloped protobuf body into the JSON the server works with.
/// `None` when the body is not protobuf of a supported kind.
pub(crate) fn decode(body: &[u8]) -> Option<Value> {
    let rest = body.strip_prefix(b"k8s\0")?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (num, f) in fields(rest)? {
        match (num, f) {
            (1, Field::Bytes(tm)) => {
                for (n, f) in fields(tm)? {
                    if let Field::Bytes(b) = f {
                        match n {
                            1 => api_version = String::from_utf8_lossy(b).into_owned(),
                            2 => kind = String::from_utf8_lossy(b).into_owned(),
                            _ => {}
                        }
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut out = json!({"apiVersion": api_version, "kind": kind});
    let mut body = Map::new();
    for (num, f) in fields(raw)? {
        body_fields(&kind, num, &f, &mut body)?;
        let Field::Bytes(b) = f else { continue };
        match (kind.as_str(), num) {
            (_, 1) => out["metadata"] = object_meta(b)?,
            ("SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview", 2) => {
                out["spec"] = access_review_spec(b)?
            }
            ("SelfSubjectRulesReview", 2) => out["spec"] = string_fields(b, &[(1, "namespace")])?,
            ("TokenRequest", 2) => out["spec"] = token_request_spec(b)?,
            ("TokenReview", 2) => out["spec"] = string_fields(b, &[(1, "token")])?,
            _ => {}
        }
    }
    if let Value::Object(o) = &mut out {
        o.extend(body);
    }
    match kind.as_str() {
        "SelfSubjectAccessReview"
        | "SubjectAccessReview"
        | "LocalSubjectAccessReview"
        | "SelfSubjectRulesReview"
        | "SelfSubjectReview"
        | "TokenRequest"
        | "TokenReview"
        | "Eviction"
        | "ConfigMap"
        | "Secret"
        | "Namespace"
        | "ServiceAccount"
        | "Role"
        | "ClusterRole"
        | "RoleBinding"
        | "ClusterRoleBinding" => Some(out),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ld(num: u64, b: &[u8]) -> Vec<u8> {
        let mut v = vec![((num << 3) | 2) as u8, b.len() as u8];
        v.extend_from_slice(b);
        v
    }

    #[test]
    fn decodes_a_self_subject_access_review() {
        let attrs = [ld(1, b"default"), ld(2, b"list"), ld(5, b"pods")].concat();
        let spec = ld(1, &attrs);
        let raw = ld(2, &spec);
        let tm = [
            ld(1, b"authorization.k8s.io/v1"),
            ld(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let body = [b"k8s\0".to_vec(), ld(1, &tm), ld(2, &raw)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "SelfSubjectAccessReview");
        assert_eq!(
            v["spec"]["resourceAttributes"],
            json!({"namespace": "default", "verb": "list", "resource": "pods"})
        );
        assert!(decode(b"{}").is_none());
    }
}
