//! `portforward` over SPDY/3.1, as the kubelet serves it to kubectl (`portforward.k8s.io`),
//! either tunnelled in WebSocket binary messages (subprotocol `SPDY/3.1+portforward.k8s.io`,
//! what kubectl 1.37 tries first) or after a plain `Upgrade: SPDY/3.1` (its fallback).
//!
//! The client opens two streams per forwarded connection with SYN_STREAM, both carrying the
//! headers `port`, `requestid` and `streamtype` (`error`, then `data`); the server accepts each
//! with an empty SYN_REPLY. Once both streams of a request id are open, the connection goes to
//! the port's handler (`Pods::on_port`, echo by default): the data stream's DATA frames are its
//! input (the client's FIN closes it) and its output comes back as DATA frames; when it ends,
//! the server ends both streams with an empty DATA frame carrying FIN. An error stream would
//! carry a message if the port could not be reached; the model's ports always can.
//!
//! Flow control (SPDY/3.1): the server sends WINDOW_UPDATEs (per stream and for the session)
//! as its handlers consume data. Go's `moby/spdystream`, under both kubectl and the kubelet,
//! speaks SPDY/3 framing without flow control: it never sends WINDOW_UPDATE, so a sender that
//! waited for one would stop after 64 KiB. The session therefore enforces the peer's send
//! windows only once the peer has shown that it does flow control (a WINDOW_UPDATE, or a
//! SETTINGS with an initial window size); until then, a full handler input is the back
//! pressure, as in spdystream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::lock;
use super::spdy::{self, Codec, Frame, INITIAL_WINDOW};
use crate::containers::Containers;

/// The WebSocket subprotocol of SPDY tunnelled in binary messages.
pub(super) const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The `X-Stream-Protocol-Version` of the plain SPDY upgrade.
pub(super) const STREAM_PROTOCOL: &str = "portforward.k8s.io";

/// The largest DATA frame the server sends.
const MAX_DATA: usize = 32 * 1024;
/// Chunks queued for one handler's input before the session stops reading.
const INPUT_QUEUE: usize = 1024;
/// Consumed bytes of a stream that trigger a WINDOW_UPDATE.
const UPDATE_AFTER: u32 = 16 * 1024;

/// The bytes under a session: chunks in, chunks out. Ends when `incoming` ends.
pub(super) struct Transport {
    incoming: mpsc::Receiver<Bytes>,
    outgoing: mpsc::Sender<Bytes>,
}

/// SPDY tunnelled in WebSocket binary messages (client-go's `TunnelingConnection`): the byte
/// stream is the concatenation of the messages' payloads.
pub(super) fn over_websocket<S>(ws: WebSocketStream<S>) -> Transport
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let (in_tx, incoming) = mpsc::channel::<Bytes>(64);
    let (outgoing, mut out_rx) = mpsc::channel::<Bytes>(64);
    // Bounded by the connection: ends when the client closes it or the session ends.
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            let chunk = match msg {
                Message::Binary(b) => b,
                Message::Close(_) => break,
                _ => continue,
            };
            if in_tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    // Bounded by the session: ends when every sender is gone.
    tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if sink.send(Message::Binary(b)).await.is_err() {
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
    Transport { incoming, outgoing }
}

/// SPDY directly on the upgraded connection.
pub(super) fn over_io<S>(io: S) -> Transport
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut r, mut w) = tokio::io::split(io);
    let (in_tx, incoming) = mpsc::channel::<Bytes>(64);
    let (outgoing, mut out_rx) = mpsc::channel::<Bytes>(64);
    // Bounded by the connection.
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0 || in_tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                break;
            }
        }
    });
    // Bounded by the session.
    tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if w.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = w.shutdown().await;
    });
    Transport { incoming, outgoing }
}

/// The peer's receive windows, which the pumps spend.
#[derive(Default)]
struct Windows {
    /// Set once the peer shows it does flow control.
    enforced: bool,
    session: i64,
    initial: i64,
    streams: HashMap<u32, i64>,
}

struct Flow {
    windows: Mutex<Windows>,
    changed: Notify,
}

impl Flow {
    /// Waits until up to `want` bytes may be sent on `stream`, and takes them; `None` once
    /// the stream is gone (reset by the client).
    async fn take(&self, stream: u32, want: usize) -> Option<usize> {
        loop {
            let notified = self.changed.notified();
            {
                let mut w = lock(&self.windows);
                let own = *w.streams.get(&stream)?;
                if !w.enforced {
                    return Some(want);
                }
                let allowed = own
                    .min(w.session)
                    .min(i64::try_from(want).unwrap_or(i64::MAX));
                if allowed > 0 {
                    w.session -= allowed;
                    w.streams.insert(stream, own - allowed);
                    return usize::try_from(allowed).ok();
                }
            }
            notified.await;
        }
    }
}

/// A data stream's receiving side.
#[derive(Default)]
struct Inbound {
    /// Data received before the pair was complete.
    early: Vec<Bytes>,
    /// FIN received before the pair was complete.
    early_fin: bool,
    /// The handler runs.
    started: bool,
    input: Option<mpsc::Sender<Bytes>>,
}

/// The streams of one request id.
#[derive(Default)]
struct Pair {
    port: u16,
    data: Option<u32>,
    error: Option<u32>,
}

fn data_frame(stream: u32, fin: bool, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(8 + data.len());
    // Cannot fail: the pumps send at most MAX_DATA bytes.
    let _ = spdy::encode_data(stream, fin, data, &mut out);
    Bytes::from(out)
}

/// Serves one port-forward session of Pod `ns/pod` until the client closes it.
pub(super) async fn serve(mut t: Transport, model: Arc<Containers>, ns: String, pod: String) {
    let mut codec = Codec::new();
    let flow = Arc::new(Flow {
        windows: Mutex::new(Windows {
            session: INITIAL_WINDOW,
            initial: INITIAL_WINDOW,
            ..Windows::default()
        }),
        changed: Notify::new(),
    });
    let mut tasks = JoinSet::new();
    let mut inbound: HashMap<u32, Inbound> = HashMap::new();
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut last_stream = 0u32;
    // Bytes consumed by handlers, per stream: reported by the input tasks.
    let (consumed_tx, mut consumed_rx) = mpsc::unbounded_channel::<(u32, u32)>();
    let mut unacked: HashMap<u32, u32> = HashMap::new();
    let mut session_unacked = 0u32;
    let mut buf = BytesMut::new();
    let out = t.outgoing.clone();
    let send = |codec: &mut Codec, frame: Frame| {
        let mut bytes = Vec::new();
        match codec.encode(&frame, &mut bytes) {
            Ok(()) => Some(Bytes::from(bytes)),
            Err(e) => {
                tracing::warn!(error = %e, "spdy: cannot encode a frame");
                None
            }
        }
    };
    'session: loop {
        tokio::select! {
            chunk = t.incoming.recv() => {
                let Some(chunk) = chunk else { break 'session };
                buf.extend_from_slice(&chunk);
            }
            Some((stream, n)) = consumed_rx.recv() => {
                let e = unacked.entry(stream).or_default();
                *e = e.saturating_add(n);
                session_unacked = session_unacked.saturating_add(n);
                let mut frames = Vec::new();
                if *e >= UPDATE_AFTER {
                    frames.push(Frame::WindowUpdate { stream, delta: std::mem::take(e) });
                }
                if session_unacked >= UPDATE_AFTER {
                    frames.push(Frame::WindowUpdate {
                        stream: 0,
                        delta: std::mem::take(&mut session_unacked),
                    });
                }
                for f in frames {
                    if let Some(b) = send(&mut codec, f) {
                        if out.send(b).await.is_err() {
                            break 'session;
                        }
                    }
                }
                continue;
            }
        }
        loop {
            let (frame, used) = match codec.decode(&buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "spdy: bad frame, closing the session");
                    if let Some(b) = send(
                        &mut codec,
                        Frame::GoAway {
                            last_good: last_stream,
                            status: 1,
                        },
                    ) {
                        let _ = out.send(b).await;
                    }
                    break 'session;
                }
            };
            buf.advance(used);
            let mut replies = Vec::new();
            match frame {
                Frame::SynStream {
                    stream, headers, ..
                } => {
                    // Client streams are odd and increasing.
                    if stream % 2 == 0 || stream <= last_stream {
                        replies.push(Frame::RstStream {
                            stream,
                            status: spdy::RST_PROTOCOL_ERROR,
                        });
                    } else {
                        last_stream = stream;
                        let kind = spdy::header(&headers, "streamtype");
                        let port =
                            spdy::header(&headers, "port").and_then(|p| p.parse::<u16>().ok());
                        let request = spdy::header(&headers, "requestid").unwrap_or("").to_owned();
                        match (kind, port) {
                            (Some(k @ ("data" | "error")), Some(port)) if port > 0 => {
                                replies.push(Frame::SynReply {
                                    stream,
                                    fin: false,
                                    headers: Vec::new(),
                                });
                                let pair = pairs.entry(request.clone()).or_default();
                                pair.port = port;
                                if k == "data" {
                                    pair.data = Some(stream);
                                    inbound.insert(stream, Inbound::default());
                                } else {
                                    pair.error = Some(stream);
                                }
                                if let Some(Pair {
                                    port,
                                    data: Some(d),
                                    error: Some(e),
                                }) = pairs.get(&request)
                                {
                                    let (port, d, e) = (*port, *d, *e);
                                    pairs.remove(&request);
                                    {
                                        let mut w = lock(&flow.windows);
                                        let initial = w.initial;
                                        w.streams.insert(d, initial);
                                    }
                                    if let Some(inb) = inbound.get_mut(&d) {
                                        let (tx, rx) = mpsc::channel::<Bytes>(INPUT_QUEUE);
                                        for b in inb.early.drain(..) {
                                            let _ = tx.try_send(b);
                                        }
                                        inb.started = true;
                                        if inb.early_fin {
                                            inbound.remove(&d);
                                        } else {
                                            inb.input = Some(tx);
                                        }
                                        start(
                                            &mut tasks,
                                            model.port_handler(&ns, &pod, port),
                                            rx,
                                            consumed_tx.clone(),
                                            flow.clone(),
                                            out.clone(),
                                            (d, e),
                                        );
                                    }
                                }
                            }
                            _ => replies.push(Frame::RstStream {
                                stream,
                                status: spdy::RST_REFUSED_STREAM,
                            }),
                        }
                    }
                }
                Frame::Data { stream, fin, data } => {
                    if let Some(inb) = inbound.get_mut(&stream) {
                        if !data.is_empty() {
                            if let Some(tx) = &inb.input {
                                if tx.send(data).await.is_err() {
                                    inb.input = None;
                                }
                            } else if !inb.started {
                                inb.early.push(data);
                            }
                        }
                        if fin {
                            // The handler's input ends; its output may go on.
                            if inb.started {
                                inbound.remove(&stream);
                            } else {
                                inb.early_fin = true;
                            }
                        }
                    }
                }
                Frame::RstStream { stream, .. } => {
                    inbound.remove(&stream);
                    lock(&flow.windows).streams.remove(&stream);
                    flow.changed.notify_waiters();
                }
                Frame::Settings { entries, .. } => {
                    let mut w = lock(&flow.windows);
                    for s in entries {
                        if s.id == spdy::SETTINGS_INITIAL_WINDOW_SIZE {
                            let new = i64::from(s.value);
                            let delta = new - w.initial;
                            w.initial = new;
                            w.enforced = true;
                            for v in w.streams.values_mut() {
                                *v += delta;
                            }
                        }
                    }
                    drop(w);
                    flow.changed.notify_waiters();
                }
                Frame::WindowUpdate { stream, delta } => {
                    let mut w = lock(&flow.windows);
                    w.enforced = true;
                    if stream == 0 {
                        w.session += i64::from(delta);
                    } else if let Some(v) = w.streams.get_mut(&stream) {
                        *v += i64::from(delta);
                    }
                    drop(w);
                    flow.changed.notify_waiters();
                }
                Frame::Ping { id } => {
                    // Answer the client's pings (odd ids); ours would be even, and we send none.
                    if id % 2 == 1 {
                        replies.push(Frame::Ping { id });
                    }
                }
                Frame::GoAway { .. } => break 'session,
                Frame::SynReply { .. } | Frame::Headers { .. } | Frame::Unknown { .. } => {}
            }
            for f in replies {
                if let Some(b) = send(&mut codec, f) {
                    if out.send(b).await.is_err() {
                        break 'session;
                    }
                }
            }
        }
    }
    // Dropping the tasks aborts handlers and pumps that are still running.
    drop(inbound);
    tasks.shutdown().await;
}

/// Starts the handler of one forwarded connection with its input and output pumps.
#[allow(clippy::too_many_arguments)]
fn start(
    tasks: &mut JoinSet<()>,
    handler: crate::containers::PortHandler,
    mut input: mpsc::Receiver<Bytes>,
    consumed: mpsc::UnboundedSender<(u32, u32)>,
    flow: Arc<Flow>,
    out: mpsc::Sender<Bytes>,
    (data, error): (u32, u32),
) {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    tasks.spawn(handler(theirs));
    let (mut r, mut w) = tokio::io::split(ours);
    // Bounded by the client's FIN (or the session's end).
    tasks.spawn(async move {
        while let Some(b) = input.recv().await {
            if w.write_all(&b).await.is_err() {
                break;
            }
            let _ = consumed.send((data, u32::try_from(b.len()).unwrap_or(u32::MAX)));
        }
        let _ = w.shutdown().await;
    });
    // Bounded by the handler: ends when it closes its output.
    tasks.spawn(async move {
        let mut buf = vec![0u8; MAX_DATA];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut sent = 0;
            while sent < n {
                let Some(k) = flow.take(data, n - sent).await else {
                    return;
                };
                if out
                    .send(data_frame(data, false, &buf[sent..sent + k]))
                    .await
                    .is_err()
                {
                    return;
                }
                sent += k;
            }
        }
        let _ = out.send(data_frame(data, true, &[])).await;
        let _ = out.send(data_frame(error, true, &[])).await;
        lock(&flow.windows).streams.remove(&data);
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use tokio::io::DuplexStream;

    use super::*;

    /// A SPDY client on one end of an in-memory connection, the session on the other.
    struct Peer {
        io: DuplexStream,
        codec: Codec,
        buf: BytesMut,
    }

    impl Peer {
        fn start() -> Peer {
            let (io, server) = tokio::io::duplex(1 << 20);
            let model = Arc::new(Containers::default());
            tokio::spawn(serve(
                over_io(server),
                model,
                "default".into(),
                "web".into(),
            ));
            Peer {
                io,
                codec: Codec::new(),
                buf: BytesMut::new(),
            }
        }
        async fn send(&mut self, f: Frame) {
            let mut b = Vec::new();
            self.codec.encode(&f, &mut b).unwrap();
            self.io.write_all(&b).await.unwrap();
        }
        /// The next frame, or `None` when nothing arrives within `wait`.
        async fn next(&mut self, wait: Duration) -> Option<Frame> {
            loop {
                if let Some((f, used)) = self.codec.decode(&self.buf).unwrap() {
                    self.buf.advance(used);
                    return Some(f);
                }
                let mut chunk = [0u8; 65536];
                let n = tokio::time::timeout(wait, self.io.read(&mut chunk))
                    .await
                    .ok()?
                    .unwrap();
                assert!(n > 0, "the session closed the connection");
                self.buf.extend_from_slice(&chunk[..n]);
            }
        }
    }

    fn open(stream: u32, kind: &str) -> Frame {
        let h = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        Frame::SynStream {
            stream,
            associated: 0,
            priority: 0,
            flags: 0,
            headers: vec![h("streamtype", kind), h("port", "80"), h("requestid", "0")],
        }
    }

    fn data(stream: u32, fin: bool, bytes: &[u8]) -> Frame {
        Frame::Data {
            stream,
            fin,
            data: Bytes::copy_from_slice(bytes),
        }
    }

    /// Collects frames until none arrives for 300 ms: echoed data of stream 3, its FIN, and
    /// the server's window updates.
    async fn drain(peer: &mut Peer, echoed: &mut Vec<u8>, fins: &mut Vec<u32>) -> Vec<Frame> {
        let mut updates = Vec::new();
        while let Some(f) = peer.next(Duration::from_millis(300)).await {
            match f {
                Frame::Data { stream, fin, data } => {
                    if stream == 3 {
                        echoed.extend_from_slice(&data);
                    }
                    if fin {
                        fins.push(stream);
                    }
                }
                f @ Frame::WindowUpdate { .. } => updates.push(f),
                Frame::SynReply { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        updates
    }

    #[tokio::test]
    async fn a_flow_controlling_peer_gets_no_more_than_its_window() {
        let mut peer = Peer::start();
        peer.send(Frame::Settings {
            flags: 0,
            entries: vec![spdy::Setting {
                flags: 0,
                id: spdy::SETTINGS_INITIAL_WINDOW_SIZE,
                value: 1000,
            }],
        })
        .await;
        peer.send(open(1, "error")).await;
        peer.send(open(3, "data")).await;
        let sent: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in sent.chunks(8000) {
            peer.send(data(3, false, chunk)).await;
        }
        let (mut echoed, mut fins) = (Vec::new(), Vec::new());
        let updates = drain(&mut peer, &mut echoed, &mut fins).await;
        // The echo has all 40,000 bytes to send back, but the stream window is 1,000.
        assert_eq!(echoed, sent[..1000]);
        // What the handler consumed is acknowledged, per stream and for the session, in steps
        // of at least UPDATE_AFTER (well inside the 64 KiB the peer may send unacknowledged).
        let acked = |s: u32| -> u32 {
            updates
                .iter()
                .filter_map(|f| match f {
                    Frame::WindowUpdate { stream, delta } if *stream == s => Some(*delta),
                    _ => None,
                })
                .sum()
        };
        let least = 40_000 - UPDATE_AFTER;
        assert!(acked(3) >= least && acked(3) <= 40_000, "{updates:?}");
        assert!(acked(0) >= least && acked(0) <= 40_000, "{updates:?}");
        // More window, more data: the rest arrives, then both streams end.
        peer.send(Frame::WindowUpdate {
            stream: 3,
            delta: 100_000,
        })
        .await;
        peer.send(data(3, true, &[])).await;
        drain(&mut peer, &mut echoed, &mut fins).await;
        assert!(
            echoed == sent,
            "{} of {} bytes echoed",
            echoed.len(),
            sent.len()
        );
        fins.sort_unstable();
        assert_eq!(fins, [1, 3]);
    }

    #[tokio::test]
    async fn a_peer_without_flow_control_is_not_held_to_64_kib() {
        // As kubectl (spdystream): no SETTINGS, no WINDOW_UPDATE.
        let mut peer = Peer::start();
        peer.send(open(1, "error")).await;
        peer.send(open(3, "data")).await;
        let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
        for chunk in sent.chunks(30_000) {
            peer.send(data(3, false, chunk)).await;
        }
        peer.send(data(3, true, &[])).await;
        let (mut echoed, mut fins) = (Vec::new(), Vec::new());
        drain(&mut peer, &mut echoed, &mut fins).await;
        assert!(
            echoed == sent,
            "{} of {} bytes echoed",
            echoed.len(),
            sent.len()
        );
        fins.sort_unstable();
        assert_eq!(fins, [1, 3]);
    }

    #[tokio::test]
    async fn pings_are_answered_and_bad_streams_refused() {
        let mut peer = Peer::start();
        peer.send(Frame::Ping { id: 7 }).await;
        assert_eq!(
            peer.next(Duration::from_secs(5)).await,
            Some(Frame::Ping { id: 7 })
        );
        let h = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        peer.send(Frame::SynStream {
            stream: 1,
            associated: 0,
            priority: 0,
            flags: 0,
            headers: vec![h("streamtype", "data"), h("port", "http")],
        })
        .await;
        assert_eq!(
            peer.next(Duration::from_secs(5)).await,
            Some(Frame::RstStream {
                stream: 1,
                status: spdy::RST_REFUSED_STREAM
            })
        );
        // Garbage ends the session with a GOAWAY (protocol error).
        peer.io
            .write_all(&[0x80, 2, 0, 1, 0, 0, 0, 0])
            .await
            .unwrap();
        assert_eq!(
            peer.next(Duration::from_secs(5)).await,
            Some(Frame::GoAway {
                last_good: 1,
                status: 1
            })
        );
    }
}
