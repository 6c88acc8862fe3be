//! The protobuf wire format: varints, tags, length-delimited fields; a reader that never panics
//! and a writer.

use super::Error;

/// Nesting limit of decoded messages: deeper input is an error instead of a stack overflow.
pub const MAX_DEPTH: u32 = 100;

/// One field value as read from the wire, before it is interpreted by its Rust type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (`double`, `fixed64`).
    Fixed64(u64),
    /// Wire type 2: strings, bytes, messages, map entries, packed repeated numbers.
    Len(Bytes<'a>),
    /// Wire type 5 (`float`, `fixed32`).
    Fixed32(u32),
}

impl Value<'_> {
    /// The name of the wire type, for errors.
    pub fn wire_name(&self) -> &'static str {
        match self {
            Value::Varint(_) => "varint",
            Value::Fixed64(_) => "64-bit",
            Value::Len(_) => "length-delimited",
            Value::Fixed32(_) => "32-bit",
        }
    }
}

/// The payload of a length-delimited field, with the nesting depth it was found at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a> {
    /// The bytes.
    pub data: &'a [u8],
    pub(crate) depth: u32,
}

impl<'a> Bytes<'a> {
    /// Top-level bytes (depth 0).
    pub fn top(data: &'a [u8]) -> Self {
        Bytes { data, depth: 0 }
    }

    /// A reader over these bytes as a message one level deeper.
    #[inline]
    pub fn reader(&self) -> Result<Reader<'a>, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::TooDeep { limit: MAX_DEPTH });
        }
        Ok(Reader {
            buf: self.data,
            pos: 0,
            depth: self.depth + 1,
        })
    }
}

/// Reads the fields of one message, in order.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// The next field number and value, or `None` at the end of the message.
    #[inline]
    pub fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, Error> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let at = self.pos;
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(Error::Malformed {
                offset: at,
                what: "field number 0 or above 2^29-1",
            });
        }
        let field = field as u32;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.fixed::<8>()?)),
            2 => {
                let len_at = self.pos;
                let len = self.varint()?;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|l| self.pos.checked_add(l))
                    .filter(|&end| end <= self.buf.len())
                    .ok_or(Error::Truncated {
                        offset: len_at,
                        what: "a length-delimited field runs past the end",
                    })?;
                let data = &self.buf[self.pos..end];
                self.pos = end;
                Value::Len(Bytes {
                    data,
                    depth: self.depth,
                })
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.fixed::<4>()?)),
            wire_type => {
                return Err(Error::WireType {
                    offset: at,
                    field,
                    wire_type: wire_type as u8,
                });
            }
        };
        Ok(Some((field, value)))
    }

    /// One varint; the one-byte case (tags, small lengths and numbers) inline.
    #[inline]
    fn varint(&mut self) -> Result<u64, Error> {
        match self.buf.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.varint_slow(),
        }
    }

    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64, Error> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(Error::Truncated {
                    offset: start,
                    what: "a varint runs past the end",
                });
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                break;
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(Error::Malformed {
            offset: start,
            what: "a varint longer than 64 bits",
        })
    }

    #[inline]
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let end = self.pos + N;
        let bytes = self
            .buf
            .get(self.pos..end)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or(Error::Truncated {
                offset: self.pos,
                what: "a fixed-size field runs past the end",
            })?;
        self.pos = end;
        Ok(bytes)
    }
}

/// Reads a packed run of varints (a repeated number field written packed).
pub(crate) fn packed_varints(data: &[u8]) -> Result<Vec<u64>, Error> {
    let mut r = Reader {
        buf: data,
        pos: 0,
        depth: 0,
    };
    let mut out = Vec::new();
    while r.pos < data.len() {
        out.push(r.varint()?);
    }
    Ok(out)
}

/// Wire type numbers.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

/// Appends fields to a buffer in the wire format.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn tag(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    /// A varint field (`int32`, `int64`, `bool`, enums; negative numbers as 10 bytes, as Go does).
    pub fn varint_field(&mut self, field: u32, v: u64) {
        self.tag(field, VARINT);
        self.varint(v);
    }

    /// A 64-bit field (`double`).
    pub fn fixed64_field(&mut self, field: u32, v: u64) {
        self.tag(field, FIXED64);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A length-delimited field of these bytes.
    pub fn bytes_field(&mut self, field: u32, data: &[u8]) {
        self.tag(field, LEN);
        self.varint(data.len() as u64);
        self.buf.extend_from_slice(data);
    }

    /// A length-delimited field whose contents `f` writes (a nested message or a map entry).
    pub fn nested(&mut self, field: u32, f: impl FnOnce(&mut Writer)) {
        self.tag(field, LEN);
        let len_at = self.buf.len();
        self.buf.push(0);
        let start = self.buf.len();
        f(self);
        let len = self.buf.len() - start;
        if len < 0x80 {
            self.buf[len_at] = len as u8;
        } else {
            let mut prefix = Writer::new();
            prefix.varint(len as u64);
            self.buf.splice(len_at..start, prefix.buf);
        }
    }
}
