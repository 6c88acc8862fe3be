//! Metadata-only objects: [`PartialObjectMetadata<K>`], what a
//! [`metadata_watcher`](crate::watcher::metadata_watcher) yields and a metadata cache holds.
//!
//! The API server converts objects to `meta.k8s.io/v1` `PartialObjectMetadata` (only
//! `metadata`) when asked through the `Accept` header
//! ([`ACCEPT_PARTIAL_OBJECT_METADATA`](k8s_core::ops::ACCEPT_PARTIAL_OBJECT_METADATA) for a
//! watch, [`ACCEPT_PARTIAL_OBJECT_METADATA_LIST`](k8s_core::ops::ACCEPT_PARTIAL_OBJECT_METADATA_LIST)
//! for a list). A cache of metadata keeps a fraction of the memory of full objects (a Pod's
//! spec and status are most of it), for controllers that need only names, labels, owners or
//! finalizers.

use std::fmt;
use std::marker::PhantomData;

use k8s_core::{Object, ObjectMeta, Resource, Scope};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The metadata of an object of kind `K`, without its spec and status.
///
/// It is a [`Resource`] with `K`'s group, version, kind and scope, so keys
/// ([`ObjectRef`](crate::ObjectRef)), paths and controllers treat it as `K`; it reads both the
/// server's `PartialObjectMetadata` and a full `K` (from a server that answered with plain
/// JSON), and writes `PartialObjectMetadata`.
#[non_exhaustive]
pub struct PartialObjectMetadata<K> {
    /// The object's metadata.
    pub metadata: ObjectMeta,
    _k: PhantomData<fn() -> K>,
}

impl<K> PartialObjectMetadata<K> {
    /// Metadata of a `K`.
    pub fn new(metadata: ObjectMeta) -> Self {
        PartialObjectMetadata {
            metadata,
            _k: PhantomData,
        }
    }
}

impl<K> Clone for PartialObjectMetadata<K> {
    fn clone(&self) -> Self {
        Self::new(self.metadata.clone())
    }
}

impl<K> PartialEq for PartialObjectMetadata<K> {
    fn eq(&self, other: &Self) -> bool {
        self.metadata == other.metadata
    }
}

impl<K: Resource> fmt::Debug for PartialObjectMetadata<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartialObjectMetadata")
            .field("kind", &K::KIND)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<'de, K> Deserialize<'de> for PartialObjectMetadata<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Only `metadata` is read; everything else (`kind`, `spec`, …) is skipped.
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            metadata: ObjectMeta,
        }
        Wire::deserialize(d).map(|w| Self::new(w.metadata))
    }
}

impl<K> Serialize for PartialObjectMetadata<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("PartialObjectMetadata", 3)?;
        st.serialize_field("apiVersion", "meta.k8s.io/v1")?;
        st.serialize_field("kind", "PartialObjectMetadata")?;
        st.serialize_field("metadata", &self.metadata)?;
        st.end()
    }
}

impl<K: Resource> Resource for PartialObjectMetadata<K> {
    const API_VERSION: &'static str = K::API_VERSION;
    const GROUP: &'static str = K::GROUP;
    const VERSION: &'static str = K::VERSION;
    const KIND: &'static str = K::KIND;
    const PLURAL: &'static str = K::PLURAL;
    const SCOPE: Scope = K::SCOPE;
    const VERBS: &'static [&'static str] = K::VERBS;
    const SUBRESOURCES: &'static [&'static str] = K::SUBRESOURCES;
}

impl<K: Resource> Object for PartialObjectMetadata<K> {
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
