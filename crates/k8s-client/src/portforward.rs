//! Port-forward over WebSocket with the `v4.channel.k8s.io` port-forward framing: for the i-th
//! port of `?ports=`, channel `2i` carries data and `2i+1` errors; the server opens each
//! channel with a frame holding the port as 2 little-endian bytes. One WebSocket carries one
//! connection per port, so [`Client::port_forward_listen`] opens one per accepted connection.

use std::collections::HashMap;
use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use k8s_core::{ApiRequest, Request, ResponseKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::client::Client;
use crate::error::Error;
use crate::upgrade::Socket;

const PROTOCOLS: [&str; 1] = ["v4.channel.k8s.io"];
const BUFFER: usize = 256 * 1024;

/// One forwarded connection to a Pod's port: read and write it (tokio `AsyncRead` +
/// `AsyncWrite`); drop it to close the connection.
pub type PortStream = DuplexStream;

/// The connections of one port-forward session, one per requested port: from
/// [`Client::port_forward`].
#[derive(Debug)]
pub struct PortForward {
    streams: HashMap<u16, PortStream>,
    errors: HashMap<u16, oneshot::Receiver<String>>,
}

impl PortForward {
    /// The connection to `port` (once).
    pub fn take_stream(&mut self, port: u16) -> Option<PortStream> {
        self.streams.remove(&port)
    }
    /// Waits for the error the server reports for `port` (e.g. nothing listens on it);
    /// `None` when the session ended without one.
    pub async fn error(&mut self, port: u16) -> Option<String> {
        self.errors.remove(&port)?.await.ok()
    }
}

fn portforward_request<R: ApiRequest>(request: &R) -> Result<(Request, Vec<u16>), Error> {
    let req = request.to_request()?;
    let stream_error = |message: String| Error::Stream {
        path: req.path.clone(),
        message,
    };
    if req.response_kind != ResponseKind::Upgrade || !req.path.ends_with("/portforward") {
        return Err(stream_error(
            "not a port-forward request (expected …/pods/{name}/portforward)".into(),
        ));
    }
    let mut ports = Vec::new();
    for (_, v) in req.query.iter().filter(|(k, _)| k == "ports") {
        for p in v.split(',') {
            ports.push(
                p.trim()
                    .parse::<u16>()
                    .map_err(|_| stream_error(format!("invalid port {p:?}")))?,
            );
        }
    }
    if ports.is_empty() || ports.len() > 127 {
        return Err(stream_error(format!(
            "a port-forward needs 1 to 127 ports, got {}",
            ports.len()
        )));
    }
    Ok((req, ports))
}

impl Client {
    /// Opens a port-forward session (a `Pod::connect_get_portforward(..).ports(80)` request):
    /// one connection per requested port.
    pub async fn port_forward<R: ApiRequest>(&self, request: R) -> Result<PortForward, Error> {
        let (req, ports) = portforward_request(&request)?;
        let (socket, _) = self.websocket(&req, &PROTOCOLS).await?;
        let mut streams = HashMap::new();
        let mut errors = HashMap::new();
        let mut ours = Vec::new();
        let mut error_tx = Vec::new();
        for p in &ports {
            let (user, driver) = tokio::io::duplex(BUFFER);
            streams.insert(*p, user);
            ours.push(driver);
            let (tx, rx) = oneshot::channel();
            errors.insert(*p, rx);
            error_tx.push(Some(tx));
        }
        tokio::spawn(drive(socket, ours, error_tx));
        Ok(PortForward { streams, errors })
    }

    /// Listens on `local` and forwards each accepted connection to `remote_port` of the Pod
    /// of `request` (a `Pod::connect_get_portforward(..)` request; its `ports` are replaced),
    /// like `kubectl port-forward`. Returns the bound address and a task that serves until it
    /// is aborted (or the listener fails).
    pub async fn port_forward_listen<R: ApiRequest>(
        &self,
        request: R,
        local: SocketAddr,
        remote_port: u16,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
        let mut req = request.to_request()?;
        req.set_query("ports", remote_port.to_string());
        portforward_request(&RawRequest(req.clone()))?;
        let listener = tokio::net::TcpListener::bind(local)
            .await
            .map_err(|e| Error::Stream {
                path: req.path.clone(),
                message: format!("cannot listen on {local}: {e}"),
            })?;
        let bound = listener.local_addr().map_err(|e| Error::Stream {
            path: req.path.clone(),
            message: format!("cannot listen on {local}: {e}"),
        })?;
        let client = self.clone();
        let task = tokio::spawn(async move {
            // Bounded by the caller: runs until the task is aborted or accept fails.
            while let Ok((mut tcp, peer)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                let client = client.clone();
                let req = req.clone();
                tokio::spawn(async move {
                    let mut pf = match client.port_forward(RawRequest(req)).await {
                        Ok(pf) => pf,
                        Err(e) => {
                            tracing::warn!(%peer, error = %e, "port-forward connection failed");
                            return;
                        }
                    };
                    if let Some(mut stream) = pf.take_stream(remote_port) {
                        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut stream).await;
                    }
                });
            }
        });
        Ok((bound, task))
    }
}

/// An already described request.
struct RawRequest(Request);

impl ApiRequest for RawRequest {
    type Response = Vec<u8>;
    fn to_request(&self) -> Result<Request, k8s_core::RequestError> {
        Ok(self.0.clone())
    }
    fn decode_response(&self, _body: &[u8]) -> Result<Vec<u8>, k8s_core::DecodeError> {
        Err(k8s_core::DecodeError::NeedsUpgrade)
    }
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(v.into())
}

/// Moves bytes between the socket and the ports' pipes. Bounded by the connection: ends when
/// the server closes it or every user stream is dropped.
async fn drive(
    socket: Socket,
    streams: Vec<DuplexStream>,
    mut errors: Vec<Option<oneshot::Sender<String>>>,
) {
    let (mut sink, mut incoming) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(16);
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut writers = Vec::new();
    let mut pumps = Vec::new();
    for (i, s) in streams.into_iter().enumerate() {
        let (mut r, w) = tokio::io::split(s);
        writers.push(Some(w));
        let out = out_tx.clone();
        let channel = u8::try_from(2 * i).unwrap_or(u8::MAX);
        pumps.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = r.read(&mut buf).await {
                if n == 0 || out.send(frame(channel, &buf[..n])).await.is_err() {
                    break;
                }
            }
        }));
    }
    drop(out_tx);
    // The first frame of each channel is the port (2 bytes), not data.
    let mut opened = vec![false; writers.len() * 2];
    let mut error_text: Vec<Vec<u8>> = vec![Vec::new(); writers.len()];
    while let Some(Ok(msg)) = incoming.next().await {
        let data = match msg {
            Message::Binary(b) => b,
            Message::Close(_) => break,
            _ => continue,
        };
        let Some((&channel, mut payload)) = data.split_first() else {
            continue;
        };
        let c = usize::from(channel);
        if let Some(seen) = opened.get_mut(c) {
            if !*seen {
                *seen = true;
                payload = payload.get(2..).unwrap_or_default();
            }
        }
        let i = c / 2;
        if c % 2 == 1 {
            if let Some(t) = error_text.get_mut(i) {
                t.extend_from_slice(payload);
            }
            continue;
        }
        if let Some(slot) = writers.get_mut(i) {
            if let Some(w) = slot {
                if w.write_all(payload).await.is_err() {
                    *slot = None;
                }
            }
        }
        if writers.iter().all(Option::is_none) {
            break;
        }
    }
    for (i, text) in error_text.into_iter().enumerate() {
        if let (false, Some(Some(tx))) = (text.is_empty(), errors.get_mut(i).map(Option::take)) {
            let _ = tx.send(String::from_utf8_lossy(&text).into_owned());
        }
    }
    // The users' streams see their end.
    for w in &mut writers {
        if let Some(mut w) = w.take() {
            let _ = w.shutdown().await;
        }
    }
    for p in pumps {
        p.abort();
    }
    let _ = writer.await;
}
