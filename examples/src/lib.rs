//! Runnable walkthroughs of how applications talk to the Kubernetes API server with k8s-sdk.
//!
//! Each example is a module with a `run` function that returns a report (what happened, as a
//! readable transcript, plus the facts the tests check), and a thin binary around it:
//!
//! | binary | module | shows |
//! |---|---|---|
//! | `in-cluster-create-pod` | [`in_cluster_create_pod`] | in-cluster config (token, `ca.crt`, namespace, `KUBERNETES_SERVICE_HOST`/`PORT`); 403 until a Role and RoleBinding allow creating Pods, then 201; a request log with `Authorization: Bearer <redacted>` |
//! | `proxy-discovery` | [`proxy_discovery`] | a `kubectl proxy`-style `http://127.0.0.1:8001` server: API groups, the versions of `batch`, the resources of `batch/v1` with their verbs, Jobs listed and read; a wrong path's 404 `Status` |
//! | `downward-api` | [`downward_api`] | what a Pod knows about itself from environment variables and a `downwardAPI` volume, without any API call |
//! | `defaulting-and-validation` | [`defaulting_and_validation`] | a `dryRun=All` create and the fields the server filled in; the 422 and its causes for a change to an immutable field; a Deployment with its defaults |
//! | `auth-kinds` | [`auth_kinds`] | the same GET with no credentials (403), a client certificate from an unknown CA (401), a good client certificate and a bearer token (200), each from a kubeconfig file |
//! | `watch-and-list` | [`watch_and_list`] | every Pod in pages of 100, then a watch that survives a dropped connection |
//! | `widget-operator` | [`widget_operator`] | a controller on `k8s-runtime` for a `Widget` custom resource (types generated from `crds/widget.yaml` by `build.rs`): a ConfigMap per Widget (owner reference), `status.conditions` and `observedGeneration`, a finalizer (tested in `tests/widget_operator.rs` against the test server and the real apiserver with garbage collection) |
//! | `logs-and-exec` | [`logs_and_exec`] | a container's log followed as it is written (resumed after a broken connection), commands run in the container over WebSocket (`echo`, `cat` with stdin, an exit code), a local port forwarded to the Pod |
//!
//! By default every example starts the in-process API server of `k8s-testserver` (over TLS, or
//! plain HTTP for the proxy example) and sets up what it needs; with `--real-cluster` it talks
//! to the cluster of the current kubeconfig or in-cluster service account instead:
//!
//! ```text
//! cargo run -p k8s-sdk-examples --bin in-cluster-create-pod
//! cargo run -p k8s-sdk-examples --bin watch-and-list -- --real-cluster
//! ```
//!
//! `tests/binaries.rs` runs the binaries in `--real-cluster` mode against the test server;
//! `tests/real_cluster.rs` runs them against a real kube-apiserver (`k8s-envtest`; skipped with
//! one line unless its binaries are installed), `proxy-discovery` through a real `kubectl proxy`.
//!
//! The examples never print a secret: tokens and keys stay inside the client's configuration,
//! and the request log shows `Bearer <redacted>`.

pub mod auth_kinds;
pub mod cli;
pub mod defaulting_and_validation;
pub mod downward_api;
pub mod in_cluster_create_pod;
pub mod logs_and_exec;
pub mod proxy_discovery;
pub mod support;
pub mod watch_and_list;
pub mod widget_operator;

pub use support::{Error, RequestLog, Target, Transcript};
