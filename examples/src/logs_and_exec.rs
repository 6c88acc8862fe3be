//! `logs-and-exec`: a container's log as it is written, and commands run in the container.
//!
//! 1. Follows the log of a Pod's container with [`k8s_client::Client::follow_log`]
//!    (`Pod::read_log(..)`): lines arrive as the container writes them, with their timestamps;
//!    a broken connection is resumed after the last line, without repeating it.
//! 2. Runs commands with [`k8s_client::Client::exec_output`] (`Pod::connect_get_exec(..)`)
//!    over a WebSocket: `echo`, `cat` fed from stdin, and `sh -c 'exit 3'`, whose exit code
//!    comes back typed.
//! 3. Forwards a local port to the Pod's port 80 with
//!    [`k8s_client::Client::port_forward_listen`] (`Pod::connect_get_portforward(..)`), like
//!    `kubectl port-forward`, and exchanges a message through it.
//!
//! Against the test server the example creates Pod `web` (scheduled to a node), writes log
//! lines into its container while following it, breaks the log connection once, and ends the
//! container. With `--real-cluster --pod NAME` it follows the given Pod's log for `--lines`
//! lines (default 5), runs the same commands in it (the image needs `sh` and `cat`) and, with
//! `--port N`, sends a line through a forward to port N (an echo server there answers it).

use std::time::Duration;

use futures::StreamExt;
use k8s_api::latest::core::v1::{Container, Pod, PodSpec};
use k8s_api::latest::meta::v1::ObjectMeta;
use k8s_client::Client;

use crate::support::{Error, Target, Transcript, client_from_kubeconfig};

const ADMIN_TOKEN: &str = "logs-admin-token-5e1a";

/// Options of the example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Where to run.
    pub target: Target,
    /// With [`Target::RealCluster`]: the Pod (in the client's namespace).
    pub pod: Option<String>,
    /// How many log lines to follow before moving on (default 5).
    pub lines: Option<usize>,
    /// The Pod's port to forward to (default: 80 against the test server, none otherwise).
    pub port: Option<u16>,
}

impl Options {
    /// Options for `target`.
    pub fn new(target: Target) -> Self {
        Options {
            target,
            pod: None,
            lines: None,
            port: None,
        }
    }
}

/// What happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The log lines followed.
    pub log: Vec<String>,
    /// What `echo hello from exec` printed.
    pub echo: String,
    /// What `cat` gave back from its stdin.
    pub cat: String,
    /// The exit code of `sh -c 'exit 3'`.
    pub exit_code: i32,
    /// The channel protocol the server chose.
    pub protocol: String,
    /// What came back through the forwarded port.
    pub forwarded: String,
}

/// Runs the example.
pub async fn run(options: &Options, out: &Transcript) -> Result<Report, Error> {
    let lines = options.lines.unwrap_or(5);
    match options.target {
        Target::TestServer => {
            let server = k8s_testserver::TestServer::builder()
                .token(ADMIN_TOKEN, "admin", &["system:masters"])
                .start()
                .await?;
            out.line(format!(
                "Started the in-process API server at {}.",
                server.url()
            ));
            let client = client_from_kubeconfig(&server.kubeconfig_for(ADMIN_TOKEN))?;
            let ns = client.namespace().to_owned();
            client.send(Pod::create(&ns, &demo_pod())).await?;
            out.line("Created Pod web (container app, on node-1).");
            // The container writes a line every 50 ms; the log connection breaks once.
            let pods = server.pods();
            let writer = tokio::spawn({
                let ns = ns.clone();
                async move {
                    for i in 1..=lines {
                        pods.append_log(&ns, "web", "app", &format!("request {i} served"));
                        if i == lines / 2 {
                            pods.break_log_streams();
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    pods.terminate(&ns, "web", "app");
                }
            });
            let mut report = follow(&client, &ns, "web", lines, out).await?;
            writer
                .await
                .map_err(|e| Error::Unexpected(format!("the log writer failed: {e}")))?;
            exec(&client, &ns, "web", &mut report, out).await?;
            // The test server's Pods echo on every port unless a handler is registered.
            forward(
                &client,
                &ns,
                "web",
                options.port.unwrap_or(80),
                &mut report,
                out,
            )
            .await?;
            server.shutdown().await;
            Ok(report)
        }
        _ => {
            let Some(pod) = options.pod.as_deref() else {
                return Err(Error::Unexpected(
                    "--real-cluster needs --pod NAME (a running Pod with sh and cat)".into(),
                ));
            };
            let client = Client::infer().await?;
            let ns = client.namespace().to_owned();
            let mut report = follow(&client, &ns, pod, lines, out).await?;
            exec(&client, &ns, pod, &mut report, out).await?;
            if let Some(port) = options.port {
                forward(&client, &ns, pod, port, &mut report, out).await?;
            }
            Ok(report)
        }
    }
}

fn demo_pod() -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "app".into(),
                image: Some("busybox:1.37".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn follow(
    client: &Client,
    ns: &str,
    pod: &str,
    lines: usize,
    out: &Transcript,
) -> Result<Report, Error> {
    out.line(format!("\nFollowing the log of {ns}/{pod}:"));
    let mut log = client.follow_log(Pod::read_log(ns, pod))?;
    let mut report = Report::default();
    while let Some(line) = log.next().await {
        let line = line?;
        let when = line
            .timestamp
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        out.line(format!("  {when}  {}", line.text));
        report.log.push(line.text);
        if report.log.len() == lines {
            break;
        }
    }
    Ok(report)
}

async fn exec(
    client: &Client,
    ns: &str,
    pod: &str,
    report: &mut Report,
    out: &Transcript,
) -> Result<(), Error> {
    out.line(format!("\nRunning commands in {ns}/{pod}:"));
    let echo = client
        .exec_output(
            Pod::connect_get_exec(ns, pod)
                .command("echo")
                .command("hello from exec"),
            None,
        )
        .await?;
    report.echo = String::from_utf8_lossy(&echo.stdout).trim_end().to_owned();
    out.line(format!("  echo hello from exec -> {:?}", report.echo));
    let cat = client
        .exec_output(
            Pod::connect_get_exec(ns, pod).command("cat"),
            Some(b"fed through stdin\n".to_vec()),
        )
        .await?;
    report.cat = String::from_utf8_lossy(&cat.stdout).trim_end().to_owned();
    out.line(format!("  cat < \"fed through stdin\" -> {:?}", report.cat));
    let process = client
        .exec(
            Pod::connect_get_exec(ns, pod)
                .command("sh")
                .command("-c")
                .command("exit 3")
                .stdout(true),
        )
        .await?;
    report.protocol = process.protocol().to_owned();
    report.exit_code = process.wait().await?.code;
    out.line(format!(
        "  sh -c 'exit 3' -> exit code {} (over {})",
        report.exit_code, report.protocol
    ));
    Ok(())
}

async fn forward(
    client: &Client,
    ns: &str,
    pod: &str,
    port: u16,
    report: &mut Report,
    out: &Transcript,
) -> Result<(), Error> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let (addr, task) = client
        .port_forward_listen(Pod::connect_get_portforward(ns, pod), local, port)
        .await?;
    out.line(format!("\nForwarding {addr} -> {ns}/{pod}:{port}"));
    let io = |e: std::io::Error| Error::Io {
        what: "talk through the forwarded port",
        path: addr.to_string().into(),
        source: e,
    };
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
    let (r, mut w) = tcp.into_split();
    w.write_all(b"hello through the tunnel\n")
        .await
        .map_err(io)?;
    let mut line = String::new();
    let mut reader = BufReader::new(r);
    tokio::time::timeout(Duration::from_secs(30), reader.read_line(&mut line))
        .await
        .map_err(|_| Error::Unexpected("no answer through the forwarded port in 30 s".into()))?
        .map_err(io)?;
    report.forwarded = line.trim_end().to_owned();
    out.line(format!(
        "  sent \"hello through the tunnel\", got {:?}",
        report.forwarded
    ));
    task.abort();
    Ok(())
}
