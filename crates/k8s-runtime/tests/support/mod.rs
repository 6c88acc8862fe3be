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

/// A config map as a dynamic object: the JSON as the server sent it, read through pointers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConfigMap(pub serde_json::Value);

impl ConfigMap {
    /// A config map `namespace/name` with `data.k = value`.
    pub fn new(namespace: &str, name: &str, value: &str) -> Self {
        ConfigMap(
            serde_json::json!({"metadata": {"name": name, "namespace": namespace}, "data": {"k": value}}),
        )
    }

    fn str_at(&self, pointer: &str) -> Option<&str> {
        self.0.pointer(pointer).and_then(serde_json::Value::as_str)
    }

    /// `data.k`
    pub fn value(&self) -> &str {
        self.str_at("/data/k").unwrap_or("")
    }

    /// `name=value`, as the tests compare objects.
    pub fn summary(&self) -> String {
        format!(
            "{}={}",
            self.str_at("/metadata/name").unwrap_or(""),
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
    fn name(&self) -> Option<&str> {
        self.str_at("/metadata/name")
    }
    fn namespace(&self) -> Option<&str> {
        self.str_at("/metadata/namespace")
    }
    fn resource_version(&self) -> Option<&str> {
        self.str_at("/metadata/resourceVersion")
    }
    fn uid(&self) -> Option<&str> {
        self.str_at("/metadata/uid")
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
