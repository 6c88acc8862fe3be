//! Serde: a quantity is written as its string; read from a string, or from a number's exact
//! JSON text (serde_json's raw-value protocol), or from an `f64` only when that is exact.

use std::fmt;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Quantity;
use super::decimal::Decimal;
use super::format::Format;

/// serde_json's name for its raw-value protocol (`serde_json::value::RawValue`). When serde_json is
/// built with its `raw_value` feature, `deserialize_newtype_struct` with this name hands the
/// visitor a one-entry map whose value is the JSON text of the value; without the feature, and in
/// every other format, it is an ordinary newtype and the value is visited as usual.
pub(super) const SERDE_JSON_RAW_VALUE: &str = "$serde_json::private::RawValue";

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Asks serde_json for the value's text, so that a number is read exactly (see
        // `SERDE_JSON_RAW_VALUE`); other deserializers visit the value itself.
        deserializer.deserialize_newtype_struct(SERDE_JSON_RAW_VALUE, QuantityVisitor)
    }
}

/// The value half of serde_json's raw-value map: the JSON text of one value.
struct RawJsonQuantity;

impl<'de> de::DeserializeSeed<'de> for RawJsonQuantity {
    type Value = Quantity;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Quantity, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for RawJsonQuantity {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the JSON text of a value")
    }

    fn visit_str<E: de::Error>(self, raw: &str) -> Result<Quantity, E> {
        let raw = raw.trim_matches([' ', '\t', '\n', '\r']);
        match raw.as_bytes().first() {
            Some(b'"') => {
                let inner = raw
                    .get(1..raw.len().saturating_sub(1))
                    .filter(|inner| !inner.contains('\\'));
                match inner {
                    Some(inner) => QuantityVisitor.visit_str(inner),
                    // Escapes: let serde_json decode the string.
                    None => match serde_json::from_str::<String>(raw) {
                        Ok(text) => QuantityVisitor.visit_string(text),
                        Err(err) => Err(E::custom(err)),
                    },
                }
            }
            Some(b'-' | b'0'..=b'9') => Quantity::from_json_number(raw).map_err(E::custom),
            Some(b'n') => Ok(Quantity::default()),
            Some(b't') => Err(E::invalid_type(Unexpected::Bool(true), &QuantityVisitor)),
            Some(b'f') => Err(E::invalid_type(Unexpected::Bool(false), &QuantityVisitor)),
            Some(b'[') => Err(E::invalid_type(Unexpected::Seq, &QuantityVisitor)),
            Some(b'{') => Err(E::invalid_type(Unexpected::Map, &QuantityVisitor)),
            _ => Err(E::invalid_value(Unexpected::Str(raw), &QuantityVisitor)),
        }
    }
}

struct QuantityVisitor;

impl<'de> Visitor<'de> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes quantity: a string such as \"100m\" or \"1Gi\", or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        Quantity::parse(v.trim()).map_err(E::custom)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Quantity, E> {
        if v.trim().len() == v.len() {
            Quantity::from_string(v).map_err(E::custom)
        } else {
            self.visit_str(&v)
        }
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Quantity, E> {
        match std::str::from_utf8(v) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::invalid_value(Unexpected::Bytes(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        Ok(Quantity::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        Ok(Quantity::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Quantity, E> {
        Ok(Quantity::from_value(
            Decimal::from_i128(v),
            Format::DecimalSI,
        ))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Quantity, E> {
        Ok(Quantity::from_value(
            Decimal::from_u128(false, v),
            Format::DecimalSI,
        ))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
        Quantity::from_f64(v).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Quantity, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Quantity, D::Error> {
        // Not serde_json's raw-value protocol: the value itself.
        deserializer.deserialize_any(self)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Quantity, A::Error> {
        // serde_json's raw-value protocol: one entry, keyed by the protocol's name, whose value
        // is the JSON text. Any other map is not a quantity.
        match map.next_key::<std::borrow::Cow<'de, str>>()? {
            Some(key) if key == SERDE_JSON_RAW_VALUE => map.next_value_seed(RawJsonQuantity),
            _ => Err(de::Error::invalid_type(Unexpected::Map, &self)),
        }
    }
}
