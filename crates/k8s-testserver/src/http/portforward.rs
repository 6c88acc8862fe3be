//! `portforward` over WebSocket with the `v4.channel.k8s.io` port-forward framing the kubelet
//! serves: for the i-th port of `?ports=`, channel `2i` carries data and `2i+1` errors; the
//! server opens each channel with a frame holding the port as 2 little-endian bytes. One
//! connection per port per WebSocket. Each forwarded connection is served by the handler the
//! test registered for the port (`Pods::on_port`), an echo handler by default.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::Response;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::streaming::pod;
use super::ws::upgrade;
use super::{Body, Shared, error_response};
use crate::errors::{self, ApiError};
use crate::registry::ResourceDef;
use crate::store::Query;

const PROTOCOLS: [&str; 1] = ["v4.channel.k8s.io"];

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
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !scheduled {
        return Err(errors::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let (resp, on_upgrade, _) = upgrade(parts, &PROTOCOLS)?;
    let handlers: Vec<_> = ports
        .iter()
        .map(|p| shared.containers.port_handler(ns, name, *p))
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

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(Bytes::from(v))
}

async fn run<S>(
    ws: WebSocketStream<S>,
    ports: Vec<u16>,
    handlers: Vec<crate::containers::PortHandler>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut incoming) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(16);
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
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
