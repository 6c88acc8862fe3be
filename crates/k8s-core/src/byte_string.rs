//! [`ByteString`]: the bytes of a schema field with `format: byte` (`Secret.data`,
//! `ConfigMap.binaryData`, CA bundles, …), base64 on the wire.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Go's `base64.StdEncoding`, which `encoding/json` uses for `[]byte`: standard alphabet, `=`
/// padding required, non-zero trailing bits tolerated.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// Arbitrary bytes, base64-encoded (standard alphabet, with padding) on the wire.
///
/// Deserializes from a base64 string (line breaks are ignored, as Go's decoder does), from
/// `null` (empty), and from raw bytes in binary formats. Serializes as a base64 string in
/// human-readable formats (JSON, YAML) and as raw bytes otherwise (CBOR).
///
/// `Debug` shows only the length, `ByteString(<12 bytes>)`, because these fields carry Secret
/// data; nor do decoding errors echo the input.
///
/// ```
/// use k8s_core::ByteString;
///
/// let password: ByteString = serde_json::from_str(r#""aHVudGVyMg==""#)?;
/// assert_eq!(password.as_bytes(), b"hunter2");
/// assert_eq!(format!("{password:?}"), "ByteString(<7 bytes>)");
/// assert_eq!(serde_json::to_string(&password)?, r#""aHVudGVyMg==""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteString(pub Vec<u8>);

impl ByteString {
    /// Wraps bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        ByteString(bytes.into())
    }

    /// Decodes standard base64 with padding (line breaks are ignored).
    ///
    /// # Errors
    ///
    /// If `encoded` is not valid base64; the error describes the problem without repeating the
    /// data.
    pub fn from_base64(encoded: &str) -> Result<Self, ByteStringError> {
        decode(encoded).map(ByteString)
    }

    /// Encodes as standard base64 with padding, as on the wire.
    pub fn to_base64(&self) -> String {
        ENGINE.encode(&self.0)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the wrapper, returning the bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn decode(encoded: &str) -> Result<Vec<u8>, ByteStringError> {
    let result = if encoded.contains(['\r', '\n']) {
        let joined: String = encoded
            .chars()
            .filter(|c| !matches!(c, '\r' | '\n'))
            .collect();
        ENGINE.decode(joined)
    } else {
        ENGINE.decode(encoded)
    };
    result.map_err(|err| ByteStringError {
        message: describe(&err),
    })
}

/// Describes a decoding error without quoting the (possibly secret) data.
fn describe(err: &base64::DecodeError) -> String {
    use base64::DecodeError;
    match *err {
        DecodeError::InvalidByte(offset, b'-' | b'_') => format!(
            "character at offset {offset} belongs to the URL-safe alphabet; Kubernetes uses the \
             standard alphabet (+ and /)"
        ),
        DecodeError::InvalidByte(offset, b'=') => {
            format!("misplaced `=` padding at offset {offset}")
        }
        DecodeError::InvalidByte(offset, byte) if byte.is_ascii_whitespace() => {
            format!("whitespace at offset {offset}")
        }
        DecodeError::InvalidByte(offset, _) => {
            format!("character at offset {offset} is not in the base64 alphabet")
        }
        DecodeError::InvalidLength(len) => format!(
            "length {len} is not valid for padded base64 (a multiple of 4 characters is needed)"
        ),
        DecodeError::InvalidLastSymbol { offset, .. } => {
            format!("invalid final character at offset {offset}")
        }
        DecodeError::InvalidPadding => {
            "missing or incorrect `=` padding (padding is required)".to_owned()
        }
    }
}

/// The data of a [`ByteString`] is not valid base64.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid base64 data: {message}")]
pub struct ByteStringError {
    message: String,
}

impl fmt::Debug for ByteString {
    /// `ByteString(<N bytes>)`: never the bytes themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            1 => f.write_str("ByteString(<1 byte>)"),
            n => write!(f, "ByteString(<{n} bytes>)"),
        }
    }
}

impl From<Vec<u8>> for ByteString {
    fn from(bytes: Vec<u8>) -> Self {
        ByteString(bytes)
    }
}

impl From<&[u8]> for ByteString {
    fn from(bytes: &[u8]) -> Self {
        ByteString(bytes.to_vec())
    }
}

impl From<String> for ByteString {
    /// The UTF-8 bytes of the string (not base64-decoded).
    fn from(s: String) -> Self {
        ByteString(s.into_bytes())
    }
}

impl From<&str> for ByteString {
    /// The UTF-8 bytes of the string (not base64-decoded).
    fn from(s: &str) -> Self {
        ByteString(s.as_bytes().to_vec())
    }
}

impl From<ByteString> for Vec<u8> {
    fn from(b: ByteString) -> Self {
        b.0
    }
}

impl AsRef<[u8]> for ByteString {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_base64())
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ByteStringVisitor)
    }
}

struct ByteStringVisitor;

impl<'de> Visitor<'de> for ByteStringVisitor {
    type Value = ByteString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64-encoded string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteString, E> {
        ByteString::from_base64(v).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteString, E> {
        Ok(ByteString(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteString, E> {
        Ok(ByteString(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<ByteString, E> {
        Ok(ByteString::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<ByteString, E> {
        Ok(ByteString::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<ByteString, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteString, E> {
        Err(E::invalid_type(Unexpected::Signed(v), &self))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;

    use super::*;

    fn from_json(json: &str) -> Result<ByteString, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn json_round_trip() {
        for (json, bytes) in [
            ("\"\"", &b""[..]),
            ("\"YQ==\"", b"a"),
            ("\"YWI=\"", b"ab"),
            ("\"YWJj\"", b"abc"),
            ("\"aHVudGVyMg==\"", b"hunter2"),
            ("\"AP/+gA==\"", &[0x00, 0xff, 0xfe, 0x80]),
            ("\"+/+/\"", &[0xfb, 0xff, 0xbf]),
        ] {
            let parsed = from_json(json).unwrap();
            assert_eq!(parsed.as_bytes(), bytes, "{json}");
            assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        }
    }

    #[test]
    fn null_is_empty() {
        assert!(from_json("null").unwrap().is_empty());
        let data: BTreeMap<String, ByteString> =
            serde_json::from_str(r#"{"a":null,"b":"Yg=="}"#).unwrap();
        assert!(data["a"].is_empty());
        assert_eq!(data["b"].as_bytes(), b"b");
        let absent: Option<ByteString> = serde_json::from_str("null").unwrap();
        assert!(absent.is_none());
    }

    #[test]
    fn line_breaks_are_ignored_like_go() {
        let wrapped = "\"aHVu\\ndGVy\\r\\nMg==\\n\"";
        assert_eq!(from_json(wrapped).unwrap().as_bytes(), b"hunter2");
    }

    #[test]
    fn trailing_bits_are_tolerated_like_go() {
        // "YR==" has non-zero bits after the last byte; Go's StdEncoding accepts it as "a".
        assert_eq!(from_json("\"YR==\"").unwrap().as_bytes(), b"a");
    }

    #[test]
    fn invalid_base64_names_the_problem_not_the_data() {
        for (json, message) in [
            (
                "\"aHVudGVyMg\"",
                "invalid base64 data: missing or incorrect `=` padding",
            ),
            ("\"aHVudGVyMg=\"", "invalid base64 data: "),
            (
                "\"c2VjcmV0-_==\"",
                "invalid base64 data: character at offset 8 belongs to the URL-safe alphabet",
            ),
            (
                "\"c2Vj cmV0\"",
                "invalid base64 data: whitespace at offset 4",
            ),
            (
                "\"c2Vj*mV0\"",
                "invalid base64 data: character at offset 4 is not in the base64 alphabet",
            ),
            (
                "\"YQ==YQ==\"",
                "invalid base64 data: misplaced `=` padding at offset 2",
            ),
            ("\"c2VjcmV0c\"", "invalid base64 data: "),
            (
                "42",
                "invalid type: integer `42`, expected a base64-encoded string",
            ),
            (
                "true",
                "invalid type: boolean `true`, expected a base64-encoded string",
            ),
        ] {
            let err = from_json(json).unwrap_err().to_string();
            assert!(err.starts_with(message), "{json}: {err}");
            assert!(!err.contains("c2Vj"), "{err}");
        }
    }

    #[test]
    fn debug_hides_the_bytes() {
        assert_eq!(
            format!("{:?}", ByteString::from("hunter2")),
            "ByteString(<7 bytes>)"
        );
        assert_eq!(
            format!("{:?}", ByteString::from("x")),
            "ByteString(<1 byte>)"
        );
        assert_eq!(
            format!("{:?}", ByteString::default()),
            "ByteString(<0 bytes>)"
        );
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Secret {
            data: BTreeMap<String, ByteString>,
        }
        let secret = Secret {
            data: [("password".to_owned(), ByteString::from("hunter2"))].into(),
        };
        let shown = format!("{secret:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("104"),
            "{shown}"
        );
    }

    #[test]
    fn helpers_and_conversions() {
        let b = ByteString::new(vec![1, 2, 3]);
        assert_eq!(b.len(), 3);
        assert!(!b.is_empty());
        assert_eq!(b.to_base64(), "AQID");
        assert_eq!(ByteString::from_base64("AQID").unwrap(), b);
        assert!(ByteString::from_base64("AQI").is_err());
        assert_eq!(ByteString::from(&[1u8, 2, 3][..]), b);
        assert_eq!(b.as_ref(), &[1, 2, 3]);
        assert_eq!(Vec::from(b.clone()), vec![1, 2, 3]);
        assert_eq!(b.clone().into_bytes(), vec![1, 2, 3]);
        assert_eq!(ByteString::from("hi".to_owned()).as_bytes(), b"hi");
    }

    /// A minimal non-human-readable serializer/deserializer round trip through serde's
    /// `value` module, checking that raw bytes are accepted.
    #[test]
    fn raw_bytes_are_accepted() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{BytesDeserializer, Error};
        let d: BytesDeserializer<'_, Error> = (&b"raw"[..]).into_deserializer();
        assert_eq!(ByteString::deserialize(d).unwrap().as_bytes(), b"raw");
    }
}
