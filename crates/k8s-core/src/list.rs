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

/// An item type of [`List<T>`]: what the list's `kind` is checked against when it is decoded.
///
/// Every kind ([`Resource`]) is one: its list must be `<Kind>List` (with the kind's
/// `apiVersion`), the generic `List`, or a `meta.k8s.io/v1` `PartialObjectMetadataList` (the
/// answer to a metadata-only list). `serde_json::Value` is one too, and accepts any list.
pub trait ListItem: DeserializeOwned {
    /// Whether a list of this `kind` and `apiVersion` (each absent when `None`) may hold `Self`;
    /// the error says what was expected.
    fn check_list(kind: Option<&str>, api_version: Option<&str>) -> Result<(), String>;

    /// Called on the decoded items with the list's `kind` and `apiVersion`: lets an item type
    /// that records its own kind ([`DynamicObject`](crate::DynamicObject)) take it from the list
    /// when the server left it out of the items (it does for built-in kinds). Does nothing by
    /// default.
    fn from_list(items: &mut [Self], kind: Option<&str>, api_version: Option<&str>)
    where
        Self: Sized,
    {
        let _ = (items, kind, api_version);
    }
}

impl<T: Resource + DeserializeOwned> ListItem for T {
    fn check_list(kind: Option<&str>, api_version: Option<&str>) -> Result<(), String> {
        let typed = kind.and_then(|k| k.strip_suffix("List")) == Some(T::KIND);
        match kind {
            None | Some("List") => Ok(()),
            // The answer to a metadata-only list (`ops::ACCEPT_PARTIAL_OBJECT_METADATA_LIST`):
            // its items are any kind's metadata.
            Some("PartialObjectMetadataList") if api_version == Some("meta.k8s.io/v1") => Ok(()),
            Some(_) if typed => match api_version {
                Some(v) if v != T::API_VERSION => Err(format!(
                    "expected apiVersion {:?} for a {}List, found {v:?}",
                    T::API_VERSION,
                    T::KIND
                )),
                _ => Ok(()),
            },
            Some(k) => Err(format!(
                "expected kind \"{}List\" (or \"List\"), found {k:?}",
                T::KIND
            )),
        }
    }
}

impl ListItem for serde_json::Value {
    fn check_list(_: Option<&str>, _: Option<&str>) -> Result<(), String> {
        Ok(())
    }
}

impl<'de, T: ListItem> Deserialize<'de> for List<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "T: DeserializeOwned", rename_all = "camelCase")]
        struct Raw<T> {
            #[serde(default)]
            api_version: Option<String>,
            #[serde(default)]
            kind: Option<String>,
            // The server sends `"items": null` for some empty lists.
            #[serde(default = "Option::default")]
            items: Option<Vec<T>>,
            #[serde(default)]
            metadata: Option<ListMeta>,
        }
        let raw = Raw::<T>::deserialize(d)?;
        T::check_list(raw.kind.as_deref(), raw.api_version.as_deref())
            .map_err(serde::de::Error::custom)?;
        let mut items = raw.items.unwrap_or_default();
        T::from_list(&mut items, raw.kind.as_deref(), raw.api_version.as_deref());
        Ok(List {
            items,
            metadata: raw.metadata.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::Scope;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Widget {
        name: String,
    }

    impl Resource for Widget {
        const API_VERSION: &'static str = "example.com/v1";
        const GROUP: &'static str = "example.com";
        const VERSION: &'static str = "v1";
        const KIND: &'static str = "Widget";
        const PLURAL: &'static str = "widgets";
        const SCOPE: Scope = Scope::Namespaced;
        const VERBS: &'static [&'static str] = &["list"];
        const SUBRESOURCES: &'static [&'static str] = &[];
    }

    fn decode(json: &str) -> Result<List<Widget>, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_list_of_the_kind_or_a_generic_list_or_no_kind_decodes() {
        for json in [
            r#"{"apiVersion":"example.com/v1","kind":"WidgetList","items":[{"name":"a"}]}"#,
            r#"{"apiVersion":"v1","kind":"List","items":[{"name":"a"}]}"#,
            r#"{"kind":"WidgetList","items":[{"name":"a"}]}"#,
            r#"{"items":[{"name":"a"}]}"#,
        ] {
            let list = decode(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(list.items, [Widget { name: "a".into() }], "{json}");
        }
    }

    #[test]
    fn a_list_of_another_kind_or_version_fails_naming_expected_and_found() {
        let e = decode(r#"{"apiVersion":"v1","kind":"PodList","items":[]}"#).unwrap_err();
        assert!(
            e.contains(r#"expected kind "WidgetList" (or "List"), found "PodList""#),
            "{e}"
        );
        let e = decode(r#"{"apiVersion":"example.com/v2","kind":"WidgetList","items":[]}"#)
            .unwrap_err();
        assert!(
            e.contains(
                r#"expected apiVersion "example.com/v1" for a WidgetList, found "example.com/v2""#
            ),
            "{e}"
        );
    }

    #[test]
    fn a_list_of_json_values_takes_any_kind() {
        let list: List<serde_json::Value> =
            serde_json::from_str(r#"{"apiVersion":"v1","kind":"PodList","items":[{}]}"#).unwrap();
        assert_eq!(list.items.len(), 1);
    }
}
