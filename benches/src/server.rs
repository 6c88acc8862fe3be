//! The in-process test server (TLS on 127.0.0.1) filled with [`podgen`](crate::podgen) Pods,
//! and a k8s-sdk client for it.

use std::collections::BTreeMap;
use std::path::Path;

use futures::{StreamExt, TryStreamExt};
use k8s_api::v1_34::core::v1::{Namespace, Pod};
use k8s_api::v1_34::meta::v1::ObjectMeta;
use k8s_core::Patch;
use k8s_core::ops::PatchRequest;
use k8s_testserver::TestServer;

use crate::{Error, podgen};

/// The bearer token of the benchmarks' admin user.
pub const TOKEN: &str = "bench-admin-token";

/// Starts a test server that keeps `watch_history` events (enough to replay a whole watch
/// benchmark from one resource version).
pub async fn start(watch_history: usize) -> Result<TestServer, Error> {
    Ok(TestServer::builder()
        .token(TOKEN, "bench-admin", &["system:masters"])
        .watch_history(watch_history)
        .start()
        .await?)
}

/// A k8s-sdk client configured from the kubeconfig file at `path` (no proxy variables).
pub fn client(kubeconfig: &Path) -> Result<k8s_client::Client, Error> {
    let config = k8s_client::ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([kubeconfig.to_path_buf()])
        .kubeconfig()?;
    Ok(k8s_client::Client::try_from(config)?)
}

/// Creates namespace `namespace` and `count` Pods in it (`seed`, numbers `0..count`), each with
/// its status set through the status subresource, 8 requests at a time.
pub async fn populate(
    client: &k8s_client::Client,
    namespace: &str,
    seed: u64,
    count: u64,
) -> Result<(), Error> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    client.send(Namespace::create(&ns)).await?;
    futures::stream::iter(0..count)
        .map(|i| async move {
            let (body, status) = podgen::for_create(podgen::pod(seed, i, namespace));
            let pod: Pod = serde_json::from_value(body)?;
            let created = client.send(Pod::create(namespace, &pod)).await?;
            let name = created.metadata.name.unwrap_or_else(|| format!("pod-{i}"));
            let path = format!("/api/v1/namespaces/{namespace}/pods/{name}/status");
            client
                .send(PatchRequest::<Pod>::new(
                    path,
                    Patch::Merge(serde_json::json!({ "status": status })),
                ))
                .await?;
            Ok::<(), Error>(())
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
}

/// Merge-patches a label of Pod `name` `count` times (each patch is one `MODIFIED` watch
/// event) and returns the resource version from before the first patch, to watch from.
pub async fn modify(
    client: &k8s_client::Client,
    namespace: &str,
    name: &str,
    count: u64,
) -> Result<String, Error> {
    let before = client.send(Pod::list(namespace).limit(1)).await?;
    let rv = before.metadata.resource_version.unwrap_or_default();
    for i in 0..count {
        client
            .send(Pod::patch(
                namespace,
                name,
                Patch::Merge(serde_json::json!({"metadata": {"labels": {"rev": i.to_string()}}})),
            ))
            .await?;
    }
    Ok(rv)
}

/// The name of the first Pod in `namespace` (the list is sorted by name).
pub async fn first_pod(client: &k8s_client::Client, namespace: &str) -> Result<String, Error> {
    let list = client.send(Pod::list(namespace).limit(1)).await?;
    Ok(list
        .items
        .into_iter()
        .next()
        .and_then(|p| p.metadata.name)
        .unwrap_or_default())
}
