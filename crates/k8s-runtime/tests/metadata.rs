//! Metadata-only watches (`PartialObjectMetadata` through the `Accept` header), the same
//! scenario against the test server and the real kube-apiserver: the raw answers have the same
//! shape, and a metadata cache follows creations, changes and deletions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures::StreamExt;
use k8s_client::Client;
use k8s_core::ops::{
    ACCEPT_PARTIAL_OBJECT_METADATA, ACCEPT_PARTIAL_OBJECT_METADATA_LIST, CreateRequest,
    DeleteRequest, ListRequest, PatchRequest,
};
use k8s_core::{List, Object, Patch};
use k8s_runtime::watcher::{Config, InitialList};
use k8s_runtime::{PartialObjectMetadata, Writer, metadata_watcher, reflector};
use serde_json::{Value, json};
use support::{CMS, ConfigMap};

const SEL: &str = "test=metadata";

async fn create(client: &Client, name: &str) {
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"test": "metadata"}}, "data": {"big": "x".repeat(1000)}});
    client
        .send(CreateRequest::<Value>::new(CMS.into(), &body))
        .await
        .unwrap();
}

/// A raw GET with this `Accept`: the body, or the error's HTTP status.
async fn raw(client: &Client, path_and_query: &str, accept: &'static str) -> Result<String, u16> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut req = k8s_core::Request::new(http::Method::GET, path);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap();
        req.set_query(k, v);
    }
    req.accept = accept;
    match client.send_raw(&req).await {
        Ok(b) => Ok(String::from_utf8(b).unwrap()),
        Err(e) => Err(e.status_code().unwrap()),
    }
}

/// `kind`, `apiVersion` and the sorted top-level keys of a JSON object.
fn shape(v: &Value) -> String {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    format!("{} {} {keys:?}", v["kind"], v["apiVersion"])
}

/// The scenario; what it returns is compared between the two servers.
async fn scenario(client: Client, initial: InitialList) -> Vec<String> {
    let mut facts = Vec::new();
    for n in 0..3 {
        create(&client, &format!("meta-{n}")).await;
    }

    // The raw answers.
    let list: Value = serde_json::from_str(
        &raw(
            &client,
            &format!("{CMS}?labelSelector=test=metadata"),
            ACCEPT_PARTIAL_OBJECT_METADATA_LIST,
        )
        .await
        .unwrap(),
    )
    .unwrap();
    facts.push(format!("list: {}", shape(&list)));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{list}");
    for item in items {
        facts.push(format!("list item: {}", shape(item)));
        assert_eq!(item["metadata"]["labels"]["test"], "metadata");
    }
    let get: Value = serde_json::from_str(
        &raw(
            &client,
            &format!("{CMS}/meta-0"),
            ACCEPT_PARTIAL_OBJECT_METADATA,
        )
        .await
        .unwrap(),
    )
    .unwrap();
    facts.push(format!("get: {}", shape(&get)));
    facts.push(format!(
        "list as PartialObjectMetadata: {:?}",
        raw(&client, CMS, ACCEPT_PARTIAL_OBJECT_METADATA)
            .await
            .map(|_| ())
    ));
    facts.push(format!(
        "get as PartialObjectMetadataList: {:?}",
        raw(
            &client,
            &format!("{CMS}/meta-0"),
            ACCEPT_PARTIAL_OBJECT_METADATA_LIST
        )
        .await
        .map(|_| ())
    ));
    let watch = raw(
        &client,
        &format!(
            "{CMS}?watch=1&labelSelector=test=metadata&resourceVersion=0&timeoutSeconds=1&allowWatchBookmarks=true"
        ),
        ACCEPT_PARTIAL_OBJECT_METADATA,
    )
    .await
    .unwrap();
    let first: Value = serde_json::from_str(watch.lines().next().unwrap()).unwrap();
    facts.push(format!(
        "watch event: {} {}",
        first["type"],
        shape(&first["object"])
    ));

    // The typed list through the metadata accept.
    let typed: List<PartialObjectMetadata<ConfigMap>> = client
        .send(
            ListRequest::new(CMS.into())
                .label_selector(SEL)
                .accept(ACCEPT_PARTIAL_OBJECT_METADATA_LIST),
        )
        .await
        .unwrap();
    assert_eq!(typed.items.len(), 3);

    // A metadata cache follows changes.
    let writer = Writer::<PartialObjectMetadata<ConfigMap>>::new();
    let store = writer.store();
    let mut config = Config::default().labels(SEL);
    config.initial_list = initial;
    let events = metadata_watcher::<ConfigMap>(client.clone(), CMS, config);
    let task = tokio::spawn(reflector(writer, events).for_each(|_| async {}));
    store.wait_until_ready().await.unwrap();
    let mut names: Vec<String> = store
        .state()
        .iter()
        .map(|o| o.name_any().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["meta-0", "meta-1", "meta-2"]);

    let patch = Patch::Merge(json!({"metadata": {"labels": {"color": "blue"}}}));
    client
        .send(PatchRequest::<Value>::new(format!("{CMS}/meta-1"), patch))
        .await
        .unwrap();
    client
        .send(DeleteRequest::<Value>::new(format!("{CMS}/meta-2")))
        .await
        .unwrap();
    create(&client, "meta-3").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut names: Vec<String> = store
            .state()
            .iter()
            .map(|o| o.name_any().to_owned())
            .collect();
        names.sort();
        let blue = store
            .get(Some("default"), "meta-1")
            .is_some_and(|o| o.labels().get("color").map(String::as_str) == Some("blue"));
        if names == ["meta-0", "meta-1", "meta-3"] && blue {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the metadata cache did not follow: {names:?}, meta-1 blue: {blue}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    for n in [0, 1, 3] {
        client
            .send(DeleteRequest::<Value>::new(format!("{CMS}/meta-{n}")))
            .await
            .unwrap();
    }
    facts
}

const EXPECTED: &[&str] = &[
    r#"list: "PartialObjectMetadataList" "meta.k8s.io/v1" ["apiVersion", "items", "kind", "metadata"]"#,
    r#"list item: "PartialObjectMetadata" "meta.k8s.io/v1" ["apiVersion", "kind", "metadata"]"#,
    r#"list item: "PartialObjectMetadata" "meta.k8s.io/v1" ["apiVersion", "kind", "metadata"]"#,
    r#"list item: "PartialObjectMetadata" "meta.k8s.io/v1" ["apiVersion", "kind", "metadata"]"#,
    r#"get: "PartialObjectMetadata" "meta.k8s.io/v1" ["apiVersion", "kind", "metadata"]"#,
    "list as PartialObjectMetadata: Err(406)",
    "get as PartialObjectMetadataList: Err(406)",
    r#"watch event: "ADDED" "PartialObjectMetadata" "meta.k8s.io/v1" ["apiVersion", "kind", "metadata"]"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_watch_against_the_test_server() {
    let (_server, client) = support::server_and_client().await;
    assert_eq!(
        scenario(client.clone(), InitialList::ListWatch).await,
        EXPECTED
    );
    assert_eq!(scenario(client, InitialList::StreamingList).await, EXPECTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_watch_against_the_real_apiserver() {
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let env = k8s_envtest::EnvTest::builder()
        .binaries(binaries)
        .start()
        .await
        .unwrap();
    assert_eq!(
        scenario(env.client(), InitialList::ListWatch).await,
        EXPECTED
    );
    assert_eq!(
        scenario(env.client(), InitialList::StreamingList).await,
        EXPECTED
    );
}
