//! The protobuf codec a request carries for its kind, so that `k8s-client` can negotiate
//! protobuf without depending on the generated types.
//!
//! A kind says whether it has one through [`Resource::protobuf_codec`](crate::Resource::protobuf_codec)
//! (`None` by default; generated built-in kinds return one when `k8s-api`'s feature `protobuf`
//! is on). The `for_kind` constructors of the request builders store it; the client then asks
//! for protobuf (with a JSON fallback) and decodes by the response's `Content-Type`.

use std::fmt;

use crate::request::DecodeError;
use crate::{List, WatchEvent};

/// `Accept` of a request that prefers protobuf: a server (or aggregated API) that cannot
/// answer in protobuf answers JSON.
pub const ACCEPT_PROTOBUF: &str = "application/vnd.kubernetes.protobuf, application/json";

/// `Content-Type` of a protobuf body.
pub const CONTENT_TYPE_PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// `Content-Type` of a protobuf watch stream.
pub const WATCH_CONTENT_TYPE_PROTOBUF: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// Whether a `Content-Type` names Kubernetes protobuf (a body or a watch stream).
pub fn is_protobuf(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case(CONTENT_TYPE_PROTOBUF)
}

/// The protobuf encoder and decoders of a kind `T`: plain function pointers, so a request
/// holding one stays cheap to clone and needs no bound on `T`.
///
/// Made by [`ProtobufCodec::new`] (feature `protobuf`) for a type implementing
/// [`protobuf::Message`](crate::protobuf::Message).
pub struct ProtobufCodec<T> {
    decode: fn(&[u8]) -> Result<T, DecodeError>,
    decode_list: fn(&[u8]) -> Result<List<T>, DecodeError>,
    decode_event: fn(&[u8]) -> Result<WatchEvent<T>, DecodeError>,
    encode: fn(&T) -> Vec<u8>,
}

impl<T> Clone for ProtobufCodec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ProtobufCodec<T> {}

impl<T> fmt::Debug for ProtobufCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtobufCodec<{}>", std::any::type_name::<T>())
    }
}

impl<T> ProtobufCodec<T> {
    /// Decodes an enveloped body (`k8s\0` + `runtime.Unknown`) as `T`.
    pub fn decode(&self, body: &[u8]) -> Result<T, DecodeError> {
        (self.decode)(body)
    }

    /// Decodes an enveloped list body as [`List<T>`].
    pub fn decode_list(&self, body: &[u8]) -> Result<List<T>, DecodeError> {
        (self.decode_list)(body)
    }

    /// Decodes one frame of a watch stream (the `WatchEvent` message, without its length).
    pub fn decode_event(&self, frame: &[u8]) -> Result<WatchEvent<T>, DecodeError> {
        (self.decode_event)(frame)
    }

    /// Encodes `value` as an enveloped body.
    pub fn encode(&self, value: &T) -> Vec<u8> {
        (self.encode)(value)
    }
}

#[cfg(feature = "protobuf")]
impl<T: crate::protobuf::Message + crate::Resource> ProtobufCodec<T> {
    /// The codec of `T`, through [`protobuf::from_bytes`](crate::protobuf::from_bytes),
    /// [`protobuf::to_bytes`](crate::protobuf::to_bytes) and
    /// [`protobuf::watch::decode_event`](crate::protobuf::watch::decode_event).
    pub fn new() -> Self {
        ProtobufCodec {
            decode: |b| crate::protobuf::from_bytes::<T>(b).map_err(DecodeError::protobuf::<T>),
            decode_list: |b| {
                crate::protobuf::from_bytes::<List<T>>(b).map_err(DecodeError::protobuf::<List<T>>)
            },
            decode_event: |f| {
                crate::protobuf::watch::decode_event::<T>(f)
                    .map_err(DecodeError::protobuf::<WatchEvent<T>>)
            },
            encode: |v| crate::protobuf::to_bytes(v),
        }
    }
}

#[cfg(feature = "protobuf")]
impl<T: crate::protobuf::Message + crate::Resource> Default for ProtobufCodec<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Decodes an error answer's `Status` from a protobuf body; `None` when the body is not one
/// (or `k8s-core` was built without its `protobuf` feature, in which case no request asks for
/// protobuf).
pub fn status_from_protobuf(body: &[u8]) -> Option<crate::Status> {
    #[cfg(feature = "protobuf")]
    {
        crate::protobuf::from_bytes::<crate::Status>(body).ok()
    }
    #[cfg(not(feature = "protobuf"))]
    {
        let _ = body;
        None
    }
}

/// Splits a protobuf watch body (frames of a 4-byte big-endian length and a message) into its
/// frames; an error if it ends inside a frame.
pub fn split_frames(mut body: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut frames = Vec::new();
    while !body.is_empty() {
        let Some((len, rest)) = body.split_first_chunk::<4>() else {
            return Err(DecodeError::WatchEvent(format!(
                "the protobuf watch stream ends inside a frame's length ({} bytes left)",
                body.len()
            )));
        };
        let len = u32::from_be_bytes(*len) as usize;
        let Some(frame) = rest.get(..len) else {
            return Err(DecodeError::WatchEvent(format!(
                "the protobuf watch stream ends inside a frame of {len} bytes ({} present)",
                rest.len()
            )));
        };
        frames.push(frame);
        body = &rest[len..];
    }
    Ok(frames)
}
