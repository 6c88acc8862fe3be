//! PLACEHOLDER: replaced by the full implementation.
use serde::{Deserialize, Serialize};
/// A timestamp with second precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Time(pub jiff::Timestamp);
/// A timestamp with microsecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MicroTime(pub jiff::Timestamp);
