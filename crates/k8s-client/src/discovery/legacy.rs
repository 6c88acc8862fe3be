//! Legacy discovery: `/api` (`APIVersions`), `/apis` (`APIGroupList`) and one
//! `APIResourceList` per group-version. Used when the server has no aggregated discovery.

use k8s_core::{ApiResource, Scope};
use serde::Deserialize;

/// `/api`.
#[derive(Deserialize)]
pub(crate) struct ApiVersions {
    #[serde(default)]
    pub(crate) versions: Vec<String>,
}

/// `/apis`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiGroupList {
    #[serde(default)]
    pub(crate) groups: Vec<ApiGroupDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiGroupDoc {
    pub(crate) name: String,
    #[serde(default)]
    versions: Vec<GroupVersionDoc>,
    #[serde(default)]
    preferred_version: Option<GroupVersionDoc>,
}

#[derive(Deserialize)]
struct GroupVersionDoc {
    version: String,
}

impl ApiGroupDoc {
    /// The versions, preferred first, then the others in the server's order.
    pub(crate) fn versions_preferred_first(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(p) = &self.preferred_version {
            out.push(p.version.clone());
        }
        for v in &self.versions {
            if !out.contains(&v.version) {
                out.push(v.version.clone());
            }
        }
        out
    }
}

/// `/api/v1`, `/apis/{group}/{version}`.
#[derive(Deserialize)]
pub(crate) struct ApiResourceList {
    #[serde(default)]
    resources: Vec<ApiResourceDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiResourceDoc {
    name: String,
    #[serde(default)]
    singular_name: String,
    #[serde(default)]
    namespaced: bool,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    short_names: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

impl ApiResourceList {
    /// The resources of `group`/`version`; `{plural}/{sub}` entries become subresources of their
    /// resource.
    pub(crate) fn into_resources(self, group: &str, version: &str) -> Vec<ApiResource> {
        let mut out: Vec<ApiResource> = Vec::new();
        let mut subs: Vec<(String, String)> = Vec::new();
        for r in self.resources {
            if let Some((parent, sub)) = r.name.split_once('/') {
                subs.push((parent.to_owned(), sub.to_owned()));
                continue;
            }
            if r.kind.is_empty() {
                continue;
            }
            let scope = if r.namespaced {
                Scope::Namespaced
            } else {
                Scope::Cluster
            };
            let mut res = ApiResource::new(group, version, r.kind, r.name, scope)
                .with_verbs(r.verbs)
                .with_short_names(r.short_names)
                .with_categories(r.categories);
            if !r.singular_name.is_empty() {
                res = res.with_singular(r.singular_name);
            }
            out.push(res);
        }
        for (parent, sub) in subs {
            if let Some(r) = out.iter_mut().find(|r| r.plural == parent) {
                r.subresources.push(sub);
            }
        }
        out
    }
}
