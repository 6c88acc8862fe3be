//! PLACEHOLDER: replaced by the full implementation.
use serde::{Deserialize, Serialize};
/// An integer or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// An integer.
    Int(i32),
    /// A string.
    String(String),
}
impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}
