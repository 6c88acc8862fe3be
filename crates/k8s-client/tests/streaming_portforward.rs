//! Port-forward over WebSocket against the test server: a stream per port, a registered
//! handler, the local listener helper with a 10 MB exchange (and its throughput).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use k8s_client::{Auth, CaSource, Client, Config};
use k8s_core::ops::{CreateRequest, CustomRequest, Upgrade};
use k8s_testserver::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NS: &str = "default";

async fn setup() -> (TestServer, Client) {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let mut config = Config::new(server.url().parse().unwrap());
    config.root_ca = Some(CaSource::Pem(server.ca_pem().as_bytes().to_vec()));
    config.auth = Auth::Bearer("admin-token".into());
    let client = Client::try_from(config).unwrap();
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx"}]}});
    client
        .send(CreateRequest::<serde_json::Value>::new(
            format!("/api/v1/namespaces/{NS}/pods"),
            &pod,
        ))
        .await
        .unwrap();
    (server, client)
}

/// What `Pod::connect_get_portforward(NS, "web").ports(..)` builds.
fn portforward(ports: &[u16]) -> CustomRequest<Upgrade> {
    let mut r = CustomRequest::new(
        http::Method::GET,
        format!("/api/v1/namespaces/{NS}/pods/web/portforward"),
    );
    for p in ports {
        r = r.push_query("ports", p.to_string());
    }
    r
}

#[tokio::test]
async fn each_port_gets_a_stream_to_its_handler() {
    let (server, client) = setup().await;
    server
        .pods()
        .on_port(NS, "web", 8080, |mut conn| async move {
            let _ = conn.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello").await;
        });
    let mut pf = client.port_forward(portforward(&[80, 8080])).await.unwrap();
    let mut echo = pf.take_stream(80).unwrap();
    let mut http = pf.take_stream(8080).unwrap();
    assert!(pf.take_stream(80).is_none());
    echo.write_all(b"ping").await.unwrap();
    let mut b = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), echo.read_exact(&mut b))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&b, b"ping");
    // The v4 framing has no end of one port's stream: read what the handler wrote.
    let expected = b"HTTP/1.0 200 OK\r\n\r\nhello";
    let mut text = vec![0u8; expected.len()];
    tokio::time::timeout(Duration::from_secs(10), http.read_exact(&mut text))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text, expected);
}

#[tokio::test]
async fn errors_before_the_upgrade_are_typed() {
    let (_server, client) = setup().await;
    let e = client.port_forward(portforward(&[])).await.unwrap_err();
    assert!(e.to_string().contains("1 to 127 ports"), "{e}");
    let missing = CustomRequest::<Upgrade>::new(
        http::Method::GET,
        format!("/api/v1/namespaces/{NS}/pods/missing/portforward"),
    )
    .push_query("ports", "80");
    assert!(
        client
            .port_forward(missing)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn the_local_listener_forwards_10_mb_both_ways() {
    let (_server, client) = setup().await;
    let (addr, task) = client
        .port_forward_listen(portforward(&[]), "127.0.0.1:0".parse().unwrap(), 80)
        .await
        .unwrap();
    let data: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    for round in 0..2 {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = tcp.into_split();
        let started = Instant::now();
        let send = data.clone();
        let writer = tokio::spawn(async move {
            w.write_all(&send).await.unwrap();
            w
        });
        let mut back = vec![0u8; data.len()];
        tokio::time::timeout(Duration::from_secs(120), r.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        let elapsed = started.elapsed();
        drop(writer.await.unwrap());
        assert!(back == data, "round {round}: the echo differs");
        eprintln!(
            "port-forward (k8s-client listener, debug build): 10 MiB echoed in {elapsed:.2?}: {:.1} MB/s each way",
            data.len() as f64 / 1e6 / elapsed.as_secs_f64()
        );
    }
    task.abort();
}
