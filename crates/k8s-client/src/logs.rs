//! Streaming container logs: [`Client::log_stream`] (bytes or lines as they arrive) and
//! [`Client::follow_log`] (a following log that reconnects and resumes after the last line).
//!
//! A log body is not bounded by [`Config::request_timeout`](crate::Config::request_timeout)
//! (a following log can last for days); the response headers are, and the body has an idle
//! timeout of its own ([`LogStream::idle_timeout`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use jiff::Timestamp;
use k8s_core::{ApiRequest, Request, ResponseKind};

use crate::client::{Client, backoff};
use crate::error::{Error, chain};

type FollowStream = Pin<Box<dyn Stream<Item = Result<LogLine, Error>> + Send>>;
type Chunks = Pin<Box<dyn Stream<Item = Result<Vec<u8>, Error>> + Send>>;

/// A container's log as it arrives: a stream of byte chunks (as the server sends them, not
/// split at lines; see [`LogStream::lines`]). Dropping it closes the connection.
///
/// Ends when the server ends the body: at once for a plain read, when the container
/// terminates for `follow`. An idle connection fails with [`Error::Stream`] after the idle
/// timeout (by default the client's request timeout without `follow`, none with `follow`).
#[must_use = "a stream does nothing unless polled"]
pub struct LogStream {
    path: String,
    body: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    idle: Option<Duration>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream")
            .field("path", &self.path)
            .field("idle_timeout", &self.idle)
            .finish_non_exhaustive()
    }
}

impl LogStream {
    /// Fails the stream with [`Error::Stream`] when no bytes arrive for `timeout` (`None`: wait
    /// forever, for a following log of a quiet container).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle = timeout;
        self.timer = None;
        self
    }

    /// The log split into lines (without their `\n`; a final line without one is kept; invalid
    /// UTF-8 is replaced with U+FFFD).
    pub fn lines(self) -> LogLines {
        LogLines {
            chunks: Box::pin(self),
            buf: Vec::new(),
            done: false,
        }
    }
}

impl Stream for LogStream {
    type Item = Result<Vec<u8>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match this.body.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.timer = None;
                Poll::Ready(Some(Ok(chunk.to_vec())))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(Error::Stream {
                    path: this.path.clone(),
                    message: format!("reading the log failed: {}", chain(&e)),
                })))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(idle) = this.idle else {
                    return Poll::Pending;
                };
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.done = true;
                        Poll::Ready(Some(Err(Error::Stream {
                            path: this.path.clone(),
                            message: format!("no log data for {idle:?} (idle timeout)"),
                        })))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

/// A log split into lines: from [`LogStream::lines`].
#[must_use = "a stream does nothing unless polled"]
pub struct LogLines {
    chunks: Chunks,
    buf: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for LogLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogLines")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Stream for LogLines {
    type Item = Result<String, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(i) = this.buf.iter().position(|b| *b == b'\n') {
                let rest = this.buf.split_off(i + 1);
                let mut line = std::mem::replace(&mut this.buf, rest);
                line.pop();
                return Poll::Ready(Some(Ok(String::from_utf8_lossy(&line).into_owned())));
            }
            if this.done {
                if this.buf.is_empty() {
                    return Poll::Ready(None);
                }
                let line = std::mem::take(&mut this.buf);
                return Poll::Ready(Some(Ok(String::from_utf8_lossy(&line).into_owned())));
            }
            match this.chunks.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.buf.extend_from_slice(&chunk),
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    // The partial line is dropped: a reconnect resumes before it.
                    this.buf.clear();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => this.done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// One line of a followed log, with the timestamp the kubelet gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogLine {
    /// When the container wrote the line (`None` if the server sent a line without a
    /// timestamp).
    pub timestamp: Option<Timestamp>,
    /// The line, without timestamp and `\n`.
    pub text: String,
}

/// Splits `2026-01-01T00:00:00.123456789Z text` into its timestamp and text.
fn parse_stamped(line: String) -> LogLine {
    if let Some((ts, text)) = line.split_once(' ') {
        if let Ok(t) = ts.parse::<Timestamp>() {
            return LogLine {
                timestamp: Some(t),
                text: text.to_owned(),
            };
        }
    }
    LogLine {
        timestamp: None,
        text: line,
    }
}

fn log_request<R: ApiRequest>(request: &R) -> Result<Request, Error> {
    let req = request.to_request()?;
    if req.response_kind != ResponseKind::Text || !req.path.ends_with("/log") {
        return Err(Error::Stream {
            path: req.path.clone(),
            message: "not a log request (expected GET …/pods/{name}/log, e.g. Pod::read_log)"
                .into(),
        });
    }
    Ok(req)
}

/// `sinceTime` for any log request: the spec's `read_log` offers `sinceSeconds` but not
/// `sinceTime` (a `PodLogOptions` field the API server reads from the query all the same).
///
/// ```no_run
/// # async fn run(client: k8s_client::Client, read_log: k8s_core::ops::CustomRequest<k8s_core::ops::Text>) -> Result<(), k8s_client::Error> {
/// use k8s_client::LogRequestExt as _;
/// // `read_log`: `Pod::read_log("default", "web")`
/// let since = "2026-01-01T00:00:00Z".parse().expect("a timestamp");
/// let log = client.log_stream(read_log.since_time(since)).await?;
/// # Ok(()) }
/// ```
pub trait LogRequestExt: ApiRequest + Sized {
    /// Only lines written at or after `time` (RFC 3339 on the wire, fractional seconds kept).
    /// Replaces `sinceSeconds`, as the two exclude each other.
    fn since_time(self, time: Timestamp) -> SinceTime<Self> {
        SinceTime {
            request: self,
            time,
        }
    }
}

impl<R: ApiRequest> LogRequestExt for R {}

/// A log request with `sinceTime` set: from [`LogRequestExt::since_time`].
#[derive(Clone, Debug)]
pub struct SinceTime<R> {
    request: R,
    time: Timestamp,
}

impl<R: ApiRequest> ApiRequest for SinceTime<R> {
    type Response = R::Response;
    fn to_request(&self) -> Result<Request, k8s_core::RequestError> {
        let mut req = self.request.to_request()?;
        req.query.retain(|(k, _)| k != "sinceSeconds");
        req.set_query("sinceTime", self.time.to_string());
        Ok(req)
    }
    fn decode_response(&self, body: &[u8]) -> Result<R::Response, k8s_core::DecodeError> {
        self.request.decode_response(body)
    }
}

fn is_follow(req: &Request) -> bool {
    req.query.iter().any(|(k, v)| k == "follow" && v == "true")
}

impl Client {
    /// Opens a container's log (a `Pod::read_log(..)` request with its options: `follow`,
    /// `sinceSeconds`, `tailLines`, `timestamps`, `previous`, `container`, `limitBytes`;
    /// `sinceTime` through [`LogRequestExt::since_time`]) and streams it as it arrives.
    ///
    /// Credentials, retries of the request (429/503/504, a 401 with a rotating token) and the
    /// request timeout apply until the response headers arrive; the body has only the idle
    /// timeout of [`LogStream::idle_timeout`]. Dropping the stream closes the connection.
    ///
    /// ```no_run
    /// # use futures::TryStreamExt;
    /// # async fn run(client: k8s_client::Client, read_log: k8s_core::ops::CustomRequest<k8s_core::ops::Text>) -> Result<(), k8s_client::Error> {
    /// // `read_log`: `Pod::read_log("default", "web").follow(true).tail_lines(10)`
    /// let mut lines = client.log_stream(read_log).await?.lines();
    /// while let Some(line) = lines.try_next().await? {
    ///     println!("{line}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn log_stream<R: ApiRequest>(&self, request: R) -> Result<LogStream, Error> {
        let req = log_request(&request)?;
        self.open_log(&req).await
    }

    async fn open_log(&self, req: &Request) -> Result<LogStream, Error> {
        let timeout = self.inner.config.request_timeout;
        let resp = match timeout {
            Some(t) => tokio::time::timeout(t, self.execute(req, None))
                .await
                .map_err(|_| Error::Stream {
                    path: req.path.clone(),
                    message: format!("no response within {t:?} (request timeout)"),
                })??,
            None => self.execute(req, None).await?,
        };
        let idle = if is_follow(req) { None } else { timeout };
        Ok(LogStream {
            path: req.path.clone(),
            body: Box::pin(resp.bytes_stream()),
            idle,
            timer: None,
            done: false,
        })
    }

    /// Follows a container's log across broken connections: the request is sent with
    /// `follow=true` and `timestamps=true`; when the connection breaks (a transport error, an
    /// idle timeout, a restarting API server) it reconnects with `sinceTime` set to the last
    /// line's timestamp and skips the lines it already yielded, so no line is duplicated.
    ///
    /// Ends when the server ends the log (the container terminated). Reconnecting fetches
    /// fresh credentials (a rotated token is used). After 8 failed reconnects in a row, or an
    /// error that retrying cannot fix (404, 403, 400), the error ends the stream.
    /// `tailLines` and `sinceSeconds` apply to the first connection only; `limitBytes` to each.
    pub fn follow_log<R: ApiRequest>(&self, request: R) -> Result<LogFollower, Error> {
        let mut req = log_request(&request)?;
        req.set_query("follow", "true");
        req.set_query("timestamps", "true");
        let state = Follow {
            client: self.clone(),
            req,
            lines: None,
            last: None,
            at_last: 0,
            skip: 0,
            failures: 0,
            idle: None,
        };
        Ok(LogFollower {
            pending: Some(state),
            inner: None,
        })
    }
}

/// A followed log that reconnects: from [`Client::follow_log`].
#[must_use = "a stream does nothing unless polled"]
pub struct LogFollower {
    pending: Option<Follow>,
    inner: Option<FollowStream>,
}

impl LogFollower {
    /// Treats a connection that brings no bytes for `timeout` as broken and reconnects
    /// (default `None`: a quiet container may write nothing for hours). Set it before the
    /// first poll; later calls have no effect.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        if let Some(f) = &mut self.pending {
            f.idle = timeout;
        }
        self
    }
}

impl std::fmt::Debug for LogFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFollower").finish_non_exhaustive()
    }
}

impl Stream for LogFollower {
    type Item = Result<LogLine, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(state) = this.pending.take() {
            this.inner = Some(Box::pin(futures::stream::unfold(
                Some(state),
                |s| async move {
                    let mut s = s?;
                    match s.next().await {
                        Some(Ok(line)) => Some((Ok(line), Some(s))),
                        Some(Err(e)) => Some((Err(e), None)),
                        None => None,
                    }
                },
            )));
        }
        match this.inner.as_mut() {
            Some(inner) => inner.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

const MAX_FAILURES: u32 = 8;

struct Follow {
    client: Client,
    req: Request,
    lines: Option<LogLines>,
    /// The newest timestamp yielded, and how many lines carried it.
    last: Option<Timestamp>,
    at_last: usize,
    /// Lines at `last` still to skip after a reconnect.
    skip: usize,
    failures: u32,
    idle: Option<Duration>,
}

/// Whether reconnecting may help after this error.
fn transient(e: &Error) -> bool {
    match e {
        Error::Transport { .. } | Error::Stream { .. } => true,
        Error::Api(a) => matches!(a.status.code, Some(429 | 500 | 502 | 503 | 504)),
        Error::HttpStatus { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
        _ => false,
    }
}

impl Follow {
    async fn next(&mut self) -> Option<Result<LogLine, Error>> {
        loop {
            let Some(lines) = self.lines.as_mut() else {
                match self.client.open_log(&self.req).await {
                    Ok(s) => self.lines = Some(s.idle_timeout(self.idle).lines()),
                    Err(e) => {
                        if let Some(e) = self.failed(e).await {
                            return Some(Err(e));
                        }
                    }
                }
                continue;
            };
            match lines.next().await {
                None => return None,
                Some(Err(e)) => {
                    self.lines = None;
                    if let Some(e) = self.failed(e).await {
                        return Some(Err(e));
                    }
                }
                Some(Ok(raw)) => {
                    self.failures = 0;
                    let line = parse_stamped(raw);
                    if let (Some(t), Some(last)) = (line.timestamp, self.last) {
                        if t < last {
                            continue;
                        }
                        if t == last && self.skip > 0 {
                            self.skip -= 1;
                            continue;
                        }
                    }
                    if let Some(t) = line.timestamp {
                        if Some(t) == self.last {
                            self.at_last += 1;
                        } else {
                            self.last = Some(t);
                            self.at_last = 1;
                        }
                    }
                    self.skip = 0;
                    return Some(Ok(line));
                }
            }
        }
    }

    /// Prepares the next connection after `e`, or returns the error that ends the stream.
    async fn failed(&mut self, e: Error) -> Option<Error> {
        self.failures += 1;
        if !transient(&e) || self.failures > MAX_FAILURES {
            return Some(e);
        }
        tracing::debug!(
            target: "k8s_client::request",
            path = %self.req.path, failures = self.failures, error = %e,
            "log stream broke; resuming"
        );
        self.req
            .query
            .retain(|(k, _)| k != "tailLines" && k != "sinceSeconds");
        if let Some(t) = self.last {
            self.req.set_query("sinceTime", format!("{t:.9}"));
            self.skip = self.at_last;
        }
        let policy = &self.client.inner.config.retry;
        let wait = backoff(
            policy.base_delay,
            policy.max_delay,
            self.failures.saturating_sub(1),
        );
        tokio::time::sleep(wait).await;
        None
    }
}
