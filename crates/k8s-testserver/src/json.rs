//! Small helpers over `serde_json::Value` objects: string lookups, metadata, timestamps.

use serde_json::{Map, Value};

/// The string at a JSON pointer (`/spec/nodeName`), or `""` when absent or not a string.
pub(crate) fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The strings of a JSON array (other items skipped); empty when absent or not an array.
pub(crate) fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.<k>` as a string.
pub(crate) fn meta(obj: &Value, k: &str) -> Option<String> {
    obj.get("metadata")
        .and_then(|m| m.get(k))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The `metadata` map of an object, created (or replacing a non-map) when needed; `None` only
/// when `obj` is not a JSON object, which has no metadata to edit.
pub(crate) fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let slot = obj
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// Sets `metadata.<k>` (see [`meta_mut`]).
pub(crate) fn set_meta(obj: &mut Value, k: &str, v: Value) {
    if let Some(m) = meta_mut(obj) {
        m.insert(k.into(), v);
    }
}

/// Removes `apiVersion` and `kind` (list items carry neither).
pub(crate) fn strip_gvk(obj: &mut Value) {
    if let Value::Object(m) = obj {
        m.remove("apiVersion");
        m.remove("kind");
    }
}

/// The current time in RFC 3339, whole seconds (like `metav1.Time`).
pub(crate) fn now() -> String {
    let ts = jiff::Timestamp::now();
    jiff::Timestamp::from_second(ts.as_second())
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ts.to_string())
}

/// [`now`] plus `secs` seconds.
pub(crate) fn later(secs: i64) -> String {
    let ts = jiff::Timestamp::now().as_second().saturating_add(secs);
    jiff::Timestamp::from_second(ts)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| now())
}
