//! The resource model: what every kind with a group-version-kind knows about itself.

use std::collections::BTreeMap;

use crate::{ObjectMeta, OwnerReference, Time};

/// Whether a resource lives in a namespace or in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `/…/namespaces/{namespace}/{plural}`
    Namespaced,
    /// `/…/{plural}`
    Cluster,
}

/// Static facts of a Kubernetes kind, derived by the generator from the spec's paths.
///
/// ```
/// # use k8s_core::{Resource, Scope};
/// fn describe<K: Resource>() -> String {
///     format!("{} {} ({}, {:?})", K::API_VERSION, K::KIND, K::PLURAL, K::SCOPE)
/// }
/// ```
pub trait Resource {
    /// `group/version`, or `version` for the core group (`v1`).
    const API_VERSION: &'static str;
    /// API group; empty for the core group.
    const GROUP: &'static str;
    /// API version within the group, e.g. `v1`.
    const VERSION: &'static str;
    /// Kind, e.g. `Pod`.
    const KIND: &'static str;
    /// URL path segment of the resource, e.g. `pods`. Empty for kinds that have no REST endpoint
    /// of their own (e.g. `DeleteOptions`).
    const PLURAL: &'static str;
    /// Namespaced or cluster-scoped.
    const SCOPE: Scope;
    /// Verbs the resource supports (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`), as discovery names them.
    const VERBS: &'static [&'static str];
    /// Subresources (`status`, `scale`, `log`, `exec`, …).
    const SUBRESOURCES: &'static [&'static str];

    /// The kind's protobuf codec, if it has one: generated built-in kinds return one when
    /// `k8s-api`'s feature `protobuf` is on; custom resources, hand-written kinds and dynamic
    /// objects have none (`None`, the default), and are always sent and read as JSON. The
    /// request builders' `for_kind` constructors keep it, so `k8s-client` can negotiate
    /// protobuf without knowing the generated types.
    fn protobuf_codec() -> Option<crate::ops::ProtobufCodec<Self>>
    where
        Self: Sized,
    {
        None
    }
}

/// A kind with standard object metadata (`metadata: ObjectMeta`), so generic code (watches,
/// caches, controllers) can read and set it. Like kube's `Resource::meta` with `ResourceExt`: the
/// accessors borrow from the object, nothing is cloned.
///
/// ```
/// # use k8s_core::Object;
/// fn describe<K: Object>(o: &K) -> String {
///     format!(
///         "{}/{} ({} labels, generation {:?})",
///         o.namespace().unwrap_or("-"),
///         o.name_any(),
///         o.labels().len(),
///         o.generation()
///     )
/// }
/// ```
pub trait Object: Resource {
    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;
    /// The object's metadata, to change.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;

    /// `metadata.name`.
    fn name(&self) -> Option<&str> {
        self.metadata().name.as_deref()
    }
    /// `metadata.name`, else `metadata.generateName` (an object not created yet), else `""`.
    fn name_any(&self) -> &str {
        let m = self.metadata();
        m.name
            .as_deref()
            .or(m.generate_name.as_deref())
            .unwrap_or("")
    }
    /// `metadata.namespace`.
    fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }
    /// `metadata.resourceVersion`.
    fn resource_version(&self) -> Option<&str> {
        self.metadata().resource_version.as_deref()
    }
    /// `metadata.uid`.
    fn uid(&self) -> Option<&str> {
        self.metadata().uid.as_deref()
    }
    /// `metadata.generation`.
    fn generation(&self) -> Option<i64> {
        self.metadata().generation
    }
    /// `metadata.labels` (empty when there are none).
    fn labels(&self) -> &BTreeMap<String, String> {
        self.metadata().labels.as_ref().unwrap_or(&EMPTY_MAP)
    }
    /// `metadata.annotations` (empty when there are none).
    fn annotations(&self) -> &BTreeMap<String, String> {
        self.metadata().annotations.as_ref().unwrap_or(&EMPTY_MAP)
    }
    /// `metadata.ownerReferences` (empty when there are none).
    fn owner_references(&self) -> &[OwnerReference] {
        self.metadata().owner_references.as_deref().unwrap_or(&[])
    }
    /// `metadata.finalizers` (empty when there are none).
    fn finalizers(&self) -> &[String] {
        self.metadata().finalizers.as_deref().unwrap_or(&[])
    }
    /// `metadata.creationTimestamp`.
    fn creation_timestamp(&self) -> Option<&Time> {
        self.metadata().creation_timestamp.as_ref()
    }
    /// `metadata.deletionTimestamp`: set once deletion was asked for.
    fn deletion_timestamp(&self) -> Option<&Time> {
        self.metadata().deletion_timestamp.as_ref()
    }
}

static EMPTY_MAP: BTreeMap<String, String> = BTreeMap::new();

/// What generic code over objects needs of them: their metadata. Every [`Object`] (a typed kind)
/// has it through a blanket impl, and so has [`DynamicObject`](crate::DynamicObject), whose
/// kind is chosen at run time; paginated lists and watches (`k8s-client`) ask only for this.
///
/// The methods are named `meta`/`meta_mut` (not `metadata`) so that code importing both this
/// trait and [`Object`] never sees two methods of the same name.
///
/// ```
/// # use k8s_core::HasMetadata;
/// fn name_of<T: HasMetadata>(o: &T) -> &str {
///     o.meta().name.as_deref().unwrap_or("")
/// }
/// let cm: k8s_core::DynamicObject = serde_json::from_str(
///     r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}"#,
/// ).unwrap();
/// assert_eq!(name_of(&cm), "a");
/// ```
pub trait HasMetadata {
    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The object's metadata, to change.
    fn meta_mut(&mut self) -> &mut ObjectMeta;
}

impl<T: Object> HasMetadata for T {
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }
}

/// One row of a version's resource table (used for discovery and by the test server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceInfo {
    /// API group; empty for core.
    pub group: &'static str,
    /// Version within the group.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Kind of the list (`PodList`).
    pub list_kind: &'static str,
    /// Plural path segment.
    pub plural: &'static str,
    /// Scope.
    pub scope: Scope,
    /// Verbs.
    pub verbs: &'static [&'static str],
    /// Subresources, each with the kind its endpoint takes or returns (`("status", "Pod")`,
    /// `("scale", "Scale")`, `("log", "")` for non-object bodies).
    pub subresources: &'static [(&'static str, &'static str)],
}

impl ResourceInfo {
    /// Builds a row; used by generated tables.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        list_kind: &'static str,
        plural: &'static str,
        scope: Scope,
        verbs: &'static [&'static str],
        subresources: &'static [(&'static str, &'static str)],
    ) -> Self {
        ResourceInfo {
            group,
            version,
            kind,
            list_kind,
            plural,
            scope,
            verbs,
            subresources,
        }
    }

    /// `group/version`, or just `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the verb is supported.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}
