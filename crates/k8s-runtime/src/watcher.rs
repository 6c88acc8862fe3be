//! A watcher: the state of a collection as a stream with explicit initial-list semantics.
//!
//! [`watcher()`] yields [`Event::Init`], an [`Event::InitApply`] for each object of the
//! collection, [`Event::InitDone`], then [`Event::Apply`] and [`Event::Delete`] as objects
//! change. Whenever the watcher has to start over (the client relisted after a 410 Gone, or the
//! watch ended for good and was started again after a backoff) it yields a new
//! `Init`…`InitDone` cycle with the whole current state: a consumer that buffers from `Init` and
//! swaps its state at `InitDone` never misses a deletion.
//!
//! How the initial state is read ([`InitialList`]):
//! * [`InitialList::ListWatch`] (the default): a paginated list, then a watch from the list's
//!   resource version. Each next page is requested as soon as a page arrives
//!   ([`Config::prefetch`]), so the server and the decoding work on it while the consumer takes
//!   the current one.
//! * [`InitialList::StreamingList`]: a watch with `sendInitialEvents=true`,
//!   `resourceVersionMatch=NotOlderThan` and bookmarks; the objects come as `ADDED` events and
//!   the state is complete at the bookmark annotated `k8s.io/initial-events-end: "true"`
//!   (Kubernetes 1.27+, `WatchList`). A server that refuses it (400, 422) makes the watcher fall
//!   back to list-then-watch.
//!
//! [`metadata_watcher`] reads only the objects' metadata (`PartialObjectMetadata`).
//!
//! After the initial state, the watch is [`Client::watch`]: it resumes dropped connections from
//! the last resource version (nothing lost, nothing repeated) and relists on 410 (a new
//! `Init` cycle here). Errors are yielded as `Err` items and the stream goes on; when the
//! client's watch gives up, the watcher starts over after an exponential backoff with jitter
//! ([`Config::backoff`], reset by any success). The stream never ends on its own.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_client::{Client, WatchUpdate};
use k8s_core::ops::{
    ACCEPT_PARTIAL_OBJECT_METADATA, ACCEPT_PARTIAL_OBJECT_METADATA_LIST, ListRequest,
    ResourceVersionMatch, WatchRequest,
};
use k8s_core::{Object, Resource, WatchEvent};
use serde::de::DeserializeOwned;

use crate::Backoff;
use crate::metadata::PartialObjectMetadata;

/// The annotation on the bookmark that ends a streaming list's initial events.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// What a [`watcher()`] yields.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
// Sizes depend on T; events are moved straight to the consumer.
#[allow(clippy::large_enum_variant)]
pub enum Event<T> {
    /// A (new) initial state begins: start a fresh buffer.
    Init,
    /// An object of the initial state.
    InitApply(T),
    /// The initial state is complete: replace what you hold with the buffer.
    InitDone,
    /// An object was added or changed.
    Apply(T),
    /// An object was deleted; its last state.
    Delete(T),
}

/// How a [`watcher()`] reads the initial state (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitialList {
    /// A paginated list, then a watch from its resource version.
    #[default]
    ListWatch,
    /// A watch with `sendInitialEvents=true` that ends its initial events with a bookmark.
    StreamingList,
}

/// Options of a [`watcher()`].
///
/// ```
/// use k8s_runtime::watcher::{Config, InitialList};
/// let c = Config::default().labels("app=web").fields("metadata.name!=tmp").streaming_list();
/// assert_eq!(c.initial_list, InitialList::StreamingList);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `labelSelector` of the list and the watch.
    pub label_selector: Option<String>,
    /// `fieldSelector` of the list and the watch.
    pub field_selector: Option<String>,
    /// How the initial state is read.
    pub initial_list: InitialList,
    /// Page size of the initial list (default 500).
    pub page_size: i64,
    /// Whether the next page of the initial list is requested as soon as a page arrives, while
    /// the consumer takes its objects (default `true`): the server's work and the decoding of
    /// page `n + 1` overlap with the consumer's work on page `n`. At most one page is held
    /// ahead, so a list holds at most two pages in memory; `false` holds one, and requests a
    /// page only once the consumer took every object of the previous one.
    pub prefetch: bool,
    /// Wait before starting over after the watch gave up or the list failed (default 800 ms
    /// doubling to 30 s, kube-runtime's), reset by any success.
    pub backoff: Backoff,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            label_selector: None,
            field_selector: None,
            initial_list: InitialList::ListWatch,
            page_size: 500,
            prefetch: true,
            backoff: Backoff::new(Duration::from_millis(800), Duration::from_secs(30)),
        }
    }
}

impl Config {
    /// Only objects whose labels match `selector` (`app=web,tier!=db`).
    pub fn labels(mut self, selector: impl Into<String>) -> Self {
        self.label_selector = Some(selector.into());
        self
    }

    /// Only objects whose fields match `selector` (`metadata.name=web`).
    pub fn fields(mut self, selector: impl Into<String>) -> Self {
        self.field_selector = Some(selector.into());
        self
    }

    /// Reads the initial state with a streaming list ([`InitialList::StreamingList`]).
    pub fn streaming_list(mut self) -> Self {
        self.initial_list = InitialList::StreamingList;
        self
    }

    /// Sets the page size of the initial list.
    pub fn page_size(mut self, n: i64) -> Self {
        self.page_size = n;
        self
    }

    /// Sets [`Config::prefetch`].
    pub fn prefetch(mut self, on: bool) -> Self {
        self.prefetch = on;
        self
    }

    /// Sets the backoff between restarts.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff = Backoff::new(base, max);
        self
    }
}

/// What went wrong; the watcher goes on after each (see the [module docs](self)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The initial list failed; the watcher starts over after a backoff.
    #[error("initial list failed: {0}")]
    InitialList(#[source] k8s_client::Error),
    /// The watch (or the streaming list) reported an error.
    #[error("watch failed: {0}")]
    Watch(#[source] k8s_client::Error),
}

/// The objects of the collection at `path` (for example
/// `/api/v1/namespaces/default/configmaps`, or a generated list request's `.path()`), as a
/// stream of [`Event`]s (see the [module docs](self)).
///
/// ```no_run
/// use futures::TryStreamExt;
/// use k8s_runtime::watcher::{self, Event};
/// # async fn run<Pod: k8s_core::Object + serde::de::DeserializeOwned + Clone + Send + 'static>(client: k8s_client::Client) -> Result<(), watcher::Error> {
/// let events = watcher::watcher::<Pod>(client, "/api/v1/pods", watcher::Config::default().labels("app=web"));
/// let mut events = std::pin::pin!(events);
/// while let Some(event) = events.try_next().await? {
///     match event {
///         Event::InitDone => println!("synced"),
///         Event::Apply(pod) => println!("applied {:?}", pod.name()),
///         Event::Delete(pod) => println!("deleted {:?}", pod.name()),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
pub fn watcher<T>(
    client: Client,
    path: impl Into<String>,
    config: Config,
) -> impl Stream<Item = Result<Event<T>, Error>> + Send + 'static
where
    T: Object + DeserializeOwned + Clone + Send + 'static,
{
    run(client, path.into(), config, false)
}

/// Like [`watcher()`], but only the objects' metadata: lists and watches ask the server for
/// `meta.k8s.io/v1` `PartialObjectMetadata` through the `Accept` header
/// ([`ACCEPT_PARTIAL_OBJECT_METADATA_LIST`], [`ACCEPT_PARTIAL_OBJECT_METADATA`]), so neither the
/// wire nor a cache filled from it carries spec or status. A server that cannot convert answers
/// with plain JSON (the `Accept` header's fallback), which reads as metadata too.
///
/// ```no_run
/// use k8s_runtime::{metadata::PartialObjectMetadata, reflector, store::Writer, watcher};
/// # async fn run<Pod: k8s_core::Resource + Send + Sync + 'static>(client: k8s_client::Client) {
/// use futures::StreamExt;
/// let writer = Writer::<PartialObjectMetadata<Pod>>::new();
/// let store = writer.store();
/// let events = watcher::metadata_watcher::<Pod>(client, "/api/v1/pods", watcher::Config::default());
/// tokio::spawn(reflector(writer, events).for_each(|_| async {}));
/// store.wait_until_ready().await.unwrap();
/// # }
/// ```
pub fn metadata_watcher<K>(
    client: Client,
    path: impl Into<String>,
    config: Config,
) -> impl Stream<Item = Result<Event<PartialObjectMetadata<K>>, Error>> + Send + 'static
where
    K: Resource + Send + 'static,
{
    run(client, path.into(), config, true)
}

fn run<T>(
    client: Client,
    path: String,
    config: Config,
    metadata: bool,
) -> impl Stream<Item = Result<Event<T>, Error>> + Send + 'static
where
    T: Object + DeserializeOwned + Clone + Send + 'static,
{
    let driver = Driver {
        client,
        path,
        streaming: config.initial_list == InitialList::StreamingList,
        metadata,
        config,
        phase: Phase::Start,
        pending: VecDeque::new(),
        failures: 0,
    };
    futures::stream::unfold(driver, |mut d| async move {
        loop {
            if let Some(item) = d.pending.pop_front() {
                return Some((item, d));
            }
            d.run().await;
        }
    })
}

/// Namespace and name of the objects a streaming list has given.
type Seen = HashSet<(Option<String>, Option<String>)>;

type Updates<T> = Pin<Box<dyn Stream<Item = Result<WatchUpdate<T>, k8s_client::Error>> + Send>>;

/// Where the watcher is.
enum Phase<T> {
    /// Read the initial state (list, or open a streaming list).
    Start,
    /// Listing: the next page, and the list's resource version so far; `prefetched` is the
    /// request of that page, already under way.
    Listing {
        continue_token: Option<String>,
        resource_version: String,
        restarts: u32,
        prefetched: Option<Prefetch<T>>,
    },
    /// A streaming list is delivering the initial state; `seen` are the objects already given
    /// (`None` before `Init`).
    InitialStream {
        updates: Updates<T>,
        seen: Option<Seen>,
    },
    /// The initial state is out; changes follow.
    Watching(Updates<T>),
    /// Wait (the backoff for `failures`), then start over.
    Backoff,
}

struct Driver<T> {
    client: Client,
    path: String,
    config: Config,
    /// Whether to use the streaming list (off after the server refused it).
    streaming: bool,
    /// Whether to ask for `PartialObjectMetadata` (see [`metadata_watcher`]).
    metadata: bool,
    phase: Phase<T>,
    pending: VecDeque<Result<Event<T>, Error>>,
    /// Consecutive restarts without a success in between.
    failures: u32,
}

/// How often a paginated list starts over after its continue token expired, before the 410 is
/// an error.
const MAX_LIST_RESTARTS: u32 = 3;

/// The request of the next page of a paginated list, running in its own task while the
/// consumer takes the objects of the current page (aborted when dropped).
///
/// Without it the server would start on page `n + 1` only after the consumer has taken every
/// object of page `n`: with it, the server's work on the next page and the client's decoding of
/// it overlap with the consumer's work on this one. At most one page is held ahead, so the
/// memory of a list stays bounded by the page size.
struct Prefetch<T>(tokio::task::JoinHandle<Result<k8s_core::List<T>, k8s_client::Error>>);

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T: Object + DeserializeOwned + Clone + Send + 'static> Driver<T> {
    /// Does what the phase asks for: one page, one update, or one wait.
    async fn run(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Start) {
            Phase::Start if self.streaming => {
                let req = self
                    .watch_request::<T>()
                    .send_initial_events(true)
                    .resource_version_match(ResourceVersionMatch::NotOlderThan);
                self.phase = Phase::InitialStream {
                    updates: Box::pin(self.client.watch(req)),
                    seen: None,
                };
            }
            Phase::Start => {
                self.phase = Phase::Listing {
                    continue_token: None,
                    resource_version: String::new(),
                    restarts: 0,
                    prefetched: None,
                };
            }
            Phase::Listing {
                continue_token,
                resource_version,
                restarts,
                prefetched,
            } => {
                self.list_page(continue_token, resource_version, restarts, prefetched)
                    .await
            }
            Phase::InitialStream { mut updates, seen } => {
                let next = updates.next().await;
                self.initial_stream(next, updates, seen);
            }
            Phase::Watching(mut updates) => match updates.next().await {
                Some(update) => {
                    self.watch_update(update);
                    self.phase = Phase::Watching(updates);
                }
                None => self.start_over("the watch ended"),
            },
            Phase::Backoff => {
                let wait = self.config.backoff.delay(self.failures.saturating_sub(1));
                tokio::time::sleep(wait).await;
                self.phase = Phase::Start;
            }
        }
    }

    fn list_request(&self) -> ListRequest<T> {
        let mut req = ListRequest::<T>::new(self.path.clone()).limit(self.config.page_size);
        let p = req.params_mut();
        p.label_selector.clone_from(&self.config.label_selector);
        p.field_selector.clone_from(&self.config.field_selector);
        if self.metadata {
            req = req.accept(ACCEPT_PARTIAL_OBJECT_METADATA_LIST);
        }
        req
    }

    fn watch_request<U>(&self) -> WatchRequest<U> {
        let mut req = WatchRequest::<U>::new(self.path.clone());
        let p = req.params_mut();
        p.label_selector.clone_from(&self.config.label_selector);
        p.field_selector.clone_from(&self.config.field_selector);
        if self.metadata {
            req = req.accept(ACCEPT_PARTIAL_OBJECT_METADATA);
        }
        req
    }

    /// The request of one page of the initial list.
    fn page_request(&self, continue_token: Option<String>) -> ListRequest<T> {
        let mut req = self.list_request();
        req.params_mut().continue_token = continue_token;
        req
    }

    /// One page of the initial list (taken from `prefetched` when it was requested ahead);
    /// after the last, `InitDone` and the watch.
    async fn list_page(
        &mut self,
        continue_token: Option<String>,
        resource_version: String,
        restarts: u32,
        prefetched: Option<Prefetch<T>>,
    ) {
        let result = match prefetched {
            Some(mut p) => match (&mut p.0).await {
                Ok(result) => result,
                // The task panicked (a bug) or was cancelled: ask again, here.
                Err(e) => {
                    tracing::debug!(path = %self.path, error = %e, "prefetching a page failed; requesting it again");
                    self.client
                        .send(self.page_request(continue_token.clone()))
                        .await
                }
            },
            None => {
                self.client
                    .send(self.page_request(continue_token.clone()))
                    .await
            }
        };
        match result {
            Ok(list) => {
                if continue_token.is_none() {
                    self.pending.push_back(Ok(Event::Init));
                }
                let rv = if resource_version.is_empty() {
                    list.metadata.resource_version.unwrap_or_default()
                } else {
                    resource_version
                };
                self.pending
                    .extend(list.items.into_iter().map(|o| Ok(Event::InitApply(o))));
                match list.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(c) => {
                        // The next page is requested now, while the consumer takes this one.
                        let prefetched = self.config.prefetch.then(|| {
                            let client = self.client.clone();
                            let req = self.page_request(Some(c.clone()));
                            Prefetch(tokio::spawn(async move { client.send(req).await }))
                        });
                        self.phase = Phase::Listing {
                            continue_token: Some(c),
                            resource_version: rv,
                            restarts,
                            prefetched,
                        }
                    }
                    None => self.initial_done(rv),
                }
            }
            Err(e) if e.is_gone() && continue_token.is_some() && restarts < MAX_LIST_RESTARTS => {
                tracing::info!(path = %self.path, "continue token expired (410); listing again");
                self.phase = Phase::Listing {
                    continue_token: None,
                    resource_version: String::new(),
                    restarts: restarts + 1,
                    prefetched: None,
                };
            }
            Err(e) => {
                self.pending.push_back(Err(Error::InitialList(e)));
                self.start_over("the initial list failed");
            }
        }
    }

    /// The initial state is complete at `rv`: `InitDone`, then watch from there.
    fn initial_done(&mut self, rv: String) {
        self.pending.push_back(Ok(Event::InitDone));
        self.failures = 0;
        let mut req = self.watch_request::<T>();
        if !rv.is_empty() {
            req = req.resource_version(rv);
        }
        self.phase = Phase::Watching(Box::pin(self.client.watch(req)));
    }

    /// One update of a streaming list's initial phase.
    fn initial_stream(
        &mut self,
        next: Option<Result<WatchUpdate<T>, k8s_client::Error>>,
        updates: Updates<T>,
        mut seen: Option<Seen>,
    ) {
        match next {
            Some(Ok(WatchUpdate::Event(WatchEvent::Added(o) | WatchEvent::Modified(o)))) => {
                let key = (
                    o.namespace().map(str::to_owned),
                    o.name().map(str::to_owned),
                );
                let given = seen.get_or_insert_with(|| {
                    self.pending.push_back(Ok(Event::Init));
                    Seen::new()
                });
                if given.contains(&key) {
                    // The client reconnected and the server sends the initial state again.
                    tracing::debug!(path = %self.path, "initial events restarted");
                    self.pending.push_back(Ok(Event::Init));
                    given.clear();
                }
                given.insert(key);
                self.pending.push_back(Ok(Event::InitApply(o)));
            }
            Some(Ok(WatchUpdate::Event(WatchEvent::Bookmark(b)))) if ends_initial_events(&b) => {
                if seen.is_none() {
                    self.pending.push_back(Ok(Event::Init));
                }
                let rv = b.resource_version().unwrap_or_default().to_owned();
                return self.initial_done(rv);
            }
            Some(Ok(WatchUpdate::Restarted {
                objects,
                resource_version,
            })) => {
                self.pending.push_back(Ok(Event::Init));
                self.pending
                    .extend(objects.into_iter().map(|o| Ok(Event::InitApply(o))));
                return self.initial_done(resource_version);
            }
            Some(Ok(_)) => {}
            Some(Err(e)) if e.status_code() == Some(400) || e.is_invalid() => {
                tracing::warn!(path = %self.path, error = %e, "the server refused a streaming list; using list-then-watch");
                self.streaming = false;
                self.pending.push_back(Err(Error::Watch(e)));
                self.phase = Phase::Start;
                return;
            }
            Some(Err(e)) => self.pending.push_back(Err(Error::Watch(e))),
            None => return self.start_over("the streaming list ended"),
        }
        self.phase = Phase::InitialStream { updates, seen };
    }

    /// One update of the watch after the initial state.
    fn watch_update(&mut self, update: Result<WatchUpdate<T>, k8s_client::Error>) {
        match update {
            Ok(WatchUpdate::Event(ev)) => {
                self.failures = 0;
                match ev {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                        self.pending.push_back(Ok(Event::Apply(o)))
                    }
                    WatchEvent::Deleted(o) => self.pending.push_back(Ok(Event::Delete(o))),
                    _ => {}
                }
            }
            Ok(WatchUpdate::Restarted { objects, .. }) => {
                self.failures = 0;
                self.pending.push_back(Ok(Event::Init));
                self.pending
                    .extend(objects.into_iter().map(|o| Ok(Event::InitApply(o))));
                self.pending.push_back(Ok(Event::InitDone));
            }
            Ok(_) => {}
            Err(e) => self.pending.push_back(Err(Error::Watch(e))),
        }
    }

    /// The watch or list gave up: back off, then read the whole state again.
    fn start_over(&mut self, why: &str) {
        self.failures = self.failures.saturating_add(1);
        tracing::info!(path = %self.path, failures = self.failures, "{why}; starting over after a backoff");
        self.phase = Phase::Backoff;
    }
}

/// Whether a bookmark is the one that ends a streaming list's initial events.
fn ends_initial_events<T: Object>(bookmark: &T) -> bool {
    bookmark
        .annotations()
        .get(INITIAL_EVENTS_END)
        .is_some_and(|v| v == "true")
}
