//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`): the wire runtime behind the
//! generated codecs (feature `protobuf`).
//!
//! * [`Message`]: a type with a protobuf message form. Every generated kind implements it (with
//!   `k8s-api`'s feature `protobuf`), as do [`List<T>`](crate::List) (`<Kind>List`: `metadata` 1,
//!   `items` 2), [`Status`](crate::Status) and the metadata types.
//! * [`from_bytes`] / [`to_bytes`]: a body as the API server sends it: the magic `k8s\0`, then a
//!   `runtime.Unknown` message (`typeMeta` 1 {`apiVersion` 1, `kind` 2}, `raw` 2 = the object's
//!   message, `contentEncoding` 3, `contentType` 4).
//! * [`watch`]: the watch stream: frames of a 4-byte big-endian length and a `meta/v1
//!   WatchEvent` message (`type` 1, `object` 2 = `RawExtension{raw}` holding an enveloped object).
//!
//! Wire rules, as the API server's Go encoder (gogo-protobuf) writes them, so that re-encoding a
//! decoded body gives the server's bytes back: fields in field-number order; a field of a Go value
//! type (`string`, `int32`, `bool`, a struct) is always written, even when empty, and a Go pointer
//! field only when set; map entries sorted by key, key and value always written; `Time` as
//! `{seconds, nanos: 0}` (Go's zero time as an empty message), `MicroTime` with nanoseconds
//! truncated to microseconds, `Quantity` as `{1: its string}`, `IntOrString` as `{type, intVal,
//! strVal}` (all three written), `RawExtension`/`JSON`/`FieldsV1` as `{1: JSON text}`,
//! `ByteString` as bytes.
//!
//! Optional fields (`Option<T>`) of a Go value type read Go's zero value (`""`, `0`, `false`, the
//! zero time) as `None`, which is what the server's JSON says for them (`omitempty`), and write
//! `None` as that zero value; optional pointer fields read a present value as `Some`, even if
//! empty. Empty lists and maps are not written and read as absent (`None`), since the wire cannot
//! tell an empty list from a missing one.
//!
//! Decoding never panics: truncated or malformed input, a wrong wire type, invalid UTF-8, an
//! invalid quantity or timestamp, or nesting deeper than [`wire::MAX_DEPTH`] is an [`Error`]
//! naming the path of field numbers. Unknown fields are skipped.

mod field;
mod meta;
mod special;
pub mod watch;
pub mod wire;

#[cfg(test)]
mod tests;

use std::fmt;

pub use field::{
    Field, encode_list_map, encode_nested_lists, merge_embedded, merge_list_map_entry,
    merge_message, merge_nested_list,
};
pub use wire::{Bytes, Reader, Value, Writer};

/// The four bytes that start every protobuf body of the API server: `k8s\0`.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// The content type of protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The content type of a protobuf watch stream.
pub const WATCH_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// A type with a Kubernetes protobuf message form.
///
/// Generated code implements the two required methods with one line per field (through
/// [`Field`]); users call [`from_bytes`] and [`to_bytes`].
pub trait Message: Default {
    /// Writes the message's fields (without a tag or length of its own).
    fn encode_fields(&self, w: &mut Writer);

    /// Reads one field of the message; unknown field numbers are ignored (`Ok`).
    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error>;

    /// `apiVersion` and `kind` written in the envelope (`None` for types that are never sent
    /// alone: any type is accepted then, and `to_bytes` writes an empty type).
    fn type_meta() -> Option<TypeMeta> {
        None
    }

    /// `apiVersion` and `kind` that [`to_bytes`] writes in the envelope: [`Message::type_meta`],
    /// unless the value carries its own (discovery documents, which the server sends with and
    /// without an `apiVersion`).
    fn envelope_type(&self) -> TypeMeta {
        Self::type_meta().unwrap_or_default()
    }

    /// Called with the envelope's type after decoding (a `Status` keeps it).
    fn set_type_meta(&mut self, type_meta: &TypeMeta) {
        let _ = type_meta;
    }

    /// Decodes the message from its bytes (no envelope).
    fn decode_message(data: &[u8]) -> Result<Self, Error> {
        special::decode_plain(data)
    }

    /// Encodes the message's bytes (no envelope).
    fn encode_message(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode_fields(&mut w);
        w.into_bytes()
    }
}

/// Receives the Rust type of a kind chosen at run time, from its `apiVersion` and `kind`.
///
/// `k8s_api::v1_36::visit_kind(api_version, kind, visitor)` (k8s-api feature `protobuf`) calls
/// [`KindVisitor::visit`] with the generated type of that kind (`k8s_core::List<T>` for a
/// `<Kind>List`), so code that only knows a kind's name (an API server that stores JSON, a proxy)
/// can convert between JSON and protobuf through the typed structs.
pub trait KindVisitor {
    /// What [`KindVisitor::visit`] returns.
    type Output;

    /// Called once, with the type of the kind.
    fn visit<T>(self) -> Self::Output
    where
        T: Message + serde::Serialize + serde::de::DeserializeOwned + 'static;
}

impl<M: Message> Message for Box<M> {
    fn encode_fields(&self, w: &mut Writer) {
        (**self).encode_fields(w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        (**self).merge_field(field, value)
    }

    fn type_meta() -> Option<TypeMeta> {
        M::type_meta()
    }

    fn envelope_type(&self) -> TypeMeta {
        (**self).envelope_type()
    }

    fn set_type_meta(&mut self, type_meta: &TypeMeta) {
        (**self).set_type_meta(type_meta);
    }
}

/// `apiVersion` and `kind` of an envelope (`runtime.TypeMeta`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypeMeta {
    /// `apiVersion` (`v1`, `apps/v1`; empty in some discovery answers).
    pub api_version: String,
    /// `kind`.
    pub kind: String,
}

impl TypeMeta {
    /// A type.
    pub fn new(api_version: &str, kind: &str) -> Self {
        TypeMeta {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        }
    }
}

/// An error decoding protobuf. Every variant says where (byte offset or field path).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ends inside a field.
    #[error("truncated protobuf at byte {offset}: {what}")]
    Truncated {
        /// Offset of the field that runs past the end, in its message.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// Bytes that are not protobuf.
    #[error("malformed protobuf at byte {offset}: {what}")]
    Malformed {
        /// Offset in its message.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A wire type Kubernetes does not use (groups, or an undefined one).
    #[error("protobuf field {field} at byte {offset} has unsupported wire type {wire_type}")]
    WireType {
        /// Offset in its message.
        offset: usize,
        /// The field number.
        field: u32,
        /// The wire type.
        wire_type: u8,
    },
    /// A field of the wrong wire type for its Rust type.
    #[error("expected {expected}, found a {found} field")]
    UnexpectedWireType {
        /// What the type needs.
        expected: &'static str,
        /// The wire type found.
        found: &'static str,
    },
    /// A value that its type rejects (invalid UTF-8, quantity, timestamp, JSON).
    #[error("{0}")]
    Invalid(String),
    /// Messages nested deeper than the limit.
    #[error("protobuf messages nested deeper than {limit}")]
    TooDeep {
        /// The limit ([`wire::MAX_DEPTH`]).
        limit: u32,
    },
    /// The body is not a `k8s\0` envelope, or holds another type.
    #[error("protobuf envelope: {0}")]
    Envelope(String),
    /// A watch stream frame is too long or cut off.
    #[error("protobuf watch stream: {0}")]
    Frame(String),
    /// An error inside a field: the path of field numbers from the outermost message.
    #[error("at field {path}: {source}")]
    InField {
        /// Field numbers, outermost first, separated by dots (`2.4.1`).
        path: FieldPath,
        /// The error.
        source: Box<Error>,
    },
}

/// A path of field numbers (`2.4.1`: field 1 of field 4 of field 2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<u32>);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl Error {
    /// This error, inside field `field` of the enclosing message.
    pub fn in_field(self, field: u32) -> Self {
        match self {
            Error::InField { mut path, source } => {
                path.0.insert(0, field);
                Error::InField { path, source }
            }
            other => Error::InField {
                path: FieldPath(vec![field]),
                source: Box::new(other),
            },
        }
    }
}

/// Decodes a protobuf body (`k8s\0` + `runtime.Unknown`) as `T`, checking the envelope's
/// `kind` (and `apiVersion` when the envelope has one) against `T`'s.
pub fn from_bytes<T: Message>(body: &[u8]) -> Result<T, Error> {
    let (type_meta, raw) = unwrap_envelope(body)?;
    if let Some(expected) = T::type_meta() {
        let kind_ok = type_meta.kind == expected.kind
            || (type_meta.kind == "List" && expected.kind.ends_with("List"));
        let version_ok =
            type_meta.api_version.is_empty() || type_meta.api_version == expected.api_version;
        if !kind_ok || !version_ok {
            return Err(Error::Envelope(format!(
                "expected {} {}, found {:?} {:?}",
                expected.api_version, expected.kind, type_meta.api_version, type_meta.kind
            )));
        }
    }
    let mut value = T::decode_message(raw)?;
    value.set_type_meta(&type_meta);
    Ok(value)
}

/// Encodes `value` as a protobuf body (`k8s\0` + `runtime.Unknown`), as the API server writes it.
pub fn to_bytes<T: Message>(value: &T) -> Vec<u8> {
    let type_meta = value.envelope_type();
    let mut w = Writer::new();
    w.nested(1, |w| {
        type_meta.api_version.encode(1, w);
        type_meta.kind.encode(2, w);
    });
    w.nested(2, |w| value.encode_fields(w));
    w.bytes_field(3, &[]);
    w.bytes_field(4, &[]);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(w.as_bytes());
    out
}

/// Splits a body into the envelope's type and the object's message bytes.
pub fn unwrap_envelope(body: &[u8]) -> Result<(TypeMeta, &[u8]), Error> {
    let Some(rest) = body.strip_prefix(&MAGIC) else {
        return Err(Error::Envelope(format!(
            "the body does not start with k8s\\0 (first bytes {:02x?})",
            &body[..body.len().min(4)]
        )));
    };
    let mut r = Bytes::top(rest).reader()?;
    let mut type_meta = TypeMeta::default();
    let mut raw: &[u8] = &[];
    let mut content_encoding = String::new();
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => {
                let mut tr = field::len_bytes(value, "a TypeMeta message")
                    .and_then(|b| b.reader())
                    .map_err(|e| e.in_field(1))?;
                while let Some((f, v)) = tr.next_field().map_err(|e| e.in_field(1))? {
                    match f {
                        1 => type_meta.api_version.merge(v),
                        2 => type_meta.kind.merge(v),
                        _ => Ok(()),
                    }
                    .map_err(|e| e.in_field(f).in_field(1))?;
                }
            }
            2 => {
                raw = field::len_bytes(value, "bytes")
                    .map_err(|e| e.in_field(2))?
                    .data
            }
            3 => content_encoding.merge(value).map_err(|e| e.in_field(3))?,
            _ => {}
        }
    }
    if !content_encoding.is_empty() {
        return Err(Error::Envelope(format!(
            "content encoding {content_encoding:?} is not supported"
        )));
    }
    Ok((type_meta, raw))
}
