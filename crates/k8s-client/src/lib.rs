//! The k8s-sdk runtime: configuration, TLS, authentication and execution of typed Kubernetes
//! API requests.
#![forbid(unsafe_code)]

mod config;
mod error;
mod secret;

pub use config::{
    Auth, CaSource, ClientIdentity, Config, ConfigLoader, DEFAULT_SERVICE_ACCOUNT_DIR, ExecCluster,
    ExecConfig, Kubeconfig, KubeconfigOptions, RetryPolicy,
};
pub use error::{ConfigError, Error};
pub use secret::{SecretBytes, SecretString};
