//! URL paths of collections and objects, from a kind's static facts.

use k8s_core::{Resource, Scope};

/// The path of the collection of kind `K`: in `namespace` for a namespaced kind (all namespaces
/// when `None`); a cluster-scoped kind ignores `namespace`.
///
/// ```
/// # #[derive(serde::Deserialize)] struct Deployment;
/// # impl k8s_core::Resource for Deployment { const API_VERSION: &'static str = "apps/v1"; const GROUP: &'static str = "apps";
/// #   const VERSION: &'static str = "v1"; const KIND: &'static str = "Deployment"; const PLURAL: &'static str = "deployments";
/// #   const SCOPE: k8s_core::Scope = k8s_core::Scope::Namespaced; const VERBS: &'static [&'static str] = &[];
/// #   const SUBRESOURCES: &'static [&'static str] = &[]; }
/// use k8s_runtime::collection_path;
/// assert_eq!(collection_path::<Deployment>(Some("web")), "/apis/apps/v1/namespaces/web/deployments");
/// assert_eq!(collection_path::<Deployment>(None), "/apis/apps/v1/deployments");
/// ```
pub fn collection_path<K: Resource>(namespace: Option<&str>) -> String {
    let mut path = if K::GROUP.is_empty() {
        format!("/api/{}", K::VERSION)
    } else {
        format!("/apis/{}/{}", K::GROUP, K::VERSION)
    };
    if let (Scope::Namespaced, Some(ns)) = (K::SCOPE, namespace) {
        path.push_str("/namespaces/");
        path.push_str(ns);
    }
    path.push('/');
    path.push_str(K::PLURAL);
    path
}

/// The path of the object `name` of kind `K` (in `namespace`, for a namespaced kind).
pub fn object_path<K: Resource>(namespace: Option<&str>, name: &str) -> String {
    let mut path = collection_path::<K>(namespace);
    path.push('/');
    path.push_str(name);
    path
}
