//! The container model behind a Pod's `log`, `exec`, `attach` and `portforward`: what a kubelet
//! and its container runtime would provide, reduced to what tests need to drive.
//!
//! * every container of a Pod has a log the test appends lines to ([`Pods::append_log`]); a
//!   following reader sees each line as it is appended, until the container terminates
//!   ([`Pods::terminate`]) or the test breaks the open streams ([`Pods::break_log_streams`]);
//! * exec runs a few built-in commands (see `http/streaming.rs`);
//! * port-forward connects each forwarded connection to a handler the test registers for the
//!   Pod's port ([`Pods::on_port`]); without one, an echo handler answers.
//!
//! Nothing here is persisted with the Pod object: the model is keyed by namespace, Pod name and
//! container name, and outlives a deleted Pod (a recreated Pod with the same name sees it).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use tokio::io::DuplexStream;
use tokio::sync::watch;

use crate::http::lock;

/// What a port handler gets: one end of an in-memory byte stream (the forwarded connection).
pub type PortConnection = DuplexStream;

/// A handler for the connections forwarded to a Pod's port.
pub type PortHandler =
    Arc<dyn Fn(PortConnection) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

type Key = (String, String, String);

#[derive(Default)]
struct Container {
    lines: Vec<(Timestamp, String)>,
    terminated: bool,
}

/// The shared model (one per server).
pub(crate) struct Containers {
    containers: Mutex<HashMap<Key, Container>>,
    ports: Mutex<HashMap<(String, String, u16), PortHandler>>,
    /// Bumped on every append and termination: following readers wait on it.
    changed: watch::Sender<u64>,
    /// Bumped by [`Pods::break_log_streams`]: open log streams end with an error.
    breaks: watch::Sender<u64>,
    open_logs: Arc<AtomicUsize>,
    /// Exec and attach offer only `v4.channel.k8s.io` (see [`Pods::exec_v4_only`]).
    pub(crate) v4_only: AtomicBool,
}

impl Default for Containers {
    fn default() -> Self {
        Containers {
            containers: Mutex::new(HashMap::new()),
            ports: Mutex::new(HashMap::new()),
            changed: watch::channel(0).0,
            breaks: watch::channel(0).0,
            open_logs: Arc::new(AtomicUsize::new(0)),
            v4_only: AtomicBool::new(false),
        }
    }
}

/// A batch of log lines read from a container, from a cursor on.
pub(crate) struct LogRead {
    pub lines: Vec<(Timestamp, String)>,
    pub next: usize,
    pub terminated: bool,
}

/// Counts an open log stream while alive.
pub(crate) struct OpenLog(Arc<AtomicUsize>);

impl Drop for OpenLog {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn key(ns: &str, pod: &str, container: &str) -> Key {
    (ns.to_owned(), pod.to_owned(), container.to_owned())
}

impl Containers {
    /// The lines from `from` on.
    pub(crate) fn read(&self, ns: &str, pod: &str, container: &str, from: usize) -> LogRead {
        let map = lock(&self.containers);
        match map.get(&key(ns, pod, container)) {
            Some(c) => LogRead {
                lines: c.lines.get(from..).map(<[_]>::to_vec).unwrap_or_default(),
                next: c.lines.len().max(from),
                terminated: c.terminated,
            },
            None => LogRead {
                lines: Vec::new(),
                next: from,
                terminated: false,
            },
        }
    }

    pub(crate) fn subscribe(&self) -> (watch::Receiver<u64>, watch::Receiver<u64>) {
        (self.changed.subscribe(), self.breaks.subscribe())
    }

    pub(crate) fn open_log(&self) -> OpenLog {
        self.open_logs.fetch_add(1, Ordering::SeqCst);
        OpenLog(self.open_logs.clone())
    }

    pub(crate) fn port_handler(&self, ns: &str, pod: &str, port: u16) -> PortHandler {
        lock(&self.ports)
            .get(&(ns.to_owned(), pod.to_owned(), port))
            .cloned()
            .unwrap_or_else(echo_handler)
    }
}

/// The default port handler: writes back what it reads.
fn echo_handler() -> PortHandler {
    Arc::new(|conn: PortConnection| {
        Box::pin(async move {
            let (mut r, mut w) = tokio::io::split(conn);
            let _ = tokio::io::copy(&mut r, &mut w).await;
        })
    })
}

/// The test's handle on the container model of the server's Pods (from
/// [`TestServer::pods`](crate::TestServer::pods)). Cheap to clone.
///
/// ```
/// # async fn demo() -> Result<(), k8s_testserver::Error> {
/// let server = k8s_testserver::TestServer::builder().start().await?;
/// let pods = server.pods();
/// pods.append_log("default", "web", "app", "started");
/// pods.terminate("default", "web", "app"); // following readers reach the end
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Pods {
    pub(crate) model: Arc<Containers>,
}

impl std::fmt::Debug for Pods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pods").finish_non_exhaustive()
    }
}

impl Pods {
    /// Appends one line (without its newline; a newline inside splits it into several lines)
    /// to the log of `container` in Pod `namespace/pod`, stamped with the current time.
    pub fn append_log(&self, namespace: &str, pod: &str, container: &str, line: &str) {
        {
            let mut map = lock(&self.model.containers);
            let c = map.entry(key(namespace, pod, container)).or_default();
            for part in line.split('\n') {
                // Timestamps strictly increase within a container, as a runtime's do.
                let mut now = Timestamp::now();
                if let Some((last, _)) = c.lines.last() {
                    if now <= *last {
                        now = last
                            .checked_add(jiff::SignedDuration::from_nanos(1))
                            .unwrap_or(*last);
                    }
                }
                c.lines.push((now, part.to_owned()));
            }
        }
        self.model.changed.send_modify(|n| *n += 1);
    }

    /// The lines of a container's log so far (without timestamps).
    pub fn log(&self, namespace: &str, pod: &str, container: &str) -> Vec<String> {
        self.model
            .read(namespace, pod, container, 0)
            .lines
            .into_iter()
            .map(|(_, l)| l)
            .collect()
    }

    /// Marks the container terminated: following log streams end (cleanly) after its last
    /// line, as they do when a real container exits.
    pub fn terminate(&self, namespace: &str, pod: &str, container: &str) {
        lock(&self.model.containers)
            .entry(key(namespace, pod, container))
            .or_default()
            .terminated = true;
        self.model.changed.send_modify(|n| *n += 1);
    }

    /// Aborts every open log stream mid-body (the client sees a broken connection, as when an
    /// API server restarts), to test reconnection.
    pub fn break_log_streams(&self) {
        self.model.breaks.send_modify(|n| *n += 1);
    }

    /// How many log streams are open now (a dropped client stream closes its connection).
    pub fn open_log_streams(&self) -> usize {
        self.model.open_logs.load(Ordering::SeqCst)
    }

    /// With `true`, exec and attach are served with `v4.channel.k8s.io` only, as by API
    /// servers before 1.30 (which had no `v5.channel.k8s.io` and its stdin close signal);
    /// with `false` (the default) both, `v5` preferred.
    pub fn exec_v4_only(&self, on: bool) {
        self.model.v4_only.store(on, Ordering::SeqCst);
    }

    /// Serves the connections port-forwarded to `port` of Pod `namespace/pod` with `handler`
    /// (replacing the default echo handler).
    pub fn on_port<F, Fut>(&self, namespace: &str, pod: &str, port: u16, handler: F)
    where
        F: Fn(PortConnection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: PortHandler = Arc::new(move |c| Box::pin(handler(c)));
        lock(&self.model.ports).insert((namespace.to_owned(), pod.to_owned(), port), handler);
    }
}
