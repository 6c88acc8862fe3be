//! The four kinds of patch the API server accepts.

use serde::Serialize;

/// A patch body with its content type.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Patch {
    /// RFC 6902 JSON Patch (`application/json-patch+json`): an array of operations.
    Json(serde_json::Value),
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`).
    Merge(serde_json::Value),
    /// Kubernetes strategic merge patch (`application/strategic-merge-patch+json`); built-in
    /// kinds only.
    Strategic(serde_json::Value),
    /// Server-side apply (`application/apply-patch+yaml`): the full intent of one field manager.
    /// Needs `fieldManager`; JSON is valid YAML, so the body is sent as JSON.
    Apply(serde_json::Value),
    /// Server-side apply with a YAML document sent as is.
    ApplyYaml(String),
}

impl Patch {
    /// A server-side apply patch of a typed object.
    pub fn apply<T: Serialize>(object: &T) -> Result<Self, crate::RequestError> {
        serde_json::to_value(object)
            .map(Patch::Apply)
            .map_err(|e| crate::RequestError::Body(e.to_string()))
    }

    /// The `Content-Type` of this patch.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Json(_) => "application/json-patch+json",
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
            Patch::Apply(_) | Patch::ApplyYaml(_) => "application/apply-patch+yaml",
        }
    }

    /// Whether this is a server-side apply (which needs a field manager).
    pub fn is_apply(&self) -> bool {
        matches!(self, Patch::Apply(_) | Patch::ApplyYaml(_))
    }

    /// The body bytes.
    pub fn to_body(&self) -> Result<Vec<u8>, crate::RequestError> {
        match self {
            Patch::Json(v) | Patch::Merge(v) | Patch::Strategic(v) | Patch::Apply(v) => {
                serde_json::to_vec(v).map_err(|e| crate::RequestError::Body(e.to_string()))
            }
            Patch::ApplyYaml(s) => Ok(s.as_bytes().to_vec()),
        }
    }
}
