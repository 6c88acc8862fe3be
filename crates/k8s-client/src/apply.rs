//! `kubectl apply --server-side -f` for this SDK: a multi-document YAML manifest of mixed kinds,
//! each document resolved through discovery and sent as a server-side apply patch.

use k8s_core::yaml::{YamlError, from_str_dynamic};
use k8s_core::{DynamicObject, Patch};

use crate::client::Client;
use crate::discovery::{DiscoveryCache, DiscoveryError};
use crate::error::Error;

/// Options of [`Client::apply_manifest`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// `fieldManager` (kubectl's default: `kubectl`).
    pub field_manager: String,
    /// `force=true`: take over fields another manager owns (`--force-conflicts`).
    pub force: bool,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// Namespace of namespaced documents that name none; `None`: the client's namespace.
    pub namespace: Option<String>,
}

impl ApplyOptions {
    /// Options with this field manager, no force, no dry run, the client's namespace.
    pub fn new(field_manager: impl Into<String>) -> Self {
        ApplyOptions {
            field_manager: field_manager.into(),
            force: false,
            dry_run: false,
            namespace: None,
        }
    }
    /// Sets `force`.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
    /// Sets `dry_run`.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }
    /// Sets the default namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
}

/// Why one document of a manifest was not applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The document is not valid YAML, or names no `apiVersion`/`kind` (the error names it).
    #[error("{0}")]
    Yaml(#[from] YamlError),
    /// A `kind: List` document whose items are not objects with `apiVersion` and `kind`.
    #[error("document {document}: {message}")]
    InvalidDocument {
        /// 0-based index of the document.
        document: usize,
        /// What is wrong.
        message: String,
    },
    /// The document's kind is not served.
    #[error("document {document} ({kind} {name:?}): {source}")]
    Resolve {
        /// 0-based index of the document.
        document: usize,
        /// `apiVersion` and `kind`.
        kind: String,
        /// `metadata.name`.
        name: String,
        /// What discovery said.
        source: Box<DiscoveryError>,
    },
    /// The document has no `metadata.name`.
    #[error("document {document} ({kind}): metadata.name is required")]
    MissingName {
        /// 0-based index of the document.
        document: usize,
        /// `apiVersion` and `kind`.
        kind: String,
    },
    /// The server refused the apply (the error names the path, status and message).
    #[error("document {document} ({kind} {name:?}): {source}")]
    Request {
        /// 0-based index of the document.
        document: usize,
        /// `apiVersion` and `kind`.
        kind: String,
        /// `metadata.name`.
        name: String,
        /// The request's error.
        source: Box<Error>,
    },
}

impl Client {
    /// Applies every object of a multi-document YAML manifest with server-side apply, like
    /// `kubectl apply --server-side -f`: each document's `apiVersion`/`kind` is resolved
    /// through `discovery` (fetched again once if a kind is unknown, so a CRD applied earlier in
    /// the same manifest is found once established); a namespaced object goes to its own
    /// namespace, else to `options.namespace`, else the client's; a `kind: List` document
    /// applies each of its items.
    ///
    /// One result per object, in order. Like kubectl, a failed document does not stop the
    /// others.
    ///
    /// ```no_run
    /// use k8s_client::discovery::DiscoveryCache;
    /// use k8s_client::ApplyOptions;
    /// # async fn run(client: k8s_client::Client, manifest: &str) -> Result<(), k8s_client::ApplyError> {
    /// let discovery = DiscoveryCache::new(client.clone(), std::time::Duration::from_secs(300));
    /// for result in client.apply_manifest(&discovery, manifest, &ApplyOptions::new("my-tool")).await {
    ///     let applied = result?;
    ///     println!("{} {} applied", applied.kind, applied.name_any());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn apply_manifest(
        &self,
        discovery: &DiscoveryCache,
        manifest: &str,
        options: &ApplyOptions,
    ) -> Vec<Result<DynamicObject, ApplyError>> {
        let mut out = Vec::new();
        for doc in from_str_dynamic(manifest) {
            let (index, object) = match doc {
                Ok(d) => d,
                Err(e) => {
                    out.push(Err(ApplyError::Yaml(e)));
                    continue;
                }
            };
            for object in expand_list(index, object) {
                match object {
                    Ok(object) => out.push(self.apply_one(discovery, index, object, options).await),
                    Err(e) => out.push(Err(e)),
                }
            }
        }
        out
    }

    async fn apply_one(
        &self,
        discovery: &DiscoveryCache,
        document: usize,
        object: DynamicObject,
        options: &ApplyOptions,
    ) -> Result<DynamicObject, ApplyError> {
        let kind = format!("{} {}", object.api_version, object.kind);
        let Some(name) = object.name().map(str::to_owned) else {
            return Err(ApplyError::MissingName { document, kind });
        };
        let resource = discovery
            .resolve_kind(&object.api_version, &object.kind)
            .await
            .map_err(|source| ApplyError::Resolve {
                document,
                kind: kind.clone(),
                name: name.clone(),
                source: Box::new(source),
            })?;
        let namespace = object
            .namespace()
            .map(str::to_owned)
            .or_else(|| options.namespace.clone())
            .unwrap_or_else(|| self.namespace().to_owned());
        let body = serde_json::to_value(&object).map_err(|e| ApplyError::Request {
            document,
            kind: kind.clone(),
            name: name.clone(),
            source: Box::new(Error::Request(k8s_core::RequestError::Body(e.to_string()))),
        })?;
        let mut req = resource
            .patch(Some(&namespace), &name, Patch::Apply(body))
            .field_manager(options.field_manager.clone());
        if options.force {
            req = req.force();
        }
        if options.dry_run {
            req = req.dry_run();
        }
        self.send(req).await.map_err(|source| ApplyError::Request {
            document,
            kind,
            name,
            source: Box::new(source),
        })
    }
}

/// The items of a `kind: List` document (each must carry its own `apiVersion` and `kind`), or
/// the object itself.
fn expand_list(document: usize, object: DynamicObject) -> Vec<Result<DynamicObject, ApplyError>> {
    if object.kind != "List" {
        return vec![Ok(object)];
    }
    let bad = |message: String| ApplyError::InvalidDocument { document, message };
    match object.data.get("items") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                serde_json::from_value::<DynamicObject>(item.clone())
                    .map_err(|e| {
                        bad(format!(
                            "List item {i} is not an object: {}",
                            e.classify_name()
                        ))
                    })
                    .and_then(|o| {
                        if o.api_version.is_empty() || o.kind.is_empty() {
                            Err(bad(format!("List item {i} has no apiVersion or kind")))
                        } else {
                            Ok(o)
                        }
                    })
            })
            .collect(),
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(_) => vec![Err(bad("the items of a List must be an array".into()))],
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "wrong type",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}
