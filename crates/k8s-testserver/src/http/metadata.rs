//! Metadata-only answers (`Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`),
//! as a metadata informer asks for them.
//!
//! As the real server: the first clause of `Accept` decides (a later `application/json` is no
//! fallback once a `PartialObjectMetadata` clause was chosen); a get or a watch converts to
//! `PartialObjectMetadata` (watch events and bookmarks alike), a list to
//! `PartialObjectMetadataList` whose items are `PartialObjectMetadata`; asking a list for
//! `PartialObjectMetadata` or an object for `PartialObjectMetadataList` is `406 NotAcceptable`.

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::registry::ResourceDef;

/// What the `Accept` header's first clause asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum As {
    /// `as=PartialObjectMetadata`
    Object,
    /// `as=PartialObjectMetadataList`
    List,
}

/// The metadata conversion the `Accept` header asks for, if any.
pub(super) fn wanted(accept: &str) -> Option<As> {
    let first = accept.split(',').next()?;
    let mut target = None;
    let mut group_ok = false;
    for param in first.split(';').skip(1) {
        match param.trim().split_once('=') {
            Some(("as", "PartialObjectMetadata")) => target = Some(As::Object),
            Some(("as", "PartialObjectMetadataList")) => target = Some(As::List),
            Some(("g", g)) => group_ok = g == "meta.k8s.io",
            _ => {}
        }
    }
    target.filter(|_| group_ok)
}

/// `PartialObjectMetadata` of one object.
pub(super) fn object(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// `PartialObjectMetadataList` of a list body.
pub(super) fn list(body: &Value) -> Value {
    let items: Vec<Value> = body
        .get("items")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(object).collect())
        .unwrap_or_default();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": body.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "items": items,
    })
}

/// The 406 for a conversion that does not fit the answer (`wanted` is the other shape).
pub(super) fn not_acceptable(def: &ResourceDef, wanted: As) -> ApiError {
    let package = if def.group.is_empty() {
        "core"
    } else {
        def.group.split('.').next().unwrap_or("")
    };
    let message = match wanted {
        As::List => format!(
            "you requested PartialObjectMetadataList, but the requested object is not a list (*{package}.{})",
            def.kind
        ),
        As::Object => format!(
            "you requested PartialObjectMetadata, but the requested object is a list (*{package}.{}List)",
            def.kind
        ),
    };
    ApiError {
        status: Box::new(k8s_core::Status::failure(406, "NotAcceptable", message)),
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_clause_decides() {
        let l = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        assert_eq!(wanted(l), Some(As::List));
        let o = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
        assert_eq!(wanted(o), Some(As::Object));
        assert_eq!(wanted("application/json"), None);
        assert_eq!(
            wanted("application/json,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
            None
        );
        assert_eq!(wanted("application/json;as=Table;g=meta.k8s.io;v=v1"), None);
        assert_eq!(
            wanted("application/json;as=PartialObjectMetadata;g=other;v=v1"),
            None
        );
    }
}
