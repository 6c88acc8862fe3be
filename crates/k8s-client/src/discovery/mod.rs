//! Discovery: which groups, versions and resources the server serves, as
//! [`k8s_core::ApiResource`]s, and kubectl's name resolution on top (`deploy`,
//! `deployments.apps`, `deployments.v1.apps`, kinds, short names).
//!
//! [`Discovery::run`] asks for aggregated discovery (`apidiscovery.k8s.io/v2`: one request for
//! `/api`, one for `/apis`) and falls back to the legacy documents (`/api`, `/apis`, then one
//! request per group-version) when the server does not serve it. A [`Discovery`] is a snapshot:
//! resolving reads it and sends nothing. [`DiscoveryCache`] keeps one per client, refreshes it
//! after a time to live, and once more when a name is not found (a CRD created since).
//!
//! ```no_run
//! use k8s_client::discovery::Discovery;
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::discovery::DiscoveryError> {
//! let discovery = Discovery::run(&client).await?;
//! let deploy = discovery.resolve("deploy")?;
//! assert_eq!((deploy.group.as_str(), deploy.plural.as_str()), ("apps", "deployments"));
//! let list = client.send(deploy.list(Some("default"))).await?;
//! println!("{} deployments; apps prefers {:?}", list.items.len(), discovery.preferred_version("apps"));
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_core::{ApiRequest, ApiResource, DecodeError, Request, RequestError};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::Error;

mod aggregated;
mod legacy;
mod resolve;

/// One API group as discovery describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiGroup {
    /// The group's name; empty for the core group.
    pub name: String,
    /// Its versions, preferred first.
    pub versions: Vec<String>,
    /// Its resources, version by version in the order of `versions`.
    pub resources: Vec<ApiResource>,
}

impl ApiGroup {
    fn new(name: String) -> Self {
        ApiGroup {
            name,
            versions: Vec::new(),
            resources: Vec::new(),
        }
    }

    /// The preferred version.
    pub fn preferred_version(&self) -> Option<&str> {
        self.versions.first().map(String::as_str)
    }
}

/// How a [`Discovery`] was fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryMode {
    /// Aggregated discovery (two requests).
    Aggregated,
    /// The legacy documents (one request per group-version).
    Legacy,
}

/// Discovery failed, or a name did not resolve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// A discovery request failed (the error names its method and path).
    #[error("discovery: {0}")]
    Request(#[from] Error),
    /// No resource of the server has this name (as kubectl says it).
    #[error("the server doesn't have a resource type {name:?}")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The server serves no such kind in that group and version.
    #[error("the server has no kind {kind:?} in {api_version:?}")]
    NoKind {
        /// `group/version` asked for.
        api_version: String,
        /// Kind asked for.
        kind: String,
    },
    /// The name matches several resources of equal priority.
    #[error("{name:?} is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The matches, as `plural.version.group`.
        candidates: Vec<String>,
    },
}

/// A GET of a discovery document with a chosen `Accept` header.
struct DiscoveryGet<T> {
    path: String,
    accept: &'static str,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> DiscoveryGet<T> {
    fn new(path: impl Into<String>, accept: &'static str) -> Self {
        DiscoveryGet {
            path: path.into(),
            accept,
            _t: std::marker::PhantomData,
        }
    }
}

impl<T: DeserializeOwned> ApiRequest for DiscoveryGet<T> {
    type Response = T;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::GET, self.path.clone());
        r.accept = self.accept;
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<T, DecodeError> {
        serde_json::from_slice(body).map_err(|e| DecodeError::json::<T>(&e))
    }
}

/// A snapshot of the server's discovery: groups in the server's priority order (core first),
/// versions preferred first. Resolving names reads it and sends nothing.
#[derive(Clone, Debug)]
pub struct Discovery {
    groups: Vec<ApiGroup>,
    mode: DiscoveryMode,
    failed: Vec<(String, String)>,
}

impl Discovery {
    /// Fetches discovery: aggregated if the server serves it, else the legacy documents.
    pub async fn run(client: &Client) -> Result<Self, DiscoveryError> {
        let core: aggregated::GroupDiscoveryList = client
            .send(DiscoveryGet::new("/api", aggregated::ACCEPT))
            .await?;
        if !core.is_aggregated() {
            tracing::debug!("no aggregated discovery; reading the per-group documents");
            return Self::run_legacy(client).await;
        }
        let apis: aggregated::GroupDiscoveryList = client
            .send(DiscoveryGet::new("/apis", aggregated::ACCEPT))
            .await?;
        if !apis.is_aggregated() {
            return Self::run_legacy(client).await;
        }
        let mut groups = core.into_groups();
        groups.extend(apis.into_groups());
        Ok(Discovery {
            groups,
            mode: DiscoveryMode::Aggregated,
            failed: Vec::new(),
        })
    }

    /// Fetches the legacy documents only (`/api`, `/apis`, one per group-version), as servers
    /// before Kubernetes 1.26 serve them. A group-version whose document fails (an aggregated
    /// API server that is down) is left out and listed by [`Discovery::failed`], as kubectl
    /// does; a failure of `/api` or `/apis` is an error.
    pub async fn run_legacy(client: &Client) -> Result<Self, DiscoveryError> {
        let json = "application/json";
        let core: legacy::ApiVersions = client.send(DiscoveryGet::new("/api", json)).await?;
        let apis: legacy::ApiGroupList = client.send(DiscoveryGet::new("/apis", json)).await?;
        let mut groups = Vec::new();
        let mut failed = Vec::new();
        let mut wanted: Vec<(String, Vec<String>)> = vec![(String::new(), core.versions)];
        wanted.extend(
            apis.groups
                .iter()
                .map(|g| (g.name.clone(), g.versions_preferred_first())),
        );
        for (name, versions) in wanted {
            let mut group = ApiGroup::new(name.clone());
            for version in versions {
                let path = if name.is_empty() {
                    format!("/api/{version}")
                } else {
                    format!("/apis/{name}/{version}")
                };
                match client
                    .send(DiscoveryGet::<legacy::ApiResourceList>::new(path, json))
                    .await
                {
                    Ok(list) => {
                        group.versions.push(version.clone());
                        group.resources.extend(list.into_resources(&name, &version));
                    }
                    Err(e) => {
                        tracing::warn!(group = %name, %version, error = %e, "discovery of a group-version failed; leaving it out");
                        failed.push((name.clone(), version));
                    }
                }
            }
            if !group.versions.is_empty() {
                groups.push(group);
            }
        }
        Ok(Discovery {
            groups,
            mode: DiscoveryMode::Legacy,
            failed,
        })
    }

    /// Builds a snapshot from aggregated discovery documents fetched elsewhere (the bodies of
    /// `/api` and `/apis` for `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`).
    pub fn from_aggregated(api: &[u8], apis: &[u8]) -> Result<Self, DecodeError> {
        let mut groups = Vec::new();
        for body in [api, apis] {
            let doc: aggregated::GroupDiscoveryList = serde_json::from_slice(body)
                .map_err(|e| DecodeError::json::<aggregated::GroupDiscoveryList>(&e))?;
            groups.extend(doc.into_groups());
        }
        Ok(Discovery {
            groups,
            mode: DiscoveryMode::Aggregated,
            failed: Vec::new(),
        })
    }

    /// Builds a snapshot from legacy `APIResourceList` documents fetched elsewhere: one
    /// `(group, version, body)` per group-version, the preferred version of each group first.
    pub fn from_legacy<'a>(
        documents: impl IntoIterator<Item = (&'a str, &'a str, &'a [u8])>,
    ) -> Result<Self, DecodeError> {
        let mut groups: Vec<ApiGroup> = Vec::new();
        for (group, version, body) in documents {
            let list: legacy::ApiResourceList = serde_json::from_slice(body)
                .map_err(|e| DecodeError::json::<legacy::ApiResourceList>(&e))?;
            let at = match groups.iter().position(|g| g.name == group) {
                Some(i) => i,
                None => {
                    groups.push(ApiGroup::new(group.to_owned()));
                    groups.len() - 1
                }
            };
            groups[at].versions.push(version.to_owned());
            groups[at]
                .resources
                .extend(list.into_resources(group, version));
        }
        Ok(Discovery {
            groups,
            mode: DiscoveryMode::Legacy,
            failed: Vec::new(),
        })
    }

    /// How this snapshot was fetched.
    pub fn mode(&self) -> DiscoveryMode {
        self.mode
    }

    /// The groups, core (`""`) first, in the server's priority order.
    pub fn groups(&self) -> &[ApiGroup] {
        &self.groups
    }

    /// One group.
    pub fn group(&self, name: &str) -> Option<&ApiGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The preferred version of a group (`""` for core).
    pub fn preferred_version(&self, group: &str) -> Option<&str> {
        self.group(group).and_then(ApiGroup::preferred_version)
    }

    /// Every resource of every version, in priority order.
    pub fn resources(&self) -> impl Iterator<Item = &ApiResource> {
        self.groups.iter().flat_map(|g| g.resources.iter())
    }

    /// Group-versions whose legacy document could not be fetched (`(group, version)`).
    pub fn failed(&self) -> &[(String, String)] {
        &self.failed
    }
}

/// A [`Discovery`] kept for a client: fetched on first use, fetched again once it is older
/// than the time to live, and when a name does not resolve (once per call).
#[derive(Debug)]
pub struct DiscoveryCache {
    client: Client,
    ttl: Duration,
    current: tokio::sync::Mutex<Option<(Instant, Arc<Discovery>)>>,
}

impl DiscoveryCache {
    /// A cache for this client; snapshots live `ttl` (kubectl keeps its disk cache 6 hours; a
    /// controller might use minutes).
    pub fn new(client: Client, ttl: Duration) -> Self {
        DiscoveryCache {
            client,
            ttl,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The current snapshot, fetched if there is none or it expired.
    pub async fn get(&self) -> Result<Arc<Discovery>, DiscoveryError> {
        let mut current = self.current.lock().await;
        if let Some((at, d)) = current.as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(Arc::clone(d));
            }
        }
        let d = Arc::new(Discovery::run(&self.client).await?);
        *current = Some((Instant::now(), Arc::clone(&d)));
        Ok(d)
    }

    /// Drops the snapshot: the next call fetches a new one.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }

    async fn retry_on_miss<T>(
        &self,
        f: impl Fn(&Discovery) -> Result<T, DiscoveryError>,
    ) -> Result<T, DiscoveryError> {
        let d = self.get().await?;
        match f(&d) {
            Err(DiscoveryError::NotFound { .. } | DiscoveryError::NoKind { .. }) => {
                self.invalidate().await;
                f(&*self.get().await?)
            }
            other => other,
        }
    }

    /// [`Discovery::resolve`], fetching again once if the name is not found.
    pub async fn resolve(&self, name: &str) -> Result<ApiResource, DiscoveryError> {
        self.retry_on_miss(|d| d.resolve(name)).await
    }

    /// [`Discovery::resolve_kind`], fetching again once if the kind is not found.
    pub async fn resolve_kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<ApiResource, DiscoveryError> {
        self.retry_on_miss(|d| d.resolve_kind(api_version, kind))
            .await
    }
}
