//! Hand-written support shared by the generated Kubernetes API types (`k8s-api`) and the runtime
//! (`k8s-client`, `k8s-testserver`).
//!
//! * special value types of the Kubernetes wire format: [`Quantity`], [`IntOrString`], [`Time`],
//!   [`MicroTime`], [`ByteString`];
//! * the resource model: [`Resource`] (group, version, kind, plural, scope, verbs) and [`Object`]
//!   (metadata accessors), plus [`ResourceInfo`] tables for discovery and test servers;
//! * objects whose kind is known only at run time: [`DynamicObject`] with its [`ApiResource`]
//!   descriptor (which builds the same request builders as the generated code), and
//!   [`HasMetadata`], what generic code (lists, watches) needs of typed and dynamic objects;
//! * generic envelopes: [`List<T>`], [`WatchEvent<T>`], [`Status`];
//! * the sans-IO request description: [`Request`], the [`ApiRequest`] trait and the typed request
//!   builders in [`ops`] that every generated operation returns.
//!
//! * [`yaml`] (feature `yaml`, on by default): manifests in YAML, one document or a stream.
//! * `protobuf` (feature `protobuf`): the Kubernetes protobuf wire format.
//!
//! Nothing here performs I/O: any HTTP stack can execute a [`Request`].

mod byte_string;
mod dynamic;
mod fields_v1;
mod int_or_string;
mod list;
mod meta;
pub mod ops;
mod patch;
#[cfg(feature = "protobuf")]
pub mod protobuf;
mod quantity;
mod request;
mod resource;
mod serde_util;
mod status;
mod time;
mod watch;
#[cfg(feature = "yaml")]
pub mod yaml;

pub use byte_string::{ByteString, ByteStringError};
pub use dynamic::{ApiResource, DynamicObject};
pub use fields_v1::FieldsV1;
pub use int_or_string::{IntOrString, IntOrStringError};
pub use list::{List, ListItem, ListMeta, ShardInfo};
pub use meta::{ManagedFieldsEntry, ObjectMeta, OwnerReference};
pub use ops::{
    DeleteParams, FieldValidation, ListParams, PatchParams, PropagationPolicy,
    ResourceVersionMatch, WatchParams, WriteParams,
};
pub use patch::Patch;
pub use quantity::{Quantity, QuantityError};
pub use request::{ApiRequest, DecodeError, ProtobufForm, Request, RequestError, ResponseKind};
pub use resource::{HasMetadata, Object, Resource, ResourceInfo, Scope};
pub use status::{Status, StatusCause, StatusDetails};
pub use time::{MicroTime, Time};
pub use watch::{WatchEvent, WatchEventType};

#[doc(hidden)]
pub mod __private {
    //! Helpers for generated code; not a stable API.
    pub use crate::serde_util::*;
}
