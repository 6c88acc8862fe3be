//! `auth-kinds`: the same GET with different credentials, each from a kubeconfig file.
//!
//! | credentials | answer |
//! |---|---|
//! | none (anonymous) | 403 `Forbidden`: authenticated as `system:anonymous`, not authorized |
//! | a client certificate signed by a CA the server does not trust | 401 `Unauthorized` |
//! | a client certificate signed by the cluster's CA | 200 |
//! | a bearer token | 200 |
//!
//! The request is `GET /api/v1/namespaces/default/pods`. Each client is built from its own
//! kubeconfig file through a [`k8s_client::ConfigLoader`], and the request log shows how it
//! authenticated (`Bearer <redacted>`, `none` for a certificate) without any secret.
//!
//! With `--real-cluster` the example uses the kubeconfig files given with `--kubeconfig`
//! (repeatable), or else the current configuration as it is and the same cluster without
//! credentials.

use std::path::{Path, PathBuf};

use k8s_api::latest::core::v1::Pod;
use k8s_client::{Auth, Client, Config, ConfigLoader};

use crate::support::{Error, RequestLog, Target, Transcript, describe_auth, write_file};

const ADMIN_TOKEN: &str = "auth-kinds-token-91b7";

/// Options of the example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Where to run.
    pub target: Target,
    /// With [`Target::RealCluster`]: kubeconfig files to try, one after the other.
    pub kubeconfigs: Vec<PathBuf>,
}

impl Options {
    /// Options for `target`.
    pub fn new(target: Target) -> Self {
        Options {
            target,
            kubeconfigs: Vec::new(),
        }
    }
}

/// The answer to one kind of credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// What was tried, e.g. `bearer token`.
    pub label: String,
    /// How the client authenticated (no secrets).
    pub auth: String,
    /// The HTTP status code of the answer (0 when none came back).
    pub code: u16,
    /// The `Status` reason of a failure, or `OK`.
    pub reason: String,
}

/// What happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// One outcome per kind of credentials, in the order tried.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// The status code of the outcome labelled `label`.
    pub fn code(&self, label: &str) -> Option<u16> {
        self.outcomes
            .iter()
            .find(|o| o.label == label)
            .map(|o| o.code)
    }
}

/// Label of the anonymous attempt.
pub const ANONYMOUS: &str = "no credentials";
/// Label of the attempt with a certificate from an unknown CA.
pub const WRONG_CERT: &str = "client certificate from an unknown CA";
/// Label of the attempt with a good client certificate.
pub const GOOD_CERT: &str = "client certificate";
/// Label of the attempt with a bearer token.
pub const TOKEN: &str = "bearer token";

fn load(path: &Path) -> Result<Config, Error> {
    Ok(ConfigLoader::new()
        .env_map(Default::default())
        .kubeconfig_paths([path.to_path_buf()])
        .kubeconfig()?)
}

/// Runs the example.
pub async fn run(options: &Options, out: &Transcript) -> Result<Report, Error> {
    match options.target {
        Target::TestServer => {
            let server = k8s_testserver::TestServer::builder()
                .token(ADMIN_TOKEN, "admin", &["system:masters"])
                .start()
                .await?;
            out.line(format!(
                "Started the in-process API server at {}.",
                server.url()
            ));
            // A certificate from another CA: the CA of a second, throwaway server.
            let stranger = k8s_testserver::TestServer::builder().start().await?;
            let (cert, key) = stranger.client_cert("mallory", &["system:masters"]);
            stranger.shutdown().await;
            let dir = tempfile::Builder::new()
                .prefix("auth-kinds-")
                .tempdir()
                .map_err(|source| Error::Io {
                    what: "create a temporary directory in",
                    path: std::env::temp_dir(),
                    source,
                })?;
            let wrong = write_file(
                dir.path(),
                "kubeconfig-unknown-ca.yaml",
                &kubeconfig(
                    server.url(),
                    server.ca_pem(),
                    &format!(
                        "\n    client-certificate-data: {}\n    client-key-data: {}",
                        b64(&cert),
                        b64(&key)
                    ),
                ),
            )?;
            let anonymous = write_file(
                dir.path(),
                "kubeconfig-anonymous.yaml",
                &kubeconfig(server.url(), server.ca_pem(), "{}"),
            )?;
            let attempts = vec![
                (ANONYMOUS.to_owned(), load(&anonymous)?),
                (WRONG_CERT.to_owned(), load(&wrong)?),
                (
                    GOOD_CERT.to_owned(),
                    load(&server.kubeconfig_for_cert("alice", &["system:masters"]))?,
                ),
                (TOKEN.to_owned(), load(&server.kubeconfig_for(ADMIN_TOKEN))?),
            ];
            let report = try_all(attempts, out).await;
            server.shutdown().await;
            report
        }
        _ => {
            let mut attempts = Vec::new();
            if options.kubeconfigs.is_empty() {
                let config = tokio::task::spawn_blocking(Config::infer)
                    .await
                    .map_err(|e| Error::Unexpected(format!("configuration task failed: {e}")))??;
                let mut anonymous = config.clone();
                anonymous.auth = Auth::None;
                anonymous.client_identity = None;
                attempts.push((ANONYMOUS.to_owned(), anonymous));
                attempts.push(("current configuration".to_owned(), config));
            } else {
                for path in &options.kubeconfigs {
                    attempts.push((path.display().to_string(), load(path)?));
                }
            }
            try_all(attempts, out).await
        }
    }
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// A kubeconfig for `server` (trusting the CA `ca_pem`) whose user entry is `user` (YAML
/// after `user:`; `{}` for none).
pub fn kubeconfig(server: &str, ca_pem: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default\ncurrent-context: c\nusers:\n- name: u\n  user: {user}\n",
        b64(ca_pem)
    )
}

async fn try_all(attempts: Vec<(String, Config)>, out: &Transcript) -> Result<Report, Error> {
    let mut report = Report::default();
    for (label, config) in attempts {
        out.step(format!("{label}: GET /api/v1/namespaces/default/pods"));
        let auth = describe_auth(&config);
        out.line(format!(
            "  from {}; authenticates with {auth}",
            config.origin
        ));
        let mut config = config;
        // Show each answer as it is: no retries.
        config.retry = k8s_client::RetryPolicy::none();
        let client = Client::new(config)?;
        let log = RequestLog::printing_to(out);
        let (code, reason) = match log.capture(client.send(Pod::list("default"))).await {
            Ok(list) => {
                out.line(format!("  200 OK: {} pods", list.items.len()));
                (200, "OK".to_owned())
            }
            Err(e) => {
                out.line(format!("  {}", crate::support::describe_error(&e)));
                (
                    e.status_code().unwrap_or(0),
                    e.status()
                        .map(|s| s.reason().to_owned())
                        .unwrap_or_else(|| e.to_string()),
                )
            }
        };
        report.outcomes.push(Outcome {
            label,
            auth,
            code,
            reason,
        });
    }
    out.step("Summary");
    for o in &report.outcomes {
        out.line(format!("  {:<40} -> {} {}", o.label, o.code, o.reason));
    }
    Ok(report)
}
