//! [`ApiResource`]: a resource described at run time, and the request builders it makes.

use serde::Serialize;

use super::DynamicObject;
use crate::ops::{
    CreateRequest, DeleteCollectionRequest, DeleteRequest, GetRequest, ListRequest, PatchRequest,
    ReplaceRequest, WatchRequest, encode_path_segment,
};
use crate::{Patch, Resource, ResourceInfo, Scope};

/// A resource chosen at run time: what [`Resource`]'s constants say of a typed kind, as values.
/// Discovery (`k8s_client::discovery`) returns these; [`ApiResource::from_resource`] makes one
/// from a typed kind.
///
/// Its methods build the same request builders as the generated operations, answered with
/// [`DynamicObject`]s: `Pod::list("ns")` is `pods.list(Some("ns"))`. The `namespace` argument
/// of each method is used for namespaced resources only (like kubectl's `-n`, it is ignored
/// for cluster-scoped ones); `None` for a namespaced resource means all namespaces (lists,
/// watches) or a path without a namespace (which the server refuses for single objects).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ApiResource {
    /// API group; empty for the core group.
    pub group: String,
    /// Version within the group.
    pub version: String,
    /// `group/version`, or `version` for the core group.
    pub api_version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// URL path segment, e.g. `deployments`.
    pub plural: String,
    /// Singular name, e.g. `deployment` (the lowercase kind when the server gives none).
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// Verbs, as discovery names them (empty when unknown).
    pub verbs: Vec<String>,
    /// Subresources (`status`, `scale`, …).
    pub subresources: Vec<String>,
    /// Short names (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
}

impl ApiResource {
    /// A descriptor with no verbs, subresources, short names or categories listed; the singular
    /// is the lowercase kind.
    pub fn new(
        group: impl Into<String>,
        version: impl Into<String>,
        kind: impl Into<String>,
        plural: impl Into<String>,
        scope: Scope,
    ) -> Self {
        let group = group.into();
        let version = version.into();
        let kind = kind.into();
        ApiResource {
            api_version: join_api_version(&group, &version),
            singular: kind.to_ascii_lowercase(),
            group,
            version,
            kind,
            plural: plural.into(),
            scope,
            verbs: Vec::new(),
            subresources: Vec::new(),
            short_names: Vec::new(),
            categories: Vec::new(),
        }
    }

    /// The descriptor of a typed kind.
    pub fn from_resource<K: Resource>() -> Self {
        let mut r = ApiResource::new(K::GROUP, K::VERSION, K::KIND, K::PLURAL, K::SCOPE);
        r.verbs = K::VERBS.iter().map(|v| (*v).to_owned()).collect();
        r.subresources = K::SUBRESOURCES.iter().map(|v| (*v).to_owned()).collect();
        r
    }

    /// The descriptor of a row of a generated resource table.
    pub fn from_info(info: &ResourceInfo) -> Self {
        let mut r = ApiResource::new(info.group, info.version, info.kind, info.plural, info.scope);
        r.verbs = info.verbs.iter().map(|v| (*v).to_owned()).collect();
        r.subresources = info
            .subresources
            .iter()
            .map(|(s, _)| (*s).to_owned())
            .collect();
        r
    }

    /// Sets the singular name.
    pub fn with_singular(mut self, singular: impl Into<String>) -> Self {
        self.singular = singular.into();
        self
    }
    /// Sets the verbs.
    pub fn with_verbs<S: Into<String>>(mut self, verbs: impl IntoIterator<Item = S>) -> Self {
        self.verbs = verbs.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the subresources.
    pub fn with_subresources<S: Into<String>>(mut self, subs: impl IntoIterator<Item = S>) -> Self {
        self.subresources = subs.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the short names.
    pub fn with_short_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.short_names = names.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the categories.
    pub fn with_categories<S: Into<String>>(mut self, cats: impl IntoIterator<Item = S>) -> Self {
        self.categories = cats.into_iter().map(Into::into).collect();
        self
    }

    /// Whether discovery lists this verb.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
    /// Whether discovery lists this subresource.
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s == name)
    }
    /// Whether the resource lives in a namespace.
    pub fn is_namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// The collection's path: `/api/v1/namespaces/{ns}/pods`, `/apis/apps/v1/deployments`, …
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let mut p = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if let (Scope::Namespaced, Some(ns)) = (self.scope, namespace) {
            p.push_str("/namespaces/");
            p.push_str(&encode_path_segment(ns));
        }
        p.push('/');
        p.push_str(&self.plural);
        p
    }

    /// One object's path.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!(
            "{}/{}",
            self.collection_path(namespace),
            encode_path_segment(name)
        )
    }

    /// A subresource's path (`…/{name}/status`).
    pub fn subresource_path(&self, namespace: Option<&str>, name: &str, sub: &str) -> String {
        format!(
            "{}/{}",
            self.object_path(namespace, name),
            encode_path_segment(sub)
        )
    }

    /// `list`.
    pub fn list(&self, namespace: Option<&str>) -> ListRequest<DynamicObject> {
        ListRequest::new(self.collection_path(namespace))
    }
    /// `watch` (pass it to `Client::watch` for a watch that resumes).
    pub fn watch(&self, namespace: Option<&str>) -> WatchRequest<DynamicObject> {
        WatchRequest::new(self.collection_path(namespace))
    }
    /// `get`.
    pub fn get(&self, namespace: Option<&str>, name: &str) -> GetRequest<DynamicObject> {
        GetRequest::new(self.object_path(namespace, name))
    }
    /// `create` of `body` (a [`DynamicObject`], a typed object, JSON).
    pub fn create<B: Serialize + ?Sized>(
        &self,
        namespace: Option<&str>,
        body: &B,
    ) -> CreateRequest<DynamicObject> {
        CreateRequest::new(self.collection_path(namespace), body)
    }
    /// `update` (PUT) of the whole object.
    pub fn replace<B: Serialize + ?Sized>(
        &self,
        namespace: Option<&str>,
        name: &str,
        body: &B,
    ) -> ReplaceRequest<DynamicObject> {
        ReplaceRequest::new(self.object_path(namespace, name), body)
    }
    /// `patch` (JSON, merge, strategic merge or server-side apply).
    pub fn patch(
        &self,
        namespace: Option<&str>,
        name: &str,
        patch: Patch,
    ) -> PatchRequest<DynamicObject> {
        PatchRequest::new(self.object_path(namespace, name), patch)
    }
    /// `delete`.
    pub fn delete(&self, namespace: Option<&str>, name: &str) -> DeleteRequest<DynamicObject> {
        DeleteRequest::new(self.object_path(namespace, name))
    }
    /// `deletecollection`.
    pub fn delete_collection(
        &self,
        namespace: Option<&str>,
    ) -> DeleteCollectionRequest<DynamicObject> {
        DeleteCollectionRequest::new(self.collection_path(namespace))
    }
    /// GET of the `status` subresource.
    pub fn get_status(&self, namespace: Option<&str>, name: &str) -> GetRequest<DynamicObject> {
        GetRequest::new(self.subresource_path(namespace, name, "status"))
    }
    /// PUT of the `status` subresource.
    pub fn replace_status<B: Serialize + ?Sized>(
        &self,
        namespace: Option<&str>,
        name: &str,
        body: &B,
    ) -> ReplaceRequest<DynamicObject> {
        ReplaceRequest::new(self.subresource_path(namespace, name, "status"), body)
    }
    /// PATCH of the `status` subresource.
    pub fn patch_status(
        &self,
        namespace: Option<&str>,
        name: &str,
        patch: Patch,
    ) -> PatchRequest<DynamicObject> {
        PatchRequest::new(self.subresource_path(namespace, name, "status"), patch)
    }
    /// GET of any subresource, answered with `R` (`serde_json::Value` when unsure).
    pub fn get_subresource<R>(
        &self,
        namespace: Option<&str>,
        name: &str,
        sub: &str,
    ) -> GetRequest<R> {
        GetRequest::new(self.subresource_path(namespace, name, sub))
    }
    /// PATCH of any subresource, answered with `R`.
    pub fn patch_subresource<R>(
        &self,
        namespace: Option<&str>,
        name: &str,
        sub: &str,
        patch: Patch,
    ) -> PatchRequest<R> {
        PatchRequest::new(self.subresource_path(namespace, name, sub), patch)
    }
}

fn join_api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}
