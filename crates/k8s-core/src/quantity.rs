//! PLACEHOLDER: replaced by the full implementation.
use serde::{Deserialize, Serialize};
/// A Kubernetes quantity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quantity(pub String);
/// A quantity could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid quantity")]
pub struct QuantityError;
