//! Serde helpers used by generated code.

use serde::{Deserialize, Deserializer};

/// Deserializes a required field that the server may send as `null` (or leave out) as the
/// type's default value.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
