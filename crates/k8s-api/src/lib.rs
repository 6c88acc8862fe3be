//! Every Kubernetes API type and operation, typed, generated from the API server's own OpenAPI
//! spec for each supported Kubernetes version.
//!
//! ```ignore
//! use k8s_api::latest::core::v1::{Container, Pod, PodSpec};
//! let req = Pod::list("default").label_selector("app=web").limit(500);
//! ```
//!
//! Modules: one per Kubernetes version (`v1_32` … `v1_36`, cargo features of the same names;
//! `latest` aliases the newest), then one per API group (`core`, `apps`, `batch`, …; cargo
//! features of the same names) and version (`v1`, `v1beta1`, …). `meta` (object metadata,
//! options, discovery types) is always compiled.
//!
//! Feature `protobuf` (off by default): every kind and the types inside it implement
//! `k8s_core::protobuf::Message`, so `k8s_core::protobuf::from_bytes::<Pod>(body)` reads the API
//! server's `application/vnd.kubernetes.protobuf` bodies and `to_bytes` writes them, byte for
//! byte as the server does. Without the feature none of it is compiled.
//!
//! The code is produced by `cargo xtask generate`. `src/generated/` is committed (without the
//! spec's descriptions); the packaged crate, and a checkout where the generator ran with spec
//! files, compile the same code with the descriptions as rustdoc (see `build.rs`).

#![allow(missing_docs)]

// Formatted by prettyplease when generated; rustfmt leaves it alone.
#[cfg(not(k8s_api_documented))]
#[rustfmt::skip]
#[path = "generated/mod.rs"]
mod generated;
#[cfg(k8s_api_documented)]
#[rustfmt::skip]
#[path = "documented/mod.rs"]
mod generated;
pub use generated::*;
