//! The SPDY/3.1 framing layer (draft-mbelshe-httpbis-spdy-00 and the SPDY/3.1 flow-control
//! additions), sans-IO: [`Codec::decode`] turns bytes into [`Frame`]s and [`Codec::encode`]
//! frames into bytes. kubectl speaks it for `port-forward` (tunnelled in WebSocket binary
//! messages, or after a plain `Upgrade: SPDY/3.1`), through Go's `moby/spdystream`.
//!
//! Wire format: a control frame is `1 | version (15 bits) | type (16) | flags (8) | length (24)`
//! then `length` bytes; a data frame is `0 | stream id (31) | flags (8) | length (24)` then the
//! data. Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are a count of name/value pairs, each a
//! 32-bit length and bytes, compressed by one zlib stream per direction for the whole session,
//! primed with the SPDY/3 dictionary and flushed (sync flush) after each block.
//!
//! Decoding never panics: every length is checked before use, a header block may not inflate
//! beyond [`MAX_HEADER_BLOCK`], and errors say which frame and field were wrong.

use std::sync::OnceLock;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The SPDY version spoken.
pub const VERSION: u16 = 3;
/// The largest frame payload accepted (the 24-bit length field allows 16 MiB - 1).
pub const MAX_FRAME: usize = (1 << 24) - 1;
/// The largest decompressed header block accepted.
pub const MAX_HEADER_BLOCK: usize = 1 << 20;
/// The initial flow-control window of a stream and of the session (SPDY/3.1).
pub const INITIAL_WINDOW: i64 = 64 * 1024;

/// DATA, SYN_STREAM, SYN_REPLY, HEADERS: the sender's last frame on the stream.
pub const FLAG_FIN: u8 = 0x01;
/// SYN_STREAM: the receiver must not send on the stream.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// SETTINGS: clear previously persisted settings.
pub const FLAG_CLEAR_SETTINGS: u8 = 0x01;

/// RST_STREAM status: a frame broke the protocol.
pub const RST_PROTOCOL_ERROR: u32 = 1;
/// RST_STREAM status: the stream is not (or no longer) open.
pub const RST_INVALID_STREAM: u32 = 2;
/// RST_STREAM status: the receiver refuses the stream.
pub const RST_REFUSED_STREAM: u32 = 3;
/// RST_STREAM status: the stream is no longer needed.
pub const RST_CANCEL: u32 = 5;
/// SETTINGS id of the initial stream window size.
pub const SETTINGS_INITIAL_WINDOW_SIZE: u32 = 7;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// The header names and values of a SYN_STREAM, SYN_REPLY or HEADERS frame, in wire order.
/// Names are lower case; a value holding several values separates them with NUL bytes.
pub type Headers = Vec<(String, String)>;

/// The first value of header `name` (names compare case-insensitively).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.split('\0').next().unwrap_or(""))
}

/// One SETTINGS entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The entry's flags (persist, persisted).
    pub flags: u8,
    /// The setting's id (24 bits).
    pub id: u32,
    /// Its value.
    pub value: u32,
}

/// A SPDY/3.1 frame.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// DATA on a stream.
    Data {
        /// The stream (31 bits, not 0).
        stream: u32,
        /// The sender's last frame on the stream.
        fin: bool,
        /// The payload.
        data: Bytes,
    },
    /// SYN_STREAM: opens a stream.
    SynStream {
        /// The new stream (odd when the client opens it).
        stream: u32,
        /// The stream it is associated with (0: none).
        associated: u32,
        /// Priority, 0 (highest) to 7.
        priority: u8,
        /// `FLAG_FIN` / `FLAG_UNIDIRECTIONAL`.
        flags: u8,
        /// The stream's headers.
        headers: Headers,
    },
    /// SYN_REPLY: accepts a stream.
    SynReply {
        /// The stream accepted.
        stream: u32,
        /// The sender's last frame on the stream.
        fin: bool,
        /// Reply headers.
        headers: Headers,
    },
    /// RST_STREAM: ends a stream abnormally.
    RstStream {
        /// The stream.
        stream: u32,
        /// Why (`RST_*`).
        status: u32,
    },
    /// SETTINGS.
    Settings {
        /// `FLAG_CLEAR_SETTINGS`.
        flags: u8,
        /// The entries.
        entries: Vec<Setting>,
    },
    /// PING: answered with the same id by the side that did not send it.
    Ping {
        /// Odd from the client, even from the server.
        id: u32,
    },
    /// GOAWAY: the sender opens no more streams.
    GoAway {
        /// The last stream the sender handled.
        last_good: u32,
        /// Why (0 OK, 1 protocol error, 2 internal error).
        status: u32,
    },
    /// HEADERS: more headers for a stream.
    Headers {
        /// The stream.
        stream: u32,
        /// The sender's last frame on the stream.
        fin: bool,
        /// The headers.
        headers: Headers,
    },
    /// WINDOW_UPDATE: the receiver may take `delta` more bytes (stream 0: the session).
    WindowUpdate {
        /// The stream, or 0 for the session window.
        stream: u32,
        /// Added window, 1 to 2^31 - 1.
        delta: u32,
    },
    /// A control frame of a type this codec does not know: ignored, as the protocol says.
    Unknown {
        /// Its type.
        kind: u16,
    },
}

/// Why bytes are not valid SPDY/3.1.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpdyError {
    /// A control frame of another SPDY version.
    #[error("unsupported SPDY version {0} (the test server speaks SPDY/3.1)")]
    Version(u16),
    /// A frame whose fields contradict the protocol.
    #[error("invalid {frame} frame: {message}")]
    Invalid {
        /// The frame type, e.g. `SYN_STREAM`.
        frame: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A header block that does not inflate or parse.
    #[error("invalid header block of {frame} (stream {stream}): {message}")]
    HeaderBlock {
        /// The frame type.
        frame: &'static str,
        /// Its stream.
        stream: u32,
        /// What is wrong.
        message: String,
    },
    /// Compression failed (not expected: zlib in memory).
    #[error("cannot compress a header block: {0}")]
    Compress(String),
}

fn invalid(frame: &'static str, message: impl Into<String>) -> SpdyError {
    SpdyError::Invalid {
        frame,
        message: message.into(),
    }
}

/// The 65 length-prefixed words that open the SPDY/3 header dictionary (section 2.6.10.1 of
/// the draft), in order.
const DICTIONARY_WORDS: [&str; 65] = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The unprefixed tail of the dictionary: status codes, reason phrases, dates, media types.
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information",
    "204 No Content",
    "301 Moved Permanently",
    "400 Bad Request",
    "401 Unauthorized",
    "403 Forbidden",
    "404 Not Found",
    "500 Internal Server Error",
    "501 Not Implemented",
    "503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec",
    " 00:00:00",
    " Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
    "text/plain,text/javascript,public",
    "privatemax-age=gzip,deflate,sdch",
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

/// The SPDY/3 zlib dictionary (1,423 bytes).
pub fn dictionary() -> &'static [u8] {
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| {
        let mut d = Vec::with_capacity(1423);
        for w in DICTIONARY_WORDS {
            d.extend_from_slice(&u32::try_from(w.len()).unwrap_or(0).to_be_bytes());
            d.extend_from_slice(w.as_bytes());
        }
        d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
        d
    })
}

/// The state of one side of a SPDY session: the two header-compression contexts.
pub struct Codec {
    deflate: Compress,
    inflate: Decompress,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec").finish_non_exhaustive()
    }
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

impl Codec {
    /// A fresh session state.
    pub fn new() -> Self {
        let mut deflate = Compress::new(Compression::best(), true);
        // Cannot fail on a fresh zlib stream; an error would only cost compression ratio.
        let _ = deflate.set_dictionary(dictionary());
        Self {
            deflate,
            inflate: Decompress::new(true),
        }
    }

    /// Decodes the first frame of `buf`: `Ok(None)` when `buf` holds only part of it, else the
    /// frame and how many bytes it took. After an error the session cannot continue (the
    /// header decompression state may be out of step).
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(Frame, usize)>, SpdyError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let first = u32_at(buf, 0);
        let flags = buf[4];
        let len = usize::try_from(u32_at(buf, 4) & 0x00ff_ffff).unwrap_or(usize::MAX);
        let Some(body) = buf.get(8..8usize.saturating_add(len)) else {
            return Ok(None);
        };
        let used = 8 + len;
        if first & 0x8000_0000 == 0 {
            let stream = first & 0x7fff_ffff;
            if stream == 0 {
                return Err(invalid("DATA", "stream id 0"));
            }
            let frame = Frame::Data {
                stream,
                fin: flags & FLAG_FIN != 0,
                data: Bytes::copy_from_slice(body),
            };
            return Ok(Some((frame, used)));
        }
        let version = u16::try_from((first >> 16) & 0x7fff).unwrap_or(0);
        let kind = u16::try_from(first & 0xffff).unwrap_or(0);
        if version != VERSION {
            return Err(SpdyError::Version(version));
        }
        let frame = self.control(kind, flags, body)?;
        Ok(Some((frame, used)))
    }

    fn control(&mut self, kind: u16, flags: u8, body: &[u8]) -> Result<Frame, SpdyError> {
        let fixed = |name: &'static str, n: usize| {
            if body.len() == n {
                Ok(())
            } else {
                Err(invalid(
                    name,
                    format!("length {} (expected {n})", body.len()),
                ))
            }
        };
        let at_least = |name: &'static str, n: usize| {
            if body.len() >= n {
                Ok(())
            } else {
                Err(invalid(
                    name,
                    format!("length {} (at least {n})", body.len()),
                ))
            }
        };
        let stream_id = |name: &'static str| {
            let id = u32_at(body, 0) & 0x7fff_ffff;
            if id == 0 {
                Err(invalid(name, "stream id 0"))
            } else {
                Ok(id)
            }
        };
        Ok(match kind {
            TYPE_SYN_STREAM => {
                at_least("SYN_STREAM", 10)?;
                let stream = stream_id("SYN_STREAM")?;
                let headers = self.inflate_block("SYN_STREAM", stream, &body[10..])?;
                Frame::SynStream {
                    stream,
                    associated: u32_at(body, 4) & 0x7fff_ffff,
                    priority: body[8] >> 5,
                    flags,
                    headers,
                }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                let name = if kind == TYPE_SYN_REPLY {
                    "SYN_REPLY"
                } else {
                    "HEADERS"
                };
                at_least(name, 4)?;
                let stream = stream_id(name)?;
                let headers = self.inflate_block(name, stream, &body[4..])?;
                let fin = flags & FLAG_FIN != 0;
                if kind == TYPE_SYN_REPLY {
                    Frame::SynReply {
                        stream,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream,
                        fin,
                        headers,
                    }
                }
            }
            TYPE_RST_STREAM => {
                fixed("RST_STREAM", 8)?;
                Frame::RstStream {
                    stream: stream_id("RST_STREAM")?,
                    status: u32_at(body, 4),
                }
            }
            TYPE_SETTINGS => {
                at_least("SETTINGS", 4)?;
                let n = usize::try_from(u32_at(body, 0)).unwrap_or(usize::MAX);
                if n.checked_mul(8).and_then(|b| b.checked_add(4)) != Some(body.len()) {
                    return Err(invalid(
                        "SETTINGS",
                        format!("{n} entries in {} bytes", body.len()),
                    ));
                }
                let entries = (0..n)
                    .map(|i| {
                        let id = u32_at(body, 4 + 8 * i);
                        Setting {
                            flags: u8::try_from(id >> 24).unwrap_or(0),
                            id: id & 0x00ff_ffff,
                            value: u32_at(body, 8 + 8 * i),
                        }
                    })
                    .collect();
                Frame::Settings { flags, entries }
            }
            TYPE_PING => {
                fixed("PING", 4)?;
                Frame::Ping {
                    id: u32_at(body, 0),
                }
            }
            TYPE_GOAWAY => {
                fixed("GOAWAY", 8)?;
                Frame::GoAway {
                    last_good: u32_at(body, 0) & 0x7fff_ffff,
                    status: u32_at(body, 4),
                }
            }
            TYPE_WINDOW_UPDATE => {
                fixed("WINDOW_UPDATE", 8)?;
                let delta = u32_at(body, 4) & 0x7fff_ffff;
                if delta == 0 {
                    return Err(invalid("WINDOW_UPDATE", "delta 0"));
                }
                Frame::WindowUpdate {
                    stream: u32_at(body, 0) & 0x7fff_ffff,
                    delta,
                }
            }
            other => Frame::Unknown { kind: other },
        })
    }

    fn inflate_block(
        &mut self,
        frame: &'static str,
        stream: u32,
        compressed: &[u8],
    ) -> Result<Headers, SpdyError> {
        let err = |message: String| SpdyError::HeaderBlock {
            frame,
            stream,
            message,
        };
        let mut out: Vec<u8> = Vec::with_capacity(256);
        let mut input = compressed;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= MAX_HEADER_BLOCK {
                    return Err(err(format!("inflates beyond {MAX_HEADER_BLOCK} bytes")));
                }
                let room = MAX_HEADER_BLOCK - out.len();
                out.reserve(out.len().max(256).min(room));
            }
            let before = self.inflate.total_in();
            let produced_before = out.len();
            let result = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let consumed = usize::try_from(self.inflate.total_in() - before).unwrap_or(0);
            input = input.get(consumed..).unwrap_or_default();
            match result {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {
                    if input.is_empty() && out.len() < out.capacity() {
                        break;
                    }
                    if consumed == 0 && out.len() == produced_before && out.len() < out.capacity() {
                        return Err(err("the zlib stream does not advance".into()));
                    }
                }
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(dictionary())
                        .map_err(|e| err(format!("zlib dictionary: {e}")))?;
                }
                Err(e) => return Err(err(format!("zlib: {e}"))),
            }
        }
        parse_block(&out).map_err(err)
    }

    fn deflate_block(&mut self, headers: &Headers) -> Result<Vec<u8>, SpdyError> {
        let mut plain = Vec::new();
        let len32 = |n: usize| {
            u32::try_from(n)
                .map(u32::to_be_bytes)
                .map_err(|_| SpdyError::Compress(format!("a header of {n} bytes")))
        };
        plain.extend_from_slice(&len32(headers.len())?);
        for (name, value) in headers {
            plain.extend_from_slice(&len32(name.len())?);
            plain.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
            plain.extend_from_slice(&len32(value.len())?);
            plain.extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(plain.len() + 64);
        let mut input = plain.as_slice();
        loop {
            if out.len() == out.capacity() {
                out.reserve(256);
            }
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Compress(e.to_string()))?;
            let consumed = usize::try_from(self.deflate.total_in() - before).unwrap_or(0);
            input = input.get(consumed..).unwrap_or_default();
            // Done when everything is in and zlib had room left over (the flush is complete).
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// Appends the bytes of `frame` to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), SpdyError> {
        let control = |out: &mut Vec<u8>, kind: u16, flags: u8, body: &[u8]| {
            let len = u32::try_from(body.len())
                .ok()
                .filter(|l| *l <= 0x00ff_ffff)
                .ok_or_else(|| invalid("control", format!("{} bytes", body.len())))?;
            out.extend_from_slice(
                &(0x8000_0000 | (u32::from(VERSION) << 16) | u32::from(kind)).to_be_bytes(),
            );
            out.extend_from_slice(&((u32::from(flags) << 24) | len).to_be_bytes());
            out.extend_from_slice(body);
            Ok(())
        };
        let mut body = Vec::new();
        match frame {
            Frame::Data { stream, fin, data } => encode_data(*stream, *fin, data, out),
            Frame::SynStream {
                stream,
                associated,
                priority,
                flags,
                headers,
            } => {
                body.extend_from_slice(&stream.to_be_bytes());
                body.extend_from_slice(&associated.to_be_bytes());
                body.push((priority & 7) << 5);
                body.push(0);
                body.extend(self.deflate_block(headers)?);
                control(out, TYPE_SYN_STREAM, *flags, &body)
            }
            Frame::SynReply {
                stream,
                fin,
                headers,
            }
            | Frame::Headers {
                stream,
                fin,
                headers,
            } => {
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    TYPE_SYN_REPLY
                } else {
                    TYPE_HEADERS
                };
                body.extend_from_slice(&stream.to_be_bytes());
                body.extend(self.deflate_block(headers)?);
                control(out, kind, u8::from(*fin), &body)
            }
            Frame::RstStream { stream, status } => {
                body.extend_from_slice(&stream.to_be_bytes());
                body.extend_from_slice(&status.to_be_bytes());
                control(out, TYPE_RST_STREAM, 0, &body)
            }
            Frame::Settings { flags, entries } => {
                let n = u32::try_from(entries.len())
                    .map_err(|_| invalid("SETTINGS", "too many entries"))?;
                body.extend_from_slice(&n.to_be_bytes());
                for s in entries {
                    body.extend_from_slice(
                        &((u32::from(s.flags) << 24) | (s.id & 0x00ff_ffff)).to_be_bytes(),
                    );
                    body.extend_from_slice(&s.value.to_be_bytes());
                }
                control(out, TYPE_SETTINGS, *flags, &body)
            }
            Frame::Ping { id } => control(out, TYPE_PING, 0, &id.to_be_bytes()),
            Frame::GoAway { last_good, status } => {
                body.extend_from_slice(&last_good.to_be_bytes());
                body.extend_from_slice(&status.to_be_bytes());
                control(out, TYPE_GOAWAY, 0, &body)
            }
            Frame::WindowUpdate { stream, delta } => {
                body.extend_from_slice(&stream.to_be_bytes());
                body.extend_from_slice(&delta.to_be_bytes());
                control(out, TYPE_WINDOW_UPDATE, 0, &body)
            }
            Frame::Unknown { kind } => control(out, *kind, 0, &[]),
        }
    }
}

/// Appends a DATA frame to `out` (DATA frames use no compression state).
pub fn encode_data(
    stream: u32,
    fin: bool,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), SpdyError> {
    let len = u32::try_from(data.len())
        .ok()
        .filter(|l| *l <= 0x00ff_ffff)
        .ok_or_else(|| invalid("DATA", format!("{} bytes", data.len())))?;
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&((u32::from(u8::from(fin)) << 24) | len).to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

/// Parses an inflated header block: a 32-bit count, then that many (name, value) pairs of
/// 32-bit length-prefixed bytes.
fn parse_block(b: &[u8]) -> Result<Headers, String> {
    if b.len() < 4 {
        return Err(format!("{} bytes, no pair count", b.len()));
    }
    let n = u32_at(b, 0);
    // Each pair takes at least 8 bytes: a larger count is a lie, not an allocation.
    if u64::from(n) * 8 > b.len() as u64 {
        return Err(format!("{n} pairs cannot fit in {} bytes", b.len()));
    }
    let mut at = 4usize;
    let mut next = |what: &str, i: u32| -> Result<String, String> {
        let len = usize::try_from(u32_at(b, at)).unwrap_or(usize::MAX);
        let bytes = b
            .get(at + 4..)
            .and_then(|r| r.get(..len))
            .ok_or_else(|| format!("pair {i}: the {what} runs past the block"))?;
        at += 4 + len;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("pair {i}: the {what} is not UTF-8"))
    };
    let mut headers = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for i in 0..n {
        let name = next("name", i)?;
        if name.is_empty() {
            return Err(format!("pair {i}: empty name"));
        }
        let value = next("value", i)?;
        headers.push((name, value));
    }
    Ok(headers)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &c in data {
            a = (a + u32::from(c)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn the_dictionary_is_the_spdy3_one() {
        // Length and checksum of the dictionary in the SPDY/3 draft (its zlib dictionary id).
        assert_eq!(dictionary().len(), 1423);
        assert_eq!(adler32(dictionary()), 0xe3c6_a7c2);
    }

    fn round_trip(frames: &[Frame]) {
        let (mut tx, mut rx) = (Codec::new(), Codec::new());
        let mut wire = Vec::new();
        for f in frames {
            tx.encode(f, &mut wire).unwrap();
        }
        let mut at = 0;
        for f in frames {
            let (got, used) = rx.decode(&wire[at..]).unwrap().unwrap();
            assert_eq!(&got, f);
            at += used;
        }
        assert_eq!(at, wire.len());
        // A partial frame asks for more.
        assert_eq!(rx.decode(&wire[..wire.len().min(7)]).unwrap(), None);
    }

    #[test]
    fn frames_round_trip_through_one_session() {
        let h = |pairs: &[(&str, &str)]| -> Headers {
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        round_trip(&[
            Frame::SynStream {
                stream: 1,
                associated: 0,
                priority: 0,
                flags: 0,
                headers: h(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::SynStream {
                stream: 3,
                associated: 0,
                priority: 7,
                flags: FLAG_FIN,
                headers: h(&[("streamtype", "data"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::SynReply {
                stream: 1,
                fin: false,
                headers: vec![],
            },
            Frame::Data {
                stream: 3,
                fin: true,
                data: Bytes::from_static(b"hello"),
            },
            Frame::RstStream {
                stream: 3,
                status: RST_CANCEL,
            },
            Frame::Settings {
                flags: 0,
                entries: vec![Setting {
                    flags: 0,
                    id: SETTINGS_INITIAL_WINDOW_SIZE,
                    value: 1 << 20,
                }],
            },
            Frame::Ping { id: 1 },
            Frame::GoAway {
                last_good: 3,
                status: 0,
            },
            Frame::Headers {
                stream: 3,
                fin: false,
                headers: h(&[("a", "b\0c")]),
            },
            Frame::WindowUpdate {
                stream: 0,
                delta: 65536,
            },
        ]);
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let mut c = Codec::new();
        // SPDY/2 control frame.
        let v2 = [0x80, 2, 0, 1, 0, 0, 0, 0];
        assert_eq!(c.decode(&v2), Err(SpdyError::Version(2)));
        // PING with 3 bytes.
        let ping = [0x80, 3, 0, 6, 0, 0, 0, 3, 1, 2, 3];
        assert!(matches!(
            c.decode(&ping),
            Err(SpdyError::Invalid { frame: "PING", .. })
        ));
        // SYN_STREAM whose header block is not zlib.
        let mut syn = vec![0x80, 3, 0, 1, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        syn.extend_from_slice(b"junk");
        assert!(matches!(
            Codec::new().decode(&syn),
            Err(SpdyError::HeaderBlock { stream: 1, .. })
        ));
        // A header block claiming 2^32-1 pairs.
        assert!(parse_block(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        // A header block that inflates beyond the limit (2 MiB of one letter).
        let mut bomb = Vec::new();
        Codec::new()
            .encode(
                &Frame::SynReply {
                    stream: 1,
                    fin: false,
                    headers: vec![("x".into(), "a".repeat(2 << 20))],
                },
                &mut bomb,
            )
            .unwrap();
        assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
        match Codec::new().decode(&bomb) {
            Err(SpdyError::HeaderBlock { message, .. }) => {
                assert!(message.contains("inflates beyond"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        // Unknown control types are skipped.
        let unknown = [0x80, 3, 0, 0x42, 0, 0, 0, 1, 9];
        assert_eq!(
            c.decode(&unknown),
            Ok(Some((Frame::Unknown { kind: 0x42 }, 9)))
        );
    }
}
