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
