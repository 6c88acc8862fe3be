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

/// serde_json's name for its raw-value protocol (see `quantity/serde_impl.rs`): with it, serde_json
/// hands over the value's JSON text instead of visiting it.
const SERDE_JSON_RAW_VALUE: &str = "$serde_json::private::RawValue";

impl<'de> Deserialize<'de> for FieldsV1 {
    /// From serde_json, the value's text is taken as it is when it already is what the transcode
    /// would write (objects, arrays and strings only, compact or not, with no escape that the
    /// transcode would rewrite): one copy, no per-key work. Otherwise, and from every other format,
    /// the value is transcoded to compact JSON.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(SERDE_JSON_RAW_VALUE, FieldsVisitor)
    }
}

/// Transcodes any serde value to compact JSON.
fn transcode<'de, D: Deserializer<'de>>(d: D) -> Result<FieldsV1, D::Error> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::new(&mut out);
    serde_transcode::transcode(d, &mut ser).map_err(serde::de::Error::custom)?;
    // serde_json writes UTF-8 only.
    String::from_utf8(out)
        .map(FieldsV1)
        .map_err(serde::de::Error::custom)
}

/// The JSON text `raw` as [`transcode`] would write it, when that is `raw` without its
/// whitespace: only objects, arrays and strings, and in strings only the escapes serde_json
/// writes itself (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`). `None` for anything else
/// (numbers, literals, `\u` or `\/` escapes), which goes through the transcode.
fn compact_as_transcoded(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut start = 0; // the first byte not yet copied
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                loop {
                    match *bytes.get(i)? {
                        b'"' => break,
                        b'\\' => match *bytes.get(i + 1)? {
                            b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                            _ => return None,
                        },
                        // serde_json escapes control characters; it rejected raw ones already.
                        0..=0x1f => return None,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            b'{' | b'}' | b'[' | b']' | b':' | b',' => i += 1,
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push_str(raw.get(start..i)?);
                i += 1;
                start = i;
            }
            _ => return None,
        }
    }
    out.push_str(raw.get(start..)?);
    Some(out)
}

struct FieldsVisitor;

impl<'de> serde::de::Visitor<'de> for FieldsVisitor {
    type Value = FieldsV1;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field set (a JSON object)")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<FieldsV1, D::Error> {
        // Not serde_json's raw-value protocol: the value itself.
        transcode(d)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<FieldsV1, A::Error> {
        // serde_json's raw-value protocol: one entry keyed by its name, whose value is the text.
        match map.next_key::<std::borrow::Cow<'de, str>>()? {
            Some(key) if key == SERDE_JSON_RAW_VALUE => map.next_value_seed(RawText),
            _ => Err(serde::de::Error::invalid_type(
                serde::de::Unexpected::Map,
                &self,
            )),
        }
    }
}

/// The value half of serde_json's raw-value map: the JSON text of the field set.
struct RawText;

impl<'de> serde::de::DeserializeSeed<'de> for RawText {
    type Value = FieldsV1;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FieldsV1, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RawText {
    type Value = FieldsV1;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the JSON text of a field set")
    }

    fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<FieldsV1, E> {
        match compact_as_transcoded(raw) {
            Some(text) => Ok(FieldsV1(text)),
            None => transcode(&mut serde_json::Deserializer::from_str(raw)).map_err(E::custom),
        }
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

    /// What the transcode alone makes of `json` (the behaviour before the raw-text fast path).
    fn reference(json: &str) -> Result<String, String> {
        struct Transcoded(String);
        impl<'de> Deserialize<'de> for Transcoded {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                transcode(d).map(|f| Transcoded(f.0))
            }
        }
        serde_json::from_str::<Transcoded>(json)
            .map(|f| f.0)
            .map_err(|e| e.to_string())
    }

    fn decoded(json: &str) -> Result<String, String> {
        serde_json::from_str::<FieldsV1>(json)
            .map(|f| f.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn raw_text_and_transcode_agree() {
        for json in [
            TRIE,
            "{}",
            " { \"f:a\" :\n{ } , \"f:b\":{}}\t",
            r#"{"k:{\"name\":\"a\\\\b\"}":{}}"#,
            r#"{"f:a\n\t\r\b\f":{}}"#,
            r#"{"f:\u00e9\u003c":{}}"#,
            r#"{"f:a\/b":{}}"#,
            r#"{"f:a":1.0,"f:b":[true,null,1e2]}"#,
            r#"{"f:a":{},"f:a":{}}"#,
            r#"["f:a",{"f:b":[]}]"#,
            r#""just a string""#,
            "null",
            "{\"é\":{}}",
        ] {
            assert_eq!(decoded(json), reference(json), "{json}");
        }
        // Still no escape is rewritten differently from serde_json's writer.
        assert_eq!(decoded(r#"{"f:\u003c":{}}"#).unwrap(), r#"{"f:<":{}}"#);
    }

    #[test]
    fn bad_json_is_an_error() {
        for json in [
            "{",
            r#"{"f:a":}"#,
            r#"{"f:a" {}}"#,
            "{\"\u{1}\":{}}",
            r#"{"f:\x":{}}"#,
        ] {
            assert!(decoded(json).is_err(), "{json}");
        }
    }

    /// Bounded fuzz: random texts over JSON's structural bytes, strings and escapes decode as the
    /// transcode alone decodes them (the same text or both an error).
    #[test]
    fn random_texts_decode_as_the_transcode_does() {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "\n",
            "\"",
            "\"f:a\"",
            "\"k:{\\\"n\\\":1}\"",
            "\\",
            "\\n",
            "\\u0041",
            "\\/",
            "1",
            "-2.5e3",
            "true",
            "null",
            "é",
            "\"\"",
            "{}",
            "\t",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut agreed = 0;
        for _ in 0..20_000 {
            let len = 1 + next() % 12;
            let text: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let (got, want) = (decoded(&text), reference(&text));
            assert_eq!(got.is_ok(), want.is_ok(), "{text:?}: {got:?} vs {want:?}");
            if let (Ok(got), Ok(want)) = (got, want) {
                assert_eq!(got, want, "{text:?}");
                agreed += 1;
            }
        }
        // The fuzz reached valid documents, not only errors.
        assert!(agreed > 100, "{agreed} valid documents");
    }
}
