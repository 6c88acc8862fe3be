//! A real Kubernetes control plane for tests: etcd, `kube-apiserver` and, when asked,
//! `kube-controller-manager` on free loopback ports, in a temporary directory.
//!
//! The binaries are built from source by `cargo xtask envtest install` (Go, the module
//! `envtest/` of this repository) into [`install_dir`]. The PKI is generated per control plane
//! (a CA, the serving certificate for 127.0.0.1/localhost, client certificates, the
//! service-account key); users come from a static token file and client certificates;
//! authorization is RBAC, with an admin in `system:masters` behind [`EnvTest::client`].
//!
//! The builder has the shape of `k8s_testserver::TestServer`'s, and [`ControlPlane`] is
//! implemented for both, so one test body can run against either:
//!
//! ```no_run
//! # async fn demo() -> Result<(), k8s_envtest::Error> {
//! let Some(binaries) = k8s_envtest::binaries_or_skip()? else {
//!     return Ok(()); // not installed: one line said how to enable these tests
//! };
//! let env = k8s_envtest::EnvTest::builder()
//!     .binaries(binaries)
//!     .token("bob-token", "bob", &[])
//!     .apiserver_flag("--etcd-compaction-interval=10s")
//!     .start()
//!     .await?;
//! println!("kube-apiserver at {} after {:.1?}", env.url(), env.startup_time());
//! let kubeconfig = env.kubeconfig_for("bob-token")?; // for kubectl or a client
//! let admin = env.client(); // a ready k8s_client::Client in system:masters
//! # let _ = (kubeconfig, admin);
//! # Ok(()) }
//! ```
//!
//! Every process runs in its own process group and is killed (the group) when the
//! [`EnvTest`] is dropped, also when a test panics; the temporary directory is removed then.
//! A test process killed with SIGKILL cannot clean up: its control plane is left running.

mod pki;
mod process;

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_client::{Client, ConfigLoader};

use crate::process::{Proc, tail};

/// The Kubernetes version the committed `envtest/go.mod` builds (and `install` installs by
/// default).
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.36.3";

/// The environment variable that turns a missing installation from a skip into an error.
pub const REQUIRED_ENV: &str = "K8S_ENVTEST_REQUIRED";

/// The binaries of a control plane, in build order.
pub const BINARIES: [&str; 3] = ["kube-apiserver", "kube-controller-manager", "etcd"];

/// Why the control plane could not be started or used. Messages never contain a token or key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The binaries are not installed.
    #[error(
        "the envtest binaries of Kubernetes {version} are not installed in {} (missing: {}): run `cargo xtask envtest install` (needs Go)",
        dir.display(),
        missing.join(", ")
    )]
    NotInstalled {
        /// The Kubernetes version looked for.
        version: String,
        /// Where they were looked for.
        dir: PathBuf,
        /// The missing files.
        missing: Vec<&'static str>,
    },
    /// Neither `K8S_ENVTEST_DIR`, `XDG_CACHE_HOME` nor `HOME` is set.
    #[error("no envtest install directory: set K8S_ENVTEST_DIR (or XDG_CACHE_HOME or HOME)")]
    NoInstallDir,
    /// A file or directory operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// Generating a certificate or key failed.
    #[error("generating {what} failed: {message}")]
    Pki {
        /// Which certificate or key.
        what: &'static str,
        /// rcgen's message.
        message: String,
    },
    /// A process could not be started.
    #[error("cannot start {process} ({}): {source}", binary.display())]
    Spawn {
        /// `etcd`, `kube-apiserver` or `kube-controller-manager`.
        process: &'static str,
        /// The binary.
        binary: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A process exited while it should be running.
    #[error("{process} exited ({status}); the end of its log {}:\n{tail}", log.display())]
    Exited {
        /// `etcd`, `kube-apiserver` or `kube-controller-manager`.
        process: &'static str,
        /// Its exit status.
        status: String,
        /// Its log file (stdout and stderr).
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A process did not become ready in time.
    #[error("{process} not ready after {waited:.1?} ({last}); the end of its log {}:\n{tail}", log.display())]
    NotReady {
        /// `etcd`, `kube-apiserver` or `kube-controller-manager`.
        process: &'static str,
        /// How long it was given.
        waited: Duration,
        /// The last readiness check's answer.
        last: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A token that the static token file cannot hold (the token itself is not shown).
    #[error("token {index} for user {user:?} cannot go into the token file: {reason}")]
    InvalidToken {
        /// Its position among the builder's tokens (0-based).
        index: usize,
        /// Its user.
        user: String,
        /// Why.
        reason: &'static str,
    },
    /// Building the client configuration failed.
    #[error("client configuration for the control plane: {0}")]
    Config(#[from] k8s_client::ConfigError),
    /// A client request failed.
    #[error("request to the control plane: {0}")]
    Client(#[from] k8s_client::Error),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Where the binaries of Kubernetes `version` are installed: `$K8S_ENVTEST_DIR/<version>/`,
/// else `$XDG_CACHE_HOME/k8s-sdk/envtest/<version>/`, else
/// `~/.cache/k8s-sdk/envtest/<version>/` (`env` reads the environment).
pub fn install_dir(version: &str, env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let root = set("K8S_ENVTEST_DIR")
        .or_else(|| set("XDG_CACHE_HOME").map(|d| d.join("k8s-sdk/envtest")))
        .or_else(|| set("HOME").map(|d| d.join(".cache/k8s-sdk/envtest")))?;
    Some(root.join(version))
}

/// The installed binaries of one Kubernetes version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binaries {
    /// The Kubernetes version.
    pub version: String,
    /// The directory holding `etcd`, `kube-apiserver` and `kube-controller-manager`.
    pub dir: PathBuf,
}

impl Binaries {
    /// The binaries of `version` in [`install_dir`]; `Err(NotInstalled)` names what is missing.
    pub fn locate(version: &str) -> Result<Binaries, Error> {
        let dir = install_dir(version, |k| std::env::var(k).ok()).ok_or(Error::NoInstallDir)?;
        Binaries::in_dir(version, dir)
    }

    /// The binaries of `version` in `dir`.
    pub fn in_dir(version: &str, dir: PathBuf) -> Result<Binaries, Error> {
        let missing: Vec<&'static str> = BINARIES
            .into_iter()
            .filter(|b| !dir.join(b).is_file())
            .collect();
        if missing.is_empty() {
            Ok(Binaries {
                version: version.to_owned(),
                dir,
            })
        } else {
            Err(Error::NotInstalled {
                version: version.to_owned(),
                dir,
                missing,
            })
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// For tests: the installed binaries of [`DEFAULT_KUBERNETES_VERSION`], or `Ok(None)` after
/// printing one line (once per process) that says how to install them. With
/// `K8S_ENVTEST_REQUIRED=1` a missing installation is the error instead.
pub fn binaries_or_skip() -> Result<Option<Binaries>, Error> {
    static SAID: Once = Once::new();
    match Binaries::locate(DEFAULT_KUBERNETES_VERSION) {
        Ok(b) => Ok(Some(b)),
        Err(e @ (Error::NotInstalled { .. } | Error::NoInstallDir)) => {
            if std::env::var(REQUIRED_ENV).is_ok_and(|v| v == "1") {
                return Err(e);
            }
            SAID.call_once(|| {
                // Straight to stderr, not `eprintln!`: the test harness captures the macros'
                // output of passing tests, and this line must be seen.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "k8s-envtest: skipping the real-control-plane tests: {e}; {REQUIRED_ENV}=1 makes this a failure"
                );
            });
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Configures and starts an [`EnvTest`].
#[derive(Clone, Debug)]
#[must_use]
pub struct EnvTestBuilder {
    tokens: Vec<Token>,
    controller_manager: bool,
    apiserver_flags: Vec<String>,
    binaries: Option<Binaries>,
    ready_timeout: Duration,
}

#[derive(Clone)]
struct Token {
    token: String,
    user: String,
    groups: Vec<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .field("groups", &self.groups)
            .finish()
    }
}

impl Default for EnvTestBuilder {
    fn default() -> Self {
        EnvTestBuilder {
            tokens: Vec::new(),
            controller_manager: false,
            apiserver_flags: Vec::new(),
            binaries: None,
            ready_timeout: Duration::from_secs(120),
        }
    }
}

impl EnvTestBuilder {
    /// Accepts bearer `token` for `user` in `groups` (a line of `--token-auth-file`).
    pub fn token(mut self, token: &str, user: &str, groups: &[&str]) -> Self {
        self.tokens.push(Token {
            token: token.to_owned(),
            user: user.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        });
        self
    }

    /// Also runs `kube-controller-manager` (Deployments become ReplicaSets, service-account
    /// tokens, namespace deletion, garbage collection, …).
    pub fn controller_manager(mut self) -> Self {
        self.controller_manager = true;
        self
    }

    /// One more `kube-apiserver` flag, e.g. `--etcd-compaction-interval=10s`; it comes after
    /// the defaults, so it overrides them.
    pub fn apiserver_flag(mut self, flag: impl Into<String>) -> Self {
        self.apiserver_flags.push(flag.into());
        self
    }

    /// The binaries to run (default: [`Binaries::locate`] of [`DEFAULT_KUBERNETES_VERSION`]).
    pub fn binaries(mut self, binaries: Binaries) -> Self {
        self.binaries = Some(binaries);
        self
    }

    /// How long each process may take to become ready (default 120 s: several control planes
    /// starting at once on a small machine).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Writes the PKI and token file, starts etcd and kube-apiserver (and the
    /// controller-manager) and waits until `/readyz` answers 200.
    pub async fn start(self) -> Result<EnvTest, Error> {
        let start = Instant::now();
        let binaries = match self.binaries {
            Some(b) => b,
            None => Binaries::locate(DEFAULT_KUBERNETES_VERSION)?,
        };
        for (index, t) in self.tokens.iter().enumerate() {
            let bad = |reason| Error::InvalidToken {
                index,
                user: t.user.clone(),
                reason,
            };
            if t.token.is_empty() {
                return Err(bad("it is empty"));
            }
            if t.token.contains([',', '"', '\n', '\r', ' ']) {
                return Err(bad("it contains a comma, quote, space or line break"));
            }
            if t.user.contains(['"', '\n', '\r'])
                || t.groups.iter().any(|g| g.contains(['"', ',', '\n', '\r']))
            {
                return Err(bad(
                    "its user or a group contains a quote, comma or line break",
                ));
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("k8s-envtest-")
            .tempdir()
            .map_err(io_err("cannot create a temporary directory"))?;
        let root = dir.path().to_owned();
        for sub in ["pki", "logs", "etcd-data"] {
            std::fs::create_dir_all(root.join(sub)).map_err(io_err(format!(
                "cannot create {}",
                root.join(sub).display()
            )))?;
        }
        let ca = pki::Ca::generate()?;
        let serving = ca.serving()?;
        let pki_dir = root.join("pki");
        write_atomic(&pki_dir.join("ca.crt"), ca.cert_pem.as_bytes())?;
        write_atomic(&pki_dir.join("ca.key"), ca.key_pem.as_bytes())?;
        write_atomic(&pki_dir.join("apiserver.crt"), serving.cert_pem.as_bytes())?;
        write_atomic(&pki_dir.join("apiserver.key"), serving.key_pem.as_bytes())?;
        let (sa_key, sa_pub) = pki::service_account_key()?;
        write_atomic(&pki_dir.join("sa.key"), sa_key.as_bytes())?;
        write_atomic(&pki_dir.join("sa.pub"), sa_pub.as_bytes())?;
        let mut tokens = String::new();
        for t in &self.tokens {
            // token,user,uid,"group1,group2"
            tokens.push_str(&format!(
                "{},{},{},\"{}\"\n",
                t.token,
                csv_field(&t.user),
                csv_field(&t.user),
                t.groups.join(",")
            ));
        }
        write_atomic(&root.join("tokens.csv"), tokens.as_bytes())?;

        let ports = free_ports::<3>()?;
        let url = format!("https://127.0.0.1:{}", ports[2]);
        let mut env = EnvTest {
            url,
            ports,
            binaries,
            ca,
            apiserver_flags: self.apiserver_flags,
            controller_manager: self.controller_manager,
            ready_timeout: self.ready_timeout,
            etcd: None,
            apiserver: None,
            kcm: None,
            admin_kubeconfig: PathBuf::new(),
            client: None,
            startup: Duration::ZERO,
            files: AtomicUsize::new(0),
            dir,
        };
        env.admin_kubeconfig = env.kubeconfig_for_cert("envtest-admin", &["system:masters"])?;
        env.client = Some(client_from(&env.admin_kubeconfig)?);
        if env.controller_manager {
            let pair = env.ca.client("system:kube-controller-manager", &[])?;
            env.kubeconfig_file("kube-controller-manager.kubeconfig", &cert_user(&pair))?;
        }
        env.start_processes().await?;
        env.startup = start.elapsed();
        Ok(env)
    }
}

/// A user name as a CSV field of the token file (quoted when it holds a comma).
fn csv_field(s: &str) -> String {
    if s.contains(',') {
        format!("\"{s}\"")
    } else {
        s.to_owned()
    }
}

/// `N` distinct free ports on 127.0.0.1 (all bound at once, then released for the processes).
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(io_err("cannot bind a free port on 127.0.0.1"))?;
        *port = l
            .local_addr()
            .map_err(io_err("cannot read a bound port"))?
            .port();
        listeners.push(l);
    }
    Ok(ports)
}

/// Writes `path` through a temporary file and a rename, so a process never reads half of it.
fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io_err(format!("cannot write {}", path.display())))
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

fn cert_user(pair: &pki::Pair) -> String {
    format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&pair.cert_pem),
        b64(&pair.key_pem)
    )
}

fn client_from(kubeconfig: &Path) -> Result<Client, Error> {
    let config = ConfigLoader::new()
        .env_map(Default::default())
        .kubeconfig_paths([kubeconfig.to_owned()])
        .kubeconfig()?;
    Ok(Client::new(config)?)
}

/// What a Pod sees in-cluster: the service-account directory plus the two environment values.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InCluster {
    /// Directory with `token`, `ca.crt` and `namespace`.
    pub dir: PathBuf,
    /// `KUBERNETES_SERVICE_HOST`
    pub host: String,
    /// `KUBERNETES_SERVICE_PORT`
    pub port: u16,
}

/// A running control plane; its processes are killed and its files removed when dropped.
pub struct EnvTest {
    url: String,
    /// etcd client, etcd peer, apiserver.
    ports: [u16; 3],
    binaries: Binaries,
    ca: pki::Ca,
    apiserver_flags: Vec<String>,
    controller_manager: bool,
    ready_timeout: Duration,
    // Processes before `dir`: fields drop in order, so they are killed before it is removed.
    kcm: Option<Proc>,
    apiserver: Option<Proc>,
    etcd: Option<Proc>,
    admin_kubeconfig: PathBuf,
    client: Option<Client>,
    startup: Duration,
    files: AtomicUsize,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for EnvTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvTest")
            .field("url", &self.url)
            .field("version", &self.binaries.version)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl EnvTest {
    /// Starts configuring a control plane.
    pub fn builder() -> EnvTestBuilder {
        EnvTestBuilder::default()
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The apiserver's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.ports[2]
    }

    /// The Kubernetes version running.
    pub fn version(&self) -> &str {
        &self.binaries.version
    }

    /// The CA certificate (PEM) of the serving and client certificates.
    pub fn ca_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    /// How long [`EnvTestBuilder::start`] took, until `/readyz` said 200.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The temporary directory (PKI, token file, etcd data, logs, kubeconfigs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The log file (stdout and stderr) of `etcd`, `kube-apiserver` or
    /// `kube-controller-manager`.
    pub fn log_file(&self, process: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{process}.log"))
    }

    /// A kubeconfig of the admin (client certificate, group `system:masters`).
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// A ready client as the admin.
    pub fn client(&self) -> Client {
        match &self.client {
            Some(c) => c.clone(),
            // Set in `start` before the EnvTest is returned.
            None => unreachable_client(),
        }
    }

    fn kubeconfig_file(&self, file: &str, user_entry: &str) -> Result<PathBuf, Error> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: envtest\n  context:\n    cluster: envtest\n    user: envtest-user\n    namespace: default\ncurrent-context: envtest\nusers:\n- name: envtest-user\n  user:\n{}preferences: {{}}\n",
            self.url,
            b64(&self.ca.cert_pem),
            user_entry
        );
        let path = self.dir.path().join(file);
        write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    fn next_file(&self) -> usize {
        self.files.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes a kubeconfig that authenticates with `token` (which need not be valid: a wrong
    /// token is how to test 401). Namespace `default`.
    pub fn kubeconfig_for(&self, token: &str) -> Result<PathBuf, Error> {
        let n = self.next_file();
        self.kubeconfig_file(
            &format!("kubeconfig-token-{n}.yaml"),
            &format!("    token: {token}\n"),
        )
    }

    /// Writes a kubeconfig without credentials (requests are `system:anonymous`).
    pub fn kubeconfig_anonymous(&self) -> Result<PathBuf, Error> {
        self.kubeconfig_file("kubeconfig-anonymous.yaml", "    {}\n")
    }

    /// A client certificate for `user` in `groups`, signed by the cluster's CA:
    /// `(certificate PEM, private key PEM)`.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<(String, String), Error> {
        let pair = self.ca.client(user, groups)?;
        Ok((pair.cert_pem, pair.key_pem))
    }

    /// Writes a kubeconfig with a client certificate for `user` in `groups`.
    pub fn kubeconfig_for_cert(&self, user: &str, groups: &[&str]) -> Result<PathBuf, Error> {
        let pair = self.ca.client(user, groups)?;
        let n = self.next_file();
        self.kubeconfig_file(
            &format!("kubeconfig-cert-{}-{n}.yaml", sanitize(user)),
            &cert_user(&pair),
        )
    }

    /// Writes a service-account directory (`token`, `ca.crt`, `namespace`) as a Pod in
    /// `namespace` would see it, authenticating with `token`.
    pub fn in_cluster_dir(&self, namespace: &str, token: &str) -> Result<InCluster, Error> {
        let dir = self
            .dir
            .path()
            .join(format!("serviceaccount-{}", self.next_file()));
        std::fs::create_dir_all(&dir)
            .map_err(io_err(format!("cannot create {}", dir.display())))?;
        write_atomic(&dir.join("token"), token.as_bytes())?;
        write_atomic(&dir.join("ca.crt"), self.ca.cert_pem.as_bytes())?;
        write_atomic(&dir.join("namespace"), namespace.as_bytes())?;
        Ok(InCluster {
            dir,
            host: "127.0.0.1".into(),
            port: self.port(),
        })
    }

    fn etcd_args(&self) -> Vec<String> {
        vec![
            format!("--data-dir={}", self.dir.path().join("etcd-data").display()),
            format!("--listen-client-urls=http://127.0.0.1:{}", self.ports[0]),
            format!("--listen-peer-urls=http://127.0.0.1:{}", self.ports[1]),
        ]
    }

    fn apiserver_args(&self) -> Vec<String> {
        let d = self.dir.path();
        let pki = d.join("pki");
        let p = |f: &str| pki.join(f).display().to_string();
        let mut args = vec![
            format!("--etcd-servers=http://127.0.0.1:{}", self.ports[0]),
            "--bind-address=127.0.0.1".to_owned(),
            "--advertise-address=127.0.0.1".to_owned(),
            format!("--secure-port={}", self.port()),
            format!("--cert-dir={}", pki.display()),
            format!("--tls-cert-file={}", p("apiserver.crt")),
            format!("--tls-private-key-file={}", p("apiserver.key")),
            format!("--client-ca-file={}", p("ca.crt")),
            format!("--token-auth-file={}", d.join("tokens.csv").display()),
            "--authorization-mode=RBAC".to_owned(),
            "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
            format!("--service-account-key-file={}", p("sa.pub")),
            format!("--service-account-signing-key-file={}", p("sa.key")),
            "--allow-privileged=true".to_owned(),
            "--profiling=false".to_owned(),
        ];
        args.extend(self.apiserver_flags.iter().cloned());
        args
    }

    fn kcm_args(&self) -> Vec<String> {
        let d = self.dir.path();
        let p = |f: &str| d.join("pki").join(f).display().to_string();
        vec![
            format!(
                "--kubeconfig={}",
                d.join("kube-controller-manager.kubeconfig").display()
            ),
            "--leader-elect=false".to_owned(),
            "--secure-port=0".to_owned(),
            "--use-service-account-credentials=true".to_owned(),
            format!("--service-account-private-key-file={}", p("sa.key")),
            format!("--root-ca-file={}", p("ca.crt")),
            format!("--cluster-signing-cert-file={}", p("ca.crt")),
            format!("--cluster-signing-key-file={}", p("ca.key")),
            "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
        ]
    }

    async fn start_processes(&mut self) -> Result<(), Error> {
        let etcd = Proc::spawn(
            "etcd",
            &self.binaries.path("etcd"),
            &self.etcd_args(),
            self.log_file("etcd"),
        )?;
        let etcd = self.etcd.insert(etcd);
        wait_for_log_line(etcd, "etcd: ready", self.ready_timeout).await?;
        let apiserver = Proc::spawn(
            "kube-apiserver",
            &self.binaries.path("kube-apiserver"),
            &self.apiserver_args(),
            self.log_file("kube-apiserver"),
        )?;
        self.apiserver = Some(apiserver);
        self.wait_ready().await?;
        if self.controller_manager {
            let kcm = Proc::spawn(
                "kube-controller-manager",
                &self.binaries.path("kube-controller-manager"),
                &self.kcm_args(),
                self.log_file("kube-controller-manager"),
            )?;
            self.kcm = Some(kcm);
            self.wait_controller_manager().await?;
        }
        Ok(())
    }

    /// Polls `/readyz` as the admin (no retries, short timeouts) until it answers 200.
    async fn wait_ready(&mut self) -> Result<(), Error> {
        let mut config = ConfigLoader::new()
            .env_map(Default::default())
            .kubeconfig_paths([self.admin_kubeconfig.clone()])
            .kubeconfig()?;
        config.retry = k8s_client::RetryPolicy::none();
        config.connect_timeout = Some(Duration::from_secs(1));
        config.request_timeout = Some(Duration::from_secs(5));
        let probe = Client::new(config)?;
        self.poll("kube-apiserver", &probe, "/readyz").await
    }

    /// Waits until the controller-manager has created the `default` ServiceAccount of the
    /// `default` namespace (its service-account controller is running).
    async fn wait_controller_manager(&mut self) -> Result<(), Error> {
        let client = self.client();
        let path = "/api/v1/namespaces/default/serviceaccounts/default";
        self.poll("kube-controller-manager", &client, path).await
    }

    /// GETs `path` every 100 ms until it answers 2xx, failing when a process exits or after
    /// the ready timeout (the error quotes `process`'s log).
    async fn poll(
        &mut self,
        process: &'static str,
        client: &Client,
        path: &str,
    ) -> Result<(), Error> {
        let request = k8s_core::Request::new(http::Method::GET, path);
        let started = Instant::now();
        loop {
            for p in [
                self.etcd.as_mut(),
                self.apiserver.as_mut(),
                self.kcm.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                p.check_running()?;
            }
            let last = match client.send_raw(&request).await {
                Ok(_) => return Ok(()),
                Err(e) => e.to_string(),
            };
            if started.elapsed() >= self.ready_timeout {
                let log = self.log_file(process);
                return Err(Error::NotReady {
                    process,
                    waited: started.elapsed(),
                    last,
                    tail: tail(&log),
                    log,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop_processes(&mut self, grace: Duration) {
        for mut p in [self.kcm.take(), self.apiserver.take(), self.etcd.take()]
            .into_iter()
            .flatten()
        {
            p.stop(grace);
        }
    }

    /// Stops every process (SIGTERM, then SIGKILL after 10 s) and starts them again on the
    /// same ports with the same flags and certificates, keeping etcd's data: objects and
    /// their resource versions survive. Returns how long it took until ready.
    pub async fn restart(&mut self) -> Result<Duration, Error> {
        let start = Instant::now();
        self.stop_processes(Duration::from_secs(10));
        self.start_processes().await?;
        Ok(start.elapsed())
    }

    /// [`restart`](Self::restart) with more `kube-apiserver` flags (kept for later restarts).
    pub async fn restart_with_apiserver_flags(
        &mut self,
        flags: &[&str],
    ) -> Result<Duration, Error> {
        self.apiserver_flags
            .extend(flags.iter().map(|f| (*f).to_owned()));
        self.restart().await
    }

    /// Stops `kube-controller-manager` (SIGTERM, then SIGKILL after 10 s), leaving etcd and
    /// the apiserver running: the answers while no controller observes a change (e.g. an
    /// eviction against a budget's unobserved generation). Nothing happens when not running.
    pub fn stop_controller_manager(&mut self) {
        if let Some(mut kcm) = self.kcm.take() {
            kcm.stop(Duration::from_secs(10));
        }
    }

    /// Starts `kube-controller-manager` after [`stop_controller_manager`](Self::stop_controller_manager)
    /// (or for the first time) and waits, as [`EnvTestBuilder::start`] does, for `default`'s
    /// `default` ServiceAccount, which after a stop exists already: to know the controllers
    /// run, wait for an effect of theirs (a new namespace's `default` account). No-op if running.
    pub async fn start_controller_manager(&mut self) -> Result<(), Error> {
        if self.kcm.is_some() {
            return Ok(());
        }
        if !self.controller_manager {
            let pair = self.ca.client("system:kube-controller-manager", &[])?;
            self.kubeconfig_file("kube-controller-manager.kubeconfig", &cert_user(&pair))?;
            self.controller_manager = true;
        }
        let kcm = Proc::spawn(
            "kube-controller-manager",
            &self.binaries.path("kube-controller-manager"),
            &self.kcm_args(),
            self.log_file("kube-controller-manager"),
        )?;
        self.kcm = Some(kcm);
        self.wait_controller_manager().await
    }

    /// Stops the processes (SIGTERM, then SIGKILL after 10 s) and removes the files. Dropping
    /// does the same at once with SIGKILL.
    pub fn stop(mut self) {
        self.stop_processes(Duration::from_secs(10));
    }
}

/// `EnvTest::client` after `start` always has a client; this is never called.
#[cold]
fn unreachable_client() -> Client {
    #[allow(clippy::panic)]
    {
        panic!("k8s-envtest: the EnvTest has no client (start did not finish)")
    }
}

async fn wait_for_log_line(p: &mut Proc, needle: &str, timeout: Duration) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        p.check_running()?;
        let text = std::fs::read(&p.log).unwrap_or_default();
        if String::from_utf8_lossy(&text).contains(needle) {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(Error::NotReady {
                process: p.name,
                waited: started.elapsed(),
                last: format!("no {needle:?} line in its log"),
                tail: tail(&p.log),
                log: p.log.clone(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a test needs from a server, implemented by [`EnvTest`] (the real control plane) and by
/// `k8s_testserver::TestServer`, so one test body can run against either.
pub trait ControlPlane {
    /// A short name for messages: `kube-apiserver 1.36.3` or `k8s-testserver`.
    fn name(&self) -> String;
    /// `https://127.0.0.1:PORT`.
    fn url(&self) -> &str;
    /// The CA certificate (PEM) of the serving and client certificates.
    fn ca_pem(&self) -> &str;
    /// A kubeconfig that authenticates with `token`.
    fn kubeconfig_for(&self, token: &str) -> Result<PathBuf, Error>;
    /// A kubeconfig with a client certificate for `user` in `groups`.
    fn kubeconfig_for_cert(&self, user: &str, groups: &[&str]) -> Result<PathBuf, Error>;
    /// A client from [`kubeconfig_for`](Self::kubeconfig_for).
    fn client_for(&self, token: &str) -> Result<Client, Error> {
        client_from(&self.kubeconfig_for(token)?)
    }
    /// A client from [`kubeconfig_for_cert`](Self::kubeconfig_for_cert).
    fn client_for_cert(&self, user: &str, groups: &[&str]) -> Result<Client, Error> {
        client_from(&self.kubeconfig_for_cert(user, groups)?)
    }
}

impl ControlPlane for EnvTest {
    fn name(&self) -> String {
        format!("kube-apiserver {}", self.binaries.version)
    }
    fn url(&self) -> &str {
        EnvTest::url(self)
    }
    fn ca_pem(&self) -> &str {
        EnvTest::ca_pem(self)
    }
    fn kubeconfig_for(&self, token: &str) -> Result<PathBuf, Error> {
        EnvTest::kubeconfig_for(self, token)
    }
    fn kubeconfig_for_cert(&self, user: &str, groups: &[&str]) -> Result<PathBuf, Error> {
        EnvTest::kubeconfig_for_cert(self, user, groups)
    }
}

#[cfg(feature = "testserver")]
impl ControlPlane for k8s_testserver::TestServer {
    fn name(&self) -> String {
        "k8s-testserver".to_owned()
    }
    fn url(&self) -> &str {
        k8s_testserver::TestServer::url(self)
    }
    fn ca_pem(&self) -> &str {
        k8s_testserver::TestServer::ca_pem(self)
    }
    fn kubeconfig_for(&self, token: &str) -> Result<PathBuf, Error> {
        Ok(k8s_testserver::TestServer::kubeconfig_for(self, token))
    }
    fn kubeconfig_for_cert(&self, user: &str, groups: &[&str]) -> Result<PathBuf, Error> {
        Ok(k8s_testserver::TestServer::kubeconfig_for_cert(
            self, user, groups,
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn default_version_is_the_committed_modules() {
        let go_mod = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envtest/go.mod"),
        )
        .unwrap();
        assert!(
            go_mod.contains(&format!(
                "\tk8s.io/kubernetes v{DEFAULT_KUBERNETES_VERSION}"
            )),
            "envtest/go.mod does not require k8s.io/kubernetes v{DEFAULT_KUBERNETES_VERSION}"
        );
    }

    #[test]
    fn missing_binaries_are_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("etcd"), b"").unwrap();
        let e = Binaries::in_dir("1.36.3", dir.path().to_owned()).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains("missing: kube-apiserver, kube-controller-manager")
                && shown.contains("cargo xtask envtest install"),
            "{shown}"
        );
    }

    #[test]
    fn install_dir_prefers_the_override() {
        let env = |k: &str| match k {
            "K8S_ENVTEST_DIR" => Some("/e".to_owned()),
            "HOME" => Some("/h".to_owned()),
            _ => None,
        };
        assert_eq!(install_dir("1.36.3", env), Some(PathBuf::from("/e/1.36.3")));
    }

    #[tokio::test]
    async fn tokens_that_break_the_file_are_refused_without_showing_them() {
        let dir = tempfile::tempdir().unwrap();
        let b = Binaries {
            version: "1.36.3".into(),
            dir: dir.path().to_owned(),
        };
        let e = EnvTest::builder()
            .binaries(b)
            .token("sec,ret", "bob", &[])
            .start()
            .await
            .unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("token 0 for user \"bob\""), "{shown}");
        assert!(!shown.contains("sec,ret"), "{shown}");
    }
}
