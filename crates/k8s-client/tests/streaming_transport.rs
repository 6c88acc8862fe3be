//! The client's transport and credentials on upgraded connections (exec and port-forward over
//! WebSocket), each from a real kubeconfig against the test server: a client certificate, an
//! exec credential plugin (a real child process), and a CONNECT proxy in front of a server
//! whose name is only known to the proxy, verified through `tls-server-name`. (Token rotation
//! on upgrades and long `follow` streams: `streaming_exec.rs`, `streaming_logs.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use k8s_client::{Client, ConfigLoader};
use k8s_core::ops::{CreateRequest, CustomRequest, Upgrade};
use k8s_testserver::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NS: &str = "default";

/// A client from a kubeconfig with one cluster (`server`, the test server's CA, `cluster`
/// lines) and one user (`user`, a YAML flow mapping); no proxy variables from the environment.
fn client_from_kubeconfig(
    dir: &Path,
    server: &str,
    ca_pem: &str,
    cluster: &str,
    user: &str,
) -> Client {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let path = dir.join("config");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    \
             server: {server}\n    certificate-authority-data: {ca}\n{cluster}contexts:\n- name: c\n  \
             context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user: {user}\n"
        ),
    )
    .unwrap();
    let config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([path])
        .kubeconfig()
        .unwrap();
    Client::try_from(config).unwrap()
}

async fn pod(client: &Client) {
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "busybox"}]}});
    client
        .send(CreateRequest::<serde_json::Value>::new(
            format!("/api/v1/namespaces/{NS}/pods"),
            &pod,
        ))
        .await
        .unwrap();
}

/// `kubectl exec web -- echo <word>` through `client`; returns stdout.
async fn echo(client: &Client, word: &str) -> Result<Vec<u8>, k8s_client::Error> {
    let req = CustomRequest::<Upgrade>::new(
        http::Method::GET,
        format!("/api/v1/namespaces/{NS}/pods/web/exec"),
    )
    .push_query("command", "echo")
    .push_query("command", word);
    let out = tokio::time::timeout(Duration::from_secs(30), client.exec_output(req, None))
        .await
        .expect("exec within 30 s")?;
    assert!(out.status.success());
    Ok(out.stdout)
}

/// Sends `ping` to the Pod's port 80 (echo) through a port-forward session.
async fn port_forward_ping(client: &Client) {
    let req = CustomRequest::<Upgrade>::new(
        http::Method::GET,
        format!("/api/v1/namespaces/{NS}/pods/web/portforward"),
    )
    .push_query("ports", "80");
    let mut pf = client.port_forward(req).await.unwrap();
    let mut s = pf.take_stream(80).unwrap();
    s.write_all(b"ping").await.unwrap();
    let mut b = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut b))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&b, b"ping");
}

/// The users the server authenticated for requests whose path contains `part`.
fn users_of(server: &TestServer, part: &str) -> Vec<String> {
    server
        .request_log()
        .into_iter()
        .filter(|r| r.path_and_query.contains(part))
        .map(|r| r.user)
        .collect()
}

#[tokio::test]
async fn exec_and_port_forward_authenticate_with_a_client_certificate() {
    let server = TestServer::builder().start().await.unwrap();
    let (cert, key) = server.client_cert("alice", &["system:masters"]);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let dir = tempfile::tempdir().unwrap();
    let user = format!(
        "{{client-certificate-data: {}, client-key-data: {}}}",
        b64(&cert),
        b64(&key)
    );
    let client = client_from_kubeconfig(dir.path(), server.url(), server.ca_pem(), "", &user);
    pod(&client).await;
    assert_eq!(echo(&client, "cert").await.unwrap(), b"cert\n");
    port_forward_ping(&client).await;
    assert_eq!(users_of(&server, "/exec?"), ["alice"]);
    assert_eq!(users_of(&server, "/portforward?"), ["alice"]);
}

#[tokio::test]
async fn exec_authenticates_with_an_exec_plugin_credential() {
    let server = TestServer::builder()
        .token("plugin-token", "bob", &["system:masters"])
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("plugin.sh");
    let runs = dir.path().join("runs");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho run >> '{}'\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\
             \"kind\":\"ExecCredential\",\"status\":{{\"token\":\"plugin-token\"}}}}'\n",
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let user = format!(
        "{{exec: {{apiVersion: client.authentication.k8s.io/v1, command: '{}', interactiveMode: Never}}}}",
        plugin.display()
    );
    let client = client_from_kubeconfig(dir.path(), server.url(), server.ca_pem(), "", &user);
    pod(&client).await;
    assert_eq!(echo(&client, "plugin").await.unwrap(), b"plugin\n");
    port_forward_ping(&client).await;
    assert_eq!(users_of(&server, "/exec?"), ["bob"]);
    assert_eq!(users_of(&server, "/portforward?"), ["bob"]);
    let ran = std::fs::read_to_string(&runs).unwrap().lines().count();
    assert!(ran >= 1, "the plugin ran {ran} times");
}

/// A CONNECT proxy on 127.0.0.1 that tunnels every target to 127.0.0.1:<target port>, and the
/// CONNECT lines it saw.
async fn connect_proxy() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    // Ends with the test's runtime.
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if inbound.read_exact(&mut b).await.is_err() {
                        return;
                    }
                    head.push(b[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let mut words = head.split_whitespace();
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                seen.lock().unwrap().push(format!("{method} {target}"));
                let port = target.rsplit(':').next().unwrap_or("0");
                let Ok(mut outbound) =
                    tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await
                else {
                    return;
                };
                let _ = inbound
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn exec_and_port_forward_go_through_a_connect_proxy_with_tls_server_name() {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let port = server
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let (proxy, seen) = connect_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    // Only the proxy knows `apiserver.test`, and the server's certificate does not name it:
    // the client must verify it as `localhost`.
    let url = format!("https://apiserver.test:{port}");
    let cluster = format!("    proxy-url: http://{proxy}\n    tls-server-name: localhost\n");
    let client = client_from_kubeconfig(
        dir.path(),
        &url,
        server.ca_pem(),
        &cluster,
        "{token: admin-token}",
    );
    pod(&client).await;
    assert_eq!(echo(&client, "proxied").await.unwrap(), b"proxied\n");
    port_forward_ping(&client).await;
    let connects = seen.lock().unwrap().clone();
    assert!(connects.len() >= 3, "{connects:?}");
    assert!(
        connects
            .iter()
            .all(|c| *c == format!("CONNECT apiserver.test:{port}")),
        "{connects:?}"
    );
    assert_eq!(users_of(&server, "/exec?"), ["admin"]);
    // Without tls-server-name the certificate does not match the name: the upgrade fails.
    let dir2 = tempfile::tempdir().unwrap();
    let cluster = format!("    proxy-url: http://{proxy}\n");
    let unverified = client_from_kubeconfig(
        dir2.path(),
        &url,
        server.ca_pem(),
        &cluster,
        "{token: admin-token}",
    );
    let e = echo(&unverified, "x").await.unwrap_err();
    assert!(!e.is_not_found(), "{e}");
    assert_eq!(users_of(&server, "/exec?"), ["admin"], "{e}");
}
