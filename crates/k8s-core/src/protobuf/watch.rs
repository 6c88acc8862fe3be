//! The protobuf watch stream (`application/vnd.kubernetes.protobuf;stream=watch`): frames of a
//! 4-byte big-endian length followed by a `meta/v1 WatchEvent` message (`type` 1, `object` 2 =
//! `RawExtension{raw}`, where `raw` is an enveloped object as [`from_bytes`]
//! reads it; a `Status` for `ERROR`).

use super::field::{Field, len_bytes};
use super::wire::{Bytes, Writer};
use super::{Error, Message, from_bytes, to_bytes};
use crate::{Status, WatchEvent};

/// The longest frame accepted: longer ones are an error instead of an allocation.
pub const MAX_FRAME: usize = 64 << 20;

/// Splits a watch stream into frames as bytes arrive.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
}

impl FrameReader {
    /// An empty reader.
    pub fn new() -> Self {
        FrameReader::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame (the `WatchEvent` message), `None` until one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, Error> {
        let pending = &self.buf[self.start..];
        let Some(len) = pending.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len > MAX_FRAME {
            return Err(Error::Frame(format!(
                "a frame of {len} bytes is longer than the limit of {MAX_FRAME}"
            )));
        }
        if pending.len() < 4 + len {
            return Ok(None);
        }
        let from = self.start + 4;
        self.start = from + len;
        Ok(Some(&self.buf[from..from + len]))
    }

    /// Checks that the stream ended between frames.
    pub fn finish(&self) -> Result<(), Error> {
        match self.buf.len() - self.start {
            0 => Ok(()),
            n => Err(Error::Frame(format!(
                "the stream ended inside a frame ({n} bytes left)"
            ))),
        }
    }
}

/// Decodes one frame's `WatchEvent` message.
pub fn decode_event<T: Message>(frame: &[u8]) -> Result<WatchEvent<T>, Error> {
    let mut r = Bytes::top(frame).reader()?;
    let mut ty = String::new();
    let mut raw: Option<&[u8]> = None;
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => ty.merge(value).map_err(|e| e.in_field(1))?,
            2 => {
                let mut er = len_bytes(value, "a RawExtension message")
                    .and_then(|b| b.reader())
                    .map_err(|e| e.in_field(2))?;
                while let Some((f, v)) = er.next_field().map_err(|e| e.in_field(2))? {
                    if f == 1 {
                        raw = Some(
                            len_bytes(v, "bytes")
                                .map_err(|e| e.in_field(1).in_field(2))?
                                .data,
                        );
                    }
                }
            }
            _ => {}
        }
    }
    let raw = raw.ok_or_else(|| Error::Frame(format!("a {ty} event without an object")))?;
    let object = |raw| from_bytes::<T>(raw).map_err(|e| e.in_field(2));
    Ok(match ty.as_str() {
        "ADDED" => WatchEvent::Added(object(raw)?),
        "MODIFIED" => WatchEvent::Modified(object(raw)?),
        "DELETED" => WatchEvent::Deleted(object(raw)?),
        "BOOKMARK" => WatchEvent::Bookmark(object(raw)?),
        "ERROR" => WatchEvent::Error(from_bytes::<Status>(raw).map_err(|e| e.in_field(2))?),
        other => return Err(Error::Frame(format!("unknown event type {other:?}"))),
    })
}

/// Encodes an event as one frame (length prefix included), as the API server writes it.
pub fn encode_event<T: Message>(event: &WatchEvent<T>) -> Vec<u8> {
    let (ty, raw) = match event {
        WatchEvent::Added(o) => ("ADDED", to_bytes(o)),
        WatchEvent::Modified(o) => ("MODIFIED", to_bytes(o)),
        WatchEvent::Deleted(o) => ("DELETED", to_bytes(o)),
        WatchEvent::Bookmark(o) => ("BOOKMARK", to_bytes(o)),
        WatchEvent::Error(s) => ("ERROR", to_bytes(s)),
    };
    let mut w = Writer::new();
    w.bytes_field(1, ty.as_bytes());
    w.nested(2, |w| w.bytes_field(1, &raw));
    let body = w.into_bytes();
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}
