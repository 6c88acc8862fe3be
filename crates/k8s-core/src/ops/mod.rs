//! Typed, sans-IO request builders for the standard Kubernetes verbs.
//!
//! Generated operations return these: `Pod::list("default")` is a [`ListRequest<Pod>`],
//! `Pod::read_status(..)` a [`GetRequest<Pod>`], `Deployment::patch_scale(..)` a
//! [`PatchRequest<Scale>`]. The generator checks, for every operation, that the spec's query
//! parameters are exactly the ones the builder offers (or emits a dedicated builder instead), so
//! the options here are the spec's own, typed once.
//!
//! ```
//! use k8s_core::ops::ListRequest;
//! use k8s_core::ApiRequest;
//! // With k8s-api: `Pod::list("default")`; here, untyped items.
//! let req = ListRequest::<serde_json::Value>::new("/api/v1/namespaces/default/pods".into())
//!     .label_selector("app=web")
//!     .limit(500);
//! let http = req.to_request().unwrap();
//! assert_eq!(http.path_and_query(), "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=500");
//! ```

// Layout: the options and their query/body encoding (`params.rs`), the builder methods shared
// by several builders (`macros.rs`), the protobuf codec a request keeps for its kind
// (`codec.rs`), the builders of the standard verbs (`verbs.rs`), and
// `CustomRequest` with its decoders (`custom.rs`).

pub use crate::request::{encode_path_segment_pub as encode_path_segment, encode_path_tail};

#[macro_use]
mod macros;
mod codec;
mod custom;
mod params;
mod verbs;

/// `Accept` of a metadata-only list ([`ListRequest::accept`]): a `meta.k8s.io/v1`
/// `PartialObjectMetadataList` (items of kind `PartialObjectMetadata`, each only `metadata`),
/// or plain JSON from a server that cannot convert.
pub const ACCEPT_PARTIAL_OBJECT_METADATA_LIST: &str =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

/// `Accept` of a metadata-only watch or get ([`WatchRequest::accept`]): each object a
/// `meta.k8s.io/v1` `PartialObjectMetadata`, or plain JSON from a server that cannot convert.
pub const ACCEPT_PARTIAL_OBJECT_METADATA: &str =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

pub use codec::{
    ACCEPT_PROTOBUF, CONTENT_TYPE_PROTOBUF, ProtobufCodec, WATCH_CONTENT_TYPE_PROTOBUF,
    is_protobuf, split_frames, status_from_protobuf,
};
pub use custom::{Bytes, CustomRequest, Decode, Json, Text, Upgrade};
pub use params::{
    DeleteParams, FieldValidation, ListParams, PatchParams, PropagationPolicy,
    ResourceVersionMatch, WatchParams, WriteParams,
};
pub use verbs::{
    CreateRequest, DeleteCollectionRequest, DeleteRequest, DeleteResponse, GetRequest, ListRequest,
    PatchRequest, ReplaceRequest, WatchRequest,
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
