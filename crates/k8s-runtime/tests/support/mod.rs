//! A test kind (a ConfigMap reduced to what the tests read) and a test server with a client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_client::{Client, ConfigLoader};
use k8s_core::ops::{CreateRequest, DeleteRequest, PatchRequest};
use k8s_testserver::TestServer;
use serde::{Deserialize, Serialize};

pub const CMS: &str = "/api/v1/namespaces/default/configmaps";
/// Every namespace also holds the server's `kube-root-ca.crt`: the tests select their own.
pub const SEL: &str = "test=runtime";

/// A config map as a dynamic object: typed metadata, the rest of the JSON as the server sent it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigMap {
    #[serde(default)]
    pub metadata: k8s_core::ObjectMeta,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl ConfigMap {
    /// A config map `namespace/name` with `data.k = value`.
    pub fn new(namespace: &str, name: &str, value: &str) -> Self {
        let mut rest = serde_json::Map::new();
        rest.insert("data".into(), serde_json::json!({"k": value}));
        ConfigMap {
            metadata: k8s_core::ObjectMeta::namespaced(namespace, name),
            rest,
        }
    }

    /// `data.k`
    pub fn value(&self) -> &str {
        self.rest
            .get("data")
            .and_then(|d| d.get("k"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    }

    /// `name=value`, as the tests compare objects.
    pub fn summary(&self) -> String {
        format!(
            "{}={}",
            self.metadata.name.as_deref().unwrap_or(""),
            self.value()
        )
    }
}

impl k8s_core::Resource for ConfigMap {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "ConfigMap";
    const PLURAL: &'static str = "configmaps";
    const SCOPE: k8s_core::Scope = k8s_core::Scope::Namespaced;
    const VERBS: &'static [&'static str] = &["get", "list", "watch", "create", "delete"];
    const SUBRESOURCES: &'static [&'static str] = &[];
}

impl k8s_core::Object for ConfigMap {
    fn metadata(&self) -> &k8s_core::ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut k8s_core::ObjectMeta {
        &mut self.metadata
    }
}

/// A test server and an admin client that backs off for milliseconds and does not retry
/// requests itself (each injected fault is one failed attempt).
pub async fn server_and_client() -> (TestServer, Client) {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([server.kubeconfig_for("admin-token")])
        .kubeconfig()
        .unwrap();
    config.retry.base_delay = Duration::from_millis(5);
    config.retry.max_delay = Duration::from_millis(20);
    config.retry.max_retries = 0;
    let client = Client::try_from(config).unwrap();
    (server, client)
}

/// Creates a config map `name` with `data.k = value`, labelled [`SEL`] when `selected`.
pub async fn create(client: &Client, name: &str, selected: bool) -> ConfigMap {
    let labels = if selected {
        serde_json::json!({"test": "runtime"})
    } else {
        serde_json::json!({"test": "other"})
    };
    let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels}, "data": {"k": "v0"}});
    client
        .send(CreateRequest::<ConfigMap>::new(CMS.into(), &body))
        .await
        .unwrap()
}

pub async fn set(client: &Client, name: &str, value: &str) -> ConfigMap {
    let patch = k8s_core::Patch::Merge(serde_json::json!({"data": {"k": value}}));
    client
        .send(PatchRequest::<ConfigMap>::new(
            format!("{CMS}/{name}"),
            patch,
        ))
        .await
        .unwrap()
}

pub async fn delete(client: &Client, name: &str) {
    client
        .send(DeleteRequest::<ConfigMap>::new(format!("{CMS}/{name}")))
        .await
        .unwrap();
}
