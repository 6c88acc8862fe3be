//! Objects whose kind is chosen at run time: [`DynamicObject`] (apiVersion, kind, typed
//! metadata, the rest as JSON) and its descriptor [`ApiResource`] (group, version, kind, plural,
//! scope, verbs, subresources), which builds the same request builders as the generated code.
//!
//! ```
//! use k8s_core::{ApiRequest, ApiResource, DynamicObject, Scope};
//! let widgets = ApiResource::new("example.com", "v1", "Widget", "widgets", Scope::Namespaced);
//! let req = widgets.list(Some("default")).label_selector("app=web");
//! assert_eq!(
//!     req.to_request().unwrap().path_and_query(),
//!     "/apis/example.com/v1/namespaces/default/widgets?labelSelector=app%3Dweb"
//! );
//! let w = DynamicObject::new("w1", &widgets).with_data(serde_json::json!({"spec": {"size": 3}}));
//! assert_eq!(w.data["spec"]["size"], 3);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{HasMetadata, ListItem, ObjectMeta, OwnerReference, Time};

mod api_resource;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use api_resource::ApiResource;

/// An object of any kind: `apiVersion`, `kind`, typed [`ObjectMeta`], and every other field
/// (`spec`, `status`, `data`, …) as JSON in [`data`](Self::data).
///
/// It implements [`HasMetadata`], so `Client::list_all` and `Client::watch` take it like a typed
/// kind, and [`ListItem`]: a `List<DynamicObject>` accepts any `<Kind>List` (the request's path
/// already chose the resource), and items the server sent without `apiVersion`/`kind` (it leaves
/// them out of lists of built-in kinds) take them from the list (`DeploymentList` →
/// `Deployment`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DynamicObject {
    /// `apiVersion` (`group/version`, or `v1` for the core group); empty when unknown.
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    /// `kind`; empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Every other top-level field, as JSON.
    #[serde(flatten)]
    pub data: Map<String, Value>,
}

static EMPTY_MAP: BTreeMap<String, String> = BTreeMap::new();

impl DynamicObject {
    /// An object of the descriptor's kind named `name`, with no other field.
    pub fn new(name: impl Into<String>, resource: &ApiResource) -> Self {
        DynamicObject {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            data: Map::new(),
        }
    }

    /// Sets `metadata.namespace`.
    pub fn within(mut self, namespace: impl Into<String>) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self
    }

    /// Merges the fields of a JSON object into [`data`](Self::data) (a non-object adds nothing).
    /// `apiVersion`, `kind` and `metadata` in it are ignored: set those through their fields.
    pub fn with_data(mut self, data: Value) -> Self {
        if let Value::Object(map) = data {
            for (k, v) in map {
                if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    self.data.insert(k, v);
                }
            }
        }
        self
    }

    /// Converts from a typed object (or any serializable value with `apiVersion`/`kind`).
    pub fn from_typed<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_value(value).and_then(serde_json::from_value)
    }

    /// Converts into a typed object.
    pub fn try_into_typed<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::to_value(self).and_then(serde_json::from_value)
    }

    /// `group` of `apiVersion` (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// `version` of `apiVersion`.
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version.as_str(), |(_, version)| version)
    }

    /// `metadata.name`.
    pub fn name(&self) -> Option<&str> {
        self.metadata.name.as_deref()
    }
    /// `metadata.name`, else `metadata.generateName`, else `""`.
    pub fn name_any(&self) -> &str {
        self.metadata
            .name
            .as_deref()
            .or(self.metadata.generate_name.as_deref())
            .unwrap_or("")
    }
    /// `metadata.namespace`.
    pub fn namespace(&self) -> Option<&str> {
        self.metadata.namespace.as_deref()
    }
    /// `metadata.resourceVersion`.
    pub fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }
    /// `metadata.uid`.
    pub fn uid(&self) -> Option<&str> {
        self.metadata.uid.as_deref()
    }
    /// `metadata.generation`.
    pub fn generation(&self) -> Option<i64> {
        self.metadata.generation
    }
    /// `metadata.labels` (empty when there are none).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        self.metadata.labels.as_ref().unwrap_or(&EMPTY_MAP)
    }
    /// `metadata.annotations` (empty when there are none).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        self.metadata.annotations.as_ref().unwrap_or(&EMPTY_MAP)
    }
    /// `metadata.ownerReferences` (empty when there are none).
    pub fn owner_references(&self) -> &[OwnerReference] {
        self.metadata.owner_references.as_deref().unwrap_or(&[])
    }
    /// `metadata.finalizers` (empty when there are none).
    pub fn finalizers(&self) -> &[String] {
        self.metadata.finalizers.as_deref().unwrap_or(&[])
    }
    /// `metadata.deletionTimestamp`.
    pub fn deletion_timestamp(&self) -> Option<&Time> {
        self.metadata.deletion_timestamp.as_ref()
    }
}

impl HasMetadata for DynamicObject {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl ListItem for DynamicObject {
    /// Any list kind: `List` or `<Kind>List`. The descriptor that built the request chose the
    /// collection; a body that is no list at all (`Status`, `Pod`) is refused.
    fn check_list(kind: Option<&str>, _api_version: Option<&str>) -> Result<(), String> {
        match kind {
            None => Ok(()),
            Some(k) if k.ends_with("List") => Ok(()),
            Some(k) => Err(format!(
                "expected a list kind (\"<Kind>List\"), found {k:?}"
            )),
        }
    }

    fn from_list(items: &mut [Self], kind: Option<&str>, api_version: Option<&str>) {
        let item_kind = kind
            .and_then(|k| k.strip_suffix("List"))
            .filter(|k| !k.is_empty());
        let Some(item_kind) = item_kind else { return };
        for item in items {
            if item.kind.is_empty() {
                item.kind = item_kind.to_owned();
            }
            if item.api_version.is_empty() {
                item.api_version = api_version.unwrap_or_default().to_owned();
            }
        }
    }
}
