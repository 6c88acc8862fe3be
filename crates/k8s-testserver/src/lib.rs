//! An in-process Kubernetes API server for tests.
//!
//! `k8s-testserver` speaks the Kubernetes API over real TLS on loopback, faithfully enough that
//! the real `kubectl` works against it: bearer tokens, client certificates and anonymous
//! requests; RBAC from Roles and bindings created through the API; CRUD with resource versions,
//! `generateName`, 409/404/422 answers shaped like the real server's; lists with selectors and
//! pagination; watches with bookmarks, `sendInitialEvents` and 410 Gone; JSON, merge and
//! strategic merge patches; server-side apply with field managers; dry runs; CRDs; discovery;
//! and fault injection for testing clients.
//!
//! ```
//! # async fn demo() -> Result<(), k8s_testserver::Error> {
//! let server = k8s_testserver::TestServer::builder()
//!     .token("admin-token", "admin", &["system:masters"])
//!     .token("bob-token", "bob", &[])
//!     .start()
//!     .await?;
//! println!("API server at {}", server.url());
//! let kubeconfig = server.kubeconfig_for("admin-token");   // for kubectl or a client
//! let in_cluster = server.in_cluster_dir("default", "bob-token"); // token, ca.crt, namespace
//! assert!(kubeconfig.exists() && in_cluster.dir.join("token").exists());
//! server.faults().respond_429(1, 2); // the next request gets 429 with Retry-After: 2
//! server.shutdown().await;
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! The served resources come from a table of [`k8s_core::ResourceInfo`] rows: by default the
//! generated table of Kubernetes 1.36 (`k8s_api::v1_36::RESOURCES`, every built-in resource,
//! derived from the spec's paths); pass another version's table, or the small hand-written
//! [`BUILTIN_RESOURCES`], with [`TestServerBuilder::resources`].

mod authz;
mod builtin_resources;
mod codec;
mod containers;
mod discovery_proto;
mod errors;
mod http;
mod json;
mod kinds;
mod patch;
#[cfg(not(feature = "protobuf"))]
mod proto;
mod registry;
mod selectors;
mod storage;
mod store;
mod tls;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_core::ResourceInfo;
use tokio::sync::watch;

pub use builtin_resources::BUILTIN_RESOURCES;
pub use containers::{Pods, PortConnection, PortHandler};
#[doc(hidden)]
pub use http::spdy;

use crate::authz::UserInfo;
use crate::http::{FaultState, Shared, lock};
use crate::store::State;

/// Why the server could not start (or a file could not be written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding or serving failed.
    #[error("test server I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Generating certificates or the TLS configuration failed.
    #[error("test server TLS setup failed: {0}")]
    Tls(String),
    /// The spec directory given with [`TestServerBuilder::spec_dir`] could not be read.
    #[error("cannot read OpenAPI spec {path}: {message}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// One request the server saw (for assertions in tests). Tokens are never recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Path and query, e.g. `/api/v1/namespaces/default/pods?limit=500`.
    pub path_and_query: String,
    /// Authenticated user name (`system:anonymous` without credentials, empty when
    /// authentication failed).
    pub user: String,
    /// `Content-Type` of the request, when it had one.
    pub content_type: Option<String>,
    /// `Accept` of the request, when it had one.
    pub accept: Option<String>,
    /// `Content-Type` of the answer (set once it is known; `None` without one).
    pub response_content_type: Option<String>,
    /// The request body as received (empty when there was none, or when the request was
    /// refused before its body was read: authentication failures and injected faults).
    pub body: Vec<u8>,
}

/// What a Pod sees in-cluster: the service-account directory plus the two environment values.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InCluster {
    /// Directory with `token`, `ca.crt` and `namespace` (like
    /// `/var/run/secrets/kubernetes.io/serviceaccount`).
    pub dir: PathBuf,
    /// `KUBERNETES_SERVICE_HOST`
    pub host: String,
    /// `KUBERNETES_SERVICE_PORT`
    pub port: u16,
}

/// Configures and starts a [`TestServer`].
#[derive(Clone, Debug)]
#[must_use]
pub struct TestServerBuilder {
    tokens: Vec<(String, String, Vec<String>)>,
    resources: &'static [ResourceInfo],
    spec_dir: Option<PathBuf>,
    watch_history: usize,
    plain_http: bool,
    prerelease: bool,
}

/// `v1`, `v2`: a stable API version (not `v1beta1`, `v1alpha3`).
fn is_stable_version(v: &str) -> bool {
    v.strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            tokens: Vec::new(),
            resources: k8s_api::v1_36::RESOURCES,
            spec_dir: None,
            watch_history: 1000,
            plain_http: false,
            prerelease: false,
        }
    }
}

impl TestServerBuilder {
    /// Accepts `token` as bearer token of `user` in `groups` (`system:masters` may do anything).
    pub fn token(mut self, token: &str, user: &str, groups: &[&str]) -> Self {
        self.tokens.push((
            token.to_string(),
            user.to_string(),
            groups.iter().map(|g| g.to_string()).collect(),
        ));
        self
    }

    /// Also serves alpha and beta versions of the table (a real server needs
    /// `--runtime-config` for that); by default only stable versions are served.
    pub fn prerelease_versions(mut self) -> Self {
        self.prerelease = true;
        self
    }

    /// Serves these resources instead of [`BUILTIN_RESOURCES`] (e.g. the generated
    /// `k8s_api::v1_36::RESOURCES`).
    pub fn resources(mut self, table: &'static [ResourceInfo]) -> Self {
        self.resources = table;
        self
    }

    /// Serves `/openapi/v2` from `<dir>/swagger.json` and `/openapi/v3/...` from `<dir>/v3/`,
    /// and uses the swagger document for unknown-field warnings and patch merge keys.
    pub fn spec_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.spec_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// How many change events are kept; a watch or continue token older than that gets 410.
    pub fn watch_history(mut self, events: usize) -> Self {
        self.watch_history = events.max(1);
        self
    }

    /// Plain `http://` without authentication (everyone is an admin), like `kubectl proxy`.
    pub fn plain_http(mut self) -> Self {
        self.plain_http = true;
        self
    }

    /// Binds `127.0.0.1:0` and serves until the server is dropped or shut down.
    pub async fn start(self) -> Result<TestServer, Error> {
        let (swagger, swagger_bytes) = match &self.spec_dir {
            Some(dir) => {
                let path = dir.join("swagger.json");
                let bytes = tokio::fs::read(&path).await.map_err(|e| Error::Spec {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let v: serde_json::Value =
                    serde_json::from_slice(&bytes).map_err(|e| Error::Spec {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                (Some(Arc::new(v)), Some(bytes::Bytes::from(bytes)))
            }
            None => (None, None),
        };
        let ca = tls::Ca::generate()?;
        let tls = if self.plain_http {
            None
        } else {
            Some(tls::Tls::new(&ca)?)
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        // Like a real API server, serve only the versions enabled by default: stable ones
        // (alpha and, since Kubernetes 1.24, new beta APIs are off unless asked for).
        let served: Vec<ResourceInfo> = self
            .resources
            .iter()
            .filter(|r| self.prerelease || is_stable_version(r.version))
            .copied()
            .collect();
        let mut state = State::new(
            &served,
            self.watch_history,
            swagger,
            ca.cert_pem.clone(),
            kinds::hooks(),
        );
        kinds::bootstrap(&mut state);
        for (token, user, groups) in &self.tokens {
            state.tokens.insert(
                token.clone(),
                UserInfo {
                    name: user.clone(),
                    uid: None,
                    groups: groups.clone(),
                    extra: Vec::new(),
                },
            );
        }
        let (rv_tx, _) = watch::channel(state.rv());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            rv_tx,
            faults: Mutex::new(FaultState::default()),
            log: Mutex::new(Vec::new()),
            plain_http: self.plain_http,
            spec_dir: self.spec_dir.clone(),
            swagger_bytes,
            tls,
            address: addr.to_string(),
            shutdown: shutdown_rx,
            containers: Arc::default(),
            codec: codec::Codec::for_table(self.resources),
        });
        let dir = tempfile::Builder::new()
            .prefix("k8s-testserver-")
            .tempdir()?;
        let task = tokio::spawn(http::accept_loop(listener, shared.clone()));
        let scheme = if self.plain_http { "http" } else { "https" };
        Ok(TestServer {
            url: format!("{scheme}://{addr}"),
            port: addr.port(),
            shared,
            ca,
            dir,
            shutdown_tx,
            task: Some(task),
            files: AtomicUsize::new(0),
        })
    }
}

/// A running in-process API server; stops when dropped.
pub struct TestServer {
    url: String,
    port: u16,
    shared: Arc<Shared>,
    ca: tls::Ca,
    dir: tempfile::TempDir,
    shutdown_tx: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    files: AtomicUsize,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Writes `contents` to `dir/name` atomically (temporary file, then rename).
fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = std::fs::write(&tmp, contents).and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = result {
        // The server's own temporary directory is not writable: nothing a test can recover from.
        #[allow(clippy::panic)]
        {
            panic!("k8s-testserver: cannot write {}: {e}", path.display());
        }
    }
    path
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl TestServer {
    /// Starts configuring a server.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// `https://127.0.0.1:PORT` (or `http://` in plain-HTTP mode).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port bound on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate (PEM) that signed the serving and client certificates.
    pub fn ca_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    fn cluster_entry(&self) -> String {
        if self.shared.plain_http {
            format!("    server: {}\n", self.url)
        } else {
            format!(
                "    server: {}\n    certificate-authority-data: {}\n",
                self.url,
                b64(&self.ca.cert_pem)
            )
        }
    }

    fn kubeconfig(&self, file: &str, user_entry: &str) -> PathBuf {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: testserver\n  cluster:\n{}contexts:\n- name: testserver\n  context:\n    cluster: testserver\n    user: testuser\n    namespace: default\ncurrent-context: testserver\nusers:\n- name: testuser\n  user:\n{}preferences: {{}}\n",
            self.cluster_entry(),
            user_entry
        );
        write_atomic(self.dir.path(), file, text.as_bytes())
    }

    /// Writes a kubeconfig that authenticates with `token` (which need not be valid: a wrong
    /// token is how to test 401). Namespace `default`.
    ///
    /// # Panics
    /// If the server's temporary directory cannot be written.
    pub fn kubeconfig_for(&self, token: &str) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.kubeconfig(
            &format!("kubeconfig-token-{n}.yaml"),
            &format!("    token: {token}\n"),
        )
    }

    /// Writes a kubeconfig whose requests are anonymous (`system:anonymous`). It names a
    /// basic-auth user, which the server ignores like the real one does, so that `kubectl`
    /// does not prompt for credentials.
    ///
    /// # Panics
    /// If the server's temporary directory cannot be written.
    pub fn kubeconfig_anonymous(&self) -> PathBuf {
        self.kubeconfig(
            "kubeconfig-anonymous.yaml",
            "    username: anonymous\n    password: anonymous\n",
        )
    }

    /// A client certificate for `user` in `groups`, signed by the server's CA:
    /// `(certificate PEM, private key PEM)`.
    ///
    /// # Panics
    /// If certificate generation fails (it does not with the ring provider).
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> (String, String) {
        match self.ca.client_cert(user, groups) {
            Ok(pair) => pair,
            #[allow(clippy::panic)]
            Err(e) => panic!("k8s-testserver: {e}"),
        }
    }

    /// Writes a kubeconfig with `client-certificate-data`/`client-key-data` for `user`.
    ///
    /// # Panics
    /// If the server's temporary directory cannot be written.
    pub fn kubeconfig_for_cert(&self, user: &str, groups: &[&str]) -> PathBuf {
        let (cert, key) = self.client_cert(user, groups);
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.kubeconfig(
            &format!("kubeconfig-cert-{}-{n}.yaml", sanitize(user)),
            &format!(
                "    client-certificate-data: {}\n    client-key-data: {}\n",
                b64(&cert),
                b64(&key)
            ),
        )
    }

    /// Writes a service-account directory (`token`, `ca.crt`, `namespace`) as a Pod in
    /// `namespace` would see it, authenticating with `token`.
    ///
    /// # Panics
    /// If the server's temporary directory cannot be written.
    pub fn in_cluster_dir(&self, namespace: &str, token: &str) -> InCluster {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir.path().join(format!("serviceaccount-{n}"));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            #[allow(clippy::panic)]
            {
                panic!("k8s-testserver: cannot create {}: {e}", dir.display());
            }
        }
        write_atomic(&dir, "token", token.as_bytes());
        write_atomic(&dir, "ca.crt", self.ca.cert_pem.as_bytes());
        write_atomic(&dir, "namespace", namespace.as_bytes());
        InCluster {
            dir,
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    /// Accepts a new bearer token (token rotation).
    pub fn add_token(&self, token: &str, user: &str, groups: &[&str]) {
        lock(&self.shared.state).tokens.insert(
            token.to_string(),
            UserInfo {
                name: user.to_string(),
                uid: None,
                groups: groups.iter().map(|g| g.to_string()).collect(),
                extra: Vec::new(),
            },
        );
    }

    /// Stops accepting a bearer token: requests with it get 401.
    pub fn revoke_token(&self, token: &str) {
        lock(&self.shared.state).tokens.remove(token);
    }

    /// The container model behind Pod logs, exec, attach and port-forward: append log lines,
    /// terminate containers, register port handlers.
    pub fn pods(&self) -> Pods {
        Pods {
            model: self.shared.containers.clone(),
        }
    }

    /// Fault injection for the next requests.
    pub fn faults(&self) -> Faults {
        Faults {
            shared: self.shared.clone(),
        }
    }

    /// Drops all kept watch events, like an etcd compaction: watches from, and continue tokens
    /// of, any earlier resource version get 410.
    pub fn compact(&self) {
        lock(&self.shared.state).compact();
    }

    /// The current cluster-wide resource version.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.state).rv()
    }

    /// The requests seen so far.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Stops serving: closes the listener, open connections and watches.
    pub async fn shutdown(mut self) {
        self.shutdown_tx.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown_tx.send_replace(true);
    }
}

/// Injects faults into the next requests; see [`TestServer::faults`].
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

impl Faults {
    /// The next watch ends abruptly (connection error) after `n_events` events.
    pub fn drop_watch_after(&self, n_events: usize) -> &Self {
        lock(&self.shared.faults).drop_watch_after = Some(n_events);
        self
    }

    /// Whether a [`drop_watch_after`](Self::drop_watch_after) fault is still waiting for a
    /// watch to take it (a test paces its writes by this, so that every drop is observed).
    pub fn watch_drop_pending(&self) -> bool {
        lock(&self.shared.faults).drop_watch_after.is_some()
    }

    /// The next `times` requests get 429 `TooManyRequests` with `Retry-After: retry_after_secs`.
    pub fn respond_429(&self, times: usize, retry_after_secs: u32) -> &Self {
        let mut f = lock(&self.shared.faults);
        for _ in 0..times {
            f.statuses.push_back((429, Some(retry_after_secs)));
        }
        self
    }

    /// The next `times` requests get `code` (500, 503, 504, …) with the real server's Status.
    pub fn respond_status(&self, code: u16, times: usize) -> &Self {
        let mut f = lock(&self.shared.faults);
        for _ in 0..times {
            f.statuses.push_back((code, None));
        }
        self
    }

    /// The next request waits this long before it is handled.
    pub fn delay(&self, d: Duration) -> &Self {
        lock(&self.shared.faults).delay = Some(d);
        self
    }

    /// The next (non-watch) response body is cut in half and the connection aborted.
    pub fn truncate_next_body(&self) -> &Self {
        lock(&self.shared.faults).truncate = true;
        self
    }

    /// Removes all pending faults.
    pub fn clear(&self) -> &Self {
        *lock(&self.shared.faults) = FaultState::default();
        self
    }
}
