//! Streaming logs against the test server's container model: lines as they arrive, the
//! server ending the stream, the client dropping it, idle timeouts, and `follow_log`
//! resuming without duplicates across broken connections and a token rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_client::{Auth, CaSource, Client, Config, Error, LogLine};
use k8s_core::ops::{CreateRequest, CustomRequest, Text};
use k8s_testserver::TestServer;

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

async fn pod(client: &Client, name: &str) {
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "busybox"}]}});
    client
        .send(CreateRequest::<serde_json::Value>::new(
            format!("/api/v1/namespaces/{NS}/pods"),
            &pod,
        ))
        .await
        .unwrap();
}

/// What `Pod::read_log(NS, name)` builds.
fn read_log(name: &str) -> CustomRequest<Text> {
    CustomRequest::new(
        http::Method::GET,
        format!("/api/v1/namespaces/{NS}/pods/{name}/log"),
    )
}

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within 20 s"))
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: not reached within 5 s");
}

#[tokio::test]
async fn follow_streams_lines_as_they_are_appended_until_the_server_ends_it() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web").await;
    let pods = server.pods();
    pods.append_log(NS, "web", "app", "before");
    let mut lines = client
        .log_stream(read_log("web").set_query("follow", "true"))
        .await
        .unwrap()
        .lines();
    assert_eq!(
        within("first", lines.next()).await.unwrap().unwrap(),
        "before"
    );
    for i in 0..5 {
        // Appended after the request: only a streaming read sees them before the end.
        pods.append_log(NS, "web", "app", &format!("after {i}"));
        assert_eq!(
            within("appended", lines.next()).await.unwrap().unwrap(),
            format!("after {i}")
        );
    }
    // The server ends the stream (the container terminated): a clean end.
    pods.terminate(NS, "web", "app");
    assert!(within("end", lines.next()).await.is_none());
}

#[tokio::test]
async fn a_follow_outlives_the_request_timeout() {
    let server = server().await;
    let mut config = config(&server, Auth::Bearer("admin-token".into()));
    config.request_timeout = Some(Duration::from_millis(500));
    let client = Client::try_from(config).unwrap();
    pod(&client, "web").await;
    let mut lines = client
        .log_stream(read_log("web").set_query("follow", "true"))
        .await
        .unwrap()
        .lines();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.pods().append_log(NS, "web", "app", "late");
    assert_eq!(within("late", lines.next()).await.unwrap().unwrap(), "late");
}

#[tokio::test]
async fn options_reach_the_server() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web").await;
    for i in 1..=5 {
        server
            .pods()
            .append_log(NS, "web", "app", &format!("line {i}"));
    }
    let collect = |req: CustomRequest<Text>| {
        let client = client.clone();
        async move {
            let s = client.log_stream(req).await.unwrap();
            s.lines().try_collect::<Vec<String>>().await.unwrap()
        }
    };
    assert_eq!(collect(read_log("web")).await.len(), 5);
    assert_eq!(
        collect(read_log("web").set_query("tailLines", "2")).await,
        ["line 4", "line 5"]
    );
    assert_eq!(
        collect(read_log("web").set_query("limitBytes", "9")).await,
        ["line 1", "li"]
    );
    let stamped = collect(read_log("web").set_query("timestamps", "true")).await;
    assert!(stamped[0].ends_with(" line 1"), "{stamped:?}");
    assert_eq!(
        collect(read_log("web").set_query("sinceTime", "2999-01-01T00:00:00Z")).await,
        Vec::<String>::new()
    );
    // An unknown container: the server's 400, typed.
    let e = client
        .log_stream(read_log("web").set_query("container", "nope"))
        .await
        .unwrap_err();
    assert_eq!(e.status().and_then(|s| s.code), Some(400), "{e}");
    assert!(
        e.to_string()
            .contains("container nope is not valid for pod web"),
        "{e}"
    );
    // Not a log request: refused before any I/O.
    let e = client
        .log_stream(CustomRequest::<Text>::new(
            http::Method::GET,
            "/version".into(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Stream { .. }), "{e:?}");
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web").await;
    let pods = server.pods();
    let mut stream = client
        .log_stream(read_log("web").set_query("follow", "true"))
        .await
        .unwrap();
    pods.append_log(NS, "web", "app", "x");
    within("chunk", stream.next()).await.unwrap().unwrap();
    assert_eq!(pods.open_log_streams(), 1);
    drop(stream);
    eventually("the server sees the stream closed", || {
        pods.open_log_streams() == 0
    })
    .await;
}

#[tokio::test]
async fn an_idle_follow_fails_after_its_idle_timeout() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web").await;
    let mut stream = client
        .log_stream(read_log("web").set_query("follow", "true"))
        .await
        .unwrap()
        .idle_timeout(Some(Duration::from_millis(300)));
    let e = within("idle", stream.next()).await.unwrap().unwrap_err();
    assert!(
        matches!(&e, Error::Stream { message, .. } if message.contains("idle timeout")),
        "{e}"
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_broken_stream_fails_log_stream_but_follow_log_resumes_without_duplicates() {
    let server = server().await;
    let client = client(&server);
    pod(&client, "web").await;
    let pods = server.pods();
    // Several lines share a second: resuming must not rely on second precision.
    for i in 0..3 {
        pods.append_log(NS, "web", "app", &format!("a{i}"));
    }
    let mut plain = client
        .log_stream(read_log("web").set_query("follow", "true"))
        .await
        .unwrap()
        .lines();
    // Polled all the time by a task, as an application would.
    let mut follower = client.follow_log(read_log("web")).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(item) = follower.next().await {
            tx.send(item).unwrap();
        }
    });
    let mut seen: Vec<LogLine> = Vec::new();
    for _ in 0..3 {
        seen.push(within("line", rx.recv()).await.unwrap().unwrap());
    }
    for _ in 0..3 {
        within("plain", plain.next()).await.unwrap().unwrap();
    }
    let resumes = || {
        server
            .request_log()
            .iter()
            .filter(|r| r.path_and_query.contains("sinceTime="))
            .count()
    };
    for round in 0..3 {
        pods.break_log_streams();
        // Appended once the follower reconnected, so that each round breaks a connection.
        eventually("reconnected", || resumes() == round + 1).await;
        pods.append_log(NS, "web", "app", &format!("b{round}"));
        seen.push(within("after break", rx.recv()).await.unwrap().unwrap());
    }
    // The plain stream reports the broken connection (after the lines sent before it broke).
    let e = match within("plain error", plain.next()).await {
        Some(Ok(line)) => panic!("{line:?} after the break"),
        Some(Err(e)) => e,
        None => panic!("a broken stream ended cleanly"),
    };
    assert!(matches!(e, Error::Stream { .. }), "{e:?}");
    assert!(plain.next().await.is_none());
    pods.terminate(NS, "web", "app");
    assert!(within("end", rx.recv()).await.is_none());
    within("reader", reader).await.unwrap();
    // Each reconnect asked for the lines since the last one seen: the same lines again, which
    // the follower skipped.
    assert_eq!(resumes(), 3, "{:?}", server.request_log());
    let texts: Vec<&str> = seen.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["a0", "a1", "a2", "b0", "b1", "b2"]);
    assert!(seen.iter().all(|l| l.timestamp.is_some()));
    // Each reconnect asked for the lines since the last one seen: the same lines again, which
    // the follower skipped.
    assert_eq!(resumes(), 3, "{:?}", server.request_log());
}

#[tokio::test]
async fn follow_log_survives_a_token_rotation() {
    let server = server().await;
    server.add_token("old-token", "admin", &["system:masters"]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "old-token").unwrap();
    let mut config = config(&server, Auth::TokenFile(token_file.clone()));
    // The file is re-read only on a 401, as with a long refresh interval.
    config.credential_refresh_interval = Duration::from_secs(3600);
    let client = Client::try_from(config).unwrap();
    pod(&client, "web").await;
    let pods = server.pods();
    pods.append_log(NS, "web", "app", "one");
    let mut follower = client.follow_log(read_log("web")).unwrap();
    assert_eq!(
        within("one", follower.next()).await.unwrap().unwrap().text,
        "one"
    );
    // The token rotates: the old one is revoked. The open stream was authenticated when it
    // started and goes on.
    server.add_token("new-token", "admin", &["system:masters"]);
    std::fs::write(&token_file, "new-token").unwrap();
    server.revoke_token("old-token");
    pods.append_log(NS, "web", "app", "two");
    assert_eq!(
        within("two", follower.next()).await.unwrap().unwrap().text,
        "two"
    );
    // The connection breaks: the reconnect gets a 401 with the old token, re-reads the file
    // and resumes with the new one.
    pods.break_log_streams();
    pods.append_log(NS, "web", "app", "three");
    assert_eq!(
        within("three", follower.next())
            .await
            .unwrap()
            .unwrap()
            .text,
        "three"
    );
    pods.terminate(NS, "web", "app");
    assert!(within("end", follower.next()).await.is_none());
    let log = server.request_log();
    let logs: Vec<_> = log
        .iter()
        .filter(|r| r.path_and_query.contains("/log?"))
        .collect();
    assert!(
        logs.iter().any(|r| r.user.is_empty()),
        "a request was refused: {logs:?}"
    );
    assert_eq!(logs.last().unwrap().user, "admin");
}

#[tokio::test]
async fn follow_log_gives_up_on_errors_retrying_cannot_fix() {
    let server = server().await;
    let client = client(&server);
    let mut follower = client.follow_log(read_log("missing")).unwrap();
    let e = within("error", follower.next()).await.unwrap().unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(follower.next().await.is_none());
}

#[tokio::test]
async fn since_time_keeps_the_lines_written_from_then_on() {
    use k8s_client::LogRequestExt as _;
    let server = server().await;
    let client = client(&server);
    pod(&client, "web").await;
    let pods = server.pods();
    pods.append_log(NS, "web", "app", "old 1");
    pods.append_log(NS, "web", "app", "old 2");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let since = jiff::Timestamp::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    pods.append_log(NS, "web", "app", "new 1");
    pods.append_log(NS, "web", "app", "new 2");
    // `sinceSeconds` is replaced: the two exclude each other on the server.
    let req = read_log("web")
        .set_query("sinceSeconds", "3600")
        .since_time(since);
    let lines: Vec<String> = client
        .log_stream(req)
        .await
        .unwrap()
        .lines()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(lines, ["new 1", "new 2"]);
    let sent = server
        .request_log()
        .into_iter()
        .filter(|r| r.path_and_query.contains("sinceTime="))
        .map(|r| r.path_and_query)
        .collect::<Vec<_>>();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(!sent[0].contains("sinceSeconds"), "{sent:?}");
}
