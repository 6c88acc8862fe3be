//! The k8s-sdk generator: Kubernetes OpenAPI spec in, typed Rust out.
//!
//! Pipeline: [`load_v2`] (Swagger 2.0, primary) and [`load_v3`] (OpenAPI v3 per-group documents)
//! build one [`ir::ApiModel`]; [`fixups`] patch it (special types, generic lists, …) and account for
//! every definition; [`plan`] classifies every operation; [`emit`] writes Rust with `quote` and
//! `prettyplease`, deterministically and atomically. [`model_text`] is the committed, diff-friendly
//! form of the model.

pub mod crd;
pub mod emit;
pub mod error;
pub mod fixups;
pub mod generate;
pub mod ir;
#[cfg(feature = "spec")]
pub mod load_proto;
pub mod load_v2;
#[cfg(feature = "spec")]
pub mod load_v3;
pub mod model_text;
pub mod naming;
pub mod plan;

pub use error::{Error, Result};
