//! exec and attach over WebSocket with the Kubernetes channel protocols `v5.channel.k8s.io`
//! (preferred) and `v4.channel.k8s.io` (when the server offers only that).
//!
//! Every binary message starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 the error
//! channel (the final `metav1.Status`; a non-zero exit is `reason: NonZeroExitCode` with the
//! code in `details.causes[reason=ExitCode].message`), 4 terminal resize
//! (`{"Width":w,"Height":h}`); v5 adds 255 (close the stream named by the next byte), which is
//! how the end of stdin reaches the remote process.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{SinkExt, StreamExt};
use k8s_core::{ApiRequest, Request, ResponseKind, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::client::Client;
use crate::error::Error;
use crate::upgrade::Socket;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The channel protocols offered, best first.
pub const EXEC_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

const BUFFER: usize = 64 * 1024;

/// How a remote command ended: its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitStatus {
    /// The exit code (0: success).
    pub code: i32,
}

impl ExitStatus {
    /// Whether the command exited with 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

/// A terminal size sent on the resize channel (in a `tty` session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TerminalSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

/// The remote process's stdin: write to it; shut it down (or drop it) to close the remote
/// stdin (protocol v5; with v4 the remote stdin stays open until the session ends).
#[derive(Debug)]
pub struct ProcessStdin(DuplexStream);

/// The remote process's stdout or stderr: read it until the end (the session ended).
#[derive(Debug)]
pub struct ProcessOutput(DuplexStream);

impl AsyncWrite for ProcessStdin {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncRead for ProcessOutput {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

/// Sends terminal sizes to a `tty` session. Cheap to clone.
#[derive(Clone, Debug)]
pub struct TerminalResizer(mpsc::Sender<TerminalSize>);

impl TerminalResizer {
    /// Sends a new size; fails when the session has ended.
    pub async fn resize(&self, size: TerminalSize) -> Result<(), TerminalSize> {
        self.0.send(size).await.map_err(|e| e.0)
    }
}

/// A running remote command (exec) or an attached container process: its streams and its
/// exit status. Take the streams you asked for (`stdin=true` etc. in the request) with
/// [`stdin`](Self::stdin), [`stdout`](Self::stdout), [`stderr`](Self::stderr); a stream not
/// taken is discarded. Dropping everything ends the session.
#[derive(Debug)]
pub struct RemoteProcess {
    stdin: Option<ProcessStdin>,
    stdout: Option<ProcessOutput>,
    stderr: Option<ProcessOutput>,
    resize: TerminalResizer,
    status: oneshot::Receiver<Result<ExitStatus, Error>>,
    protocol: String,
    path: String,
}

impl RemoteProcess {
    /// The stdin writer (once; `None` afterwards or without `stdin=true`).
    pub fn stdin(&mut self) -> Option<ProcessStdin> {
        self.stdin.take()
    }
    /// The stdout reader (once).
    pub fn stdout(&mut self) -> Option<ProcessOutput> {
        self.stdout.take()
    }
    /// The stderr reader (once; in `tty` mode stderr is merged into stdout by the server).
    pub fn stderr(&mut self) -> Option<ProcessOutput> {
        self.stderr.take()
    }
    /// A handle to send terminal sizes (meaningful with `tty=true`).
    pub fn resizer(&self) -> TerminalResizer {
        self.resize.clone()
    }
    /// The channel protocol the server chose (`v5.channel.k8s.io` or `v4.channel.k8s.io`).
    pub fn protocol(&self) -> &str {
        &self.protocol
    }
    /// Waits for the end of the session (streams not taken are dropped first: an untaken
    /// stdin is closed, untaken output is discarded): the exit code, or the server's error (e.g. the
    /// command could not be started: [`Error::Api`] with the server's `Status`), or
    /// [`Error::Stream`] when the connection ended without a status.
    pub async fn wait(mut self) -> Result<ExitStatus, Error> {
        // Streams not taken are discarded, so that the session can reach its end.
        drop(self.stdin.take());
        drop(self.stdout.take());
        drop(self.stderr.take());
        match self.status.await {
            Ok(r) => r,
            Err(_) => Err(Error::Stream {
                path: self.path,
                message: "the session ended without an exit status".into(),
            }),
        }
    }
}

/// What a command wrote, and how it ended: from [`Client::exec_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecOutput {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

fn upgrade_request<R: ApiRequest>(request: &R, what: &str) -> Result<Request, Error> {
    let req = request.to_request()?;
    if req.response_kind != ResponseKind::Upgrade || !req.path.ends_with(what) {
        return Err(Error::Stream {
            path: req.path.clone(),
            message: format!("not a {what} request (expected …/pods/{{name}}{what})"),
        });
    }
    Ok(req)
}

fn flag(req: &Request, k: &str) -> bool {
    req.query.iter().any(|(kk, v)| kk == k && v == "true")
}

impl Client {
    /// Starts a command in a container (a `Pod::connect_get_exec(..)` or
    /// `connect_post_exec(..)` request with `command`, `container`, `stdin`, `stdout`,
    /// `stderr`, `tty`) over a WebSocket, with this client's TLS, proxy and credentials.
    ///
    /// ```no_run
    /// # use tokio::io::AsyncReadExt;
    /// # async fn run(client: k8s_client::Client, exec: k8s_core::ops::CustomRequest<k8s_core::ops::Upgrade>) -> Result<(), k8s_client::Error> {
    /// // `exec`: Pod::connect_get_exec("default", "web").command("ls").stdout(true)
    /// let mut process = client.exec(exec).await?;
    /// let mut out = String::new();
    /// if let Some(mut stdout) = process.stdout() {
    ///     let _ = stdout.read_to_string(&mut out).await;
    /// }
    /// println!("{out} (exit {})", process.wait().await?.code);
    /// # Ok(()) }
    /// ```
    pub async fn exec<R: ApiRequest>(&self, request: R) -> Result<RemoteProcess, Error> {
        let req = upgrade_request(&request, "/exec")?;
        self.start_session(req).await
    }

    /// Attaches to a container's main process (a `Pod::connect_get_attach(..)` request); the
    /// same session as [`Client::exec`].
    pub async fn attach<R: ApiRequest>(&self, request: R) -> Result<RemoteProcess, Error> {
        let req = upgrade_request(&request, "/attach")?;
        self.start_session(req).await
    }

    /// Runs a command to its end and collects its output: sends `stdin` (then closes it) if
    /// given, and sets `stdout`/`stderr` (and `stdin` when given) on the request.
    pub async fn exec_output<R: ApiRequest>(
        &self,
        request: R,
        stdin: Option<Vec<u8>>,
    ) -> Result<ExecOutput, Error> {
        let mut req = upgrade_request(&request, "/exec")?;
        req.set_query("stdout", "true");
        req.set_query("stderr", "true");
        if stdin.is_some() {
            req.set_query("stdin", "true");
        }
        let mut p = self.start_session(req).await?;
        let mut out = p.stdout();
        let mut err = p.stderr();
        let input = p.stdin();
        let feed = async move {
            if let (Some(mut w), Some(data)) = (input, stdin) {
                let _ = w.write_all(&data).await;
                let _ = w.shutdown().await;
            }
        };
        let read = |s: Option<ProcessOutput>| async move {
            let mut v = Vec::new();
            if let Some(mut s) = s {
                let _ = s.read_to_end(&mut v).await;
            }
            v
        };
        let ((), stdout, stderr) =
            futures::future::join3(feed, read(out.take()), read(err.take())).await;
        let status = p.wait().await?;
        Ok(ExecOutput {
            status,
            stdout,
            stderr,
        })
    }

    async fn start_session(&self, req: Request) -> Result<RemoteProcess, Error> {
        let (socket, protocol) = self.websocket(&req, &EXEC_PROTOCOLS).await?;
        let (stdin_user, stdin_ours) = tokio::io::duplex(BUFFER);
        let (stdout_ours, stdout_user) = tokio::io::duplex(BUFFER);
        let (stderr_ours, stderr_user) = tokio::io::duplex(BUFFER);
        let (resize_tx, resize_rx) = mpsc::channel(4);
        let (status_tx, status_rx) = oneshot::channel();
        let driver = Driver {
            client: self.clone(),
            req: req.clone(),
            v5: protocol == EXEC_PROTOCOLS[0],
            stdin: flag(&req, "stdin").then_some(stdin_ours),
            stdout: Some(stdout_ours),
            stderr: Some(stderr_ours),
        };
        tokio::spawn(driver.run(socket, resize_rx, status_tx));
        Ok(RemoteProcess {
            stdin: flag(&req, "stdin").then_some(ProcessStdin(stdin_user)),
            stdout: Some(ProcessOutput(stdout_user)),
            stderr: Some(ProcessOutput(stderr_user)),
            resize: TerminalResizer(resize_tx),
            status: status_rx,
            protocol,
            path: req.path,
        })
    }
}

struct Driver {
    client: Client,
    req: Request,
    v5: bool,
    stdin: Option<DuplexStream>,
    stdout: Option<DuplexStream>,
    stderr: Option<DuplexStream>,
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(v.into())
}

impl Driver {
    fn stream_error(&self, message: String) -> Error {
        Error::Stream {
            path: self.req.path.clone(),
            message,
        }
    }

    /// The exit status a Status on the error channel means.
    fn exit_status(&self, body: &[u8]) -> Result<ExitStatus, Error> {
        let status: Status = serde_json::from_slice(body)
            .map_err(|e| self.stream_error(format!("the error channel carried no Status: {e}")))?;
        if status.status.as_deref() == Some("Success") {
            return Ok(ExitStatus { code: 0 });
        }
        if status.reason.as_deref() == Some("NonZeroExitCode") {
            let code = status
                .details
                .as_ref()
                .and_then(|d| d.causes.as_deref())
                .unwrap_or_default()
                .iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
                .and_then(|c| c.message.as_deref())
                .and_then(|m| m.trim().parse::<i32>().ok());
            if let Some(code) = code {
                return Ok(ExitStatus { code });
            }
        }
        Err(self
            .client
            .api_error(status, &http::Method::GET, &self.req.path))
    }

    /// Moves bytes between the socket and the user's streams until the session ends.
    /// Bounded by the connection: ends when the server closes it; the pumps of stdin and
    /// resizes end with it.
    async fn run(
        mut self,
        socket: Socket,
        mut resize: mpsc::Receiver<TerminalSize>,
        status_tx: oneshot::Sender<Result<ExitStatus, Error>>,
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
        let stdin_pump = self.stdin.take().map(|mut r| {
            let out = out_tx.clone();
            let v5 = self.v5;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match r.read(&mut buf).await {
                        Ok(n) if n > 0 => {
                            if out.send(frame(STDIN, &buf[..n])).await.is_err() {
                                return;
                            }
                        }
                        _ => break,
                    }
                }
                if v5 {
                    let _ = out.send(frame(CLOSE, &[STDIN])).await;
                }
            })
        });
        let resize_out = out_tx.clone();
        let resize_pump = tokio::spawn(async move {
            while let Some(s) = resize.recv().await {
                let json = format!("{{\"Width\":{},\"Height\":{}}}", s.width, s.height);
                if resize_out
                    .send(frame(RESIZE, json.as_bytes()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        drop(out_tx);
        let mut status: Option<Result<ExitStatus, Error>> = None;
        while let Some(msg) = incoming.next().await {
            let data = match msg {
                Ok(Message::Binary(b)) => b,
                Ok(Message::Close(_)) => break,
                Ok(_) => continue,
                Err(e) => {
                    if status.is_none() {
                        status = Some(Err(self.stream_error(format!("the connection broke: {e}"))));
                    }
                    break;
                }
            };
            let Some((&channel, payload)) = data.split_first() else {
                continue;
            };
            let target = match channel {
                STDOUT => &mut self.stdout,
                STDERR => &mut self.stderr,
                ERROR => {
                    status = Some(self.exit_status(payload));
                    continue;
                }
                _ => continue,
            };
            if let Some(w) = target {
                if w.write_all(payload).await.is_err() {
                    // The user dropped this stream: discard the rest of it.
                    *target = None;
                }
            }
        }
        if let Some(p) = stdin_pump {
            p.abort();
        }
        resize_pump.abort();
        let _ = writer.await;
        // The user's readers see the end of their streams.
        self.stdout = None;
        self.stderr = None;
        let result = status.unwrap_or_else(|| {
            Err(self.stream_error("the server closed the session without an exit status".into()))
        });
        let _ = status_tx.send(result);
    }
}
