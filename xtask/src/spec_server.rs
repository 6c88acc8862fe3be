//! `cargo xtask spec fetch --server`: the OpenAPI documents a live API server serves, written in
//! the layout of `spec/vX.Y.Z/` (`swagger.json`, `v3/<path with / as __>_openapi.json`).
//!
//! The documents are normalised as upstream's `hack/update-openapi-spec.sh` normalises them
//! (`jq -S '.info.version="unversioned"'`: keys sorted, two-space indentation, a final newline),
//! so a server started the way that script starts one produces files comparable byte for byte
//! with the published ones. `--raw` keeps the server's bytes. A cluster's custom resources and
//! aggregated APIs are in its documents like any built-in group.
//!
//! Credentials come from the kubeconfig (`--kubeconfig`, `--context`; else `KUBECONFIG` or
//! `~/.kube/config`, else the in-cluster service account), through `k8s-client`, so every auth
//! kind it supports works here. The destination directory is written whole into a staging
//! directory beside it and swapped in: an interrupted fetch leaves the previous directory.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use k8s_client::{Client, ConfigLoader, KubeconfigOptions};
use k8s_core::Request;

/// A failure of `spec fetch --server`, naming the URL path or file it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerFetchError {
    /// A command-line mistake.
    #[error("{0}")]
    Usage(String),
    /// No client could be configured (kubeconfig, in-cluster).
    #[error("cannot configure a client: {0}")]
    Config(String),
    /// The server answered an error or could not be reached.
    #[error("GET {path}: {message}")]
    Request {
        /// The URL path requested.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The server's answer is not the JSON document expected.
    #[error("GET {path}: {message}")]
    Document {
        /// The URL path requested.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Writing the files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Options of one fetch.
#[derive(Debug, Clone, Default)]
pub struct ServerFetchOptions {
    /// Kubeconfig file instead of `KUBECONFIG`/`~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Context of the kubeconfig instead of its current one.
    pub context: Option<String>,
    /// Keep the server's bytes instead of normalising them.
    pub raw: bool,
}

/// What a fetch wrote.
#[derive(Debug, Clone)]
pub struct ServerFetchReport {
    /// The server's `gitVersion` (`/version`).
    pub server_version: String,
    /// Paths of the Swagger 2.0 document.
    pub v2_paths: usize,
    /// Definitions of the Swagger 2.0 document.
    pub v2_definitions: usize,
    /// The v3 documents written (their names in the server's `/openapi/v3` index).
    pub v3_documents: Vec<String>,
    /// Bytes written in all.
    pub bytes: u64,
}

/// Entry point of `cargo xtask spec fetch --server [--kubeconfig F] [--context C] [--dest DIR] [--raw]`.
pub fn run(args: &[String]) -> Result<(), ServerFetchError> {
    let mut opts = ServerFetchOptions::default();
    let mut dest: Option<PathBuf> = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| iter.next().cloned())
                .ok_or_else(|| ServerFetchError::Usage(format!("{name} needs a value")))
        };
        match flag {
            "--server" => {}
            "--raw" => opts.raw = true,
            "--kubeconfig" => opts.kubeconfig = Some(PathBuf::from(value("--kubeconfig")?)),
            "--context" => opts.context = Some(value("--context")?),
            "--dest" => dest = Some(PathBuf::from(value("--dest")?)),
            other => {
                return Err(ServerFetchError::Usage(format!(
                    "unexpected argument {other:?} (spec fetch --server [--kubeconfig FILE] [--context NAME] [--dest DIR] [--raw])"
                )));
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ServerFetchError::Config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let client = client(&opts)?;
        let version = server_version(&client).await?;
        let dest = dest.unwrap_or_else(|| {
            crate::spec_fetch::workspace_root()
                .join("spec")
                .join(format!("server-{}", version.trim_start_matches('v')))
        });
        println!(
            "spec fetch --server: {} (Kubernetes {version}) -> {}",
            client.config().cluster_url,
            dest.display()
        );
        let started = Instant::now();
        let report = fetch(&client, &dest, &opts, &mut |name, bytes| {
            println!("  wrote {name} ({bytes} bytes)");
        })
        .await?;
        println!(
            "spec fetch --server: Kubernetes {}: swagger.json ({} paths, {} definitions) and {} v3 documents, {} bytes, in {:.1?}{}",
            report.server_version,
            report.v2_paths,
            report.v2_definitions,
            report.v3_documents.len(),
            report.bytes,
            started.elapsed(),
            if opts.raw {
                " (raw)"
            } else {
                " (normalised as hack/update-openapi-spec.sh)"
            }
        );
        Ok(())
    })
}

fn client(opts: &ServerFetchOptions) -> Result<Client, ServerFetchError> {
    let config = if opts.kubeconfig.is_some() || opts.context.is_some() {
        let mut loader = ConfigLoader::new();
        if let Some(path) = &opts.kubeconfig {
            loader = loader.kubeconfig_paths([path.clone()]);
        }
        if let Some(context) = &opts.context {
            loader = loader.options(KubeconfigOptions::default().context(context.clone()));
        }
        loader.kubeconfig()
    } else {
        ConfigLoader::new().infer()
    }
    .map_err(|e| ServerFetchError::Config(e.to_string()))?;
    Client::new(config).map_err(|e| ServerFetchError::Config(e.to_string()))
}

async fn get_json(client: &Client, path: &str) -> Result<serde_json::Value, ServerFetchError> {
    let bytes = get(client, path).await?;
    serde_json::from_slice(&bytes).map_err(|e| ServerFetchError::Document {
        path: path.to_owned(),
        message: format!("not JSON: {e}"),
    })
}

async fn get(client: &Client, path: &str) -> Result<Vec<u8>, ServerFetchError> {
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let mut req = Request::new(http::Method::GET, path_only);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        req.push_query(k, v);
    }
    client
        .send_raw(&req)
        .await
        .map_err(|e| ServerFetchError::Request {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

async fn server_version(client: &Client) -> Result<String, ServerFetchError> {
    let v = get_json(client, "/version").await?;
    v.get("gitVersion")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ServerFetchError::Document {
            path: "/version".to_owned(),
            message: "no gitVersion".to_owned(),
        })
}

/// Fetches `/openapi/v2` and every document of `/openapi/v3` into `dest` (replaced whole).
/// `progress` is called with each file's name (relative to `dest`) and size.
pub async fn fetch(
    client: &Client,
    dest: &Path,
    opts: &ServerFetchOptions,
    progress: &mut dyn FnMut(&str, usize),
) -> Result<ServerFetchReport, ServerFetchError> {
    let server_version = server_version(client).await?;
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = parent.unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(parent).map_err(|source| ServerFetchError::Io {
        path: parent.to_owned(),
        source,
    })?;
    let staging = tempfile::Builder::new()
        .prefix(".spec-fetch-")
        .tempdir_in(parent)
        .map_err(|source| ServerFetchError::Io {
            path: parent.to_owned(),
            source,
        })?;
    let mut bytes_written = 0u64;
    let mut write = |name: &str, body: &[u8]| -> Result<(), ServerFetchError> {
        let path = staging.path().join(name);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| ServerFetchError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        fs::write(&path, body).map_err(|source| ServerFetchError::Io { path, source })?;
        bytes_written += body.len() as u64;
        progress(name, body.len());
        Ok(())
    };

    let v2 = get(client, "/openapi/v2").await?;
    let v2_doc: serde_json::Value =
        serde_json::from_slice(&v2).map_err(|e| ServerFetchError::Document {
            path: "/openapi/v2".to_owned(),
            message: format!("not JSON: {e}"),
        })?;
    let count = |key: &str| {
        v2_doc
            .get(key)
            .and_then(serde_json::Value::as_object)
            .map_or(0, serde_json::Map::len)
    };
    let (v2_paths, v2_definitions) = (count("paths"), count("definitions"));
    let body = if opts.raw { v2 } else { normalise(v2_doc) };
    write("swagger.json", &body)?;

    let index = get_json(client, "/openapi/v3").await?;
    let Some(paths) = index.get("paths").and_then(serde_json::Value::as_object) else {
        return Err(ServerFetchError::Document {
            path: "/openapi/v3".to_owned(),
            message: "no `paths` object".to_owned(),
        });
    };
    let mut v3_documents = Vec::new();
    for (name, entry) in paths {
        if name.contains("..") || name.starts_with('/') || name.contains('\\') {
            return Err(ServerFetchError::Document {
                path: "/openapi/v3".to_owned(),
                message: format!("refusing document name {name:?}"),
            });
        }
        // The hash in `serverRelativeURL` only makes the answer cacheable; the document is the
        // same without it (upstream's script requests `/openapi/v3/<name>`).
        let url = entry
            .get("serverRelativeURL")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| format!("/openapi/v3/{name}"), str::to_owned);
        let raw = get(client, &url).await?;
        let body = if opts.raw {
            raw
        } else {
            let doc = serde_json::from_slice(&raw).map_err(|e| ServerFetchError::Document {
                path: url.clone(),
                message: format!("not JSON: {e}"),
            })?;
            normalise(doc)
        };
        write(
            &format!("v3/{}_openapi.json", name.replace('/', "__")),
            &body,
        )?;
        v3_documents.push(name.clone());
    }

    let mut source = String::new();
    let _ = writeln!(
        source,
        "Fetched by `cargo xtask spec fetch --server` from {} (Kubernetes {server_version}).",
        client.config().cluster_url
    );
    let _ = writeln!(
        source,
        "{}",
        if opts.raw {
            "Bytes as the server sent them (--raw)."
        } else {
            "Normalised as hack/update-openapi-spec.sh does: jq -S '.info.version=\"unversioned\"'."
        }
    );
    let _ = writeln!(
        source,
        "swagger.json: {v2_paths} paths, {v2_definitions} definitions; {} v3 documents.",
        v3_documents.len()
    );
    write("SOURCE.txt", source.as_bytes())?;
    swap_in(staging, dest)?;
    Ok(ServerFetchReport {
        server_version,
        v2_paths,
        v2_definitions,
        v3_documents,
        bytes: bytes_written,
    })
}

/// Replaces `dest` with the staging directory (the old one, if any, is removed after the swap).
fn swap_in(staging: tempfile::TempDir, dest: &Path) -> Result<(), ServerFetchError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ServerFetchError::Io { path, source }
    };
    let staged = staging.keep();
    if dest.exists() {
        let old = dest.with_extension(format!("old-{}", std::process::id()));
        fs::rename(dest, &old).map_err(io(dest))?;
        fs::rename(&staged, dest).map_err(io(dest))?;
        fs::remove_dir_all(&old).map_err(io(&old))?;
    } else {
        fs::rename(&staged, dest).map_err(io(dest))?;
    }
    Ok(())
}

/// `jq -S '.info.version="unversioned"'`: keys sorted at every depth, two-space indentation, a
/// final newline.
pub fn normalise(mut doc: serde_json::Value) -> Vec<u8> {
    if let Some(info) = doc
        .get_mut("info")
        .and_then(serde_json::Value::as_object_mut)
    {
        info.insert(
            "version".to_owned(),
            serde_json::Value::String("unversioned".to_owned()),
        );
    }
    let mut out = Vec::with_capacity(1 << 20);
    write_sorted(&doc, 0, &mut out);
    out.push(b'\n');
    out
}

/// Pretty-prints with sorted keys whatever serde_json's map order is (`preserve_order` may be
/// enabled by another crate in the build).
fn write_sorted(v: &serde_json::Value, depth: usize, out: &mut Vec<u8>) {
    let indent = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * 2));
    };
    match v {
        serde_json::Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                indent(out, depth + 1);
                out.extend(
                    serde_json::Value::String((*k).clone())
                        .to_string()
                        .as_bytes(),
                );
                out.extend(b": ");
                write_sorted(&map[k.as_str()], depth + 1, out);
            }
            indent(out, depth);
            out.push(b'}');
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                indent(out, depth + 1);
                write_sorted(item, depth + 1, out);
            }
            indent(out, depth);
            out.push(b']');
        }
        other => out.extend(other.to_string().as_bytes()),
    }
}
