//! Watches, selectors and pagination.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, admin_server, read_events};
use serde_json::{Value, json};

async fn make_configmaps(api: &Api, n: usize) {
    for i in 1..=n {
        let tier = if i % 2 == 1 { "a" } else { "b" };
        let (code, _) = api
            .json(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                Some(json!({"metadata": {"name": format!("cm-{i}"), "labels": {"tier": tier}}, "data": {"index": i.to_string()}})),
            )
            .await;
        assert_eq!(code, 201);
    }
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn label_and_field_selectors() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    make_configmaps(&api, 7).await;
    let base = "/api/v1/namespaces/default/configmaps";
    let (_, l) = api.get(&format!("{base}?labelSelector=tier%3Da")).await;
    assert_eq!(names(&l), ["cm-1", "cm-3", "cm-5", "cm-7"]);
    let (_, l) = api
        .get(&format!("{base}?labelSelector=tier+in+%28b%29"))
        .await;
    assert_eq!(names(&l), ["cm-2", "cm-4", "cm-6"]);
    let (_, l) = api
        .get(&format!("{base}?labelSelector=tier%2Ctier+notin+%28a%29"))
        .await;
    assert_eq!(names(&l), ["cm-2", "cm-4", "cm-6"]);
    let (_, l) = api.get(&format!("{base}?labelSelector=%21tier")).await;
    assert_eq!(names(&l), ["kube-root-ca.crt"]);
    let (code, e) = api.get(&format!("{base}?labelSelector=tier+in+%28a")).await;
    assert_eq!(code, 400);
    assert_eq!(
        e["message"],
        "unable to parse requirement: found '', expected: ',' or ')'"
    );
    let (_, l) = api
        .get(&format!("{base}?fieldSelector=metadata.name%3Dcm-3"))
        .await;
    assert_eq!(names(&l), ["cm-3"]);
    let (code, e) = api
        .get(&format!("{base}?fieldSelector=data.index%3D3"))
        .await;
    assert_eq!(code, 400);
    assert_eq!(
        e["message"],
        "\"data.index\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    let (_, l) = api
        .get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Dkube-system")
        .await;
    assert_eq!(
        names(&l),
        [
            "extension-apiserver-authentication",
            "kube-apiserver-legacy-service-account-token-tracking",
            "kube-root-ca.crt"
        ]
    );
    // deletecollection with a selector returns the deleted items
    let (code, d) = api
        .json("DELETE", &format!("{base}?labelSelector=tier%3Db"), None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(d["kind"], "ConfigMapList");
    assert_eq!(names(&d), ["cm-2", "cm-4", "cm-6"]);
    let (_, l) = api.get(base).await;
    assert_eq!(
        names(&l),
        ["cm-1", "cm-3", "cm-5", "cm-7", "kube-root-ca.crt"]
    );
}

#[tokio::test]
async fn pagination_and_expired_continue() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    make_configmaps(&api, 7).await;
    let base = "/api/v1/namespaces/default/configmaps";
    let mut seen = Vec::new();
    let mut cont = String::new();
    let mut pages = 0;
    let mut first_rv = String::new();
    loop {
        pages += 1;
        assert!(pages < 10);
        let q = if cont.is_empty() {
            "limit=3".to_string()
        } else {
            format!("limit=3&continue={cont}")
        };
        let (code, page) = api.get(&format!("{base}?{q}")).await;
        assert_eq!(code, 200, "{page}");
        if pages == 1 {
            assert_eq!(page["metadata"]["remainingItemCount"], 5);
            first_rv = page["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string();
        } else {
            assert_eq!(
                page["metadata"]["resourceVersion"].as_str().unwrap(),
                first_rv
            );
        }
        seen.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(c) => cont = c.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 8);
    let (_, page) = api.get(&format!("{base}?limit=1")).await;
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    server.compact();
    let (code, e) = api.get(&format!("{base}?limit=1&continue={token}")).await;
    assert_eq!(code, 410);
    assert_eq!(e["reason"], "Expired");
    assert!(e["metadata"]["continue"].is_string());
    let (code, e) = api
        .get(&format!("{base}?resourceVersionMatch=NotOlderThan"))
        .await;
    assert_eq!(code, 422);
    assert_eq!(
        e["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );
    let (code, e) = api
        .get(&format!(
            "{base}?resourceVersion=5&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(code, 410);
    assert_eq!(
        e["message"],
        "The resourceVersion for the provided list is too old."
    );
}

#[tokio::test]
async fn watch_from_resource_version_with_bookmarks() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    let (_, list) = api.get("/api/v1/namespaces/default/configmaps").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = api
        .client
        .get(format!("{}/api/v1/namespaces/default/configmaps?allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=5&watch=1", api.base))
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    api.json(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(json!({"metadata": {"name": "watched"}, "data": {"step": "1"}})),
    )
    .await;
    api.send(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/watched",
        Some("application/merge-patch+json"),
        Some(r#"{"data":{"step":"2"}}"#),
    )
    .await;
    api.json(
        "DELETE",
        "/api/v1/namespaces/default/configmaps/watched",
        None,
    )
    .await;
    let (events, _) = read_events(resp, 4, 10).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(&types[..3], ["ADDED", "MODIFIED", "DELETED"], "{events:?}");
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");
    assert_eq!(events[1]["object"]["data"]["step"], "2");
    assert_eq!(types[3], "BOOKMARK");
    assert_eq!(
        events[3]["object"]["metadata"]["resourceVersion"],
        events[2]["object"]["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn streaming_list_and_too_old_versions() {
    let server = k8s_testserver::TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .watch_history(5)
        .start()
        .await
        .unwrap();
    let api = Api::new(&server, Some("admin-token"));
    for n in ["initial-1", "initial-2"] {
        api.json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(json!({"metadata": {"name": n}})),
        )
        .await;
    }
    let url = format!(
        "{}/api/v1/namespaces/default/configmaps?allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeoutSeconds=3&watch=1",
        api.base
    );
    let resp = api
        .client
        .get(&url)
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap();
    let (events, _) = read_events(resp, 4, 10).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "ADDED", "ADDED", "BOOKMARK"]);
    assert_eq!(
        events[3]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    let (code, e) = api
        .get(
            "/api/v1/namespaces/default/configmaps?sendInitialEvents=true&timeoutSeconds=3&watch=1",
        )
        .await;
    assert_eq!(code, 422);
    assert_eq!(
        e["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
    );
    // push the first events out of the 5-event window
    for i in 0..6 {
        api.json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(json!({"metadata": {"name": format!("filler-{i}")}})),
        )
        .await;
    }
    let resp = api
        .client
        .get(format!(
            "{}/api/v1/namespaces/default/configmaps?resourceVersion=201&watch=1&timeoutSeconds=5",
            api.base
        ))
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (events, _) = read_events(resp, 2, 10).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
    assert!(
        events[0]["object"]["message"]
            .as_str()
            .unwrap()
            .starts_with("too old resource version: 201 (")
    );
}

#[tokio::test]
async fn watch_with_label_selector_and_timeout() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    let rv = server.resource_version();
    let resp = api.client.get(format!("{}/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx&resourceVersion={rv}&watch=true&timeoutSeconds=2", api.base)).bearer_auth("admin-token").send().await.unwrap();
    api.json(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(json!({"metadata": {"name": "other"}})),
    )
    .await;
    api.json(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(json!({"metadata": {"name": "mine", "labels": {"app": "x"}}})),
    )
    .await;
    api.send(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/mine",
        Some("application/merge-patch+json"),
        Some(r#"{"metadata":{"labels":{"app":"y"}}}"#),
    )
    .await;
    // the stream ends by itself after timeoutSeconds
    let (events, errored) = read_events(resp, 10, 8).await;
    assert!(!errored);
    let types: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(types, [("ADDED", "mine"), ("DELETED", "mine")]);
}
