//! The resuming watch: an async driver around the pure state machine of `machine.rs`.
//!
//! The driver does the I/O the current [`Phase`] asks for (connect, read a chunk, list, sleep),
//! turns its outcome into an [`Input`], and applies [`step`]: the new state says what to do
//! next, the [`Action`] what to yield. Items wait in `pending` and are yielded before any
//! further I/O.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Instant;

use futures::{Stream, StreamExt};
use k8s_core::ops::WatchRequest;
use k8s_core::{ApiRequest, HasMetadata, ListItem, WatchEvent};

use super::frames::FrameSplitter;
use super::machine::{Action, Input, Next, Phase, State, Watched, step};
use crate::client::{Client, backoff, content_type, watch_timeout};
use crate::error::Error;
use crate::lines::LineSplitter;

/// What a [`Client::watch`] stream yields.
// The size comes from `k8s_core::WatchEvent::Error(Status)`, which never reaches this type.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WatchUpdate<T> {
    /// An event from the server: `Added`, `Modified`, `Deleted` or `Bookmark`. (`ERROR` events
    /// become `Err` items, except 410 Gone, which makes a [`WatchUpdate::Restarted`].)
    Event(WatchEvent<T>),
    /// The server could no longer serve events from the last seen `resourceVersion` (410
    /// Gone): the client listed the collection again. `objects` is the whole current state;
    /// replace what you hold with it. Events continue from `resource_version`.
    Restarted {
        /// Every object that exists now.
        objects: Vec<T>,
        /// The list's resource version, where the watch resumed.
        resource_version: String,
    },
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The I/O side of a watch: the machine's state, and what the state cannot hold (the client,
/// the open body, the bytes of an unfinished line, items not yet yielded).
struct Driver<T> {
    client: Client,
    req: WatchRequest<T>,
    state: State,
    body: Option<ByteStream>,
    /// `Content-Type` of the open body: JSON lines, or protobuf frames.
    content_type: String,
    lines: LineSplitter,
    frames: FrameSplitter,
    pending: VecDeque<Result<WatchUpdate<T>, Error>>,
}

impl Client {
    /// A watch that keeps going: typed events, with bookmarks requested. `T` is a typed kind
    /// (any `k8s_core::Object`) or a [`k8s_core::DynamicObject`] (from
    /// [`k8s_core::ApiResource::watch`]).
    ///
    /// * When the connection drops or the server ends it (after `timeoutSeconds`, default
    ///   [`Config::watch_timeout_seconds`](crate::Config::watch_timeout_seconds)), it reconnects
    ///   from the last `resourceVersion` seen (events and bookmarks move it forward), so no
    ///   event is lost or repeated.
    /// * When the server answers 410 Gone (that version is too old), it lists the collection
    ///   and yields [`WatchUpdate::Restarted`] with the current state, then watches on from the
    ///   list's version. A list that fails is retried with backoff; it never resumes without
    ///   a version instead (that would replay objects as added and lose deletions). A list
    ///   refused for good (403, 404, …) or failing 8 times in a row is yielded as the error
    ///   and the stream ends: the consumer's state is stale and must be rebuilt.
    /// * Reconnections back off; after 8 consecutive failures the last error is yielded and the
    ///   stream ends ([`Error::WatchStalled`] when each connection ended at once without an
    ///   event). An event, a connection that lasted a second or more, or a successful relist
    ///   ends a run of failures. An answer that retrying cannot fix (400, 403, 404, 401 after
    ///   one credential refresh) ends the stream at once with that error.
    ///
    /// In states: connecting → watching (yields events) → connecting again when the connection
    /// ends; backing off between failed attempts; relisting after a 410 (yields `Restarted`);
    /// finished after an error that ends the stream. The transitions are written out, with what
    /// each yields, in the crate's `stream/machine.rs`.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use k8s_client::WatchUpdate;
    /// use k8s_core::WatchEvent;
    /// # use k8s_core::ops::WatchRequest;
    /// # async fn run<Pod: k8s_core::Object + serde::de::DeserializeOwned + Send + 'static>(client: k8s_client::Client, watch: WatchRequest<Pod>) -> Result<(), k8s_client::Error> {
    /// // let watch = Pod::watch("default");
    /// let mut events = std::pin::pin!(client.watch(watch));
    /// while let Some(update) = events.try_next().await? {
    ///     match update {
    ///         WatchUpdate::Event(WatchEvent::Added(p)) => println!("added {:?}", p.name()),
    ///         WatchUpdate::Event(WatchEvent::Deleted(p)) => println!("deleted {:?}", p.name()),
    ///         WatchUpdate::Restarted { objects, .. } => println!("relisted: {} objects", objects.len()),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch<T>(
        &self,
        mut request: WatchRequest<T>,
    ) -> impl Stream<Item = Result<WatchUpdate<T>, Error>> + Send + 'static
    where
        T: ListItem + HasMetadata + Send + 'static,
    {
        request.params_mut().allow_bookmarks = true;
        if request.get_params().timeout_seconds.is_none() {
            request.params_mut().timeout_seconds = Some(self.inner.config.watch_timeout_seconds);
        }
        let rv = request.get_params().resource_version.clone();
        let driver = Driver {
            client: self.clone(),
            req: request,
            state: State {
                rv,
                failures: 0,
                phase: Phase::Connecting,
            },
            body: None,
            content_type: String::new(),
            lines: LineSplitter::new(),
            frames: FrameSplitter::default(),
            pending: VecDeque::new(),
        };
        futures::stream::unfold(driver, |mut d| async move {
            loop {
                if let Some(item) = d.pending.pop_front() {
                    return Some((item, d));
                }
                if d.state.phase == Phase::Finished {
                    return None;
                }
                d.run().await;
            }
        })
    }
}

impl<T: ListItem + HasMetadata + Send + 'static> Driver<T> {
    /// Does what the current phase asks for and applies its outcome.
    async fn run(&mut self) {
        match self.state.phase {
            Phase::Connecting => {
                let input = self.connect().await;
                self.apply(input);
            }
            Phase::Watching { .. } => self.read().await,
            Phase::Relisting => {
                let path = self.req.path().to_owned();
                tracing::info!(%path, rv = ?self.state.rv, "watch answered 410 Gone; relisting");
                let input = match self.client.list_snapshot(&path, &self.req).await {
                    Ok((objects, resource_version)) => Input::Listed {
                        objects,
                        resource_version,
                    },
                    Err(e) => Input::ListFailed(e),
                };
                self.apply(input);
            }
            Phase::Backoff { .. } => {
                let retry = &self.client.inner.config.retry;
                let wait = backoff(retry.base_delay, retry.max_delay, self.state.failures);
                tokio::time::sleep(wait).await;
                self.apply(Input::Waited);
            }
            Phase::Finished => {}
        }
    }

    /// Opens a watch from the state's resource version.
    async fn connect(&mut self) -> Input<T> {
        self.req.params_mut().resource_version = self.state.rv.clone();
        let mut req = match self.req.to_request() {
            Ok(r) => r,
            Err(e) => return Input::ConnectFailed(e.into()),
        };
        if self.client.inner.config.protobuf {
            req.prefer_protobuf();
        }
        match self.client.execute(&req, watch_timeout(&req)).await {
            Ok(resp) => {
                content_type(resp.headers()).clone_into(&mut self.content_type);
                self.body = Some(Box::pin(resp.bytes_stream()));
                self.lines.clear();
                self.frames.clear();
                Input::Connected
            }
            Err(e) => Input::ConnectFailed(e),
        }
    }

    /// Reads the next chunk of the body and applies each complete line.
    async fn read(&mut self) {
        let Some(body) = self.body.as_mut() else {
            // Never the case: the body is open exactly while watching.
            self.apply(Input::Ended);
            return;
        };
        match body.next().await {
            Some(Ok(chunk)) if k8s_core::ops::is_protobuf(&self.content_type) => {
                let mut frames = std::mem::take(&mut self.frames);
                let result = frames.push(&chunk, |frame| {
                    let input = match self.req.decode_protobuf_event(frame) {
                        Ok(ev) => Input::Event(ev),
                        Err(e) => Input::Undecodable(e),
                    };
                    self.apply(input);
                    self.watching()
                });
                self.frames = frames;
                if !self.watching() {
                    self.frames.clear();
                }
                if result.is_err() {
                    self.apply(Input::LineTooLong);
                }
            }
            Some(Ok(chunk)) => {
                let mut lines = std::mem::take(&mut self.lines);
                let result = lines.push(&chunk, |line| {
                    let input = match self.req.decode_event(line) {
                        Ok(ev) => Input::Event(ev),
                        Err(e) => Input::Undecodable(e),
                    };
                    self.apply(input);
                    // Once the connection is given up, the rest of the chunk is dropped.
                    self.watching()
                });
                self.lines = lines;
                if !self.watching() {
                    self.lines.clear();
                }
                if result.is_err() {
                    self.apply(Input::LineTooLong);
                }
            }
            Some(Err(e)) => {
                tracing::debug!(error = %crate::error::chain(&e), rv = ?self.state.rv, "watch connection dropped; resuming");
                self.apply(Input::Ended);
            }
            None => {
                tracing::debug!(rv = ?self.state.rv, "watch ended; resuming");
                self.apply(Input::Ended);
            }
        }
    }

    fn watching(&self) -> bool {
        matches!(self.state.phase, Phase::Watching { .. })
    }

    /// One transition: the new state, the item it yields, and the connection closed when the
    /// state is no longer watching.
    fn apply(&mut self, input: Input<T>) {
        let state = std::mem::replace(
            &mut self.state,
            State {
                rv: None,
                failures: 0,
                phase: Phase::Finished,
            },
        );
        let watched = Watched {
            path: self.req.path(),
            identity: &self.client.inner.config.origin,
            content_type: &self.content_type,
        };
        let (state, action) = step(&watched, state, input, Instant::now());
        self.state = state;
        if !self.watching() {
            self.body = None;
            self.lines.clear();
            self.frames.clear();
        }
        match action {
            Action::Continue => {}
            Action::Yield(item) => self.pending.push_back(item),
            Action::Retry(e) => {
                let attempt = self.state.failures;
                match self.state.phase {
                    Phase::Backoff { then: Next::Relist } => {
                        let path = self.req.path();
                        tracing::warn!(%path, error = %e, attempt, "relist after 410 Gone failed; retrying");
                    }
                    _ => tracing::warn!(error = %e, attempt, "watch could not connect; retrying"),
                }
            }
        }
    }
}
