//! What the examples share: where they run ([`Target`]), the readable output they write
//! ([`Transcript`]), a capture of the client's request log ([`RequestLog`]), their error type
//! ([`Error`]) and small helpers.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use k8s_client::{Auth, Client, Config, ConfigLoader};
use tracing::instrument::WithSubscriber as _;

/// Where an example runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// The in-process API server of `k8s-testserver`, started and set up by the example.
    #[default]
    TestServer,
    /// A real cluster: the current kubeconfig, else the in-cluster service account
    /// (`Client::infer`), or what the example's options name.
    RealCluster,
}

/// Why an example failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request failed in a way the example does not expect.
    #[error(transparent)]
    Client(#[from] k8s_client::Error),
    /// The client configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] k8s_client::ConfigError),
    /// The in-process test server could not start.
    #[error(transparent)]
    TestServer(#[from] k8s_testserver::Error),
    /// A file or directory could not be written or read.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// What was being done (`write`, `create directory`, …).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server answered something the walkthrough does not expect.
    #[error("{0}")]
    Unexpected(String),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
struct TranscriptInner {
    text: String,
    echo: bool,
}

/// The readable account of what an example did, line by line; optionally echoed to stdout as
/// it is written (the binaries do that, the tests read [`Transcript::text`]).
///
/// Cheap to clone; clones share the text.
///
/// ```
/// let t = k8s_sdk_examples::Transcript::new();
/// t.line("created pod demo/nginx");
/// assert_eq!(t.text(), "created pod demo/nginx\n");
/// ```
#[derive(Clone, Default)]
pub struct Transcript {
    inner: Arc<Mutex<TranscriptInner>>,
}

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcript")
            .field("bytes", &lock(&self.inner).text.len())
            .finish()
    }
}

impl Transcript {
    /// A transcript that only records.
    pub fn new() -> Self {
        Self::default()
    }

    /// A transcript that also prints each line to stdout when it is written.
    pub fn echoing() -> Self {
        let t = Self::default();
        lock(&t.inner).echo = true;
        t
    }

    /// Appends one line (or several, separated by `\n`).
    pub fn line(&self, s: impl AsRef<str>) {
        let mut inner = lock(&self.inner);
        let s = s.as_ref();
        inner.text.push_str(s);
        inner.text.push('\n');
        if inner.echo {
            println!("{s}");
        }
    }

    /// Appends a blank line and a `== title ==` heading.
    pub fn step(&self, title: impl AsRef<str>) {
        self.line(format!("\n== {} ==", title.as_ref()));
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        lock(&self.inner).text.clone()
    }
}

/// One request as the client logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The HTTP status code of the answer.
    pub status: u16,
    /// The whole log line, e.g. `POST /api/v1/namespaces/demo/pods -> 201 (Authorization:
    /// Bearer <redacted>, attempt 0)`.
    pub line: String,
}

impl LoggedRequest {
    /// Parses the client's `METHOD PATH -> CODE (…)` line.
    pub fn parse(line: &str) -> Option<Self> {
        let (method, rest) = line.split_once(' ')?;
        let (path, rest) = rest.split_once(" -> ")?;
        let code = rest.split(|c: char| !c.is_ascii_digit()).next()?;
        Some(LoggedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            status: code.parse().ok()?,
            line: line.to_owned(),
        })
    }
}

#[derive(Default)]
struct LogInner {
    lines: Vec<String>,
    print_to: Option<Transcript>,
}

/// Captures the client's request log (`tracing` target `k8s_client::request`) while a future
/// runs, optionally printing each line into a [`Transcript`] as `  [request] …`.
///
/// The client writes credentials into this log only as `Bearer <redacted>` or
/// `Basic <redacted>`.
#[derive(Clone, Default)]
pub struct RequestLog {
    inner: Arc<Mutex<LogInner>>,
}

impl fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestLog")
            .field("lines", &lock(&self.inner).lines.len())
            .finish()
    }
}

impl RequestLog {
    /// A log that only records.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that also writes each line into `transcript`.
    pub fn printing_to(transcript: &Transcript) -> Self {
        let log = Self::default();
        lock(&log.inner).print_to = Some(transcript.clone());
        log
    }

    /// Runs `fut` with this log capturing the client's request log: the events of
    /// `k8s_client::request` emitted while `fut` is polled (not those of tasks it spawns).
    ///
    /// The first capture installs a process-wide `tracing` subscriber that hands each event to
    /// the capturing future's log. If the program has installed a global subscriber of its
    /// own, a subscriber scoped to `fut` is used instead.
    pub async fn capture<F: Future>(&self, fut: F) -> F::Output {
        static GLOBAL: OnceLock<bool> = OnceLock::new();
        let global = *GLOBAL.get_or_init(|| {
            tracing::dispatcher::set_global_default(tracing::Dispatch::new(Capture)).is_ok()
        });
        if global {
            CURRENT.scope(self.clone(), fut).await
        } else {
            CURRENT
                .scope(self.clone(), fut)
                .with_subscriber(tracing::Dispatch::new(Capture))
                .await
        }
    }

    /// Every line captured so far.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.inner).lines.clone()
    }

    /// The captured lines that describe an answered request.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lines()
            .iter()
            .filter_map(|l| LoggedRequest::parse(l))
            .collect()
    }

    fn push(&self, line: String) {
        let mut inner = lock(&self.inner);
        if let Some(t) = &inner.print_to {
            t.line(format!("  [request] {line}"));
        }
        inner.lines.push(line);
    }
}

tokio::task_local! {
    /// The log of the task that is capturing.
    static CURRENT: RequestLog;
}

/// A `tracing` subscriber that hands the events of `k8s_client::request` to the
/// [`RequestLog`] of the task they happen in.
struct Capture;

const TARGET: &str = "k8s_client::request";

#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<String>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push(format!("{}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.push(format!("{}={value}", field.name()));
        }
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.enabled(meta) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.target() == TARGET && *meta.level() <= tracing::Level::DEBUG
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::DEBUG)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let mut line = f.message;
        if !f.rest.is_empty() {
            line.push_str(&format!(" ({})", f.rest.join(", ")));
        }
        // Events outside a capturing task are dropped.
        let _ = CURRENT.try_with(|log| log.push(line));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A client from one kubeconfig file (and nothing else: no `KUBECONFIG`, no proxy variables).
pub fn client_from_kubeconfig(path: &Path) -> Result<Client, Error> {
    let config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([path.to_path_buf()])
        .kubeconfig()?;
    Ok(Client::new(config)?)
}

/// `403 Forbidden: <message>` from an error the server answered with a `Status`, else the
/// error's text.
pub fn describe_error(e: &k8s_client::Error) -> String {
    match e.status() {
        Some(s) => format!(
            "{} {}: {}",
            s.code.map_or_else(|| "?".to_owned(), |c| c.to_string()),
            s.reason(),
            s.message.as_deref().unwrap_or("")
        ),
        None => e.to_string(),
    }
}

/// Writes `contents` to `dir/name` atomically (a temporary file, then a rename).
pub fn write_file(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents).map_err(|source| Error::Io {
        what: "write",
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &path).map_err(|source| Error::Io {
        what: "rename into place",
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// A short name that does not exist yet in a real cluster: `prefix-<seconds><millis>` in
/// base 36.
pub fn unique_name(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut digits = Vec::new();
    let mut n = n;
    while n > 0 {
        let d = (n % 36) as u32;
        digits.push(std::char::from_digit(d, 36).unwrap_or('0'));
        n /= 36;
    }
    let s: String = digits.iter().rev().collect();
    format!("{prefix}-{}", s.chars().rev().take(6).collect::<String>())
}

/// How a configuration authenticates, without any secret: `the token in FILE`, `a client
/// certificate`, `no credentials`, ….
pub fn describe_auth(config: &Config) -> String {
    let mut s = match &config.auth {
        Auth::None => "no credentials".to_owned(),
        Auth::Bearer(_) => "a bearer token (not shown)".to_owned(),
        Auth::TokenFile(p) => format!(
            "the token in {} (re-read as it rotates; not shown)",
            p.display()
        ),
        Auth::Basic { username, .. } => format!("basic auth as {username:?} (password not shown)"),
        Auth::Exec(e) => format!("the exec plugin {}", e.command),
        _ => "other credentials".to_owned(),
    };
    if config.client_identity.is_some() {
        if matches!(config.auth, Auth::None) {
            s = "a client certificate".to_owned();
        } else {
            s.push_str(" and a client certificate");
        }
    }
    s
}
