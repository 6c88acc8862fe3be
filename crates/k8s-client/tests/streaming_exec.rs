//! exec and attach over WebSocket against the test server's container model: output, stdin
//! and its close signal, exit codes, errors before and after the upgrade, tty resize, the
//! client dropping a session, and a rotated token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_client::{Auth, CaSource, Client, Config, Error, TerminalSize};
use k8s_core::ops::{CreateRequest, CustomRequest, Upgrade};
use k8s_testserver::TestServer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const NS: &str = "default";

async fn server() -> TestServer {
    TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap()
}

fn config(server: &TestServer, auth: Auth) -> Config {
    let mut config = Config::new(server.url().parse().unwrap());
    config.root_ca = Some(CaSource::Pem(server.ca_pem().as_bytes().to_vec()));
    config.auth = auth;
    config
}

fn client(server: &TestServer) -> Client {
    Client::try_from(config(server, Auth::Bearer("admin-token".into()))).unwrap()
}

async fn pod(client: &Client, name: &str, node: Option<&str>) {
    let mut pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "busybox",
            "env": [{"name": "GREETING", "value": "hello"}]}]}});
    if let Some(n) = node {
        pod["spec"]["nodeName"] = n.into();
    }
    client
        .send(CreateRequest::<serde_json::Value>::new(
            format!("/api/v1/namespaces/{NS}/pods"),
            &pod,
        ))
        .await
        .unwrap();
}

/// What `Pod::connect_get_exec(NS, name).command(..)…` builds.
fn exec(name: &str, command: &[&str]) -> CustomRequest<Upgrade> {
    let mut r = CustomRequest::new(
        http::Method::GET,
        format!("/api/v1/namespaces/{NS}/pods/{name}/exec"),
    );
    for c in command {
        r = r.push_query("command", *c);
    }
    r
}

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within 20 s"))
}

#[tokio::test]
async fn exec_output_collects_output_and_exit_codes() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web", Some("node-1")).await;
    let out = within(
        "echo",
        client.exec_output(exec("web", &["echo", "hi", "there"]), None),
    )
    .await
    .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hi there\n");
    assert!(out.stderr.is_empty());
    let env = client
        .exec_output(exec("web", &["env"]), None)
        .await
        .unwrap();
    let env = String::from_utf8(env.stdout).unwrap();
    assert!(
        env.contains("GREETING=hello\n") && env.contains("HOSTNAME=web"),
        "{env}"
    );
    for code in [0, 1, 3, 255] {
        let script = format!("exit {code}");
        let out = client
            .exec_output(exec("web", &["sh", "-c", &script]), None)
            .await
            .unwrap();
        assert_eq!(out.status.code, code);
    }
    let err = client
        .exec_output(exec("web", &["sh", "-c", "nope"]), None)
        .await
        .unwrap();
    assert_eq!(err.status.code, 127);
    assert_eq!(err.stderr, b"sh: nope: not found\n");
    // stdin to stdout through `cat`, closed by the v5 close signal: 1 MiB round trip.
    let input: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let cat = within(
        "cat",
        client.exec_output(exec("web", &["cat"]), Some(input.clone())),
    )
    .await
    .unwrap();
    assert!(cat.status.success());
    assert_eq!(cat.stdout.len(), input.len());
    assert!(cat.stdout == input);
}

#[tokio::test]
async fn exec_streams_stdin_and_stdout_as_async_halves() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web", Some("node-1")).await;
    let mut p = client
        .exec(
            exec("web", &["cat"])
                .set_query("stdin", "true")
                .set_query("stdout", "true"),
        )
        .await
        .unwrap();
    assert_eq!(p.protocol(), "v5.channel.k8s.io");
    let mut stdin = p.stdin().unwrap();
    let mut stdout = BufReader::new(p.stdout().unwrap()).lines();
    // Interactive: each line comes back before the next is written.
    for i in 0..10 {
        stdin
            .write_all(format!("ping {i}\n").as_bytes())
            .await
            .unwrap();
        let line = within("echo", stdout.next_line()).await.unwrap();
        assert_eq!(line.as_deref(), Some(format!("ping {i}").as_str()));
    }
    // Closing stdin ends `cat`, which ends the session.
    stdin.shutdown().await.unwrap();
    assert_eq!(within("eof", stdout.next_line()).await.unwrap(), None);
    assert!(within("wait", p.wait()).await.unwrap().success());
}

#[tokio::test]
async fn errors_before_and_after_the_upgrade_are_typed() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "pending", None).await;
    pod(&client, "web", Some("node-1")).await;
    // No node: the real server's 400, before any upgrade.
    let e = client
        .exec_output(exec("pending", &["echo", "x"]), None)
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), Some(400), "{e}");
    assert!(
        e.to_string()
            .contains("pod pending does not have a host assigned"),
        "{e}"
    );
    let e = client
        .exec_output(exec("missing", &["echo", "x"]), None)
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let e = client
        .exec_output(exec("web", &["echo"]).set_query("container", "nope"), None)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("container nope is not valid for pod web"),
        "{e}"
    );
    // The command cannot start: the server's Status from the error channel.
    let e = client
        .exec_output(exec("web", &["no-such-binary"]), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Api(_)), "{e:?}");
    assert!(e.to_string().contains("executable file not found"), "{e}");
    // Not an exec request.
    let e = client
        .exec(CustomRequest::<Upgrade>::new(
            http::Method::GET,
            "/version".into(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Stream { .. }), "{e:?}");
}

#[tokio::test]
async fn tty_sessions_take_resizes_and_dropping_a_session_ends_it() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web", Some("node-1")).await;
    let mut p = client
        .exec(
            exec("web", &["cat"])
                .set_query("stdin", "true")
                .set_query("stdout", "true")
                .set_query("tty", "true"),
        )
        .await
        .unwrap();
    p.resizer()
        .resize(TerminalSize {
            width: 120,
            height: 40,
        })
        .await
        .unwrap();
    let mut stdin = p.stdin().unwrap();
    let mut stdout = p.stdout().unwrap();
    stdin.write_all(b"x").await.unwrap();
    let mut b = [0u8; 1];
    within("tty echo", stdout.read_exact(&mut b)).await.unwrap();
    assert_eq!(&b, b"x");
    // Dropping stdin closes the remote stdin: `cat` ends.
    drop(stdin);
    assert!(within("wait", p.wait()).await.unwrap().success());
}

#[tokio::test]
async fn attach_follows_the_main_process_and_feeds_it_stdin() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web", Some("node-1")).await;
    let pods = server.pods();
    pods.append_log(NS, "web", "app", "before attach");
    let attach = CustomRequest::<Upgrade>::new(
        http::Method::GET,
        format!("/api/v1/namespaces/{NS}/pods/web/attach"),
    )
    .set_query("stdin", "true")
    .set_query("stdout", "true");
    let mut p = client.attach(attach).await.unwrap();
    let mut stdin = p.stdin().unwrap();
    let mut out = BufReader::new(p.stdout().unwrap()).lines();
    stdin.write_all(b"typed in\n").await.unwrap();
    assert_eq!(
        within("stdin echo", out.next_line())
            .await
            .unwrap()
            .as_deref(),
        Some("typed in")
    );
    pods.append_log(NS, "web", "app", "from the process");
    assert_eq!(
        within("output", out.next_line()).await.unwrap().as_deref(),
        Some("from the process")
    );
    assert!(pods.log(NS, "web", "app").contains(&"typed in".to_owned()));
    pods.terminate(NS, "web", "app");
    assert_eq!(within("end", out.next_line()).await.unwrap(), None);
    assert!(within("wait", p.wait()).await.unwrap().success());
}

#[tokio::test]
async fn a_rotated_token_is_fetched_again_for_the_upgrade() {
    let server = server().await;
    server.add_token("old-token", "admin", &["system:masters"]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "old-token").unwrap();
    let mut config = config(&server, Auth::TokenFile(token_file.clone()));
    config.credential_refresh_interval = Duration::from_secs(3600);
    let client = Client::try_from(config).unwrap();
    pod(&client, "web", Some("node-1")).await;
    assert!(
        client
            .exec_output(exec("web", &["echo"]), None)
            .await
            .unwrap()
            .status
            .success()
    );
    server.add_token("new-token", "admin", &["system:masters"]);
    std::fs::write(&token_file, "new-token").unwrap();
    server.revoke_token("old-token");
    let out = client
        .exec_output(exec("web", &["echo", "again"]), None)
        .await
        .unwrap();
    assert_eq!(out.stdout, b"again\n");
    let execs: Vec<_> = server
        .request_log()
        .into_iter()
        .filter(|r| r.path_and_query.contains("/exec?"))
        .collect();
    assert_eq!(execs.len(), 3, "{execs:?}");
    assert_eq!(execs[1].user, "", "the old token was refused");
    assert_eq!(execs[2].user, "admin");
}

#[tokio::test]
async fn a_server_with_only_v4_gets_v4_and_exit_codes_still_arrive() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web", Some("node-1")).await;
    // As an API server before 1.30: no v5.channel.k8s.io.
    server.pods().exec_v4_only(true);
    let p = within(
        "exec",
        client.exec(exec("web", &["echo", "four"]).push_query("stdout", "true")),
    )
    .await
    .unwrap();
    assert_eq!(p.protocol(), "v4.channel.k8s.io");
    drop(p);
    let out = within(
        "echo",
        client.exec_output(exec("web", &["echo", "four"]), None),
    )
    .await
    .unwrap();
    assert_eq!(out.stdout, b"four\n");
    assert!(out.status.success());
    let three = within(
        "exit 3",
        client.exec_output(exec("web", &["sh", "-c", "exit 3"]), None),
    )
    .await
    .unwrap();
    assert_eq!(three.status.code, 3);
    // And the default again: v5.
    server.pods().exec_v4_only(false);
    let p = within(
        "exec",
        client.exec(exec("web", &["echo"]).push_query("stdout", "true")),
    )
    .await
    .unwrap();
    assert_eq!(p.protocol(), "v5.channel.k8s.io");
}
