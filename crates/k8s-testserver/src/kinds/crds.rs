//! CustomResourceDefinitions (`apiextensions.k8s.io/customresourcedefinitions`): checks,
//! status, serving the resources they define; and those custom resources (schema validation).

use serde_json::{Value, json};

use crate::json::{meta, now, str_at, strs};
use crate::registry::{CustomInfo, ResourceDef};
use crate::store::{KindHooks, State};
use crate::validate::{self, Cause};

/// `apiextensions.k8s.io/customresourcedefinitions`.
pub(crate) struct Crds;

impl KindHooks for Crds {
    fn has_generation(&self) -> bool {
        true
    }

    fn validate(&self, _def: &ResourceDef, obj: &mut Value, _w: &mut Vec<String>) -> Vec<Cause> {
        let required = |field: &str, message: &str| {
            ("FieldValueRequired".into(), field.into(), message.into())
        };
        let mut causes = Vec::new();
        let name = meta(obj, "name").unwrap_or_default();
        let group = str_at(obj, "/spec/group");
        let plural = str_at(obj, "/spec/names/plural");
        if group.is_empty() {
            causes.push(required("spec.group", "Required value"));
        }
        if plural.is_empty() {
            causes.push(required("spec.names.plural", "Required value"));
        }
        if str_at(obj, "/spec/names/kind").is_empty() {
            causes.push(required("spec.names.kind", "Required value"));
        }
        if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
            causes.push((
                "FieldValueInvalid".into(),
                "metadata.name".into(),
                format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        if obj
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            causes.push(required(
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            ));
        }
        causes
    }

    fn server_status(&self, obj: &mut Value) {
        crd_status(obj);
    }

    fn written(&self, st: &mut State, obj: &Value) {
        register(st, obj);
    }

    /// The resources it defined stop being served, and their objects go.
    fn removed(&self, st: &mut State, crd: &Value) {
        let group = str_at(crd, "/spec/group");
        let plural = str_at(crd, "/spec/names/plural");
        st.registry.remove_custom(group, plural);
        let storage = format!("{group}/{plural}");
        let keys: Vec<(String, String)> = st
            .storage()
            .entries(&storage, None)
            .into_iter()
            .filter_map(|(k, _)| k.split_once('/'))
            .map(|(ns, name)| (ns.to_string(), name.to_string()))
            .collect();
        for (ns, name) in keys {
            st.remove(&storage, &ns, &name);
        }
    }

    fn deleted_object(&self, removed: &Value) -> Option<Value> {
        Some(removed.clone())
    }
}

/// Every custom resource: generation, and validation and pruning by its CRD's schema.
pub(crate) struct CustomResources;

impl KindHooks for CustomResources {
    fn has_generation(&self) -> bool {
        true
    }

    fn validate(
        &self,
        def: &ResourceDef,
        obj: &mut Value,
        warnings: &mut Vec<String>,
    ) -> Vec<Cause> {
        let Some(schema) = def.custom.as_ref().and_then(|c| c.schema.as_ref()) else {
            return Vec::new();
        };
        let mut unknown = Vec::new();
        let causes = validate::validate_crd(schema, obj, &mut unknown);
        warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
        causes
    }
}

/// Serves the custom resource a CRD defines (every served version), replacing earlier ones.
fn register(st: &mut State, crd: &Value) {
    let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
    let group = str_at(&spec, "/group").to_string();
    let names = spec.get("names").cloned().unwrap_or(Value::Null);
    let plural = str_at(&names, "/plural").to_string();
    let kind = str_at(&names, "/kind").to_string();
    let list_kind = names
        .get("listKind")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{kind}List"));
    let singular = names
        .get("singular")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    st.registry.remove_custom(&group, &plural);
    for v in spec
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if v.get("served") == Some(&Value::Bool(false)) {
            continue;
        }
        let mut subs = Vec::new();
        if v.pointer("/subresources/status").is_some() {
            subs.push(("status".to_string(), kind.clone()));
        }
        if v.pointer("/subresources/scale").is_some() {
            subs.push(("scale".to_string(), "Scale".to_string()));
        }
        st.registry.defs.push(ResourceDef {
            group: group.clone(),
            version: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("v1")
                .to_string(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
            verbs: [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            subresources: subs,
            short_names: strs(names.get("shortNames")),
            categories: strs(names.get("categories")),
            custom: Some(CustomInfo {
                schema: v.pointer("/schema/openAPIV3Schema").cloned(),
            }),
        });
    }
}

/// The status the apiextensions server reports once names are accepted.
fn crd_status(obj: &mut Value) {
    let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage") == Some(&json!(true)))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let t = now();
    let mut accepted = names.clone();
    if let Value::Object(m) = &mut accepted {
        if !m.contains_key("listKind") {
            let kind = str_at(&names, "/kind");
            m.insert("listKind".into(), json!(format!("{kind}List")));
        }
        if !m.contains_key("singular") {
            let kind = str_at(&names, "/kind").to_ascii_lowercase();
            m.insert("singular".into(), json!(kind));
        }
    }
    obj["status"] = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    });
}
