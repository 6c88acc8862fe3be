//! `Table` answers (`Accept: ...;as=Table`), as kubectl's printers ask for them.

use serde_json::{Value, json};

use crate::registry::ResourceDef;
use crate::store::KindHooks;

fn age(ts: Option<&str>) -> String {
    let Some(ts) = ts.and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - ts.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// The column definitions: Name, the kind's own columns, Age.
pub(super) fn columns(hooks: &dyn KindHooks) -> Vec<Value> {
    let col = |name: &str, ty: &str, format: &str, desc: &str| json!({"name": name, "type": ty, "format": format, "description": desc, "priority": 0});
    let mut cols = vec![col(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    )];
    for (name, description) in hooks.table_columns() {
        cols.push(col(name, "string", "", description));
    }
    cols.push(col("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."));
    cols
}

/// One row; `include` (`includeObject`) says what of the object the row carries.
pub(super) fn row(def: &ResourceDef, hooks: &dyn KindHooks, obj: &Value, include: &str) -> Value {
    let name = obj.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    let mut cells = vec![name];
    cells.extend(hooks.table_cells(obj));
    cells.push(json!(age(obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str))));
    let mut r = json!({"cells": cells});
    match include {
        "None" => {}
        "Object" => {
            let mut o = obj.clone();
            o["apiVersion"] = json!(def.api_version());
            o["kind"] = json!(def.kind);
            r["object"] = o;
        }
        _ => {
            r["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))});
        }
    }
    r
}

/// A list or an object as a `Table`.
pub(super) fn to_table(
    def: &ResourceDef,
    hooks: &dyn KindHooks,
    body: &Value,
    include: &str,
) -> Value {
    let (rows, mut md) = match body.get("items").and_then(Value::as_array) {
        Some(items) => (
            items
                .iter()
                .map(|o| row(def, hooks, o, include))
                .collect::<Vec<_>>(),
            body.get("metadata").cloned().unwrap_or(json!({})),
        ),
        None => (
            vec![row(def, hooks, body, include)],
            json!({"resourceVersion": body.pointer("/metadata/resourceVersion")}),
        ),
    };
    if let Value::Object(m) = &mut md {
        m.remove("remainingItemCount");
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md, "columnDefinitions": columns(hooks), "rows": rows})
}
