//! Aggregated discovery (`apidiscovery.k8s.io/v2`, `APIGroupDiscoveryList`) in protobuf, as the
//! real server answers `Accept: application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;
//! as=APIGroupDiscoveryList` on `/api` and `/apis`.
//!
//! The generated code has no apidiscovery types: the group has no REST paths, so the OpenAPI
//! documents the generator reads do not define them. These are the few message types, written by
//! hand with the field numbers of `k8s.io/api/apidiscovery/v2/generated.proto` and the Go shapes
//! of its `types.go` (strings and `metadata` are Go values, always written; `responseKind` is a
//! pointer, written when set). They need only `k8s-core`'s wire runtime, so this works with and
//! without the crate feature `protobuf`.

use k8s_core::protobuf::{Error, Field, Message, TypeMeta, Value as Wire, Writer};
use k8s_core::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

/// The content type of the answer.
pub(crate) const CONTENT_TYPE: &str =
    "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `APIGroupDiscoveryList`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupDiscoveryList {
    #[serde(default)]
    pub metadata: ListMeta,
    #[serde(default)]
    pub items: Vec<GroupDiscovery>,
}

/// `APIGroupDiscovery`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupDiscovery {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VersionDiscovery>,
}

/// `APIVersionDiscovery`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionDiscovery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceDiscovery>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub freshness: String,
}

/// `APIResourceDiscovery`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceDiscovery {
    #[serde(default)]
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_kind: Option<GroupVersionKind>,
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub singular_resource: String,
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subresources: Vec<SubresourceDiscovery>,
}

/// `APISubresourceDiscovery`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubresourceDiscovery {
    #[serde(default)]
    pub subresource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_kind: Option<GroupVersionKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_types: Vec<GroupVersionKind>,
    #[serde(default)]
    pub verbs: Vec<String>,
}

/// `meta.v1.GroupVersionKind`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

impl Message for GroupDiscoveryList {
    fn encode_fields(&self, w: &mut Writer) {
        self.metadata.encode(1, w);
        self.items.encode(2, w);
    }
    fn merge_field(&mut self, field: u32, value: Wire<'_>) -> Result<(), Error> {
        match field {
            1 => self.metadata.merge(value),
            2 => Field::merge_repeated(&mut self.items, value),
            _ => Ok(()),
        }
    }
    fn type_meta() -> Option<TypeMeta> {
        let mut t = TypeMeta::default();
        t.api_version = "apidiscovery.k8s.io/v2".into();
        t.kind = "APIGroupDiscoveryList".into();
        Some(t)
    }
}

impl Message for GroupDiscovery {
    fn encode_fields(&self, w: &mut Writer) {
        self.metadata.encode(1, w);
        self.versions.encode(2, w);
    }
    fn merge_field(&mut self, field: u32, value: Wire<'_>) -> Result<(), Error> {
        match field {
            1 => self.metadata.merge(value),
            2 => Field::merge_repeated(&mut self.versions, value),
            _ => Ok(()),
        }
    }
}

impl Message for VersionDiscovery {
    fn encode_fields(&self, w: &mut Writer) {
        self.version.encode(1, w);
        self.resources.encode(2, w);
        self.freshness.encode(3, w);
    }
    fn merge_field(&mut self, field: u32, value: Wire<'_>) -> Result<(), Error> {
        match field {
            1 => self.version.merge(value),
            2 => Field::merge_repeated(&mut self.resources, value),
            3 => self.freshness.merge(value),
            _ => Ok(()),
        }
    }
}

impl Message for ResourceDiscovery {
    fn encode_fields(&self, w: &mut Writer) {
        self.resource.encode(1, w);
        self.response_kind.encode(2, w);
        self.scope.encode(3, w);
        self.singular_resource.encode(4, w);
        self.verbs.encode(5, w);
        self.short_names.encode(6, w);
        self.categories.encode(7, w);
        self.subresources.encode(8, w);
    }
    fn merge_field(&mut self, field: u32, value: Wire<'_>) -> Result<(), Error> {
        match field {
            1 => self.resource.merge(value),
            2 => Field::merge_pointer(&mut self.response_kind, value),
            3 => self.scope.merge(value),
            4 => self.singular_resource.merge(value),
            5 => Field::merge_repeated(&mut self.verbs, value),
            6 => Field::merge_repeated(&mut self.short_names, value),
            7 => Field::merge_repeated(&mut self.categories, value),
            8 => Field::merge_repeated(&mut self.subresources, value),
            _ => Ok(()),
        }
    }
}

impl Message for SubresourceDiscovery {
    fn encode_fields(&self, w: &mut Writer) {
        self.subresource.encode(1, w);
        self.response_kind.encode(2, w);
        self.accepted_types.encode(3, w);
        self.verbs.encode(4, w);
    }
    fn merge_field(&mut self, field: u32, value: Wire<'_>) -> Result<(), Error> {
        match field {
            1 => self.subresource.merge(value),
            2 => Field::merge_pointer(&mut self.response_kind, value),
            3 => Field::merge_repeated(&mut self.accepted_types, value),
            4 => Field::merge_repeated(&mut self.verbs, value),
            _ => Ok(()),
        }
    }
}

impl Message for GroupVersionKind {
    fn encode_fields(&self, w: &mut Writer) {
        self.group.encode(1, w);
        self.version.encode(2, w);
        self.kind.encode(3, w);
    }
    fn merge_field(&mut self, field: u32, value: Wire<'_>) -> Result<(), Error> {
        match field {
            1 => self.group.merge(value),
            2 => self.version.merge(value),
            3 => self.kind.merge(value),
            _ => Ok(()),
        }
    }
}

/// The protobuf body of an aggregated discovery document (the JSON the registry writes).
pub(crate) fn encode(doc: &serde_json::Value) -> Result<Vec<u8>, String> {
    let list = GroupDiscoveryList::deserialize(doc).map_err(|e| e.to_string())?;
    Ok(k8s_core::protobuf::to_bytes(&list))
}

/// Byte-exact against the real server: the aggregated discovery documents kube-apiserver 1.36
/// answered in protobuf decode, re-encode to the same bytes, and equal its JSON answers.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::{Path, PathBuf};

    use base64::Engine;

    use super::*;

    fn fixtures() -> PathBuf {
        std::env::var("K8S_FIXTURES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
            })
    }

    #[test]
    fn recorded_protobuf_discovery_round_trips_byte_for_byte() {
        let path = fixtures().join("apiserver-v1.36.2/protobuf.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("cannot read {} ({e}): set K8S_FIXTURES_DIR", path.display())
        });
        let ex: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for e in &ex {
            let accept = e["request_accept"].as_str().unwrap_or("");
            if !accept.starts_with(CONTENT_TYPE) {
                continue;
            }
            assert_eq!(e["response_headers"]["content-type"], CONTENT_TYPE);
            let recorded = base64::engine::general_purpose::STANDARD
                .decode(e["response_body_base64"].as_str().unwrap())
                .unwrap();
            let list: GroupDiscoveryList = k8s_core::protobuf::from_bytes(&recorded).unwrap();
            assert!(!list.items.is_empty());
            assert!(list.items.iter().all(|g| !g.versions.is_empty()));
            assert_eq!(k8s_core::protobuf::to_bytes(&list), recorded);
            // Through the JSON the test server holds.
            let json = serde_json::to_value(&list).unwrap();
            assert_eq!(encode(&json).unwrap(), recorded);
            checked += 1;
        }
        assert_eq!(checked, 2, "/api and /apis");
    }
}
