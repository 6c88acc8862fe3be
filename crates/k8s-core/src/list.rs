//! The generic list envelope that replaces every `*List` definition of the spec.

use serde::de::DeserializeOwned;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};

use crate::Resource;

/// `metadata` of a list (`io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListMeta {
    /// Token for the next page (`continue`), when the list was limited.
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_: Option<String>,
    /// Number of items not returned yet, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<i64>,
    /// Resource version of the list: where to start a watch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Deprecated; not set by current servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    /// Set when the list is one shard of the collection (alpha in 1.36, `ShardedListAndWatch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_info: Option<ShardInfo>,
}

/// The shard selector a sharded list answered (`io.k8s.apimachinery.pkg.apis.meta.v1.ShardInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShardInfo {
    /// The shard selector of the request, echoed back.
    #[serde(default)]
    pub selector: String,
}

/// A list of `T`, as the server returns it (`PodList` is `List<Pod>`).
///
/// Serializes `apiVersion` and `kind` (`<Kind>List`) from `T`'s [`Resource`] facts.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct List<T> {
    /// The items.
    pub items: Vec<T>,
    /// List metadata.
    pub metadata: ListMeta,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List {
            items: Vec::new(),
            metadata: ListMeta::default(),
        }
    }
}

impl<T> List<T> {
    /// A list of these items.
    pub fn new(items: Vec<T>, metadata: ListMeta) -> Self {
        List { items, metadata }
    }
}

impl<T: Resource + Serialize> Serialize for List<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("List", 4)?;
        st.serialize_field("apiVersion", T::API_VERSION)?;
        st.serialize_field("items", &self.items)?;
        st.serialize_field("kind", &format_args!("{}List", T::KIND))?;
        st.serialize_field("metadata", &self.metadata)?;
        st.end()
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for List<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "T: DeserializeOwned")]
        struct Raw<T> {
            // The server sends `"items": null` for some empty lists.
            #[serde(default = "Option::default")]
            items: Option<Vec<T>>,
            #[serde(default)]
            metadata: Option<ListMeta>,
        }
        let raw = Raw::<T>::deserialize(d)?;
        Ok(List {
            items: raw.items.unwrap_or_default(),
            metadata: raw.metadata.unwrap_or_default(),
        })
    }
}
