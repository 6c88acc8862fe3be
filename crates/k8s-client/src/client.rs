//! The client: request execution with authentication, retries and timeouts.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use k8s_core::{ApiRequest, DecodeError, Request, ResponseKind, Status};

use crate::auth::Credentials;
use crate::config::{Auth, CaSource, Config, INSECURE_WITH_CA, split_userinfo};
use crate::error::{ApiError, ConfigError, Error, chain};

/// A connection to one API server: executes typed requests.
///
/// Cheap to clone (an `Arc` inside); clones share connections and credentials.
///
/// ```no_run
/// # use k8s_core::ops::GetRequest;
/// # async fn run() -> Result<(), k8s_client::Error> {
/// let client = k8s_client::Client::infer().await?;
/// let path = format!("/api/v1/namespaces/{}/configmaps/settings", client.namespace());
/// match client.send(GetRequest::<serde_json::Value>::new(path)).await {
///     Ok(cm) => println!("{}", cm["data"]),
///     Err(e) if e.is_not_found() => println!("no settings yet"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) base: String,
    pub(crate) config: Config,
    pub(crate) credentials: Credentials,
    http: RwLock<Http>,
}

struct Http {
    client: reqwest::Client,
    ca: Option<Vec<u8>>,
    checked: Instant,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.base)
            .field("namespace", &self.inner.config.default_namespace)
            .field("auth", &self.inner.credentials.describe())
            .finish()
    }
}

fn build_http(config: &Config, ca: Option<&[u8]>) -> Result<reqwest::Client, ConfigError> {
    build_http_with(config, ca, false)
}

/// `http1_only`: for upgraded connections (WebSocket), which HTTP/2 cannot carry; ALPN then
/// offers `http/1.1` only.
fn build_http_with(
    config: &Config,
    ca: Option<&[u8]>,
    http1_only: bool,
) -> Result<reqwest::Client, ConfigError> {
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .user_agent(concat!("k8s-client/", env!("CARGO_PKG_VERSION")));
    // Always preconfigured: reqwest has no crypto provider of its own (ring only, no aws-lc).
    let mut tls = if config.cluster_url.scheme_str() == Some("https") {
        crate::tls::client_config(config, ca, config.client_identity.as_ref())?
    } else {
        crate::tls::plain_http_config()?
    };
    if http1_only {
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        b = b.http1_only();
    }
    b = b.use_preconfigured_tls(tls);
    if let Some(p) = &config.proxy_url {
        let proxy = reqwest::Proxy::all(p.as_str()).map_err(|e| ConfigError::Invalid {
            origin: config.origin.clone(),
            key: "proxy-url".into(),
            message: format!("{}: {}", crate::config::redact_url(p), chain(&e)),
        })?;
        b = b.proxy(proxy);
    }
    if let Some(t) = config.connect_timeout {
        b = b.connect_timeout(t);
    }
    b.build()
        .map_err(|e| ConfigError::Tls(format!("cannot build the HTTP client: {}", chain(&e))))
}

impl TryFrom<Config> for Client {
    type Error = Error;

    /// Builds a client: loads the CA and client certificate, prepares credentials.
    fn try_from(config: Config) -> Result<Self, Error> {
        Client::new(config)
    }
}

/// Small pseudo-random numbers for jitter (no cryptographic use).
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() % 10_000) as f64 / 10_000.0
}

/// Exponential backoff with jitter: between half and all of `base * 2^attempt`, capped.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.min(20)));
    let cap = exp.min(max);
    cap.mul_f64(0.5 + jitter_fraction() / 2.0)
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl Client {
    /// Builds a client from a configuration (same as `Client::try_from(config)`).
    ///
    /// ```
    /// let config = k8s_client::Config::new("http://127.0.0.1:8001".parse().unwrap());
    /// let client = k8s_client::Client::new(config).unwrap();
    /// assert_eq!(client.namespace(), "default");
    /// ```
    pub fn new(config: Config) -> Result<Self, Error> {
        if config.accept_invalid_certs && config.root_ca.is_some() {
            return Err(ConfigError::Invalid {
                origin: config.origin.clone(),
                key: "accept_invalid_certs".into(),
                message: format!("{INSECURE_WITH_CA} (root_ca is set)"),
            }
            .into());
        }
        let ca = match &config.root_ca {
            Some(src) => Some(src.load()?),
            None => None,
        };
        let client = build_http(&config, ca.as_deref())?;
        // User-info in the URL (a hand-built `Config`; the kubeconfig loader already moved it
        // to `auth`) is basic auth in place of `auth`, as kubectl does, and never part of the
        // URL requests go to.
        let (url, url_credentials) =
            split_userinfo(&config.cluster_url).map_err(|message| ConfigError::Invalid {
                origin: config.origin.clone(),
                key: "cluster_url".into(),
                message,
            })?;
        let credentials = match url_credentials {
            Some((username, password)) => Credentials::new(
                &Auth::Basic { username, password },
                config.credential_refresh_interval,
            )?,
            None => Credentials::new(&config.auth, config.credential_refresh_interval)?,
        };
        let url = url.to_string();
        let base = url.trim_end_matches('/').to_owned();
        if config.accept_invalid_certs && config.cluster_url.scheme_str() == Some("https") {
            tracing::warn!(
                server = %base,
                "insecure-skip-tls-verify is set: the API server's certificate is NOT verified"
            );
        }
        Ok(Client {
            inner: Arc::new(Inner {
                base,
                credentials,
                http: RwLock::new(Http {
                    client,
                    ca,
                    checked: Instant::now(),
                }),
                config,
            }),
        })
    }

    /// A client from the kubeconfig if there is one, else from the in-cluster service account;
    /// when both fail the error names both causes. See [`Config::infer`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), k8s_client::Error> {
    /// let client = k8s_client::Client::infer().await?;
    /// println!("namespace {}", client.namespace());
    /// # Ok(()) }
    /// ```
    pub async fn infer() -> Result<Self, Error> {
        let config = tokio::task::spawn_blocking(Config::infer)
            .await
            .map_err(|e| Error::Config(ConfigError::NotInCluster(e.to_string())))??;
        Client::new(config)
    }

    /// The default namespace: the kubeconfig context's, or the Pod's.
    pub fn namespace(&self) -> &str {
        &self.inner.config.default_namespace
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The HTTP client, rebuilt when a CA file changed (checked at most every
    /// `credential_refresh_interval`).
    fn http(&self) -> reqwest::Client {
        let cfg = &self.inner.config;
        if let Some(CaSource::File(path)) = &cfg.root_ca {
            let due = self
                .inner
                .http
                .read()
                .map(|h| h.checked.elapsed() >= cfg.credential_refresh_interval)
                .unwrap_or(false);
            let guard = if due {
                self.inner.http.write().ok()
            } else {
                None
            };
            if let Some(mut h) = guard {
                h.checked = Instant::now();
                match std::fs::read(path) {
                    Ok(pem) if h.ca.as_deref() != Some(pem.as_slice()) => {
                        match build_http(cfg, Some(&pem)) {
                            Ok(c) => {
                                tracing::info!(path = %path.display(), "CA bundle changed; reconnecting with it");
                                h.client = c;
                                h.ca = Some(pem);
                            }
                            Err(e) => {
                                tracing::warn!(path = %path.display(), error = %e, "cannot use the changed CA bundle; keeping the previous one")
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot re-read the CA bundle; keeping the previous one")
                    }
                }
            }
        }
        match self.inner.http.read() {
            Ok(h) => h.client.clone(),
            Err(p) => p.into_inner().client.clone(),
        }
    }

    /// Sends one typed request and decodes its response.
    ///
    /// Retries requests refused with 429 (any method) or 503/504 (`GET`), honouring
    /// `Retry-After`, within [`Config::retry`]; on 401 with a rotating token (token file, exec
    /// plugin) it fetches a fresh token and retries once. An error answer becomes
    /// [`Error::Api`] with the server's `Status`.
    ///
    /// ```no_run
    /// # use k8s_core::ops::ListRequest;
    /// # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
    /// let pods = client
    ///     .send(ListRequest::<serde_json::Value>::new("/api/v1/namespaces/default/pods".into()).limit(10))
    ///     .await?;
    /// println!("{} pods", pods.items.len());
    /// # Ok(()) }
    /// ```
    ///
    /// A request for a built-in kind with a protobuf codec goes in protobuf when
    /// [`Config::protobuf`](crate::Config::protobuf) is set; the answer is decoded by its
    /// `Content-Type` either way.
    pub async fn send<R: ApiRequest>(&self, request: R) -> Result<R::Response, Error> {
        let mut req = request.to_request()?;
        if self.inner.config.protobuf {
            req.prefer_protobuf();
        }
        let (content_type, body) = self.fetch(&req).await?;
        request
            .decode_response_as(&content_type, &body)
            .map_err(|source| Error::Decode {
                method: req.method.clone(),
                path: req.path.clone(),
                content_type: content_type.into(),
                source,
            })
    }

    /// Sends a described [`Request`] and returns the body of its successful response.
    ///
    /// The request goes as described: its protobuf form, if any, is not used.
    pub async fn send_raw(&self, req: &Request) -> Result<Vec<u8>, Error> {
        self.fetch(req).await.map(|(_, body)| body.to_vec())
    }

    /// Sends a described [`Request`]; the `Content-Type` (empty if none) and body of its
    /// successful response.
    async fn fetch(&self, req: &Request) -> Result<(String, bytes::Bytes), Error> {
        if req.response_kind == ResponseKind::Upgrade {
            return Err(Error::Decode {
                method: req.method.clone(),
                path: req.path.clone(),
                content_type: "".into(),
                source: DecodeError::NeedsUpgrade,
            });
        }
        let timeout = if req.response_kind == ResponseKind::WatchStream {
            watch_timeout(req)
        } else {
            self.inner.config.request_timeout
        };
        let resp = self.execute(req, timeout).await?;
        let content_type = content_type(resp.headers()).to_owned();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport_error(req, "reading the response body failed", e))?;
        Ok((content_type, bytes))
    }

    /// Executes with retries; returns a 2xx response (body unread) or the error.
    pub(crate) async fn execute(
        &self,
        req: &Request,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, Error> {
        let policy = &self.inner.config.retry;
        let started = Instant::now();
        let safe = matches!(req.method, http::Method::GET | http::Method::HEAD);
        let url = format!("{}{}", self.inner.base, req.path_and_query());
        let mut attempt: u32 = 0;
        let mut reauthenticated = false;
        let can_wait = |attempt: u32, wait: Duration| {
            attempt < policy.max_retries && started.elapsed() + wait <= policy.max_elapsed
        };
        loop {
            let auth = self.inner.credentials.header().await?;
            let mut rb = self
                .http()
                .request(req.method.clone(), &url)
                .header(ACCEPT, req.accept);
            if let Some(ct) = req.content_type {
                rb = rb.header(CONTENT_TYPE, ct);
            }
            if let Some(a) = auth {
                rb = rb.header(AUTHORIZATION, a);
            }
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            if let Some(t) = timeout {
                rb = rb.timeout(t);
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    // A failed connect never reached the server: safe to repeat for any method.
                    // A certificate refused in the handshake is refused again: not repeated.
                    let retryable = (e.is_connect() || (safe && !e.is_timeout()))
                        && !crate::error::is_certificate_rejection(&e);
                    let wait = backoff(policy.base_delay, policy.max_delay, attempt);
                    tracing::debug!(
                        target: "k8s_client::request",
                        method = %req.method, path = %req.path, attempt,
                        error = %chain(&e),
                        "request failed"
                    );
                    if retryable && can_wait(attempt, wait) {
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    let what = match attempt {
                        0 => "request failed".to_owned(),
                        n => format!("request failed after {} attempts; the last", n + 1),
                    };
                    let mut err = transport_error(req, &what, e);
                    if let Error::Transport { message, .. } = &mut err {
                        if let Some(hint) = self.tls_hint(message) {
                            message.push_str("; ");
                            message.push_str(&hint);
                        }
                    }
                    return Err(err);
                }
            };
            let status = resp.status();
            tracing::debug!(
                target: "k8s_client::request",
                "{} {} -> {} (Authorization: {}, attempt {})",
                req.method,
                req.path_and_query(),
                status.as_u16(),
                self.inner.credentials.describe(),
                attempt
            );
            if status.is_success() {
                return Ok(resp);
            }
            let code = status.as_u16();
            if code == 401 && !reauthenticated {
                reauthenticated = true;
                if self.inner.credentials.refresh().await {
                    tracing::debug!(target: "k8s_client::request", "401: fetched fresh credentials, retrying once");
                    continue;
                }
            }
            let hinted = retry_after(&resp);
            let err = self.error_from_response(req, resp).await;
            let retryable = code == 429 || (safe && matches!(code, 503 | 504));
            if retryable {
                let hinted = hinted.or_else(|| {
                    err.status()
                        .and_then(|s| s.details.as_ref())
                        .and_then(|d| d.retry_after_seconds)
                        .and_then(|s| u64::try_from(s).ok())
                        .map(Duration::from_secs)
                });
                let wait =
                    hinted.unwrap_or_else(|| backoff(policy.base_delay, policy.max_delay, attempt));
                if can_wait(attempt, wait) {
                    tracing::debug!(target: "k8s_client::request", code, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            return Err(err);
        }
    }
}

/// The `Content-Type` of a response, empty when it has none (or not as text).
pub(crate) fn content_type(headers: &http::HeaderMap) -> &str {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A watch request's client-side timeout: its `timeoutSeconds` plus a grace period, else none.
pub(crate) fn watch_timeout(req: &Request) -> Option<Duration> {
    req.query
        .iter()
        .find(|(k, _)| k == "timeoutSeconds")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .map(|s| Duration::from_secs(s + 30))
}

pub(crate) fn transport_error(req: &Request, what: &str, e: reqwest::Error) -> Error {
    let mut message = format!("{what}: {}", chain(&e));
    if e.is_timeout() {
        message.push_str(" (timed out)");
    }
    Error::Transport {
        method: req.method.clone(),
        path: req.path.clone(),
        message,
        source: crate::error::TransportError::new(e),
    }
}

impl Client {
    /// What to check when the TLS handshake failed on the server's certificate: the CA source
    /// used, or the name the certificate must hold.
    fn tls_hint(&self, message: &str) -> Option<String> {
        let config = &self.inner.config;
        if message.contains("UnknownIssuer") {
            let source = match &config.root_ca {
                Some(CaSource::Pem(_)) => {
                    format!("certificate-authority-data of {}", config.origin)
                }
                Some(CaSource::File(path)) => {
                    format!(
                        "the certificate-authority file {} ({})",
                        path.display(),
                        config.origin
                    )
                }
                None => format!(
                    "the system's root certificates ({} sets no certificate-authority)",
                    config.origin
                ),
            };
            return Some(format!(
                "the server's certificate is not signed by a CA from {source}: set the cluster's \
                 `certificate-authority` (or `-data`) to the CA that signed it, or \
                 `tls-server-name` if the server presents another name's certificate"
            ));
        }
        if message.contains("NotValidForName") || message.contains("not valid for name") {
            let name = config
                .tls_server_name
                .clone()
                .or_else(|| config.cluster_url.host().map(str::to_owned))
                .unwrap_or_default();
            return Some(format!(
                "the server's certificate is not valid for {name:?}: set the cluster's \
                 `tls-server-name` to a name the certificate holds ({})",
                config.origin
            ));
        }
        None
    }

    /// An error answer to `method path`, naming this client's identity source.
    pub(crate) fn api_error(&self, status: Status, method: &http::Method, path: &str) -> Error {
        Error::Api(Box::new(ApiError::new(
            status,
            method.clone(),
            path,
            self.inner.config.origin.clone(),
        )))
    }

    #[cfg(feature = "ws")]
    /// An HTTP/1.1-only client for upgraded connections (WebSocket: exec, attach,
    /// port-forward) with this client's TLS (CA, client certificate, `tls-server-name`) and proxy.
    pub(crate) fn upgrade_http(&self) -> Result<reqwest::Client, Error> {
        let ca = match self.inner.http.read() {
            Ok(h) => h.ca.clone(),
            Err(p) => p.into_inner().ca.clone(),
        };
        Ok(build_http_with(&self.inner.config, ca.as_deref(), true)?)
    }

    pub(crate) async fn error_from_response(
        &self,
        req: &Request,
        resp: reqwest::Response,
    ) -> Error {
        let code = resp.status().as_u16();
        let protobuf = k8s_core::ops::is_protobuf(content_type(resp.headers()));
        let body = resp.bytes().await.unwrap_or_default();
        // A request that accepted protobuf gets its error `Status` in protobuf too.
        let parsed = if protobuf {
            k8s_core::ops::status_from_protobuf(&body)
        } else {
            serde_json::from_slice::<Status>(&body).ok()
        };
        let parsed = parsed.filter(|s| {
            s.kind.as_deref() == Some("Status") || s.reason.is_some() || s.message.is_some()
        });
        if let Some(mut status) = parsed {
            if status.code.is_none() {
                status.code = Some(i32::from(code));
            }
            return self.api_error(status, &req.method, &req.path);
        }
        let text = String::from_utf8_lossy(&body);
        let snippet: String = text.trim().chars().take(256).collect();
        Error::HttpStatus {
            code,
            method: req.method.clone(),
            path: req.path.clone(),
            snippet,
        }
    }
}
