//! End to end against the in-process API server (`k8s-testserver`) over real TLS on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_client::{Client, Config, ConfigLoader, RetryPolicy, WatchUpdate};
use k8s_core::ops::{CreateRequest, DeleteRequest, GetRequest, ListRequest, WatchRequest};
use k8s_core::{List, WatchEvent};
use k8s_testserver::TestServer;
use support::{ConfigMap, capture_logs};

const CMS: &str = "/api/v1/namespaces/default/configmaps";
/// Every namespace also holds the server's `kube-root-ca.crt`; the tests select their own objects.
const SEL: &str = "test=e2e";

fn new_cm(name: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"test": "e2e"}}, "data": {"k": name}})
}

async fn server() -> TestServer {
    TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .token("bob-token", "bob", &[])
        .start()
        .await
        .unwrap()
}

fn from_kubeconfig(path: std::path::PathBuf) -> Client {
    let config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([path])
        .kubeconfig()
        .unwrap();
    Client::try_from(config).unwrap()
}

async fn create(client: &Client, name: &str) -> ConfigMap {
    client
        .send(CreateRequest::<ConfigMap>::new(CMS.into(), &new_cm(name)))
        .await
        .unwrap()
}

#[tokio::test]
async fn kubeconfig_token_crud_and_typed_errors() {
    let server = server().await;
    let client = from_kubeconfig(server.kubeconfig_for("admin-token"));
    assert_eq!(client.namespace(), "default");
    let made = create(&client, "settings").await;
    assert!(made.metadata.resource_version.is_some());
    let got: ConfigMap = client
        .send(GetRequest::new(format!("{CMS}/settings")))
        .await
        .unwrap();
    assert_eq!(got.data.unwrap()["k"], "settings");

    let e = client
        .send(GetRequest::<ConfigMap>::new(format!("{CMS}/nope")))
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "GET {CMS}/nope: the API server answered 404 NotFound: configmaps \"nope\" not found (as kubeconfig ("
        )),
        "{shown}"
    );
    assert!(
        shown.ends_with(") context testserver, user testuser)"),
        "{shown}"
    );
    let e = client
        .send(CreateRequest::<ConfigMap>::new(
            CMS.into(),
            &new_cm("settings"),
        ))
        .await
        .unwrap_err();
    assert!(e.is_already_exists(), "{e}");
    let e = client
        .send(CreateRequest::<ConfigMap>::new(
            CMS.into(),
            &new_cm("Not_A_Name"),
        ))
        .await
        .unwrap_err();
    assert!(e.is_invalid(), "{e}");
    assert!(
        e.causes()
            .iter()
            .any(|c| c.field.as_deref() == Some("metadata.name")),
        "{:?}",
        e.causes()
    );
    let deleted = client
        .send(DeleteRequest::<ConfigMap>::new(format!("{CMS}/settings")))
        .await;
    assert!(deleted.is_ok(), "{deleted:?}");

    let e = from_kubeconfig(server.kubeconfig_for("wrong-token"))
        .send(ListRequest::<ConfigMap>::new(CMS.into()))
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    let e = from_kubeconfig(server.kubeconfig_for("bob-token"))
        .send(ListRequest::<ConfigMap>::new(CMS.into()))
        .await
        .unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    assert!(
        e.to_string()
            .contains("User \"bob\" cannot list resource \"configmaps\""),
        "{e}"
    );
}

#[tokio::test]
async fn client_certificate_kubeconfig() {
    let server = server().await;
    let client = from_kubeconfig(server.kubeconfig_for_cert("carol", &["system:masters"]));
    create(&client, "by-cert").await;
    let log = server.request_log();
    assert_eq!(log.last().unwrap().user, "carol");
}

#[tokio::test]
async fn tls_server_name_and_insecure_against_the_server() {
    let server = server().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.root_ca = Some(k8s_client::CaSource::Pem(
        server.ca_pem().as_bytes().to_vec(),
    ));
    config.auth = k8s_client::Auth::Bearer("admin-token".into());
    config.retry = RetryPolicy::none();
    config.tls_server_name = Some("kubernetes.default.svc".into());
    let list = || ListRequest::<ConfigMap>::new(CMS.into());
    Client::try_from(config.clone())
        .unwrap()
        .send(list())
        .await
        .unwrap();
    config.tls_server_name = Some("api.elsewhere.example".into());
    let e = Client::try_from(config.clone())
        .unwrap()
        .send(list())
        .await
        .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // Without the CA verification fails; insecure-skip-tls-verify accepts it.
    config.tls_server_name = None;
    config.root_ca = Some(k8s_client::CaSource::Pem(
        support::Pki::new("other").ca_pem.into_bytes(),
    ));
    assert!(
        Client::try_from(config.clone())
            .unwrap()
            .send(list())
            .await
            .is_err()
    );
    config.root_ca = None;
    config.accept_invalid_certs = true;
    Client::try_from(config)
        .unwrap()
        .send(list())
        .await
        .unwrap();
}

#[tokio::test]
async fn in_cluster_token_rotation_and_401_retry() {
    let server = server().await;
    server.add_token(
        "sa-token-1",
        "system:serviceaccount:shop:app",
        &["system:masters"],
    );
    let ic = server.in_cluster_dir("shop", "sa-token-1");
    let env = BTreeMap::from([
        ("KUBERNETES_SERVICE_HOST".to_string(), ic.host.clone()),
        ("KUBERNETES_SERVICE_PORT".to_string(), ic.port.to_string()),
    ]);
    let config = ConfigLoader::new()
        .env_map(env)
        .service_account_dir(&ic.dir)
        .in_cluster()
        .unwrap();
    let client = Client::try_from(config).unwrap();
    assert_eq!(client.namespace(), "shop");
    let list = || ListRequest::<ConfigMap>::new(CMS.into());
    client.send(list()).await.unwrap();

    // The kubelet rotates the token; the old one is revoked right away.
    server.add_token(
        "sa-token-2",
        "system:serviceaccount:shop:app",
        &["system:masters"],
    );
    std::fs::write(ic.dir.join("token"), "sa-token-2\n").unwrap();
    server.revoke_token("sa-token-1");
    let before = server.request_log().len();
    client.send(list()).await.unwrap();
    let users: Vec<String> = server.request_log()[before..]
        .iter()
        .map(|r| r.user.clone())
        .collect();
    assert_eq!(
        users,
        ["", "system:serviceaccount:shop:app"],
        "one 401, then the retry with the new token"
    );
}

#[tokio::test]
async fn plain_http_like_kubectl_proxy() {
    let server = TestServer::builder().plain_http().start().await.unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let client = Client::try_from(Config::new(server.url().parse().unwrap())).unwrap();
    create(&client, "via-proxy").await;
    let all: List<ConfigMap> = client
        .send(ListRequest::new(CMS.into()).label_selector(SEL))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
}

#[tokio::test]
async fn list_all_paginates_and_restarts_when_the_token_expires() {
    let server = server().await;
    let client = from_kubeconfig(server.kubeconfig_for("admin-token"));
    for i in 0..7 {
        create(&client, &format!("cm-{i}")).await;
    }
    let all: Vec<ConfigMap> = client
        .list_all(
            ListRequest::<ConfigMap>::new(CMS.into())
                .label_selector(SEL)
                .limit(2),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    let pages = server
        .request_log()
        .iter()
        .filter(|r| r.path_and_query.contains("limit=2"))
        .count();
    assert_eq!(pages, 4);

    // Expire the continue token after the first page: the list restarts, no duplicates.
    let mut stream = std::pin::pin!(
        client.list_all(
            ListRequest::<ConfigMap>::new(CMS.into())
                .label_selector(SEL)
                .limit(3)
        )
    );
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(
            stream
                .try_next()
                .await
                .unwrap()
                .unwrap()
                .metadata
                .name
                .unwrap(),
        );
    }
    server.compact();
    while let Some(cm) = stream.try_next().await.unwrap() {
        names.push(cm.metadata.name.unwrap());
    }
    names.sort();
    let want: Vec<String> = (0..7).map(|i| format!("cm-{i}")).collect();
    assert_eq!(names, want);
    let log = server.request_log();
    let last_pages: Vec<_> = log
        .iter()
        .filter(|r| r.path_and_query.contains("limit=3"))
        .collect();
    assert!(last_pages.len() >= 4, "{last_pages:?}");
    assert!(
        last_pages
            .iter()
            .skip(1)
            .any(|r| !r.path_and_query.contains("continue=")),
        "restarted from the first page"
    );
}

fn name_of(u: &WatchUpdate<ConfigMap>) -> String {
    match u {
        WatchUpdate::Event(e) => format!(
            "{:?} {}",
            e.event_type(),
            e.object()
                .and_then(|o| o.metadata.name.clone())
                .unwrap_or_default()
        ),
        WatchUpdate::Restarted { objects, .. } => format!("Restarted {}", objects.len()),
        _ => "other".into(),
    }
}

#[tokio::test]
async fn watch_resumes_after_a_dropped_connection() {
    let server = server().await;
    let client = from_kubeconfig(server.kubeconfig_for("admin-token"));
    create(&client, "before").await;
    let list: List<ConfigMap> = client.send(ListRequest::new(CMS.into())).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    server.faults().drop_watch_after(2);
    let watch = client.watch(WatchRequest::<ConfigMap>::new(CMS.into()).resource_version(rv));
    let mut watch = std::pin::pin!(watch);
    for n in ["a", "b", "c", "d"] {
        create(&client, n).await;
    }
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let u = tokio::time::timeout(Duration::from_secs(20), watch.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if !matches!(u, WatchUpdate::Event(WatchEvent::Bookmark(_))) {
            seen.push(name_of(&u));
        }
    }
    assert_eq!(
        seen,
        ["Added a", "Added b", "Added c", "Added d"],
        "none lost, none repeated"
    );
    let watches: Vec<_> = server
        .request_log()
        .into_iter()
        .filter(|r| r.path_and_query.contains("watch=1"))
        .collect();
    assert!(watches.len() >= 2, "reconnected: {watches:?}");
    assert!(
        watches
            .iter()
            .all(|w| w.path_and_query.contains("allowWatchBookmarks=true"))
    );
}

#[tokio::test]
async fn watch_relists_on_410_and_says_so() {
    let server = server().await;
    let client = from_kubeconfig(server.kubeconfig_for("admin-token"));
    create(&client, "x").await;
    let old: List<ConfigMap> = client.send(ListRequest::new(CMS.into())).await.unwrap();
    create(&client, "y").await;
    server.compact();
    let watch = client.watch(
        WatchRequest::<ConfigMap>::new(CMS.into())
            .label_selector(SEL)
            .resource_version(old.metadata.resource_version.unwrap()),
    );
    let mut watch = std::pin::pin!(watch);
    let first = tokio::time::timeout(Duration::from_secs(20), watch.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let WatchUpdate::Restarted {
        objects,
        resource_version,
    } = first
    else {
        panic!("expected a relist, got {first:?}");
    };
    let mut names: Vec<_> = objects
        .iter()
        .map(|o| o.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["x", "y"]);
    // The watch goes on from the list's version.
    create(&client, "z").await;
    loop {
        let u = tokio::time::timeout(Duration::from_secs(20), watch.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let WatchUpdate::Event(WatchEvent::Added(c)) = u {
            assert_eq!(c.metadata.name.as_deref(), Some("z"));
            break;
        }
    }
    let log = server.request_log();
    assert!(log.iter().any(|r| {
        r.path_and_query
            .contains(&format!("resourceVersion={resource_version}"))
    }));
}

#[tokio::test]
async fn idle_watch_is_bounded_by_timeout_seconds_and_resumed() {
    let server = server().await;
    let client = from_kubeconfig(server.kubeconfig_for("admin-token"));
    let watch = client.watch(
        WatchRequest::<ConfigMap>::new(CMS.into())
            .label_selector(SEL)
            .timeout_seconds(1),
    );
    let mut watch = std::pin::pin!(watch);
    // Nothing happens for a while: the server ends each watch after 1 s (with a bookmark) and
    // the client resumes.
    let deadline = Instant::now() + Duration::from_millis(3500);
    while let Ok(item) = tokio::time::timeout_at(deadline.into(), watch.next()).await {
        let u = item.unwrap().unwrap();
        assert!(
            matches!(u, WatchUpdate::Event(WatchEvent::Bookmark(_))),
            "no events expected: {u:?}"
        );
    }
    let watches = server
        .request_log()
        .into_iter()
        .filter(|r| r.path_and_query.contains("watch=1"))
        .count();
    assert!(watches >= 2, "{watches} watch requests");
    create(&client, "late").await;
    loop {
        let u = tokio::time::timeout(Duration::from_secs(10), watch.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if !matches!(u, WatchUpdate::Event(WatchEvent::Bookmark(_))) {
            assert_eq!(name_of(&u), "Added late");
            break;
        }
    }
}

#[tokio::test]
async fn retries_honour_retry_after_and_are_bounded() {
    let server = server().await;
    let client = from_kubeconfig(server.kubeconfig_for("admin-token"));
    let list = || ListRequest::<ConfigMap>::new(CMS.into());
    server.faults().respond_429(2, 1);
    let start = Instant::now();
    let before = server.request_log().len();
    client.send(list()).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "waited Retry-After twice"
    );
    assert_eq!(server.request_log().len() - before, 3);

    let mut config = client.config().clone();
    config.retry.max_retries = 2;
    config.retry.base_delay = Duration::from_millis(10);
    let bounded = Client::try_from(config).unwrap();
    server.faults().respond_status(503, 10);
    let before = server.request_log().len();
    let e = bounded.send(list()).await.unwrap_err();
    assert_eq!(e.status_code(), Some(503));
    assert_eq!(server.request_log().len() - before, 3, "1 + 2 retries");
    server.faults().clear();
    server.faults().respond_status(503, 1);
    let before = server.request_log().len();
    let e = bounded
        .send(CreateRequest::<ConfigMap>::new(CMS.into(), &new_cm("once")))
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), Some(503));
    assert_eq!(
        server.request_log().len() - before,
        1,
        "a POST answered 503 is not repeated"
    );
}

#[tokio::test]
async fn truncated_bodies_and_timeouts_are_errors() {
    let server = server().await;
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([server.kubeconfig_for("admin-token")])
        .kubeconfig()
        .unwrap();
    config.retry = RetryPolicy::none();
    config.request_timeout = Some(Duration::from_millis(300));
    let client = Client::try_from(config).unwrap();
    create(&client, "a").await;
    server.faults().truncate_next_body();
    let e = client
        .send(ListRequest::<ConfigMap>::new(CMS.into()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            k8s_client::Error::Transport { .. } | k8s_client::Error::Decode { .. }
        ),
        "{e:?}"
    );
    server.faults().delay(Duration::from_secs(3));
    let e = client
        .send(ListRequest::<ConfigMap>::new(CMS.into()))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
}

#[tokio::test]
async fn tokens_never_appear_in_logs_or_errors() {
    let (logs, _guard) = capture_logs();
    let server = server().await;
    let client = from_kubeconfig(server.kubeconfig_for("admin-token"));
    create(&client, "a").await;
    let bad = from_kubeconfig(server.kubeconfig_for("bad-secret-token"));
    let e = bad
        .send(ListRequest::<ConfigMap>::new(CMS.into()))
        .await
        .unwrap_err();
    let text = format!(
        "{}\n{e}\n{e:?}\n{client:?}\n{:?}\n{:?}",
        String::from_utf8_lossy(&logs.lock().unwrap()),
        client.config(),
        server.request_log()
    );
    assert!(
        !text.contains("admin-token") && !text.contains("bad-secret-token"),
        "{text}"
    );
    assert!(text.contains("Authorization: Bearer <redacted>"), "{text}");
}
