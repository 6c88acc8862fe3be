//! PLACEHOLDER: replaced by the full implementation.
use serde::{Deserialize, Serialize};
/// Bytes, base64 on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ByteString(pub Vec<u8>);
