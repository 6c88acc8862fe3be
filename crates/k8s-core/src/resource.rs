//! The resource model: what every kind with a group-version-kind knows about itself.

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
}

/// A kind with standard object metadata, so generic code (watch resume, caches) can read it.
pub trait Object: Resource {
    /// `metadata.name`
    fn name(&self) -> Option<&str>;
    /// `metadata.namespace`
    fn namespace(&self) -> Option<&str>;
    /// `metadata.resourceVersion`
    fn resource_version(&self) -> Option<&str>;
    /// `metadata.uid`
    fn uid(&self) -> Option<&str>;
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
