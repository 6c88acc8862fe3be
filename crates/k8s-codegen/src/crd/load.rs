//! Reading CRD manifests: files and directories of YAML or JSON documents (one or many per
//! file, `List`s expanded), each document checked to be an `apiextensions.k8s.io/v1`
//! `CustomResourceDefinition`. Errors name the file, the document and the JSON pointer.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// One CRD document and where it came from.
#[derive(Clone, Debug)]
pub struct CrdSource {
    /// The file (or a label such as `cluster` for CRDs read from a server).
    pub path: PathBuf,
    /// 0-based index of the document in the file, when the file is a stream or a list.
    pub document: Option<usize>,
    /// JSON pointer of the CRD inside its document (`/items/3` in a `List`; else empty).
    pub base: String,
    /// The CRD as JSON.
    pub crd: Value,
}

impl CrdSource {
    /// A CRD read from somewhere else (a server): `path` labels it in errors.
    pub fn new(path: PathBuf, document: Option<usize>, crd: Value) -> Self {
        CrdSource {
            path,
            document,
            base: String::new(),
            crd,
        }
    }

    /// An error about this document at `pointer`.
    pub(crate) fn error(&self, pointer: &str, message: impl Into<String>) -> Error {
        Error::Crd {
            path: self.path.clone(),
            document: self.document,
            pointer: format!("{}{pointer}", self.base),
            message: message.into(),
        }
    }
}

/// Reads every CRD of `paths`: files (YAML or JSON, one or many documents) or directories
/// (their `.yaml`, `.yml` and `.json` files, recursively, in name order).
///
/// Fails on the first unreadable file, invalid YAML/JSON, or document that is not a
/// `apiextensions.k8s.io/v1` `CustomResourceDefinition`.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<CrdSource>> {
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files)?;
    }
    // Files are parsed on as many threads as the machine offers (each thread a contiguous run
    // of files); the CRDs and the first error come in file order, as from one thread.
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(files.len())
        .max(1);
    let per_thread = files.len().div_ceil(threads).max(1);
    let read_all = |files: &[PathBuf]| -> Result<Vec<CrdSource>> {
        let mut out = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(f).map_err(|source| Error::Io {
                path: f.clone(),
                source,
            })?;
            out.extend(read_text(f, &text)?);
        }
        Ok(out)
    };
    let parts: Vec<Result<Vec<CrdSource>>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(per_thread)
            .map(|chunk| s.spawn(move || read_all(chunk)))
            .collect();
        handles
            .into_iter()
            .zip(files.chunks(per_thread))
            .map(|(h, chunk)| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Crd {
                        path: chunk.first().cloned().unwrap_or_default(),
                        document: None,
                        pointer: String::new(),
                        message: "a reading thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut out = Vec::new();
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| Error::Io {
        path: p.to_owned(),
        source,
    };
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .map_err(io)?;
        entries.sort();
        for e in entries {
            let manifest = e
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"));
            if e.is_dir() || manifest {
                collect_files(&e, out)?;
            }
        }
        Ok(())
    } else {
        std::fs::metadata(p).map_err(io)?;
        out.push(p.to_owned());
        Ok(())
    }
}

/// Reads the CRDs of one file's text (`path` names it in errors). JSON when the file name ends
/// in `.json` (one document), else a YAML stream.
pub fn read_text(path: &Path, text: &str) -> Result<Vec<CrdSource>> {
    let json = path.extension().is_some_and(|x| x == "json");
    let docs: Vec<(Option<usize>, Value)> = if json {
        let v: Value = serde_json::from_str(text).map_err(|e| Error::Crd {
            path: path.to_owned(),
            document: None,
            pointer: String::new(),
            message: format!("invalid JSON: {e}"),
        })?;
        vec![(None, v)]
    } else {
        let mut docs = Vec::new();
        for (i, d) in k8s_core::yaml::from_str_multi::<Value>(text).enumerate() {
            let v = d.map_err(|e| Error::Crd {
                path: path.to_owned(),
                document: e.document.or(Some(i)),
                pointer: String::new(),
                message: format!("invalid YAML: {e}"),
            })?;
            docs.push((Some(i), v));
        }
        // One document: no index in messages.
        if docs.len() == 1 {
            docs[0].0 = None;
        }
        docs
    };
    let mut out = Vec::new();
    for (document, v) in docs {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind.ends_with("List") && v.get("items").is_some_and(Value::is_array) {
            let items = v
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (j, item) in items.into_iter().enumerate() {
                let src = CrdSource {
                    path: path.to_owned(),
                    document,
                    base: format!("/items/{j}"),
                    crd: item,
                };
                check_crd(&src)?;
                out.push(src);
            }
            continue;
        }
        let src = CrdSource {
            path: path.to_owned(),
            document,
            base: String::new(),
            crd: v,
        };
        check_crd(&src)?;
        out.push(src);
    }
    Ok(out)
}

fn check_crd(src: &CrdSource) -> Result<()> {
    let av = src.crd.get("apiVersion").and_then(Value::as_str);
    let kind = src.crd.get("kind").and_then(Value::as_str);
    match (av, kind) {
        (Some("apiextensions.k8s.io/v1"), Some("CustomResourceDefinition")) => Ok(()),
        (Some(other), Some("CustomResourceDefinition")) => Err(src.error(
            "/apiVersion",
            format!(
                "CustomResourceDefinition of {other} is not supported: only apiextensions.k8s.io/v1 (v1beta1 was removed in Kubernetes 1.22)"
            ),
        )),
        _ => Err(src.error(
            "/kind",
            format!(
                "not a CustomResourceDefinition (apiVersion {:?}, kind {:?})",
                av.unwrap_or(""),
                kind.unwrap_or("")
            ),
        )),
    }
}
