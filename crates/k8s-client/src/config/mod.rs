//! Where the client connects and how it authenticates: [`Config`], loaded from a kubeconfig,
//! from the in-cluster service account, or built by hand.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::ConfigError;
use crate::secret::{SecretBytes, SecretString};

mod incluster;
mod kubeconfig;
pub(crate) mod proxy;

pub use incluster::DEFAULT_SERVICE_ACCOUNT_DIR;
pub use kubeconfig::{Kubeconfig, KubeconfigOptions};

/// Everything needed to talk to one API server.
///
/// Load it with [`Config::infer`], [`Config::from_kubeconfig`], [`Config::in_cluster`] or a
/// [`ConfigLoader`], or build one by hand with [`Config::new`]:
///
/// ```
/// use k8s_client::{Auth, Config, SecretString};
/// let mut config = Config::new("https://10.0.0.1:6443".parse().unwrap());
/// config.auth = Auth::Bearer(SecretString::new("my-token"));
/// config.default_namespace = "apps".into();
/// assert!(!format!("{config:?}").contains("my-token"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// The API server's base URL (`https://host:port`, or `http://127.0.0.1:8001` for
    /// `kubectl proxy`). A path prefix is kept. User-info (`https://user:password@host`) is
    /// sent as basic auth in place of [`Config::auth`], as kubectl does; the kubeconfig loader
    /// moves it there, and `Debug` hides the password.
    pub cluster_url: http::Uri,
    /// The namespace of the context (or of the Pod), `default` if none.
    pub default_namespace: String,
    /// CA bundle that signs the server's certificate; the system's roots if `None`.
    pub root_ca: Option<CaSource>,
    /// Client certificate and key for mutual TLS.
    pub client_identity: Option<ClientIdentity>,
    /// Skips verification of the server's certificate (`insecure-skip-tls-verify`). Each
    /// client built with it logs a warning. Together with [`Config::root_ca`] it is refused,
    /// as client-go refuses it.
    pub accept_invalid_certs: bool,
    /// The name the server's certificate is checked against instead of the URL's host
    /// (`tls-server-name`).
    pub tls_server_name: Option<String>,
    /// How requests are authenticated.
    pub auth: Auth,
    /// An HTTP(S) proxy to tunnel through (`proxy-url`, or `HTTPS_PROXY` unless `NO_PROXY`
    /// excludes the server).
    pub proxy_url: Option<String>,
    /// Timeout to establish a connection (default 10 s).
    pub connect_timeout: Option<Duration>,
    /// Timeout of a whole request and its response body (default 60 s); watch streams are not
    /// subject to it (they end after their `timeoutSeconds`).
    pub request_timeout: Option<Duration>,
    /// Retries of requests refused with 429, 503 or 504.
    pub retry: RetryPolicy,
    /// `timeoutSeconds` the client asks for on a watch when the request sets none (default
    /// 290): an idle watch ends after it and is resumed.
    pub watch_timeout_seconds: i64,
    /// How often token files (and a CA file) are re-read (default 60 s). A 401 answer makes the
    /// client re-read at once.
    pub credential_refresh_interval: Duration,
    /// Where this configuration came from (for messages), e.g. `kubeconfig /home/u/.kube/config
    /// context dev` or `in-cluster`.
    pub origin: String,
    /// Whether requests for built-in kinds go in protobuf (`application/vnd.kubernetes.protobuf`)
    /// when the kind has a codec, i.e. with `k8s-api`'s feature `protobuf`. Such a request
    /// accepts `application/vnd.kubernetes.protobuf, application/json` and is decoded by the
    /// answer's `Content-Type` (a server that cannot answer in protobuf answers JSON); create
    /// and replace send their body in protobuf; watches (also the resuming
    /// [`Client::watch`](crate::Client::watch) and its relists) stream protobuf frames. Custom
    /// resources, dynamic objects, patches, deletes and metadata-only requests are always JSON.
    ///
    /// Default: `false`, decided by measurement and by what breaks (BENCHMARKS.md, *3. Client*):
    ///
    /// * **Speed** favours protobuf on reads: against a real kube-apiserver 1.36, in one run,
    ///   listing 1,000 Pods took 202 ms in protobuf vs 400 ms in JSON (kube 5: 516 ms), 10,000
    ///   watch events 2.26 s vs 4.92 s (kube 5: 4.80 s); a GET of one Pod gains nothing
    ///   measurable.
    /// * **What breaks if on**: the `Accept` fallback covers answers only. A create or replace
    ///   sends its body in protobuf, and a server that does not read protobuf bodies refuses
    ///   it (415) with no retry in JSON: servers that imitate the API (this workspace's
    ///   `k8s-testserver` without its `protobuf` feature, edge or virtual API servers), and an
    ///   aggregated API server serving a built-in group. Every supported kube-apiserver
    ///   (protobuf since 1.3) reads and writes it for built-in kinds; custom resources stay
    ///   JSON either way. Wire captures are no longer readable text.
    /// * **Go**: since 1.32, client-go's generated typed clients prefer protobuf for built-in
    ///   kinds when `ContentType` is unset (its dynamic client stays JSON); controller-runtime
    ///   has done so since 0.7, kubectl and the control plane for longer.
    ///
    /// The codecs exist only with `k8s-api`'s cargo feature `protobuf`, so a program that
    /// compiles them has opted in once; this switch is the second, deliberate step, because a
    /// refused body is a hard error on a write path while the gain is on reads. Set it to
    /// `true` when the server is a kube-apiserver (or talks protobuf), which is the common case.
    pub protobuf: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("cluster_url", &redact_url(&self.cluster_url.to_string()))
            .field("default_namespace", &self.default_namespace)
            .field("root_ca", &self.root_ca)
            .field("client_identity", &self.client_identity)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("tls_server_name", &self.tls_server_name)
            .field("auth", &self.auth)
            .field("proxy_url", &self.proxy_url.as_deref().map(redact_url))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("watch_timeout_seconds", &self.watch_timeout_seconds)
            .field(
                "credential_refresh_interval",
                &self.credential_refresh_interval,
            )
            .field("origin", &self.origin)
            .field("protobuf", &self.protobuf)
            .finish()
    }
}

/// client-go's words for `insecure-skip-tls-verify` together with a CA.
pub(crate) const INSECURE_WITH_CA: &str =
    "specifying a root certificates file with the insecure flag is not allowed";

/// Hides the credentials of a `scheme://user:password@host` URL: the password, or the user
/// name when it comes alone (`https://TOKEN@host` is a common way to pass a token). The
/// user-info ends at the authority's last `@`, as in Go's `url.Parse`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}{tail}"),
            None => format!("{scheme}://<redacted>@{host}{tail}"),
        },
        None => url.to_owned(),
    }
}

/// A server URL that could not be parsed, for a message: everything up to its last `@` is
/// hidden, since where the user-info ends is unknown.
pub(crate) fn redact_unparsed_url(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((before, host)) => {
            let scheme = before.split_once("://").map(|(s, _)| s).unwrap_or("");
            format!("{scheme}://<redacted>@{host}")
        }
        None => url.to_owned(),
    }
}

/// Splits the user-info off a server URL: the URL without it, and the percent-decoded user
/// name and password, which kubectl sends as basic auth. `Err` says what is wrong (without the
/// secret).
pub(crate) fn split_userinfo(
    url: &http::Uri,
) -> Result<(http::Uri, Option<(String, SecretString)>), String> {
    let Some(authority) = url.authority() else {
        return Ok((url.clone(), None));
    };
    let Some((userinfo, host)) = authority.as_str().rsplit_once('@') else {
        return Ok((url.clone(), None));
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |s: &str, what: &str| {
        percent_decode(s).ok_or_else(|| {
            format!("the {what} in the URL's user-info is not valid percent-encoded UTF-8")
        })
    };
    let user = decode(user, "user name")?;
    let password = SecretString::new(decode(password, "password")?);
    let mut parts = url.clone().into_parts();
    parts.authority = Some(
        host.parse()
            .map_err(|e| format!("the host after the user-info is invalid: {e}"))?,
    );
    let stripped = http::Uri::from_parts(parts)
        .map_err(|e| format!("the URL without its user-info is invalid: {e}"))?;
    Ok((stripped, Some((user, password))))
}

/// `%XX` escapes decoded; `None` for a malformed escape (Go's `url.Parse` refuses it, where
/// `percent_decode_str` would keep it as it is) or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

impl Config {
    /// A configuration for this URL with no credentials, the `default` namespace and default
    /// timeouts and retries.
    pub fn new(cluster_url: http::Uri) -> Self {
        Config {
            cluster_url,
            default_namespace: "default".into(),
            root_ca: None,
            client_identity: None,
            accept_invalid_certs: false,
            tls_server_name: None,
            auth: Auth::None,
            proxy_url: None,
            connect_timeout: Some(Duration::from_secs(10)),
            request_timeout: Some(Duration::from_secs(60)),
            retry: RetryPolicy::default(),
            watch_timeout_seconds: 290,
            credential_refresh_interval: Duration::from_secs(60),
            origin: "a Config built in code".into(),
            protobuf: false,
        }
    }

    /// The kubeconfig if there is one (`KUBECONFIG` or `~/.kube/config`), else the in-cluster
    /// service account. When both fail, the error names both causes.
    ///
    /// ```no_run
    /// let config = k8s_client::Config::infer()?;
    /// println!("talking to {} in namespace {}", config.cluster_url, config.default_namespace);
    /// # Ok::<(), k8s_client::ConfigError>(())
    /// ```
    pub fn infer() -> Result<Self, ConfigError> {
        ConfigLoader::new().infer()
    }

    /// The kubeconfig (`KUBECONFIG` or `~/.kube/config`), with optional overrides.
    ///
    /// ```no_run
    /// use k8s_client::{Config, KubeconfigOptions};
    /// let config = Config::from_kubeconfig(&KubeconfigOptions::default().context("staging"))?;
    /// # Ok::<(), k8s_client::ConfigError>(())
    /// ```
    pub fn from_kubeconfig(options: &KubeconfigOptions) -> Result<Self, ConfigError> {
        ConfigLoader::new().options(options.clone()).kubeconfig()
    }

    /// The in-cluster configuration of a Pod: `KUBERNETES_SERVICE_HOST`/`PORT` and the service
    /// account in `/var/run/secrets/kubernetes.io/serviceaccount`.
    ///
    /// ```no_run
    /// let config = k8s_client::Config::in_cluster()?;
    /// # Ok::<(), k8s_client::ConfigError>(())
    /// ```
    pub fn in_cluster() -> Result<Self, ConfigError> {
        ConfigLoader::new().in_cluster()
    }
}

/// Where a CA bundle comes from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaSource {
    /// PEM bytes (`certificate-authority-data`).
    Pem(Vec<u8>),
    /// A PEM file (`certificate-authority`, the service account's `ca.crt`); re-read every
    /// [`Config::credential_refresh_interval`].
    File(PathBuf),
}

impl fmt::Debug for CaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaSource::Pem(b) => write!(f, "Pem(<{} bytes>)", b.len()),
            CaSource::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

impl CaSource {
    /// The PEM bytes (reading the file if it is one).
    pub fn load(&self) -> Result<Vec<u8>, ConfigError> {
        match self {
            CaSource::Pem(b) => Ok(b.clone()),
            CaSource::File(p) => read_file("certificate-authority", p),
        }
    }
}

/// A client certificate chain and its private key, PEM-encoded (RSA, EC or PKCS#8 keys).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientIdentity {
    /// The certificate chain.
    pub cert_pem: Vec<u8>,
    /// The private key.
    pub key_pem: SecretBytes,
}

impl ClientIdentity {
    /// A certificate chain and key.
    pub fn new(cert_pem: Vec<u8>, key_pem: SecretBytes) -> Self {
        ClientIdentity { cert_pem, key_pem }
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_pem", &format_args!("<{} bytes>", self.cert_pem.len()))
            .field("key_pem", &self.key_pem)
            .finish()
    }
}

/// How requests are authenticated (besides a client certificate).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials (anonymous, or `kubectl proxy`).
    #[default]
    None,
    /// A fixed bearer token (`token`).
    Bearer(SecretString),
    /// A bearer token read from a file and re-read as it rotates (`tokenFile`, the service
    /// account token).
    TokenFile(PathBuf),
    /// HTTP basic auth (`username`/`password`).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: SecretString,
    },
    /// An exec credential plugin.
    Exec(Box<ExecConfig>),
}

/// An exec credential plugin (`users[].user.exec`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecConfig {
    /// `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`.
    pub api_version: String,
    /// The command (resolved against the kubeconfig's directory when it is a relative path with
    /// a separator).
    pub command: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Extra environment variables; their values are treated as secrets.
    pub env: Vec<(String, SecretString)>,
    /// `provideClusterInfo`: pass the cluster in `KUBERNETES_EXEC_INFO`.
    pub provide_cluster_info: bool,
    /// `interactiveMode` (`Never`, `IfAvailable`, `Always`). The client never has a terminal, so
    /// a plugin that needs one (`Always`) fails.
    pub interactive_mode: Option<String>,
    /// Shown when the command cannot be found.
    pub install_hint: Option<String>,
    /// The cluster the plugin is asked about (filled in by the loader).
    pub cluster: Option<ExecCluster>,
}

/// The cluster passed to an exec plugin in `KUBERNETES_EXEC_INFO` when `provideClusterInfo` is
/// set.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExecCluster {
    /// `server`
    pub server: String,
    /// `tls-server-name`
    pub tls_server_name: Option<String>,
    /// `insecure-skip-tls-verify`
    pub insecure_skip_tls_verify: bool,
    /// `certificate-authority-data`, PEM.
    pub certificate_authority_data: Option<Vec<u8>>,
    /// `proxy-url`
    pub proxy_url: Option<String>,
    /// `extensions[client.authentication.k8s.io/exec].extension`, as JSON.
    pub config: Option<serde_json::Value>,
}

impl fmt::Debug for ExecCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecCluster")
            .field("server", &redact_url(&self.server))
            .field("tls_server_name", &self.tls_server_name)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field(
                "certificate_authority_data",
                &self
                    .certificate_authority_data
                    .as_ref()
                    .map(|d| format!("<{} bytes>", d.len())),
            )
            .field("proxy_url", &self.proxy_url.as_deref().map(redact_url))
            .field("config", &self.config)
            .finish()
    }
}

/// Retries of requests the server refused (429, 503, 504) or that never reached it.
///
/// Only requests that are safe to repeat are retried: `GET`/`HEAD`, and any request the server
/// refused before acting (429, connection refused). The wait doubles from `base_delay` up to
/// `max_delay`, with full jitter, or is the server's `Retry-After`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 5; 0 disables retries).
    pub max_retries: u32,
    /// Total time a request may spend waiting between attempts (default 30 s).
    pub max_elapsed: Duration,
    /// First backoff (default 200 ms).
    pub base_delay: Duration,
    /// Longest backoff (default 5 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            max_elapsed: Duration::from_secs(30),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }
}

type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Loads a [`Config`] with every input explicit: environment, home directory, kubeconfig files,
/// overrides and the service-account directory. [`Config::infer`] is
/// `ConfigLoader::new().infer()`.
///
/// ```
/// use std::collections::HashMap;
/// use k8s_client::ConfigLoader;
/// let dir = std::env::temp_dir().join("k8s-client-doc-sa");
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("token"), "tok\n").unwrap();
/// std::fs::write(dir.join("namespace"), "shop").unwrap();
/// let env: HashMap<&str, &str> = [("KUBERNETES_SERVICE_HOST", "fd00::1"), ("KUBERNETES_SERVICE_PORT", "443")].into();
/// let config = ConfigLoader::new()
///     .env(move |k| env.get(k).map(|v| v.to_string()))
///     .service_account_dir(&dir)
///     .in_cluster()
///     .unwrap();
/// assert_eq!(config.cluster_url.to_string(), "https://[fd00::1]:443/");
/// assert_eq!(config.default_namespace, "shop");
/// ```
#[derive(Clone)]
pub struct ConfigLoader {
    env: EnvFn,
    home: Option<PathBuf>,
    paths: Option<Vec<PathBuf>>,
    options: KubeconfigOptions,
    sa_dir: PathBuf,
}

impl fmt::Debug for ConfigLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigLoader")
            .field("home", &self.home)
            .field("paths", &self.paths)
            .field("options", &self.options)
            .field("sa_dir", &self.sa_dir)
            .finish_non_exhaustive()
    }
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigLoader {
    /// A loader reading the process environment, `$HOME` and the standard service-account
    /// directory.
    pub fn new() -> Self {
        ConfigLoader {
            env: Arc::new(|k| std::env::var(k).ok()),
            home: None,
            paths: None,
            options: KubeconfigOptions::default(),
            sa_dir: PathBuf::from(DEFAULT_SERVICE_ACCOUNT_DIR),
        }
    }

    /// Reads environment variables through `f` instead of the process environment.
    pub fn env(mut self, f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Arc::new(f);
        self
    }

    /// Uses these environment variables only.
    pub fn env_map(self, vars: BTreeMap<String, String>) -> Self {
        self.env(move |k| vars.get(k).cloned())
    }

    /// The home directory (for `~/.kube/config`), instead of `$HOME`.
    pub fn home_dir(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// Reads these kubeconfig files (merged in order) instead of `KUBECONFIG`/`~/.kube/config`.
    pub fn kubeconfig_paths<P: Into<PathBuf>>(
        mut self,
        paths: impl IntoIterator<Item = P>,
    ) -> Self {
        self.paths = Some(paths.into_iter().map(Into::into).collect());
        self
    }

    /// Context, cluster, user and namespace overrides.
    pub fn options(mut self, options: KubeconfigOptions) -> Self {
        self.options = options;
        self
    }

    /// The service-account directory (default
    /// `/var/run/secrets/kubernetes.io/serviceaccount`).
    pub fn service_account_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.sa_dir = dir.as_ref().to_path_buf();
        self
    }

    pub(crate) fn var(&self, key: &str) -> Option<String> {
        (self.env)(key).filter(|v| !v.is_empty())
    }

    /// The kubeconfig files this loader reads: the explicit paths, else `KUBECONFIG` split on
    /// `:` (duplicates and empty entries dropped), else `~/.kube/config`.
    pub fn kubeconfig_files(&self) -> Result<Vec<PathBuf>, ConfigError> {
        if let Some(p) = &self.paths {
            return Ok(p.clone());
        }
        if let Some(list) = self.var("KUBECONFIG") {
            let mut out: Vec<PathBuf> = Vec::new();
            for p in std::env::split_paths(&list) {
                if !p.as_os_str().is_empty() && !out.contains(&p) {
                    out.push(p);
                }
            }
            return Ok(out);
        }
        let home = self
            .home
            .clone()
            .or_else(|| self.var("HOME").map(PathBuf::from))
            .ok_or_else(|| {
                ConfigError::NoKubeconfig("KUBECONFIG is not set and there is no $HOME".into())
            })?;
        Ok(vec![home.join(".kube").join("config")])
    }

    /// Loads and resolves the kubeconfig.
    pub fn kubeconfig(&self) -> Result<Config, ConfigError> {
        let files = self.kubeconfig_files()?;
        let kc = Kubeconfig::load_merged(&files)?;
        let mut config = kc.resolve(&self.options)?;
        if config.proxy_url.is_none() {
            config.proxy_url = proxy::from_env(&config.cluster_url, &|k| self.var(k));
        }
        Ok(config)
    }

    /// Loads the in-cluster configuration.
    pub fn in_cluster(&self) -> Result<Config, ConfigError> {
        let mut config = incluster::load(self)?;
        config.proxy_url = proxy::from_env(&config.cluster_url, &|k| self.var(k));
        Ok(config)
    }

    /// The kubeconfig, else in-cluster; when both fail the error names both causes.
    pub fn infer(&self) -> Result<Config, ConfigError> {
        match self.kubeconfig() {
            Ok(c) => Ok(c),
            Err(kubeconfig) => match self.in_cluster() {
                Ok(c) => {
                    tracing::debug!(kubeconfig = %kubeconfig, "no kubeconfig; using the in-cluster configuration");
                    Ok(c)
                }
                Err(in_cluster) => Err(ConfigError::Infer {
                    kubeconfig: Box::new(kubeconfig),
                    in_cluster: Box::new(in_cluster),
                }),
            },
        }
    }
}

pub(crate) fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_every_secret() {
        let mut c = Config::new(http::Uri::from_static("https://k:6443"));
        c.auth = Auth::Basic {
            username: "alice".into(),
            password: SecretString::new("hunter2-password"),
        };
        c.client_identity = Some(ClientIdentity::new(
            b"-----BEGIN CERTIFICATE-----".to_vec(),
            SecretBytes::new(b"-----BEGIN PRIVATE KEY-----SECRETKEY".to_vec()),
        ));
        c.proxy_url = Some("http://proxyuser:proxy-pass@proxy:3128".into());
        let d = format!("{c:?}");
        for secret in ["hunter2-password", "SECRETKEY", "proxy-pass"] {
            assert!(!d.contains(secret), "{secret} leaked in {d}");
        }
        assert!(d.contains("alice"), "{d}");
        c.auth = Auth::Exec(Box::new(ExecConfig {
            api_version: "client.authentication.k8s.io/v1".into(),
            command: "plugin".into(),
            args: vec![],
            env: vec![("API_KEY".into(), SecretString::new("exec-env-secret"))],
            provide_cluster_info: false,
            interactive_mode: None,
            install_hint: None,
            cluster: None,
        }));
        let d = format!("{c:?}");
        assert!(!d.contains("exec-env-secret"), "{d}");
        assert!(d.contains("API_KEY"), "{d}");
        c.auth = Auth::Bearer(SecretString::new("bearer-secret"));
        assert!(!format!("{c:?}").contains("bearer-secret"));
    }

    #[test]
    fn redact_url_hides_password() {
        assert_eq!(redact_url("http://u:p@h:1"), "http://u:<redacted>@h:1");
        assert_eq!(redact_url("http://h:1/a@b"), "http://h:1/a@b");
        // The user-info ends at the authority's last `@`, as in Go's url.Parse.
        assert_eq!(
            redact_url("https://u:p@ss@h:6443/x?y=@"),
            "https://u:<redacted>@h:6443/x?y=@"
        );
        // A user name alone may be a token.
        assert_eq!(redact_url("https://TOKEN@h"), "https://<redacted>@h");
        assert_eq!(
            redact_unparsed_url("https://u:p ss@h:6443/a b"),
            "https://<redacted>@h:6443/a b"
        );
    }

    #[test]
    fn debug_hides_the_password_of_the_server_url() {
        let mut c = Config::new(http::Uri::from_static("https://alice:s3cret-PW@k:6443"));
        c.auth = Auth::Exec(Box::new(ExecConfig {
            api_version: "client.authentication.k8s.io/v1".into(),
            command: "plugin".into(),
            args: vec![],
            env: vec![],
            provide_cluster_info: true,
            interactive_mode: None,
            install_hint: None,
            cluster: Some(ExecCluster {
                server: "https://alice:s3cret-PW@k:6443".into(),
                proxy_url: Some("http://p:proxy-PW@proxy:3128".into()),
                ..ExecCluster::default()
            }),
        }));
        let d = format!("{c:?}");
        assert!(!d.contains("s3cret-PW") && !d.contains("proxy-PW"), "{d}");
        assert!(d.contains("alice:<redacted>@k:6443"), "{d}");
    }

    #[test]
    fn userinfo_is_split_off_and_percent_decoded() {
        let split = |s: &'static str| {
            split_userinfo(&http::Uri::from_static(s)).map(|(u, c)| {
                (
                    u.to_string(),
                    c.map(|(n, p)| (n, p.expose_secret().to_owned())),
                )
            })
        };
        assert_eq!(
            split("https://al%40ice:p%3Aw%20x@h:6443/prefix"),
            Ok((
                "https://h:6443/prefix".into(),
                Some(("al@ice".into(), "p:w x".into()))
            ))
        );
        assert_eq!(
            split("https://alice@h"),
            Ok(("https://h/".into(), Some(("alice".into(), String::new()))))
        );
        assert_eq!(
            split("https://h:6443"),
            Ok(("https://h:6443/".into(), None))
        );
        let e = split("https://alice:bad%zzPW@h").err().unwrap_or_default();
        assert!(e.contains("password") && !e.contains("bad"), "{e}");
    }

    #[test]
    fn kubeconfig_list_is_split_and_deduplicated() {
        let env: BTreeMap<String, String> =
            [("KUBECONFIG".to_string(), "/a::/b:/a".to_string())].into();
        let files = ConfigLoader::new().env_map(env).kubeconfig_files();
        assert_eq!(
            files.ok(),
            Some(vec![PathBuf::from("/a"), PathBuf::from("/b")])
        );
        let files = ConfigLoader::new()
            .env_map(BTreeMap::new())
            .home_dir("/home/u")
            .kubeconfig_files();
        assert_eq!(
            files.ok(),
            Some(vec![PathBuf::from("/home/u/.kube/config")])
        );
    }

    #[test]
    fn infer_names_both_causes() {
        let dir = std::env::temp_dir().join(format!("k8s-client-infer-{}", std::process::id()));
        let err = ConfigLoader::new()
            .env_map(BTreeMap::new())
            .home_dir(&dir)
            .service_account_dir(dir.join("sa"))
            .infer()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("kubeconfig"), "{err}");
        assert!(err.contains(".kube/config"), "{err}");
        assert!(err.contains("KUBERNETES_SERVICE_HOST"), "{err}");
    }
}
