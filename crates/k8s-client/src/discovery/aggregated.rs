//! Aggregated discovery (`apidiscovery.k8s.io/v2`, `APIGroupDiscoveryList`): one document for
//! `/api` and one for `/apis`, each listing every group, version and resource.

use k8s_core::{ApiResource, Scope};
use serde::Deserialize;

use super::ApiGroup;

/// The `Accept` header that asks for aggregated discovery (v2, then v2beta1 as older servers
/// serve it), else the legacy documents.
pub(crate) const ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

#[derive(Deserialize)]
pub(crate) struct GroupDiscoveryList {
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    items: Vec<GroupDiscovery>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct GroupDiscovery {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    versions: Vec<VersionDiscovery>,
}

#[derive(Deserialize)]
struct VersionDiscovery {
    version: String,
    #[serde(default)]
    resources: Vec<ResourceDiscovery>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDiscovery {
    resource: String,
    #[serde(default)]
    response_kind: Option<Gvk>,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    singular_resource: Option<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    short_names: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    subresources: Vec<SubresourceDiscovery>,
}

#[derive(Deserialize)]
struct Gvk {
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize)]
struct SubresourceDiscovery {
    subresource: String,
}

impl GroupDiscoveryList {
    /// Whether the server answered with aggregated discovery (and not a legacy document).
    pub(crate) fn is_aggregated(&self) -> bool {
        self.kind.as_deref() == Some("APIGroupDiscoveryList")
    }

    /// The groups, in the server's order (its priority); versions in preference order.
    pub(crate) fn into_groups(self) -> Vec<ApiGroup> {
        self.items
            .into_iter()
            .map(|g| {
                let name = g.metadata.name.unwrap_or_default();
                let mut group = ApiGroup::new(name.clone());
                for v in g.versions {
                    group.versions.push(v.version.clone());
                    for r in v.resources {
                        let kind = r.response_kind.map(|k| k.kind).unwrap_or_default();
                        // A resource without a kind has no objects to resolve to.
                        if kind.is_empty() {
                            continue;
                        }
                        let scope = if r.scope == "Cluster" {
                            Scope::Cluster
                        } else {
                            Scope::Namespaced
                        };
                        let mut res = ApiResource::new(&name, &v.version, kind, r.resource, scope)
                            .with_verbs(r.verbs)
                            .with_short_names(r.short_names)
                            .with_categories(r.categories)
                            .with_subresources(r.subresources.into_iter().map(|s| s.subresource));
                        if let Some(s) = r.singular_resource.filter(|s| !s.is_empty()) {
                            res = res.with_singular(s);
                        }
                        group.resources.push(res);
                    }
                }
                group
            })
            .collect()
    }
}
