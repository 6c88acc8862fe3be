//! `exec` and `attach` over WebSocket with the Kubernetes channel protocols
//! `v5.channel.k8s.io` (preferred) and `v4.channel.k8s.io`: every binary message starts with a
//! channel byte (0 stdin, 1 stdout, 2 stderr, 3 the error channel carrying the final
//! `metav1.Status`, 4 terminal resize as `{"Width":w,"Height":h}`; v5 adds 255: close the
//! stream named by the next byte). Exec and attach are served over WebSocket only, not SPDY
//! (kubectl 1.37 uses WebSocket for them); port-forward also speaks SPDY (`portforward.rs`).
//!
//! The handshakes of every upgraded subresource live here: [`upgrade`] (WebSocket, with a
//! subprotocol) and [`spdy_upgrade`] (plain SPDY/3.1), and the WebSocket writer they share
//! ([`spawn_writer`], [`frame`]).
//!
//! Exec runs built-in commands against the container model: `echo ARGS…`, `cat` (stdin to
//! stdout), `env`, `sh -c 'exit N'` (also `sh -c 'echo …'`), `sleep SECONDS`; anything else
//! fails as a missing executable does. Attach joins the container's main process: its new log
//! lines are its output, and what is written to its stdin becomes log lines (a `cat`-like main
//! process).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Response, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::streaming::{container_of, pod};
use super::{Body, Shared, error_response, full};
use crate::containers::Containers;
use crate::errors::{self, ApiError};
use crate::registry::ResourceDef;
use crate::store::Query;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The channel protocols served, best first.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// What the client asked to stream.
struct Streams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

/// `exec` or `attach` on Pod `ns/name`.
pub(super) fn exec_or_attach(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    sub: &str,
    q: &Query,
) -> Response<Body> {
    match session(shared, parts, def, ns, name, sub, q) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn session(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    sub: &str,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let pod = pod(shared, def, ns, name)?;
    let container = container_of(&pod, name, q.get("container"))?;
    let streams = Streams {
        stdin: q.flag("stdin"),
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
        tty: q.flag("tty"),
    };
    let command: Vec<String> =
        q.0.iter()
            .filter(|(k, _)| k == "command")
            .map(|(_, v)| v.clone())
            .collect();
    if sub == "exec" && command.is_empty() {
        return Err(errors::bad_request("you must specify at least 1 command"));
    }
    if !(streams.stdin || streams.stdout || streams.stderr) {
        return Err(errors::bad_request(
            "you must specify at least one of stdin, stdout, stderr",
        ));
    }
    if streams.tty && streams.stderr {
        return Err(errors::bad_request("tty and stderr cannot both be true"));
    }
    // Like the real server: without a node there is no kubelet to connect to.
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !scheduled {
        return Err(errors::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let offered = if shared
        .containers
        .v4_only
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        &PROTOCOLS[1..]
    } else {
        &PROTOCOLS[..]
    };
    let (resp, on_upgrade, protocol) = upgrade(parts, offered)?;
    let env = container_env(&pod, &container, name);
    let model = shared.containers.clone();
    let key = (ns.to_owned(), name.to_owned(), container);
    let attach = sub == "attach";
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        run(ws, protocol, streams, command, env, model, key, attach).await;
    });
    Ok(resp)
}

/// Checks a WebSocket upgrade request and answers 101 with the chosen channel protocol.
pub(super) fn upgrade(
    parts: &http::request::Parts,
    supported: &[&'static str],
) -> Result<(Response<Body>, OnUpgrade, &'static str), ApiError> {
    let h = |n: header::HeaderName| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    if !h(header::UPGRADE).eq_ignore_ascii_case("websocket") {
        return Err(errors::bad_request(format!(
            "Upgrade request required: the test server serves this subresource over WebSocket \
             ({supported:?}); SPDY only for portforward"
        )));
    }
    let key = h(header::SEC_WEBSOCKET_KEY);
    let offered = h(header::SEC_WEBSOCKET_PROTOCOL);
    let offered: Vec<&str> = offered.split(',').map(str::trim).collect();
    let Some(protocol) = supported.iter().copied().find(|p| offered.contains(p)) else {
        return Err(errors::bad_request(format!(
            "none of the WebSocket subprotocols {offered:?} is supported; the test server \
             speaks {supported:?}"
        )));
    };
    let Some(on_upgrade) = parts.extensions.get::<OnUpgrade>().cloned() else {
        return Err(errors::bad_request("this connection cannot be upgraded"));
    };
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let hs = r.headers_mut();
    hs.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    hs.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    hs.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol),
    );
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        hs.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok((r, on_upgrade, protocol))
}

/// Checks a plain SPDY/3.1 upgrade request (`Upgrade: SPDY/3.1`) offering the stream
/// protocol `protocol` in `X-Stream-Protocol-Version`, and answers 101 with it.
pub(super) fn spdy_upgrade(
    parts: &http::request::Parts,
    protocol: &'static str,
) -> Result<(Response<Body>, OnUpgrade), ApiError> {
    let connection_upgrade = parts
        .headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Err(errors::bad_request("Upgrade request required"));
    }
    let offered: Vec<&str> = parts
        .headers
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !offered.contains(&protocol) {
        // client-go answers 403 here; kubectl reports the message either way.
        return Err(errors::bad_request(format!(
            "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, \
             server supports [{protocol:?}]"
        )));
    }
    let Some(on_upgrade) = parts.extensions.get::<OnUpgrade>().cloned() else {
        return Err(errors::bad_request("this connection cannot be upgraded"));
    };
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let hs = r.headers_mut();
    hs.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    hs.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    hs.insert(
        "x-stream-protocol-version",
        HeaderValue::from_static(protocol),
    );
    Ok((r, on_upgrade))
}

/// The environment `env` prints: the kubelet's basics and the container's literal `env`.
fn container_env(pod: &Value, container: &str, pod_name: &str) -> Vec<String> {
    let mut env = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        format!("HOSTNAME={pod_name}"),
    ];
    let spec = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(container))
        });
    if let Some(vars) = spec.and_then(|c| c.get("env")).and_then(Value::as_array) {
        for v in vars {
            if let (Some(n), Some(val)) = (
                v.get("name").and_then(Value::as_str),
                v.get("value").and_then(Value::as_str),
            ) {
                env.push(format!("{n}={val}"));
            }
        }
    }
    env
}

/// How a command ended.
enum Exit {
    Code(i32),
    /// The runtime could not start it (as a missing executable).
    Failed(String),
}

fn status(exit: &Exit, command: &[String]) -> Value {
    match exit {
        Exit::Code(0) => json!({"metadata": {}, "status": "Success"}),
        Exit::Code(n) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "command terminated with non-zero exit code: error executing command {:?}, exit code {n}",
                command
            ),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": n.to_string()}]}
        }),
        Exit::Failed(message) => json!({
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "InternalError",
            "details": {"causes": [{"message": message}]},
            "code": 500
        }),
    }
}

/// Sends the messages given to the returned channel, then, once every sender is gone, a
/// normal closure (1000): client-go reads it as the end of every stream, and a close without a
/// status (1005) as an error.
pub(super) fn spawn_writer<S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    capacity: usize,
) -> (mpsc::Sender<Message>, JoinHandle<()>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Message>(capacity);
    // Bounded by the session: ends when every sender is gone or the client stops reading.
    let task = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                return;
            }
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            })))
            .await;
        let _ = sink.close().await;
    });
    (tx, task)
}

/// A binary message of the channel protocols: the channel byte, then the data.
pub(super) fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(Bytes::from(v))
}

#[allow(clippy::too_many_arguments)]
async fn run<S>(
    ws: WebSocketStream<S>,
    protocol: &'static str,
    streams: Streams,
    command: Vec<String>,
    env: Vec<String>,
    model: Arc<Containers>,
    (ns, pod, container): (String, String, String),
    attach: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut incoming) = ws.split();
    let (out_tx, writer) = spawn_writer(sink, 64);
    // stdin: a channel of chunks, closed by the v5 close signal or the end of the connection.
    let (stdin_tx, mut stdin_rx) = mpsc::channel::<Bytes>(64);
    let reader = tokio::spawn(async move {
        let mut stdin_tx = Some(stdin_tx);
        while let Some(Ok(msg)) = incoming.next().await {
            let data = match msg {
                Message::Binary(b) => b,
                Message::Close(_) => break,
                _ => continue,
            };
            match data.first() {
                Some(&STDIN) => {
                    if let Some(tx) = &stdin_tx {
                        if tx.send(data.slice(1..)).await.is_err() {
                            stdin_tx = None;
                        }
                    }
                }
                Some(&CLOSE) if protocol == PROTOCOLS[0] && data.get(1) == Some(&STDIN) => {
                    stdin_tx = None;
                }
                Some(&RESIZE) => {
                    tracing::debug!(size = %String::from_utf8_lossy(&data[1..]), "terminal resize");
                }
                _ => {}
            }
        }
    });
    let out_channel = if streams.stdout { Some(STDOUT) } else { None };
    let err_channel = if streams.stderr && !streams.tty {
        Some(STDERR)
    } else {
        out_channel
    };
    let out = out_tx.clone();
    let write = move |channel: Option<u8>, data: Vec<u8>| {
        let out = out.clone();
        async move {
            if let Some(c) = channel {
                let _ = out.send(frame(c, &data)).await;
            }
        }
    };
    let exit = if attach {
        // Bounded: ends when the container terminates or the client goes away.
        let (mut changed, _) = model.subscribe();
        let mut next = model.read(&ns, &pod, &container, 0).next;
        let mut stdin_open = streams.stdin;
        let mut pending = Vec::new();
        loop {
            let r = model.read(&ns, &pod, &container, next);
            next = r.next;
            for (_, line) in r.lines {
                let mut b = line.into_bytes();
                b.push(b'\n');
                write(out_channel, b).await;
            }
            if r.terminated || reader.is_finished() {
                break Exit::Code(0);
            }
            tokio::select! {
                c = changed.changed() => if c.is_err() { break Exit::Code(0) },
                chunk = stdin_rx.recv(), if stdin_open => match chunk {
                    Some(b) => {
                        pending.extend_from_slice(&b);
                        while let Some(i) = pending.iter().position(|c| *c == b'\n') {
                            let rest = pending.split_off(i + 1);
                            let line = std::mem::replace(&mut pending, rest);
                            let text = String::from_utf8_lossy(&line[..i]).into_owned();
                            crate::containers::Pods { model: model.clone() }
                                .append_log(&ns, &pod, &container, &text);
                        }
                    }
                    None => stdin_open = false,
                },
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    } else {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        match args.as_slice() {
            ["echo", rest @ ..] => {
                write(out_channel, format!("{}\n", rest.join(" ")).into_bytes()).await;
                Exit::Code(0)
            }
            ["cat"] => {
                while let Some(chunk) = stdin_rx.recv().await {
                    write(out_channel, chunk.to_vec()).await;
                }
                Exit::Code(0)
            }
            ["env"] => {
                write(out_channel, format!("{}\n", env.join("\n")).into_bytes()).await;
                Exit::Code(0)
            }
            ["sleep", secs] => match secs.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => {
                    tokio::time::sleep(Duration::from_secs_f64(s.min(3600.0))).await;
                    Exit::Code(0)
                }
                _ => {
                    write(
                        err_channel,
                        format!("sleep: invalid time interval '{secs}'\n").into_bytes(),
                    )
                    .await;
                    Exit::Code(1)
                }
            },
            ["sh", "-c", script] => {
                let script = script.trim();
                if let Some(n) = script.strip_prefix("exit") {
                    Exit::Code(n.trim().parse::<i32>().unwrap_or(2))
                } else if let Some(text) = script.strip_prefix("echo ") {
                    write(out_channel, format!("{text}\n").into_bytes()).await;
                    Exit::Code(0)
                } else {
                    write(
                        err_channel,
                        format!("sh: {script}: not found\n").into_bytes(),
                    )
                    .await;
                    Exit::Code(127)
                }
            }
            [cmd, ..] => Exit::Failed(format!(
                "Internal error occurred: error executing command in container: failed to exec in \
                 container: failed to start exec: OCI runtime exec failed: exec failed: unable to \
                 start container process: exec: \"{cmd}\": executable file not found in $PATH: \
                 unknown"
            )),
            [] => Exit::Code(0),
        }
    };
    let st = serde_json::to_vec(&status(&exit, &command)).unwrap_or_default();
    let _ = out_tx.send(frame(ERROR, &st)).await;
    drop(out_tx);
    drop(write);
    let _ = writer.await;
    reader.abort();
}
