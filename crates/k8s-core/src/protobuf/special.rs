//! The special types' wire forms: `Time`/`MicroTime` as `{seconds, nanos}`, `Quantity` as
//! `{string}`, `IntOrString` as `{type, intVal, strVal}`, `RawExtension`/`JSON` and `FieldsV1`
//! as `{raw}` holding JSON text, `ByteString` as bytes.

use jiff::Timestamp;

use super::field::{Field, len_bytes, merge_message, read_str};
use super::wire::{Value, Writer};
use super::{Error, MAGIC};
use crate::{ByteString, FieldsV1, IntOrString, MicroTime, Quantity, Time};

const NANOS: i128 = 1_000_000_000;

/// Reads `{1: seconds, 2: nanos}`; `None` for an empty message (Go's zero time).
fn read_timestamp(value: Value<'_>, micros: bool) -> Result<Option<Timestamp>, Error> {
    let bytes = len_bytes(value, "a timestamp message")?;
    if bytes.data.is_empty() {
        return Ok(None);
    }
    let mut r = bytes.reader()?;
    let (mut seconds, mut nanos) = (0i64, 0i32);
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => seconds.merge(value),
            2 => nanos.merge(value),
            _ => Ok(()),
        }
        .map_err(|e| e.in_field(field))?;
    }
    // Go's Time drops the nanoseconds; MicroTime truncates them to microseconds.
    let nanos = if micros {
        i128::from(nanos) - i128::from(nanos) % 1000
    } else {
        0
    };
    let total = i128::from(seconds) * NANOS + nanos;
    Timestamp::from_nanosecond(total)
        .map(Some)
        .map_err(|e| Error::Invalid(format!("timestamp {seconds}s is out of range: {e}")))
}

fn write_timestamp(ts: Timestamp, micros: bool, field: u32, w: &mut Writer) {
    let total = ts.as_nanosecond();
    let seconds = total.div_euclid(NANOS) as i64;
    let nanos = if micros {
        let n = total.rem_euclid(NANOS) as i32;
        n - n % 1000
    } else {
        0
    };
    w.nested(field, |w| {
        seconds.encode(1, w);
        nanos.encode(2, w);
    });
}

macro_rules! time_field {
    ($ty:ident, $micros:expr) => {
        impl Field for $ty {
            fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
                *self = $ty(read_timestamp(value, $micros)?.unwrap_or_default());
                Ok(())
            }

            fn encode(&self, field: u32, w: &mut Writer) {
                write_timestamp(self.0, $micros, field, w);
            }

            /// An empty message is Go's zero time: `None` (JSON `null`).
            fn merge_pointer(slot: &mut Option<Self>, value: Value<'_>) -> Result<(), Error> {
                Self::merge_value(slot, value)
            }

            /// An empty message is Go's zero time: `None` (JSON `null`).
            fn merge_value(slot: &mut Option<Self>, value: Value<'_>) -> Result<(), Error> {
                *slot = read_timestamp(value, $micros)?.map($ty);
                Ok(())
            }

            /// `None` is Go's zero time: an empty message.
            fn encode_value(slot: &Option<Self>, field: u32, w: &mut Writer) {
                match slot {
                    Some(t) => t.encode(field, w),
                    None => w.bytes_field(field, &[]),
                }
            }
        }
    };
}

time_field!(Time, false);
time_field!(MicroTime, true);

impl Field for Quantity {
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        let mut r = len_bytes(value, "a Quantity message")?.reader()?;
        // Borrowed from the input: the quantity's own string is its one allocation.
        let mut text = "0";
        while let Some((field, value)) = r.next_field()? {
            if field == 1 {
                text = read_str(value).map_err(|e| e.in_field(1))?;
            }
        }
        *self = Quantity::parse(text).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(())
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        w.nested(field, |w| w.bytes_field(1, self.as_str().as_bytes()));
    }
}

impl Field for IntOrString {
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        let mut r = len_bytes(value, "an IntOrString message")?.reader()?;
        let (mut ty, mut int, mut string) = (0i64, 0i32, String::new());
        while let Some((field, value)) = r.next_field()? {
            match field {
                1 => ty.merge(value),
                2 => int.merge(value),
                3 => string.merge(value),
                _ => Ok(()),
            }
            .map_err(|e| e.in_field(field))?;
        }
        *self = match ty {
            0 => IntOrString::Int(int),
            1 => IntOrString::String(string),
            other => {
                return Err(Error::Invalid(format!(
                    "IntOrString type {other} (expected 0 for an int or 1 for a string)"
                )));
            }
        };
        Ok(())
    }

    /// All three fields, always (Go writes them so).
    fn encode(&self, field: u32, w: &mut Writer) {
        w.nested(field, |w| match self {
            IntOrString::Int(i) => {
                0i64.encode(1, w);
                i.encode(2, w);
                w.bytes_field(3, &[]);
            }
            IntOrString::String(s) => {
                1i64.encode(1, w);
                0i32.encode(2, w);
                s.encode(3, w);
            }
        });
    }
}

/// Reads the `raw` field (1) of a `RawExtension`, `JSON` or `FieldsV1` message; `None` when absent.
fn read_raw<'a>(value: Value<'a>, what: &'static str) -> Result<Option<&'a [u8]>, Error> {
    let mut r = len_bytes(value, what)?.reader()?;
    let mut raw = None;
    while let Some((field, value)) = r.next_field()? {
        if field == 1 {
            raw = Some(len_bytes(value, "bytes").map_err(|e| e.in_field(1))?.data);
        }
    }
    Ok(raw)
}

impl Field for FieldsV1 {
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        let raw = read_raw(value, "a FieldsV1 message")?.unwrap_or(b"{}");
        // As from a JSON body: the server's compact text is kept as it is when re-serialising it
        // would give the same text (`fields_v1.rs`), else transcoded.
        *self = serde_json::from_slice(raw)
            .map_err(|e| Error::Invalid(format!("FieldsV1 is not JSON: {e}")))?;
        Ok(())
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        w.nested(field, |w| w.bytes_field(1, self.as_json().as_bytes()));
    }
}

/// `RawExtension` and apiextensions' `JSON`: `{1: raw}`, where raw is JSON text (absent: `null`).
impl Field for serde_json::Value {
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        *self = match read_raw(value, "a RawExtension message")? {
            None => serde_json::Value::Null,
            Some(raw) if raw.starts_with(&MAGIC) => {
                return Err(Error::Invalid(
                    "a RawExtension holds a protobuf object; only JSON is supported here".into(),
                ));
            }
            Some(raw) => serde_json::from_slice(raw)
                .map_err(|e| Error::Invalid(format!("RawExtension is not JSON: {e}")))?,
        };
        Ok(())
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        w.nested(field, |w| {
            if !self.is_null() {
                w.bytes_field(1, self.to_string().as_bytes());
            }
        });
    }
}

impl Field for ByteString {
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        self.0 = len_bytes(value, "bytes")?.data.to_vec();
        Ok(())
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        w.bytes_field(field, &self.0);
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

/// Decodes a message from its bytes (no envelope).
pub(crate) fn decode_plain<M: super::Message>(data: &[u8]) -> Result<M, Error> {
    let mut m = M::default();
    merge_message(&mut m, super::wire::Bytes::top(data))?;
    Ok(m)
}
