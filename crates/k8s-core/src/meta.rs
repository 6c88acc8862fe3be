//! Object metadata (`meta.k8s.io/v1` `ObjectMeta`, `OwnerReference`, `ManagedFieldsEntry`),
//! hand-written once for every Kubernetes version, built-in kind, custom resource and dynamic
//! object.
//!
//! The generator maps the spec's definitions of these three types here (fixup `special-types`,
//! with a check that the spec has no field these types lack), so that code generic over kinds (a
//! cache, a controller, [`Object`](crate::Object)'s accessors) reads one `ObjectMeta` whatever
//! version module the kind comes from. The wire format is the generated types' own: every field
//! optional and written only when set, `null` read as absent, unknown fields ignored, a field
//! given twice an error. Like the generated types (and unlike this crate's own types) they are
//! not `#[non_exhaustive]`, so that users build them with struct literals and `..Default::default()`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{FieldsV1, Time};

/// Standard object metadata: name, namespace, labels, annotations, owner references and what
/// the server records (uid, resource version, generation, timestamps, managed fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Unstructured key/value data kept with the object; not used to select objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// When the server created the object (set by the server, read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Time>,
    /// Seconds the object is given to terminate once its deletion timestamp is set (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    /// When the object will be (or was asked to be) deleted; set by the server on a delete
    /// request while finalizers remain (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<Time>,
    /// Keys of the cleanups that must finish before the object is removed. List type: set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finalizers: Option<Vec<String>>,
    /// A prefix from which the server makes a unique name, when `name` is not given (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// A number the server increases on every change of the desired state (spec) (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Key/value pairs that label selectors match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Which field manager owns which fields (server-side apply). List type: atomic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_fields: Option<Vec<ManagedFieldsEntry>>,
    /// The name, unique within the namespace (or the cluster for cluster-scoped kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace, for namespaced kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Objects this one depends on; garbage collection deletes it after all of them are gone.
    /// List type: map, keyed by `uid`. Strategic merge patch: merge on `uid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_references: Option<Vec<OwnerReference>>,
    /// The version of the object the server holds: for optimistic concurrency and watches
    /// (opaque; read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Deprecated; not set by current servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    /// The object's unique id for its whole life (set by the server, read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl ObjectMeta {
    /// Whether no field is set (what a kind without metadata reads as; written as no
    /// `metadata` at all).
    pub fn is_empty(&self) -> bool {
        *self == ObjectMeta::default()
    }

    /// Metadata with this name (and nothing else).
    pub fn named(name: impl Into<String>) -> Self {
        ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        }
    }

    /// This metadata without the fields the server owns, for a server-side apply that takes
    /// ownership of what an object says: drops `uid`, `resourceVersion`, `generation`,
    /// `creationTimestamp`, `deletionTimestamp`, `deletionGracePeriodSeconds`, `managedFields`
    /// and `selfLink` (an apply carrying `managedFields` is refused, a `resourceVersion` turns it
    /// into a conditional update); keeps name, namespace, generateName, labels, annotations,
    /// owner references and finalizers.
    pub fn without_server_fields(&self) -> Self {
        ObjectMeta {
            annotations: self.annotations.clone(),
            finalizers: self.finalizers.clone(),
            generate_name: self.generate_name.clone(),
            labels: self.labels.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            owner_references: self.owner_references.clone(),
            ..ObjectMeta::default()
        }
    }

    /// Metadata with this namespace and name.
    pub fn namespaced(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectMeta {
            namespace: Some(namespace.into()),
            name: Some(name.into()),
            ..ObjectMeta::default()
        }
    }
}

/// A reference to an owner of the object (`metadata.ownerReferences[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    /// The owner's `apiVersion`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub api_version: String,
    /// Whether deleting the owner in the foreground waits for this object to be deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
    /// Whether this owner is the managing controller (at most one owner is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    /// The owner's kind.
    #[serde(default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The owner's name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The owner's uid.
    #[serde(default, deserialize_with = "null_as_default")]
    pub uid: String,
}

impl OwnerReference {
    /// A reference to the owner of this kind, name and uid (`block_owner_deletion` and
    /// `controller` unset).
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
        uid: impl Into<String>,
    ) -> Self {
        OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            ..OwnerReference::default()
        }
    }
}

/// Which fields one field manager owns, and through which operation (`metadata.managedFields[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedFieldsEntry {
    /// The version of the object's schema the field set is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The format of `fields_v1` (`FieldsV1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields_type: Option<String>,
    /// The owned fields.
    #[serde(rename = "fieldsV1", skip_serializing_if = "Option::is_none")]
    pub fields_v1: Option<FieldsV1>,
    /// The field manager's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// `Apply` or `Update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The subresource the fields were written through (`status`, …), or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// When the fields were last changed by this manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
}

/// A required field's value with `null` read as the default, as the generated types read it.
fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_the_servers_json() {
        let server = json!({
            "name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42",
            "generation": 3, "creationTimestamp": "2026-12-01T10:00:00Z",
            "labels": {"app": "web"}, "annotations": {"note": "x"},
            "finalizers": ["example.com/cleanup"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                 "uid": "u-0", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                               "time": "2026-12-01T10:00:00Z", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}}}]
        });
        let meta: ObjectMeta = serde_json::from_value(server.clone()).unwrap();
        assert_eq!(meta.name.as_deref(), Some("web"));
        assert_eq!(
            meta.owner_references.as_ref().unwrap()[0].kind,
            "ReplicaSet"
        );
        assert_eq!(serde_json::to_value(&meta).unwrap(), server);
    }

    #[test]
    fn null_is_absent_unknown_is_ignored_duplicates_fail() {
        let meta: ObjectMeta =
            serde_json::from_str(r#"{"name":null,"labels":null,"future":1}"#).unwrap();
        assert_eq!(meta, ObjectMeta::default());
        assert_eq!(serde_json::to_value(&meta).unwrap(), json!({}));
        let owner: OwnerReference =
            serde_json::from_str(r#"{"kind":null,"name":"a","uid":"u"}"#).unwrap();
        assert_eq!(owner.kind, "");
        assert_eq!(
            serde_json::to_value(&owner).unwrap(),
            json!({"apiVersion": "", "kind": "", "name": "a", "uid": "u"})
        );
        let e = serde_json::from_str::<ObjectMeta>(r#"{"name":"a","name":"b"}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field `name`"), "{e}");
    }

    #[test]
    fn without_server_fields_keeps_what_a_client_owns() {
        let server = json!({
            "name": "web", "namespace": "shop", "generateName": "web-", "uid": "u-1",
            "resourceVersion": "42", "generation": 3, "selfLink": "/x",
            "creationTimestamp": "2026-12-01T10:00:00Z",
            "deletionTimestamp": "2026-12-01T11:00:00Z", "deletionGracePeriodSeconds": 30,
            "labels": {"app": "web"}, "annotations": {"note": "x"},
            "finalizers": ["example.com/cleanup"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                 "uid": "u-0"}],
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
        });
        let meta: ObjectMeta = serde_json::from_value(server).unwrap();
        assert_eq!(
            serde_json::to_value(meta.without_server_fields()).unwrap(),
            json!({
                "name": "web", "namespace": "shop", "generateName": "web-",
                "labels": {"app": "web"}, "annotations": {"note": "x"},
                "finalizers": ["example.com/cleanup"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                     "name": "web-1", "uid": "u-0"}]
            })
        );
    }

    #[test]
    fn constructors() {
        assert_eq!(
            serde_json::to_value(ObjectMeta::namespaced("ns", "n")).unwrap(),
            json!({"name": "n", "namespace": "ns"})
        );
        assert_eq!(
            serde_json::to_value(ObjectMeta::named("n")).unwrap(),
            json!({"name": "n"})
        );
        let r = OwnerReference::new("v1", "ConfigMap", "c", "u");
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u"})
        );
    }
}
