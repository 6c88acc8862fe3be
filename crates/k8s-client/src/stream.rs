//! Paginated lists and resuming watches.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_core::ops::{ListRequest, WatchRequest};
use k8s_core::{ApiRequest, Object, WatchEvent};
use serde::de::DeserializeOwned;

use crate::client::{Client, backoff, watch_timeout};
use crate::error::Error;
use crate::lines::{LineSplitter, MAX_LINE};

/// Page size `list_all` asks for when the request sets no `limit`.
const DEFAULT_PAGE: i64 = 500;
/// How often a paginated list restarts after its continue token expired.
const MAX_LIST_RESTARTS: u32 = 3;
/// Consecutive failed (re)connections after which a watch gives up.
const MAX_WATCH_FAILURES: u32 = 8;

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

fn identity<T: Object>(o: &T) -> String {
    match o.uid() {
        Some(uid) => uid.to_owned(),
        None => format!("{}/{}", o.namespace().unwrap_or(""), o.name().unwrap_or("")),
    }
}

struct ListState<T> {
    client: Client,
    req: ListRequest<T>,
    buf: VecDeque<T>,
    next: Option<String>,
    done: bool,
    seen: HashSet<String>,
    restarted: u32,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

struct WatchState<T> {
    client: Client,
    req: WatchRequest<T>,
    rv: Option<String>,
    body: Option<ByteStream>,
    lines: LineSplitter,
    pending: VecDeque<Result<WatchUpdate<T>, Error>>,
    failures: u32,
    connected_at: Instant,
    events_on_connection: u64,
    gone: bool,
    finished: bool,
}

impl Client {
    /// Every object of a collection, page by page (`limit`, default 500, and `continue`).
    ///
    /// If a continue token expires mid-way (410 `Expired`), the list restarts from the first
    /// page and skips the objects already yielded (by uid), so no object is yielded twice and
    /// none is lost. Up to 3 restarts; after that the 410 is yielded as an error.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # use k8s_core::ops::ListRequest;
    /// # async fn run<Pod: k8s_core::Object + serde::de::DeserializeOwned + Send + 'static>(client: k8s_client::Client, list: ListRequest<Pod>) -> Result<(), k8s_client::Error> {
    /// // let list = Pod::list_all_namespaces().limit(100);
    /// let mut pods = std::pin::pin!(client.list_all(list));
    /// while let Some(pod) = pods.try_next().await? {
    ///     println!("{:?}/{:?}", pod.namespace(), pod.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_all<T>(
        &self,
        mut request: ListRequest<T>,
    ) -> impl Stream<Item = Result<T, Error>> + Send + 'static
    where
        T: DeserializeOwned + Object + Send + 'static,
    {
        if request.get_params().limit.is_none() {
            request.params_mut().limit = Some(DEFAULT_PAGE);
        }
        let next = request.get_params().continue_token.clone();
        let state = ListState {
            client: self.clone(),
            req: request,
            buf: VecDeque::new(),
            next,
            done: false,
            seen: HashSet::new(),
            restarted: 0,
        };
        futures::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(item) = st.buf.pop_front() {
                    return Some((Ok(item), st));
                }
                if st.done {
                    return None;
                }
                st.req.params_mut().continue_token = st.next.clone();
                match st.client.send(st.req.clone()).await {
                    Ok(list) => {
                        for item in list.items {
                            if st.seen.insert(identity(&item)) {
                                st.buf.push_back(item);
                            }
                        }
                        st.next = list.metadata.continue_.filter(|c| !c.is_empty());
                        st.done = st.next.is_none();
                    }
                    Err(e)
                        if e.is_gone() && st.next.is_some() && st.restarted < MAX_LIST_RESTARTS =>
                    {
                        st.restarted += 1;
                        tracing::info!(
                            path = %st.req.path(),
                            "continue token expired (410); restarting the list and skipping objects already returned"
                        );
                        st.next = None;
                    }
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                }
            }
        })
    }

    /// Every object of a collection and the list's resource version (following `continue`,
    /// restarting if a token expires).
    async fn list_snapshot<T>(
        &self,
        path: &str,
        watch: &WatchRequest<T>,
    ) -> Result<(Vec<T>, String), Error>
    where
        T: DeserializeOwned + Object,
    {
        let p = watch.get_params();
        let mut restarts = 0;
        'outer: loop {
            let mut req = ListRequest::<T>::new(path.to_owned()).limit(DEFAULT_PAGE);
            if let Some(s) = &p.label_selector {
                req = req.label_selector(s.clone());
            }
            if let Some(s) = &p.field_selector {
                req = req.field_selector(s.clone());
            }
            let mut items = Vec::new();
            let mut rv = String::new();
            loop {
                match self.send(req.clone()).await {
                    Ok(list) => {
                        if rv.is_empty() {
                            rv = list.metadata.resource_version.clone().unwrap_or_default();
                        }
                        items.extend(list.items);
                        match list.metadata.continue_.filter(|c| !c.is_empty()) {
                            Some(c) => req.params_mut().continue_token = Some(c),
                            None => return Ok((items, rv)),
                        }
                    }
                    Err(e) if e.is_gone() && restarts < MAX_LIST_RESTARTS => {
                        restarts += 1;
                        continue 'outer;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// A watch that keeps going: typed events, with bookmarks requested.
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
    ///   stream ends ([`Error::WatchStalled`](crate::Error::WatchStalled) when each connection
    ///   ended at once without an event). An answer that retrying cannot fix (400, 403, 404,
    ///   401 after one credential refresh) ends the stream at once with that error.
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
        T: DeserializeOwned + Object + Send + 'static,
    {
        request.params_mut().allow_bookmarks = true;
        if request.get_params().timeout_seconds.is_none() {
            request.params_mut().timeout_seconds = Some(self.inner.config.watch_timeout_seconds);
        }
        let rv = request.get_params().resource_version.clone();
        let state = WatchState {
            client: self.clone(),
            req: request,
            rv,
            body: None,
            lines: LineSplitter::new(),
            pending: VecDeque::new(),
            failures: 0,
            connected_at: Instant::now(),
            events_on_connection: 0,
            gone: false,
            finished: false,
        };
        futures::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(item) = st.pending.pop_front() {
                    return Some((item, st));
                }
                if st.finished {
                    return None;
                }
                if st.gone {
                    st.gone = false;
                    st.relist().await;
                    continue;
                }
                match st.body.as_mut() {
                    None => st.connect().await,
                    Some(body) => match body.next().await {
                        Some(Ok(chunk)) => st.on_chunk(&chunk),
                        Some(Err(e)) => {
                            tracing::debug!(error = %crate::error::chain(&e), rv = ?st.rv, "watch connection dropped; resuming");
                            st.disconnected().await;
                        }
                        None => {
                            tracing::debug!(rv = ?st.rv, "watch ended; resuming");
                            st.disconnected().await;
                        }
                    },
                }
            }
        })
    }
}

impl<T: DeserializeOwned + Object + Send + 'static> WatchState<T> {
    async fn connect(&mut self) {
        self.req.params_mut().resource_version = self.rv.clone();
        let req = match self.req.to_request() {
            Ok(r) => r,
            Err(e) => {
                self.fail(e.into());
                return;
            }
        };
        match self.client.execute(&req, watch_timeout(&req)).await {
            Ok(resp) => {
                self.body = Some(Box::pin(resp.bytes_stream()));
                self.lines.clear();
                self.connected_at = Instant::now();
                self.events_on_connection = 0;
            }
            Err(e) if e.is_gone() => self.relist().await,
            // 400, 403, 404, 401 after the credential refresh `execute` did: retrying cannot help.
            Err(e) if !e.is_transient() => self.fail(e),
            Err(e) => {
                self.failures += 1;
                if self.failures >= MAX_WATCH_FAILURES {
                    self.fail(e);
                } else {
                    tracing::warn!(error = %e, attempt = self.failures, "watch could not connect; retrying");
                    tokio::time::sleep(self.backoff_wait()).await;
                }
            }
        }
    }

    fn fail(&mut self, e: Error) {
        self.pending.push_back(Err(e));
        self.finished = true;
    }

    fn backoff_wait(&self) -> Duration {
        let retry = &self.client.inner.config.retry;
        backoff(retry.base_delay, retry.max_delay, self.failures)
    }

    /// The connection ended (cleanly or not): reconnect from the last version seen. A
    /// connection that ends at once without events counts as a failure and backs off.
    async fn disconnected(&mut self) {
        self.body = None;
        self.lines.clear();
        if self.events_on_connection == 0 && self.connected_at.elapsed() < Duration::from_secs(1) {
            self.failures += 1;
            if self.failures >= MAX_WATCH_FAILURES {
                self.fail(Error::WatchStalled {
                    path: self.req.path().to_owned(),
                    attempts: self.failures,
                });
                return;
            }
            tokio::time::sleep(self.backoff_wait()).await;
        }
    }

    /// After a 410: lists the collection and yields `Restarted`. A failed list is retried with
    /// backoff (transient errors, up to `MAX_WATCH_FAILURES` consecutive failures) or ends the
    /// watch with its error; the watch never resumes without a resource version in between,
    /// which would replay objects as ADDED and lose the deletions the consumer missed.
    async fn relist(&mut self) {
        self.body = None;
        self.lines.clear();
        let path = self.req.path().to_owned();
        tracing::info!(%path, rv = ?self.rv, "watch answered 410 Gone; relisting");
        match self.client.list_snapshot(&path, &self.req).await {
            Ok((objects, rv)) => {
                self.rv = Some(rv.clone()).filter(|r| !r.is_empty());
                self.pending.push_back(Ok(WatchUpdate::Restarted {
                    objects,
                    resource_version: rv,
                }));
            }
            Err(e) if !e.is_transient() => self.fail(e),
            Err(e) => {
                self.failures += 1;
                if self.failures >= MAX_WATCH_FAILURES {
                    self.fail(e);
                } else {
                    tracing::warn!(%path, error = %e, attempt = self.failures, "relist after 410 Gone failed; retrying");
                    // Relist again: the old version is gone, and no version at all would replay.
                    self.gone = true;
                    tokio::time::sleep(self.backoff_wait()).await;
                }
            }
        }
    }

    fn on_chunk(&mut self, chunk: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        let result = lines.push(chunk, |line| {
            self.on_line(line);
            // The stream ended (error or relist): what is left of the buffer is dropped.
            self.body.is_some()
        });
        self.lines = lines;
        if self.body.is_none() {
            self.lines.clear();
        }
        if result.is_err() {
            self.body = None;
            self.pending.push_back(Err(Error::Decode {
                method: http::Method::GET,
                path: self.req.path().to_owned(),
                source: k8s_core::DecodeError::WatchEvent(format!(
                    "a watch event is longer than {MAX_LINE} bytes"
                )),
            }));
        }
    }

    fn on_line(&mut self, line: &[u8]) {
        match self.req.decode_event(line) {
            Ok(WatchEvent::Error(status)) => {
                let e = self
                    .client
                    .api_error(status, &http::Method::GET, self.req.path());
                self.body = None;
                self.lines.clear();
                if e.is_gone() {
                    self.gone = true;
                } else {
                    // Reported by the server; the watch reconnects after it.
                    self.failures += 1;
                    if self.failures >= MAX_WATCH_FAILURES {
                        self.fail(e);
                    } else {
                        self.pending.push_back(Err(e));
                    }
                }
            }
            Ok(ev) => {
                if let Some(rv) = ev.object().and_then(|o| o.resource_version()) {
                    self.rv = Some(rv.to_owned());
                }
                self.failures = 0;
                self.events_on_connection += 1;
                self.pending.push_back(Ok(WatchUpdate::Event(ev)));
            }
            Err(source) => self.pending.push_back(Err(Error::Decode {
                method: http::Method::GET,
                path: self.req.path().to_owned(),
                source,
            })),
        }
    }
}
