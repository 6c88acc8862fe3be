//! Serde helpers used by generated code.

use serde::{Deserialize, Deserializer};

/// A map key of a generated struct: borrowed from the input when it can be (serde_json's
/// `from_slice`/`from_str`), owned otherwise. Generated `Deserialize` impls match on it instead of
/// declaring a field-identifier enum per struct, which keeps the generated crate small to compile.
pub struct Key<'de>(std::borrow::Cow<'de, str>);

impl Key<'_> {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Stores the value of a field, failing on a second occurrence of the same key (as serde's
/// derive does).
pub fn set_once<T, E: serde::de::Error>(
    slot: &mut Option<T>,
    value: T,
    field: &'static str,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(field));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads a required field's value, `null` as the default.
pub fn or_default<T: Default>(v: Option<T>) -> T {
    v.unwrap_or_default()
}

/// Checks the `apiVersion` or `kind` (`field`) read from a kind's JSON against the type's own
/// (`expected`): a different value fails, naming both and the type; an absent one (`None`: the
/// items of a list omit them) or `null` is accepted.
pub fn check_type_field<E: serde::de::Error>(
    found: Option<Key<'_>>,
    field: &'static str,
    expected: &'static str,
    type_name: &'static str,
) -> Result<(), E> {
    match found {
        Some(k) if k.as_str() != expected => Err(E::custom(format_args!(
            "expected {field} {expected:?} for a {type_name}, found {:?}",
            k.as_str()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn check(json: &str) -> Result<(), String> {
        let found: Option<Key<'_>> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        check_type_field::<serde_json::Error>(found, "kind", "Deployment", "Deployment")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn type_fields_absent_null_or_equal_pass_and_others_name_both() {
        assert_eq!(check(r#""Deployment""#), Ok(()));
        assert_eq!(check("null"), Ok(()));
        assert_eq!(
            check(r#""Service""#),
            Err(r#"expected kind "Deployment" for a Deployment, found "Service""#.to_owned())
        );
    }
}
