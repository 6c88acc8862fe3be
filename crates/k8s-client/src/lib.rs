//! The k8s-sdk runtime: connects typed Kubernetes API requests (from `k8s-core` builders and the
//! generated `k8s-api` crate) to a real API server.
//!
//! * configuration from a kubeconfig ([`Config::from_kubeconfig`], kubectl's merge rules), from
//!   the in-cluster service account ([`Config::in_cluster`]) or either ([`Config::infer`]);
//! * rustls with the `ring` provider: CA bundles, client certificates, `tls-server-name`,
//!   `insecure-skip-tls-verify`; proxies (`proxy-url`, `HTTPS_PROXY`/`NO_PROXY`);
//! * bearer tokens (rotating token files), basic auth, exec credential plugins;
//! * [`Client::send`] for one request, [`Client::list_all`] for every page of a list,
//!   [`Client::watch`] for a watch that resumes and relists on its own;
//! * [`Client::log_stream`] and [`Client::follow_log`] for container logs as they arrive;
//!   [`Client::exec`], [`Client::attach`] and [`Client::exec_output`] over WebSocket
//!   (`v5.channel.k8s.io`, `v4.channel.k8s.io`); [`Client::port_forward`] and
//!   [`Client::port_forward_listen`] (a local listener, like `kubectl port-forward`);
//!   these need the cargo feature `ws` (default);
//! * retries with backoff on 429/503/504, timeouts, typed errors carrying the server's `Status`;
//! * [`discovery`]: aggregated discovery (with the legacy fallback) and kubectl's name
//!   resolution, giving [`k8s_core::ApiResource`]s for [`k8s_core::DynamicObject`]s;
//!   [`Client::apply_manifest`]: `kubectl apply --server-side -f` for mixed-kind YAML;
//! * [`PodInfo`]: what the downward API tells a Pod about itself.
//!
//! Cargo features (both default):
//! * `http2`: HTTP/2 to the API server (ALPN `h2`, falling back to HTTP/1.1), so concurrent
//!   requests and long-running watches share one connection, as client-go does. Without it every
//!   concurrent request or watch holds its own HTTP/1.1 connection; the program compiles less
//!   (no `h2`).
//! * `ws`: exec, attach and port-forward over WebSocket (`tokio-tungstenite`). A program that
//!   only reads and writes objects can turn it off.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use k8s_core::ops::{GetRequest, ListRequest};
//! # #[derive(serde::Deserialize)] struct ConfigMap;
//! # async fn run() -> Result<(), k8s_client::Error> {
//! let client = k8s_client::Client::infer().await?;
//! // With the generated API: `ConfigMap::list(client.namespace())`.
//! let list = ListRequest::<serde_json::Value>::new(format!(
//!     "/api/v1/namespaces/{}/configmaps",
//!     client.namespace()
//! ));
//! let maps = client.send(list).await?;
//! println!("{} config maps", maps.items.len());
//! match client.send(GetRequest::<serde_json::Value>::new("/api/v1/namespaces/default/configmaps/nope".into())).await {
//!     Err(e) if e.is_not_found() => println!("not found, as expected"),
//!     other => println!("{other:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! Secrets (tokens, passwords, keys) never appear in `Debug`, `Display`, errors or logs; request
//! logs (`tracing` target `k8s_client::request`, level debug) show
//! `Authorization: Bearer <redacted>`.
#![forbid(unsafe_code)]

mod apply;
mod auth;
mod client;
mod config;
pub mod discovery;
mod error;
#[cfg(feature = "ws")]
mod exec;
// Public for the fuzz harness (`fuzz/`, target `watch_lines`); not part of the supported API.
#[doc(hidden)]
pub mod lines;
mod logs;
mod pod_info;
#[cfg(feature = "ws")]
mod portforward;
mod secret;
mod stream;
mod tls;
#[cfg(feature = "ws")]
mod upgrade;

pub use apply::{ApplyError, ApplyOptions};
pub use client::Client;
pub use config::{
    Auth, CaSource, ClientIdentity, Config, ConfigLoader, DEFAULT_SERVICE_ACCOUNT_DIR, ExecCluster,
    ExecConfig, Kubeconfig, KubeconfigOptions, RetryPolicy,
};
pub use error::{ApiError, ConfigError, Error, TransportError};
#[cfg(feature = "ws")]
pub use exec::{
    EXEC_PROTOCOLS, ExecOutput, ExitStatus, ProcessOutput, ProcessStdin, RemoteProcess,
    TerminalResizer, TerminalSize,
};
pub use logs::{LogFollower, LogLine, LogLines, LogRequestExt, LogStream, SinceTime};
pub use pod_info::PodInfo;
#[cfg(feature = "ws")]
pub use portforward::{PortForward, PortStream};
pub use secret::{SecretBytes, SecretString};
pub use stream::WatchUpdate;
