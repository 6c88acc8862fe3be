//! Errors that say where (issue 12, item 5), against the in-process API server over real TLS on
//! loopback: API errors name the method, the path and the identity source (never a secret); a
//! TLS failure on the server's certificate names the CA source and what to set; a connection
//! that cannot be made says how many attempts were made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_client::{Client, Config, ConfigLoader, Error, RetryPolicy};
use k8s_core::ops::{CreateRequest, GetRequest};
use k8s_testserver::TestServer;
use support::ConfigMap;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

async fn server() -> TestServer {
    TestServer::builder()
        .token("admin-token-s3cr3t", "admin", &["system:masters"])
        .token("bob-token-s3cr3t", "bob", &[])
        .start()
        .await
        .unwrap()
}

fn client_from(path: &Path) -> Client {
    let config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([path.to_path_buf()])
        .kubeconfig()
        .unwrap();
    Client::try_from(config).unwrap()
}

fn shown(e: &Error) -> String {
    let s = format!("{e}");
    assert!(!s.contains("s3cr3t"), "a secret in Display: {s}");
    assert!(
        !format!("{e:?}").contains("s3cr3t"),
        "a secret in Debug: {e:?}"
    );
    s
}

/// A GET of `path` that must fail: the error and its `Display`, which must start with `prefix`.
async fn get_fails(client: &Client, path: &str, prefix: &str) -> (Error, String) {
    let e = client
        .send(GetRequest::<ConfigMap>::new(path.into()))
        .await
        .unwrap_err();
    let s = shown(&e);
    assert!(s.starts_with(prefix), "{s}");
    (e, s)
}

fn cm(name: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
}

#[tokio::test]
async fn api_errors_name_the_method_the_path_and_the_identity_source() {
    let server = server().await;
    let bob_file = server.kubeconfig_for("bob-token-s3cr3t");
    let bob = client_from(&bob_file);
    let identity = format!(
        "(as kubeconfig ({}) context testserver, user testuser)",
        bob_file.display()
    );

    // 403: authenticated, not allowed.
    let x = format!("{CMS}/x");
    let (e, s) = get_fails(
        &bob,
        &x,
        &format!("GET {x}: the API server answered 403 Forbidden: "),
    )
    .await;
    assert!(e.is_forbidden(), "{e}");
    assert!(s.ends_with(&identity), "{s}");

    // 401: the credentials were rejected.
    let wrong = client_from(&server.kubeconfig_for("wrong-s3cr3t"));
    let (e, s) = get_fails(&wrong, &x, &format!("GET {x}: the API server answered 401")).await;
    assert!(e.is_unauthorized(), "{e}");
    assert!(s.contains("context testserver, user testuser)"), "{s}");

    // 404, 409 and 422 for the admin.
    let admin_file = server.kubeconfig_for("admin-token-s3cr3t");
    let admin = client_from(&admin_file);
    let nope = format!("{CMS}/nope");
    let (e, s) = get_fails(
        &admin,
        &nope,
        &format!("GET {nope}: the API server answered 404 NotFound"),
    )
    .await;
    assert!(e.is_not_found(), "{e}");
    assert!(s.contains(&admin_file.display().to_string()), "{s}");

    admin
        .send(CreateRequest::<ConfigMap>::new(CMS.into(), &cm("twice")))
        .await
        .unwrap();
    let e = admin
        .send(CreateRequest::<ConfigMap>::new(CMS.into(), &cm("twice")))
        .await
        .unwrap_err();
    assert!(e.is_already_exists(), "{e}");
    assert!(
        shown(&e).starts_with(&format!(
            "POST {CMS}: the API server answered 409 AlreadyExists"
        )),
        "{e}"
    );

    let e = admin
        .send(CreateRequest::<ConfigMap>::new(
            CMS.into(),
            &cm("Not_A_Name"),
        ))
        .await
        .unwrap_err();
    assert!(e.is_invalid(), "{e}");
    assert!(
        shown(&e).starts_with(&format!("POST {CMS}: the API server answered 422 Invalid")),
        "{e}"
    );
}

/// A kubeconfig for the server with another CA, or a `tls-server-name` the certificate lacks.
fn kubeconfig(dir: &Path, server: &TestServer, cluster_extra: &str) -> std::path::PathBuf {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n{cluster_extra}contexts:\n- name: ctx\n  context: {{cluster: c, user: u}}\ncurrent-context: ctx\nusers:\n- name: u\n  user: {{token: admin-token-s3cr3t}}\n",
        server.url()
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn an_unknown_issuer_names_the_ca_source_and_what_to_set() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let other_ca = support::Pki::new("another-ca");
    let ca_file = dir.path().join("other-ca.crt");
    std::fs::write(&ca_file, &other_ca.ca_pem).unwrap();
    let path = kubeconfig(
        dir.path(),
        &server,
        &format!("    certificate-authority: {}\n", ca_file.display()),
    );
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([path])
        .kubeconfig()
        .unwrap();
    config.retry = RetryPolicy::none();
    let client = Client::try_from(config).unwrap();
    let e = client
        .send(GetRequest::<ConfigMap>::new(format!("{CMS}/x")))
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e}");
    let s = shown(&e);
    assert!(s.contains("UnknownIssuer"), "{s}");
    assert!(
        s.contains(&format!(
            "the certificate-authority file {}",
            ca_file.display()
        )),
        "{s}"
    );
    assert!(s.contains("`certificate-authority`"), "{s}");
    assert!(s.contains("`tls-server-name`"), "{s}");
}

#[tokio::test]
async fn a_certificate_for_another_name_hints_at_tls_server_name() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, server.ca_pem()).unwrap();
    let path = kubeconfig(
        dir.path(),
        &server,
        &format!(
            "    certificate-authority: {}\n    tls-server-name: not-this-server.example\n",
            ca_file.display()
        ),
    );
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([path])
        .kubeconfig()
        .unwrap();
    config.retry = RetryPolicy::none();
    let e = Client::try_from(config)
        .unwrap()
        .send(GetRequest::<ConfigMap>::new(format!("{CMS}/x")))
        .await
        .unwrap_err();
    let s = shown(&e);
    assert!(
        s.contains(
            "not valid for \"not-this-server.example\": set the cluster's `tls-server-name`"
        ),
        "{s}"
    );
}

#[tokio::test]
async fn a_connection_that_cannot_be_made_says_how_many_attempts_were_made() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    config.retry = RetryPolicy::default();
    config.retry.max_retries = 2;
    config.retry.base_delay = Duration::from_millis(1);
    config.retry.max_delay = Duration::from_millis(5);
    let e = Client::try_from(config)
        .unwrap()
        .send(GetRequest::<ConfigMap>::new(format!("{CMS}/x")))
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e}");
    let s = shown(&e);
    assert!(
        s.starts_with(&format!(
            "GET {CMS}/x: request failed after 3 attempts; the last: "
        )),
        "{s}"
    );
}

/// A watch whose server certificate is refused ends with that error after one connection: the
/// handshake would refuse it again, so it is not retried like a dropped connection (it was, 8
/// times with backoff). A counting TCP relay in front of the server tells how many connections
/// the client made.
#[tokio::test]
async fn a_watch_does_not_retry_a_refused_certificate() {
    use futures::StreamExt;
    use k8s_core::ops::WatchRequest;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let server = server().await;
    let upstream: std::net::SocketAddr =
        server.url().trim_start_matches("https://").parse().unwrap();
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = relay.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let other_ca = support::Pki::new("another-ca");
    let ca_file = dir.path().join("other-ca.crt");
    std::fs::write(&ca_file, &other_ca.ca_pem).unwrap();
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{relay_addr}\n    certificate-authority: {}\ncontexts:\n- name: ctx\n  context: {{cluster: c, user: u}}\ncurrent-context: ctx\nusers:\n- name: u\n  user: {{token: admin-token-s3cr3t}}\n",
        ca_file.display()
    );
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    let client = client_from(&path);

    let mut watch = std::pin::pin!(client.watch(WatchRequest::<ConfigMap>::new(CMS.into())));
    let first = tokio::time::timeout(Duration::from_secs(120), watch.next())
        .await
        .expect("the watch gave up in time")
        .expect("the watch yields its error");
    let e = first.unwrap_err();
    let s = shown(&e);
    assert!(s.contains("UnknownIssuer"), "{s}");
    assert!(
        tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("the watch ended after its error")
            .is_none(),
        "the watch goes on after a refused certificate"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "connections made for a refused certificate"
    );
}
