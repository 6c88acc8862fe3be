//! `FieldsV1` (`io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1`): the field set of a
//! `managedFields` entry, kept as compact JSON text.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The set of fields a manager owns, in the server's trie encoding (`{"f:spec":{"f:replicas":{}}}`).
///
/// Kept as its compact JSON text rather than a `serde_json::Value` tree: managed fields are often
/// half of an object's bytes, and one string costs one allocation where a tree costs one map per
/// node. Decoding and encoding transcode in a single streaming pass (`serde-transcode`), from and to
/// any serde format (JSON, YAML, a `serde_json::Value`). Use [`FieldsV1::to_value`] to walk it.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldsV1(String);

impl FieldsV1 {
    /// Compact JSON text of the field set (`{}` when empty).
    pub fn as_json(&self) -> &str {
        if self.0.is_empty() { "{}" } else { &self.0 }
    }

    /// Parses the field set into a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_json()).unwrap_or(serde_json::Value::Null)
    }

    /// A field set from JSON text that is already compact, as serde_json writes it (the
    /// protobuf decoder checks that before calling this).
    #[cfg(feature = "protobuf")]
    pub(crate) fn from_compact_json(text: String) -> Self {
        FieldsV1(text)
    }

    /// Builds a field set from a JSON value.
    pub fn from_value(value: &serde_json::Value) -> Self {
        FieldsV1(value.to_string())
    }
}

impl fmt::Debug for FieldsV1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldsV1({})", self.as_json())
    }
}

impl<'de> Deserialize<'de> for FieldsV1 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = Vec::with_capacity(128);
        let mut ser = serde_json::Serializer::new(&mut out);
        serde_transcode::transcode(d, &mut ser).map_err(serde::de::Error::custom)?;
        // serde_json writes UTF-8 only.
        String::from_utf8(out)
            .map(FieldsV1)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for FieldsV1 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut de = serde_json::Deserializer::from_str(self.as_json());
        serde_transcode::transcode(&mut de, s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TRIE: &str = r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{}}}}}"#;

    #[test]
    fn round_trips_json_exactly() {
        let f: FieldsV1 = serde_json::from_str(TRIE).unwrap();
        assert_eq!(f.as_json(), TRIE);
        assert_eq!(serde_json::to_string(&f).unwrap(), TRIE);
        assert_eq!(
            f.to_value(),
            serde_json::from_str::<serde_json::Value>(TRIE).unwrap()
        );
    }

    #[test]
    fn decodes_from_a_value_and_from_yaml() {
        let v: serde_json::Value = serde_json::from_str(TRIE).unwrap();
        let f: FieldsV1 = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(f.to_value(), v);
        assert_eq!(serde_json::to_value(&f).unwrap(), v);
        let y: FieldsV1 = serde_saphyr::from_str("f:spec:\n  f:replicas: {}\n").unwrap();
        assert_eq!(y.as_json(), r#"{"f:spec":{"f:replicas":{}}}"#);
    }

    #[test]
    fn pretty_input_is_compacted() {
        let f: FieldsV1 = serde_json::from_str("{ \"f:a\" : { } }").unwrap();
        assert_eq!(f.as_json(), r#"{"f:a":{}}"#);
        assert_eq!(format!("{f:?}"), r#"FieldsV1({"f:a":{}})"#);
    }
}
