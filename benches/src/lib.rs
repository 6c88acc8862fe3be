//! Support for the k8s-sdk benchmarks (`cargo bench -p k8s-sdk-benches`), which compare this
//! SDK with k8s-openapi 0.29 and kube 5 on the same machine in the same run. See BENCHMARKS.md
//! at the workspace root for the method and the latest figures.
//!
//! * [`podgen`]: deterministic, realistic Pods, PodLists and watch streams;
//! * [`versions`]: the supported Kubernetes versions and the generator's input for each;
//! * [`server`]: an in-process test server filled with those Pods, and clients for it.

pub mod podgen;
pub mod server;

use std::path::{Path, PathBuf};

/// Why a benchmark could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The test server failed to start.
    #[error("test server: {0}")]
    Server(#[from] k8s_testserver::Error),
    /// The client failed (configuration or a request).
    #[error("client: {0}")]
    Client(#[from] k8s_client::Error),
    /// The client configuration could not be loaded.
    #[error("client configuration: {0}")]
    Config(#[from] k8s_client::ConfigError),
    /// Generated data did not fit the typed API.
    #[error("generated pod does not decode: {0}")]
    Data(#[from] serde_json::Error),
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Supported Kubernetes versions and the generator's input for each.
pub mod versions {
    use std::path::PathBuf;

    use k8s_codegen::generate::{Input, VersionJob};

    use crate::{Error, workspace_root};

    #[derive(serde::Deserialize)]
    struct File {
        version: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        version: String,
        #[serde(default)]
        regression_only: bool,
    }

    /// The supported versions of `spec/versions.toml` (without regression-only ones), oldest
    /// first.
    pub fn supported() -> Result<Vec<String>, Error> {
        let path = workspace_root().join("spec/versions.toml");
        let read = |message: String| Error::Read {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| read(e.to_string()))?;
        // Unknown keys (URLs, hashes, v3 tables) are ignored here: only the names matter.
        let file: File = toml::from_str(&text).map_err(|e| read(e.to_string()))?;
        let mut v: Vec<String> = file
            .version
            .into_iter()
            .filter(|e| !e.regression_only)
            .map(|e| e.version)
            .collect();
        v.sort_by_key(|s| {
            s.split('.')
                .filter_map(|p| p.parse::<u32>().ok())
                .collect::<Vec<_>>()
        });
        Ok(v)
    }

    /// Where the spec files are: `K8S_SPEC_DIR`, else `/work/shared/spec`, else the workspace's
    /// `spec/` cache.
    pub fn spec_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("K8S_SPEC_DIR") {
            return PathBuf::from(d);
        }
        let shared = PathBuf::from("/work/shared/spec");
        if shared.is_dir() {
            shared
        } else {
            workspace_root().join("spec")
        }
    }

    /// The generator's job for `version`: the spec files when present (as `cargo xtask
    /// generate` does), else the committed model (no docs). The flag says whether spec files
    /// were used.
    pub fn job(version: &str) -> (VersionJob, bool) {
        let swagger = spec_dir().join(format!("v{version}/swagger.json"));
        if swagger.is_file() {
            (
                VersionJob {
                    version: version.to_owned(),
                    input: Input::Spec(swagger),
                },
                true,
            )
        } else {
            let model = workspace_root().join(format!("spec/v{version}.api"));
            (
                VersionJob {
                    version: version.to_owned(),
                    input: Input::Model(model),
                },
                false,
            )
        }
    }
}
