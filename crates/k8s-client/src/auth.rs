//! Request credentials: static tokens, rotating token files, basic auth and exec plugins.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::HeaderValue;

use crate::config::{Auth, ExecConfig};
use crate::error::Error;
use crate::secret::SecretString;

pub(crate) enum Credentials {
    None,
    Static {
        header: HeaderValue,
        scheme: &'static str,
    },
    TokenFile(TokenFile),
    Exec(Box<ExecPlugin>),
}

fn bearer(token: &str) -> Result<HeaderValue, Error> {
    let mut h = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Error::Auth("the token holds characters not allowed in a header".into()))?;
    h.set_sensitive(true);
    Ok(h)
}

impl Credentials {
    pub(crate) fn new(auth: &Auth, refresh: Duration) -> Result<Self, Error> {
        Ok(match auth {
            Auth::None => Credentials::None,
            Auth::Bearer(t) => Credentials::Static {
                header: bearer(t.expose_secret())?,
                scheme: "Bearer",
            },
            Auth::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose_secret());
                let enc = base64::engine::general_purpose::STANDARD.encode(raw);
                let mut header = HeaderValue::try_from(format!("Basic {enc}"))
                    .map_err(|_| Error::Auth("basic auth: invalid header".into()))?;
                header.set_sensitive(true);
                Credentials::Static {
                    header,
                    scheme: "Basic",
                }
            }
            Auth::TokenFile(path) => Credentials::TokenFile(TokenFile::new(path.clone(), refresh)),
            Auth::Exec(cfg) => Credentials::Exec(Box::new(ExecPlugin::new((**cfg).clone()))),
        })
    }

    /// The `Authorization` header value to send now, if any.
    pub(crate) async fn header(&self) -> Result<Option<HeaderValue>, Error> {
        match self {
            Credentials::None => Ok(None),
            Credentials::Static { header, .. } => Ok(Some(header.clone())),
            Credentials::TokenFile(f) => f.current(false).map(Some),
            Credentials::Exec(e) => e.token(false).await.and_then(|t| bearer(&t)).map(Some),
        }
    }

    /// After a 401: fetch fresh credentials at once. Returns whether a retry makes sense.
    pub(crate) async fn refresh(&self) -> bool {
        match self {
            Credentials::TokenFile(f) => f.current(true).is_ok(),
            Credentials::Exec(e) => e.token(true).await.is_ok(),
            _ => false,
        }
    }

    /// How requests authenticate, for logs: `Bearer <redacted>`, `Basic <redacted>` or `none`.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Credentials::None => "none",
            Credentials::Static {
                scheme: "Basic", ..
            } => "Basic <redacted>",
            _ => "Bearer <redacted>",
        }
    }
}

/// A token file that is re-read at most every `interval` (and at once after a 401).
pub(crate) struct TokenFile {
    path: PathBuf,
    interval: Duration,
    state: Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    token: Option<SecretString>,
    read_at: Option<Instant>,
}

impl TokenFile {
    fn new(path: PathBuf, interval: Duration) -> Self {
        TokenFile {
            path,
            interval,
            state: Mutex::new(TokenState::default()),
        }
    }

    fn current(&self, force: bool) -> Result<HeaderValue, Error> {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = st.read_at.is_none_or(|t| t.elapsed() >= self.interval);
        if force || due {
            st.read_at = Some(Instant::now());
            match std::fs::read_to_string(&self.path) {
                Ok(s) if !s.trim().is_empty() => {
                    let fresh = SecretString::new(s.trim());
                    if st.token.as_ref().is_some_and(|old| *old != fresh) {
                        tracing::debug!(path = %self.path.display(), "token file rotated");
                    }
                    st.token = Some(fresh);
                }
                Ok(_) => {
                    tracing::warn!(path = %self.path.display(), "token file is empty; keeping the previous token");
                }
                Err(e) => {
                    if st.token.is_none() {
                        return Err(Error::Auth(format!(
                            "cannot read the token file {}: {e}",
                            self.path.display()
                        )));
                    }
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot re-read the token file; keeping the previous token");
                }
            }
        }
        match &st.token {
            Some(t) => bearer(t.expose_secret()),
            None => Err(Error::Auth(format!(
                "the token file {} is empty",
                self.path.display()
            ))),
        }
    }
}

/// An exec credential plugin, its last token cached until `expirationTimestamp`.
pub(crate) struct ExecPlugin {
    config: ExecConfig,
    cache: tokio::sync::Mutex<Option<(SecretString, Option<jiff::Timestamp>)>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    status: Option<ExecStatus>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecStatus {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    expiration_timestamp: Option<jiff::Timestamp>,
    #[serde(default)]
    client_certificate_data: Option<String>,
}

impl ExecPlugin {
    fn new(config: ExecConfig) -> Self {
        ExecPlugin {
            config,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// `KUBERNETES_EXEC_INFO`: the ExecCredential request.
    pub(crate) fn exec_info(config: &ExecConfig) -> serde_json::Value {
        let mut spec = serde_json::json!({ "interactive": false });
        if let Some(c) = config
            .cluster
            .as_ref()
            .filter(|_| config.provide_cluster_info)
        {
            let mut cluster = serde_json::json!({ "server": c.server });
            if let Some(n) = &c.tls_server_name {
                cluster["tls-server-name"] = n.clone().into();
            }
            if c.insecure_skip_tls_verify {
                cluster["insecure-skip-tls-verify"] = true.into();
            }
            if let Some(ca) = &c.certificate_authority_data {
                cluster["certificate-authority-data"] =
                    base64::engine::general_purpose::STANDARD.encode(ca).into();
            }
            if let Some(p) = &c.proxy_url {
                cluster["proxy-url"] = p.clone().into();
            }
            if let Some(cfg) = &c.config {
                cluster["config"] = cfg.clone();
            }
            spec["cluster"] = cluster;
        }
        serde_json::json!({
            "apiVersion": config.api_version,
            "kind": "ExecCredential",
            "spec": spec,
        })
    }

    async fn token(&self, force: bool) -> Result<String, Error> {
        let mut cache = self.cache.lock().await;
        if let Some((tok, exp)) = cache.as_ref().filter(|_| !force) {
            if exp.is_none_or(|e| jiff::Timestamp::now() < e) {
                return Ok(tok.expose_secret().to_owned());
            }
        }
        let (tok, exp) = self.run().await?;
        let out = tok.expose_secret().to_owned();
        *cache = Some((tok, exp));
        Ok(out)
    }

    async fn run(&self) -> Result<(SecretString, Option<jiff::Timestamp>), Error> {
        let c = &self.config;
        let name = &c.command;
        if c.api_version.ends_with("/v1") && c.interactive_mode.is_none() {
            return Err(Error::Auth(format!(
                "exec plugin {name}: interactiveMode must be set for client.authentication.k8s.io/v1"
            )));
        }
        if c.interactive_mode.as_deref() == Some("Always") {
            return Err(Error::Auth(format!(
                "exec plugin {name} needs an interactive terminal (interactiveMode: Always), which this client never has"
            )));
        }
        let mut cmd = tokio::process::Command::new(name);
        cmd.args(&c.args)
            .env("KUBERNETES_EXEC_INFO", Self::exec_info(c).to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in &c.env {
            cmd.env(k, v.expose_secret());
        }
        let run = tokio::time::timeout(Duration::from_secs(60), cmd.output());
        let out = match run.await {
            Err(_) => {
                return Err(Error::Auth(format!(
                    "exec plugin {name} did not finish within 60 s"
                )));
            }
            Ok(Err(e)) => {
                let hint = c
                    .install_hint
                    .as_deref()
                    .map(|h| format!("\n{h}"))
                    .unwrap_or_default();
                return Err(Error::Auth(format!(
                    "cannot run exec plugin {name}: {e}{hint}"
                )));
            }
            Ok(Ok(out)) => out,
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr: String = stderr.trim().chars().take(500).collect();
            return Err(Error::Auth(format!(
                "exec plugin {name} failed ({}): {stderr}",
                out.status
            )));
        }
        // The output holds the token: never echo it, not even in a JSON error.
        let cred: ExecCredential = serde_json::from_slice(&out.stdout).map_err(|e| {
            Error::Auth(format!(
                "exec plugin {name} printed no ExecCredential JSON ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        if cred.kind.as_deref() != Some("ExecCredential") {
            return Err(Error::Auth(format!(
                "exec plugin {name} printed kind {:?}, not ExecCredential",
                cred.kind.unwrap_or_default()
            )));
        }
        if cred.api_version.as_deref() != Some(c.api_version.as_str()) {
            return Err(Error::Auth(format!(
                "exec plugin {name} is configured for {} but printed apiVersion {:?}",
                c.api_version,
                cred.api_version.unwrap_or_default()
            )));
        }
        let status = cred.status.ok_or_else(|| {
            Error::Auth(format!(
                "exec plugin {name} printed an ExecCredential without status"
            ))
        })?;
        match status.token.filter(|t| !t.is_empty()) {
            Some(t) => Ok((SecretString::new(t), status.expiration_timestamp)),
            None if status.client_certificate_data.is_some() => Err(Error::Auth(format!(
                "exec plugin {name} returned a client certificate; k8s-client supports exec tokens only"
            ))),
            None => Err(Error::Auth(format!("exec plugin {name} returned no token"))),
        }
    }
}
