//! Namespaces (`""/namespaces`): defaults, the objects every namespace gets (the `default`
//! ServiceAccount, `kube-root-ca.crt`), and the namespace controller that empties a deleted
//! namespace. Its last step, removing the namespace once empty, runs on every removal:
//! `State::finalize_namespace_if_empty`.

use serde_json::{Value, json};

use crate::json::{meta, meta_mut, now, set_meta};
use crate::store::{KindHooks, NAMESPACES, R, Reply, Req, State, with_gvk};

/// `""/namespaces`.
pub(crate) struct Namespaces;

impl KindHooks for Namespaces {
    fn defaults(&self, obj: &mut Value) {
        let name = meta(obj, "name").unwrap_or_default();
        if let Some(m) = meta_mut(obj) {
            let labels = m.entry("labels").or_insert_with(|| json!({}));
            if let Value::Object(l) = labels {
                l.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
        }
        obj["spec"] = json!({"finalizers": ["kubernetes"]});
        obj["status"] = json!({"phase": "Active"});
    }

    fn written(&self, st: &mut State, obj: &Value) {
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            return;
        }
        let name = meta(obj, "name").unwrap_or_default();
        if st.object("/serviceaccounts", &name, "default").is_none() {
            namespace_created(st, &name);
        }
    }

    /// Marks the namespace terminating and deletes what it holds (objects with finalizers
    /// are only marked); the namespace goes once empty.
    fn delete(
        &self,
        st: &mut State,
        req: &Req,
        current: &Value,
        _grace: Option<i64>,
        dry: bool,
    ) -> Option<R> {
        Some(Ok(Reply::ok(
            200,
            with_gvk(&req.def, delete(st, current, dry)),
        )))
    }

    fn table_columns(&self) -> &'static [(&'static str, &'static str)] {
        &[("Status", "The status of the namespace")]
    }

    fn table_cells(&self, obj: &Value) -> Vec<Value> {
        vec![
            obj.pointer("/status/phase")
                .cloned()
                .unwrap_or(json!("Active")),
        ]
    }
}

/// What DELETE of a namespace answers: the namespace, terminating.
fn delete(st: &mut State, current: &Value, dry: bool) -> Value {
    let name = meta(current, "name").unwrap_or_default();
    let deleting = current.pointer("/metadata/deletionTimestamp").is_some();
    let mut new = current.clone();
    if !deleting {
        set_meta(&mut new, "deletionTimestamp", json!(now()));
        new["status"] = json!({"phase": "Terminating"});
    }
    if dry {
        return new;
    }
    let stored = if deleting {
        current.clone()
    } else {
        st.put(NAMESPACES, "", &name, new, Some(current.clone()))
    };
    // The namespace controller: delete everything in it.
    for storage in st.storage().storage_keys() {
        if storage == NAMESPACES {
            continue;
        }
        let prefix = format!("{name}/");
        let names: Vec<String> = st
            .storage()
            .entries(&storage, Some(&name))
            .into_iter()
            .filter_map(|(k, _)| k.strip_prefix(&prefix).map(str::to_string))
            .collect();
        for obj_name in names {
            let Some(obj) = st.object(&storage, &name, &obj_name).cloned() else {
                continue;
            };
            let has_finalizers = obj
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if !has_finalizers {
                st.remove(&storage, &name, &obj_name);
            } else if obj.pointer("/metadata/deletionTimestamp").is_none() {
                let mut marked = obj.clone();
                if let Some(m) = meta_mut(&mut marked) {
                    m.insert("deletionTimestamp".into(), json!(now()));
                    m.insert("deletionGracePeriodSeconds".into(), json!(0));
                }
                st.put(&storage, &name, &obj_name, marked, Some(obj));
            }
        }
    }
    st.finalize_namespace_if_empty(&name);
    stored
}

/// Objects the namespace controllers create in every namespace.
fn namespace_created(st: &mut State, ns: &str) {
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}});
    st.system_create("/serviceaccounts", sa);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
            "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
        "data": {"ca.crt": st.ca_pem}});
    st.system_create("/configmaps", cm);
}

/// The namespaces of a new cluster, each with its ServiceAccount and CA ConfigMap.
pub(crate) fn bootstrap(st: &mut State) {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        Namespaces.defaults(&mut obj);
        st.system_create(NAMESPACES, obj);
        namespace_created(st, ns);
    }
}
