//! `portforward`, in the three forms a client may ask for:
//!
//! * WebSocket with the `v4.channel.k8s.io` port-forward framing the kubelet serves (the SDK's
//!   client): for the i-th port of `?ports=`, channel `2i` carries data and `2i+1` errors; the
//!   server opens each channel with a frame holding the port as 2 little-endian bytes. One
//!   connection per port per WebSocket.
//! * WebSocket with `SPDY/3.1+portforward.k8s.io`: SPDY/3.1 tunnelled in binary messages, the
//!   ports in each stream's headers (kubectl 1.37's first choice); see `spdy_portforward.rs`.
//! * A plain `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version: portforward.k8s.io`
//!   (kubectl's fallback, and older clients).
//!
//! Each forwarded connection is served by the handler the test registered for the port
//! (`Pods::on_port`), an echo handler by default.

use std::sync::Arc;

use futures_util::StreamExt;
use http::Response;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::spdy_portforward::{self as spdy, STREAM_PROTOCOL, TUNNEL_PROTOCOL};
use super::streaming::pod;
use super::ws::{frame, spawn_writer, spdy_upgrade, upgrade};
use super::{Body, Shared, error_response};
use crate::errors::{self, ApiError};
use crate::registry::ResourceDef;
use crate::store::Query;

const CHANNEL_PROTOCOL: &str = "v4.channel.k8s.io";
const PROTOCOLS: [&str; 2] = [CHANNEL_PROTOCOL, TUNNEL_PROTOCOL];

/// `GET …/pods/{name}/portforward?ports=…`.
pub(super) fn portforward(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    q: &Query,
) -> Response<Body> {
    match session(shared, parts, def, ns, name, q) {
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
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let pod = pod(shared, def, ns, name)?;
    let ports = ports(q);
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !scheduled {
        return Err(errors::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let model = shared.containers.clone();
    let (ns, name) = (ns.to_owned(), name.to_owned());
    let spdy_requested = parts
        .headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("SPDY/3.1"));
    if spdy_requested {
        let (resp, on_upgrade) = spdy_upgrade(parts, STREAM_PROTOCOL)?;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            spdy::serve(spdy::over_io(TokioIo::new(upgraded)), model, ns, name).await;
        });
        return Ok(resp);
    }
    let (resp, on_upgrade, protocol) = upgrade(parts, &PROTOCOLS)?;
    if protocol == TUNNEL_PROTOCOL {
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let ws =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            spdy::serve(spdy::over_websocket(ws), model, ns, name).await;
        });
        return Ok(resp);
    }
    let ports = ports?;
    let handlers: Vec<_> = ports
        .iter()
        .map(|p| model.port_handler(&ns, &name, *p))
        .collect();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        run(ws, ports, handlers).await;
    });
    Ok(resp)
}

/// The `ports` query of the channel protocol (`?ports=80&ports=8080` or `?ports=80,8080`).
fn ports(q: &Query) -> Result<Vec<u16>, ApiError> {
    let mut ports = Vec::new();
    for v in
        q.0.iter()
            .filter(|(k, _)| k == "ports")
            .flat_map(|(_, v)| v.split(','))
    {
        match v.trim().parse::<u16>() {
            Ok(p) if p > 0 => ports.push(p),
            _ => {
                return Err(errors::bad_request(format!(
                    "invalid port {v:?}: ports must be in the range 1-65535"
                )));
            }
        }
    }
    if ports.is_empty() {
        return Err(errors::bad_request("at least one port must be specified"));
    }
    Ok(ports)
}

async fn run<S>(
    ws: WebSocketStream<S>,
    ports: Vec<u16>,
    handlers: Vec<crate::containers::PortHandler>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut incoming) = ws.split();
    let (out_tx, writer) = spawn_writer(sink, 16);
    let mut to_handlers = Vec::new();
    let mut pumps = Vec::new();
    for (i, (port, handler)) in ports.iter().zip(handlers).enumerate() {
        let data = u8::try_from(2 * i).unwrap_or(u8::MAX);
        let _ = out_tx.send(frame(data, &port.to_le_bytes())).await;
        let _ = out_tx.send(frame(data + 1, &port.to_le_bytes())).await;
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(handler(theirs));
        let (mut r, w) = tokio::io::split(ours);
        to_handlers.push(Some(w));
        let out = out_tx.clone();
        // Bounded by the handler: ends when it closes its side.
        pumps.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = r.read(&mut buf).await {
                if n == 0 || out.send(frame(data, &buf[..n])).await.is_err() {
                    break;
                }
            }
        }));
    }
    drop(out_tx);
    let mut all_done = futures_util::future::join_all(pumps);
    loop {
        tokio::select! {
            msg = incoming.next() => {
                let data = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let Some((&channel, payload)) = data.split_first() else { continue };
                if channel % 2 == 1 {
                    continue;
                }
                if let Some(slot) = to_handlers.get_mut(usize::from(channel / 2)) {
                    if let Some(w) = slot {
                        if w.write_all(payload).await.is_err() {
                            *slot = None;
                        }
                    }
                }
            }
            _ = &mut all_done => break,
        }
    }
    // Closing the handlers' input ends them; their output pumps end with them.
    to_handlers.clear();
    let _ = writer.await;
}
