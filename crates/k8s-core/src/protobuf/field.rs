//! [`Field`]: how a Rust value is read from and written to one protobuf field.
//!
//! Go's encoder (gogo-protobuf, as generated for Kubernetes) writes a field of a Go value type
//! (`string`, `int32`, a struct) always, even when empty, and a pointer field only when it is set;
//! repeated fields and maps write one entry per element, maps sorted by key. The generated code
//! calls [`Field::merge`]/[`Field::encode`] for pointer fields (`Option` = pointer) and required
//! fields, and [`Field::merge_value`]/[`Field::encode_value`] for `Option` fields that are Go
//! value types (see the module docs of [`crate::protobuf`]).

use std::collections::BTreeMap;

use super::wire::{Bytes, Value, Writer, packed_varints};
use super::{Error, Message};

/// A type that one protobuf field holds. Implemented for the scalars, the special types of
/// `k8s-core`, `Option`, `Vec`, `BTreeMap` and every [`Message`].
pub trait Field: Default {
    /// Reads one occurrence of the field into `self` (a later occurrence replaces a scalar and
    /// merges into a message, as in protobuf).
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error>;

    /// Writes the field (always: the value of a Go value type is written even when empty).
    fn encode(&self, field: u32, w: &mut Writer);

    /// Whether this is Go's zero value, which a Go value type with `omitempty` leaves out of JSON:
    /// an `Option` field of such a type reads it as `None`. Messages are never zero here (Go's
    /// `encoding/json` writes an empty struct as `{}`).
    fn is_zero(&self) -> bool {
        false
    }

    /// Reads one occurrence into a repeated field; numbers also accept a packed run.
    ///
    /// The item is built in place at the end of the list (no copy of a large message).
    #[inline]
    fn merge_repeated(items: &mut Vec<Self>, value: Value<'_>) -> Result<(), Error> {
        items.push(Self::default());
        let result = match items.last_mut() {
            Some(item) => item.merge(value),
            None => Ok(()),
        };
        if result.is_err() {
            items.pop();
        }
        result
    }

    /// Reads an `Option` field of a Go pointer type: present means `Some`, even when empty.
    #[inline]
    fn merge_pointer(slot: &mut Option<Self>, value: Value<'_>) -> Result<(), Error> {
        slot.get_or_insert_with(Self::default).merge(value)
    }

    /// Reads an `Option` field of a Go value type: Go's zero value reads as `None`.
    ///
    /// Merged in place (no move of a large message out of the slot and back).
    #[inline]
    fn merge_value(slot: &mut Option<Self>, value: Value<'_>) -> Result<(), Error> {
        let v = slot.get_or_insert_with(Self::default);
        let result = v.merge(value);
        if result.is_err() || v.is_zero() {
            *slot = None;
        }
        result
    }

    /// Writes an `Option` field of a Go value type: `None` is written as Go's zero value.
    fn encode_value(slot: &Option<Self>, field: u32, w: &mut Writer) {
        match slot {
            Some(v) => v.encode(field, w),
            None => Self::default().encode(field, w),
        }
    }
}

#[cold]
pub(crate) fn wrong_type(expected: &'static str, value: &Value<'_>) -> Error {
    Error::UnexpectedWireType {
        expected,
        found: value.wire_name(),
    }
}

#[inline]
pub(crate) fn len_bytes<'a>(value: Value<'a>, expected: &'static str) -> Result<Bytes<'a>, Error> {
    match value {
        Value::Len(b) => Ok(b),
        other => Err(wrong_type(expected, &other)),
    }
}

#[inline]
fn varint(value: Value<'_>, expected: &'static str) -> Result<u64, Error> {
    match value {
        Value::Varint(v) => Ok(v),
        other => Err(wrong_type(expected, &other)),
    }
}

/// A string field's text, borrowed from the input (checked UTF-8).
#[inline]
pub(crate) fn read_str<'a>(value: Value<'a>) -> Result<&'a str, Error> {
    let b = len_bytes(value, "a string")?;
    std::str::from_utf8(b.data).map_err(not_utf8)
}

#[cold]
fn not_utf8(e: std::str::Utf8Error) -> Error {
    Error::Invalid(format!("a string is not UTF-8: {e}"))
}

/// Decodes a message's bytes into `m` (merging, as protobuf does for repeated occurrences).
#[inline]
pub fn merge_message<M: Message>(m: &mut M, bytes: Bytes<'_>) -> Result<(), Error> {
    let mut r = bytes.reader()?;
    while let Some((field, value)) = r.next_field()? {
        m.merge_field(field, value).map_err(|e| e.in_field(field))?;
    }
    Ok(())
}

impl<M: Message> Field for M {
    #[inline]
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        merge_message(self, len_bytes(value, "a message")?)
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        w.nested(field, |w| self.encode_fields(w));
    }
}

impl Field for String {
    #[inline]
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        *self = read_str(value)?.to_owned();
        Ok(())
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        w.bytes_field(field, self.as_bytes());
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl Field for bool {
    #[inline]
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        *self = varint(value, "a bool")? != 0;
        Ok(())
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        w.varint_field(field, u64::from(*self));
    }

    fn is_zero(&self) -> bool {
        !*self
    }
}

macro_rules! varint_number {
    ($ty:ty, $name:literal) => {
        impl Field for $ty {
            #[inline]
            fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
                // Truncation, as Go's decoder does for int32.
                *self = varint(value, $name)? as $ty;
                Ok(())
            }

            fn encode(&self, field: u32, w: &mut Writer) {
                // Negative numbers are sign-extended to 64 bits (10 bytes), as in Go.
                w.varint_field(field, *self as i64 as u64);
            }

            fn is_zero(&self) -> bool {
                *self == 0
            }

            fn merge_repeated(items: &mut Vec<Self>, value: Value<'_>) -> Result<(), Error> {
                match value {
                    Value::Len(b) => {
                        items.extend(packed_varints(b.data)?.into_iter().map(|v| v as $ty));
                        Ok(())
                    }
                    other => {
                        items.push(varint(other, $name)? as $ty);
                        Ok(())
                    }
                }
            }
        }
    };
}

varint_number!(i32, "an int32");
varint_number!(i64, "an int64");

impl Field for f64 {
    #[inline]
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        match value {
            Value::Fixed64(v) => {
                *self = f64::from_bits(v);
                Ok(())
            }
            other => Err(wrong_type("a double", &other)),
        }
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        w.fixed64_field(field, self.to_bits());
    }

    fn is_zero(&self) -> bool {
        *self == 0.0
    }

    fn merge_repeated(items: &mut Vec<Self>, value: Value<'_>) -> Result<(), Error> {
        match value {
            Value::Len(b) => {
                if b.data.len() % 8 != 0 {
                    return Err(Error::Invalid(format!(
                        "a packed run of doubles has {} bytes, not a multiple of 8",
                        b.data.len()
                    )));
                }
                items.extend(b.data.chunks_exact(8).map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    f64::from_le_bytes(a)
                }));
                Ok(())
            }
            other => {
                let mut v = 0.0;
                v.merge(other)?;
                items.push(v);
                Ok(())
            }
        }
    }
}

impl<T: Field> Field for Option<T> {
    /// A pointer field: present means `Some`, even when empty.
    #[inline]
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        T::merge_pointer(self, value)
    }

    /// A pointer field: written only when `Some`.
    fn encode(&self, field: u32, w: &mut Writer) {
        if let Some(v) = self {
            v.encode(field, w);
        }
    }
}

impl<T: Field> Field for Vec<T> {
    #[inline]
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        T::merge_repeated(self, value)
    }

    fn encode(&self, field: u32, w: &mut Writer) {
        for v in self {
            v.encode(field, w);
        }
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl<V: Field> Field for BTreeMap<String, V> {
    /// One map entry: a message with the key (1) and the value (2).
    #[inline]
    fn merge(&mut self, value: Value<'_>) -> Result<(), Error> {
        let mut r = len_bytes(value, "a map entry")?.reader()?;
        let mut key = String::new();
        let mut val = V::default();
        while let Some((field, value)) = r.next_field()? {
            match field {
                1 => key.merge(value),
                2 => val.merge(value),
                _ => Ok(()),
            }
            .map_err(|e| e.in_field(field))?;
        }
        self.insert(key, val);
        Ok(())
    }

    /// Entries sorted by key (Go sorts them), key and value always written.
    fn encode(&self, field: u32, w: &mut Writer) {
        for (k, v) in self {
            w.nested(field, |w| {
                k.encode(1, w);
                v.encode(2, w);
            });
        }
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

/// Reads the fields of a Go embedded struct (inlined in JSON, a message of its own on the wire)
/// with `merge`, which gets each field's number and value; errors carry the field path.
pub fn merge_embedded(
    value: Value<'_>,
    mut merge: impl FnMut(u32, Value<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut r = len_bytes(value, "an embedded message")?.reader()?;
    while let Some((field, value)) = r.next_field()? {
        merge(field, value).map_err(|e| e.in_field(field))?;
    }
    Ok(())
}

/// A list of lists: each inner list is a wrapper message whose field 1 holds the items.
pub fn encode_nested_lists<T: Field>(lists: &[Vec<T>], field: u32, w: &mut Writer) {
    for list in lists {
        w.nested(field, |w| list.encode(1, w));
    }
}

/// Reads one wrapper message of a list of lists (see [`encode_nested_lists`]).
pub fn merge_nested_list<T: Field>(lists: &mut Vec<Vec<T>>, value: Value<'_>) -> Result<(), Error> {
    let mut list = Vec::new();
    merge_embedded(value, |field, value| match field {
        1 => list.merge(value),
        _ => Ok(()),
    })?;
    lists.push(list);
    Ok(())
}

/// A map of lists (`map[string]ExtraValue`): entries sorted by key, each value a wrapper message
/// whose field 1 holds the items.
pub fn encode_list_map<T: Field>(map: &BTreeMap<String, Vec<T>>, field: u32, w: &mut Writer) {
    for (k, v) in map {
        w.nested(field, |w| {
            k.encode(1, w);
            w.nested(2, |w| v.encode(1, w));
        });
    }
}

/// Reads one entry of a map of lists (see [`encode_list_map`]).
pub fn merge_list_map_entry<T: Field>(
    map: &mut BTreeMap<String, Vec<T>>,
    value: Value<'_>,
) -> Result<(), Error> {
    let mut key = String::new();
    let mut list = Vec::new();
    merge_embedded(value, |field, value| match field {
        1 => key.merge(value),
        2 => merge_embedded(value, |f, v| match f {
            1 => list.merge(v),
            _ => Ok(()),
        }),
        _ => Ok(()),
    })?;
    map.insert(key, list);
    Ok(())
}
