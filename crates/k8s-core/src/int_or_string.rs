//! [`IntOrString`] (`io.k8s.apimachinery.pkg.util.intstr.IntOrString`): a field that holds either
//! a 32-bit integer or a string, such as a port (`8080` or `"http"`) or a rollout budget (`1` or
//! `"25%"`).

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An integer or a string (`io.k8s.apimachinery.pkg.util.intstr.IntOrString`).
///
/// On the wire a JSON number is [`IntOrString::Int`] and a JSON string is
/// [`IntOrString::String`]: `8080` and `"8080"` are different values, and both round-trip
/// unchanged. Deserialization rejects fractional numbers and integers outside the `i32` range
/// with a message saying so.
///
/// ```
/// use k8s_core::IntOrString;
///
/// let port: IntOrString = serde_json::from_str("8080")?;
/// assert_eq!(port, IntOrString::Int(8080));
/// let surge: IntOrString = serde_json::from_str(r#""25%""#)?;
/// assert_eq!(surge.as_percent(), Some(25));
/// // 25% of 10 replicas, rounded up as the Deployment controller does for maxSurge.
/// assert_eq!(surge.scaled_value(10, true).ok(), Some(3));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// A JSON number (in the `i32` range).
    Int(i32),
    /// A JSON string, such as a named port (`"http"`) or a percentage (`"25%"`).
    String(String),
}

impl IntOrString {
    /// The integer, if this is [`IntOrString::Int`].
    pub fn as_int(&self) -> Option<i32> {
        match self {
            IntOrString::Int(i) => Some(*i),
            IntOrString::String(_) => None,
        }
    }

    /// The string, if this is [`IntOrString::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            IntOrString::Int(_) => None,
            IntOrString::String(s) => Some(s),
        }
    }

    /// The percentage, if this is a string of an integer followed by `%` (`"25%"` → `Some(25)`;
    /// a sign is allowed, as in Go's `strconv.Atoi`).
    pub fn as_percent(&self) -> Option<i32> {
        self.as_str()?.strip_suffix('%')?.parse().ok()
    }

    /// The value scaled against `total`, like apimachinery's `GetScaledValueFromIntOrPercent`:
    /// an integer is returned as is; a percentage `p%` gives `p × total / 100`, rounded up if
    /// `round_up` (as for `maxSurge`) and down otherwise (as for `maxUnavailable`).
    ///
    /// Unlike Go, the arithmetic is exact (no `float64` on the way).
    ///
    /// # Errors
    ///
    /// A string that is not an integer followed by `%`, or a result outside the `i32` range.
    pub fn scaled_value(&self, total: i32, round_up: bool) -> Result<i32, IntOrStringError> {
        let s = match self {
            IntOrString::Int(i) => return Ok(*i),
            IntOrString::String(s) => s,
        };
        let Some(number) = s.strip_suffix('%') else {
            return Err(IntOrStringError::NotAPercentage(s.clone()));
        };
        let percent: i64 = number
            .parse()
            .map_err(|_| IntOrStringError::InvalidPercentage(s.clone()))?;
        let product = i128::from(percent) * i128::from(total);
        let scaled = if round_up {
            -(-product).div_euclid(100)
        } else {
            product.div_euclid(100)
        };
        i32::try_from(scaled).map_err(|_| IntOrStringError::OutOfRange {
            value: s.clone(),
            total,
        })
    }
}

impl Default for IntOrString {
    /// `Int(0)`, Go's zero value.
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl fmt::Display for IntOrString {
    /// The integer in decimal, or the string as is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => fmt::Display::fmt(i, f),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl FromStr for IntOrString {
    type Err = Infallible;

    /// Like Go's `intstr.Parse`: a string that is an `i32` becomes [`IntOrString::Int`],
    /// anything else [`IntOrString::String`] (`"8080"` → `Int(8080)`, `"http"` → `String`).
    /// Use `From<&str>` to always get a string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<i32>() {
            Ok(i) => IntOrString::Int(i),
            Err(_) => IntOrString::String(s.to_owned()),
        })
    }
}

impl From<i32> for IntOrString {
    fn from(i: i32) -> Self {
        IntOrString::Int(i)
    }
}

impl From<String> for IntOrString {
    /// Always [`IntOrString::String`], even for `"80"`.
    fn from(s: String) -> Self {
        IntOrString::String(s)
    }
}

impl From<&str> for IntOrString {
    /// Always [`IntOrString::String`], even for `"80"`.
    fn from(s: &str) -> Self {
        IntOrString::String(s.to_owned())
    }
}

/// Why [`IntOrString::scaled_value`] failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntOrStringError {
    /// The string does not end in `%`.
    #[error("invalid IntOrString {0:?}: a string must be a percentage such as \"25%\"")]
    NotAPercentage(String),
    /// The string ends in `%` but what precedes it is not an integer.
    #[error("invalid IntOrString {0:?}: the percentage is not an integer")]
    InvalidPercentage(String),
    /// The scaled value does not fit an `i32`.
    #[error("IntOrString {value:?} of {total} does not fit in an i32")]
    OutOfRange {
        /// The percentage string.
        value: String,
        /// The total it was scaled against.
        total: i32,
    },
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => serializer.serialize_i32(*i),
            IntOrString::String(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IntOrStringVisitor)
    }
}

struct IntOrStringVisitor;

impl<'de> Visitor<'de> for IntOrStringVisitor {
    type Value = IntOrString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer in the int32 range or a string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
        i32::try_from(v)
            .map(IntOrString::Int)
            .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
        i32::try_from(v)
            .map(IntOrString::Int)
            .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<IntOrString, E> {
        i32::try_from(v)
            .map(IntOrString::Int)
            .map_err(|_| E::invalid_value(Unexpected::Other("an integer out of range"), &self))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<IntOrString, E> {
        i32::try_from(v)
            .map(IntOrString::Int)
            .map_err(|_| E::invalid_value(Unexpected::Other("an integer out of range"), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<IntOrString, E> {
        // Even `1.0`: Go's decoder rejects any number with a fraction or exponent for an int32.
        Err(E::invalid_type(Unexpected::Float(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
        Ok(IntOrString::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<IntOrString, E> {
        Ok(IntOrString::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<IntOrString, E> {
        match std::str::from_utf8(v) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::invalid_value(Unexpected::Bytes(v), &self)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn from_json(json: &str) -> Result<IntOrString, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn json_round_trip() {
        for (json, value) in [
            ("8080", IntOrString::Int(8080)),
            ("0", IntOrString::Int(0)),
            ("-1", IntOrString::Int(-1)),
            ("2147483647", IntOrString::Int(i32::MAX)),
            ("-2147483648", IntOrString::Int(i32::MIN)),
            ("\"http\"", IntOrString::String("http".into())),
            ("\"8080\"", IntOrString::String("8080".into())),
            ("\"25%\"", IntOrString::String("25%".into())),
            ("\"\"", IntOrString::String(String::new())),
        ] {
            assert_eq!(from_json(json).unwrap(), value, "{json}");
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
        }
    }

    #[test]
    fn rejects_floats_and_out_of_range() {
        for (json, message) in [
            (
                "1.5",
                "invalid type: floating point `1.5`, expected an integer in the int32 range or a \
                 string",
            ),
            (
                "1.0",
                "invalid type: floating point `1.0`, expected an integer",
            ),
            (
                "1e3",
                "invalid type: floating point `1000.0`, expected an integer",
            ),
            (
                "2147483648",
                "invalid value: integer `2147483648`, expected an integer in the int32 range or \
                 a string",
            ),
            (
                "-2147483649",
                "invalid value: integer `-2147483649`, expected an integer in the int32 range",
            ),
            (
                "true",
                "invalid type: boolean `true`, expected an integer in the int32 range or a string",
            ),
            (
                "null",
                "invalid type: null, expected an integer in the int32 range or a string",
            ),
            ("[1]", "invalid type: sequence"),
        ] {
            let err = from_json(json).unwrap_err().to_string();
            assert!(err.starts_with(message), "{json}: {err}");
        }
    }

    #[test]
    fn inside_a_struct() {
        #[derive(Debug, PartialEq, Deserialize, Serialize)]
        struct Probe {
            port: IntOrString,
            #[serde(skip_serializing_if = "Option::is_none")]
            max_surge: Option<IntOrString>,
        }
        let probe: Probe = serde_json::from_str(r#"{"port":"http","max_surge":null}"#).unwrap();
        assert_eq!(probe.port.as_str(), Some("http"));
        assert_eq!(probe.max_surge, None);
        assert_eq!(serde_json::to_string(&probe).unwrap(), r#"{"port":"http"}"#);
        let err = serde_json::from_str::<Probe>(r#"{"port":80.5}"#).unwrap_err();
        assert!(err.to_string().contains("floating point `80.5`"), "{err}");
        assert!(err.to_string().contains("line 1 column"), "{err}");
    }

    #[test]
    fn accessors_display_and_parse() {
        let int = IntOrString::from(80);
        let string = IntOrString::from("http");
        assert_eq!(int.as_int(), Some(80));
        assert_eq!(int.as_str(), None);
        assert_eq!(string.as_int(), None);
        assert_eq!(string.as_str(), Some("http"));
        assert_eq!(int.to_string(), "80");
        assert_eq!(string.to_string(), "http");
        assert_eq!(
            IntOrString::from("80".to_owned()),
            IntOrString::String("80".into())
        );
        assert_eq!("80".parse::<IntOrString>(), Ok(IntOrString::Int(80)));
        assert_eq!("+80".parse::<IntOrString>(), Ok(IntOrString::Int(80)));
        assert_eq!(
            "25%".parse::<IntOrString>(),
            Ok(IntOrString::String("25%".into()))
        );
        assert_eq!(
            "3000000000".parse::<IntOrString>(),
            Ok(IntOrString::String("3000000000".into()))
        );
        assert_eq!(IntOrString::default(), IntOrString::Int(0));
    }

    #[test]
    fn percentages() {
        assert_eq!(IntOrString::from("25%").as_percent(), Some(25));
        assert_eq!(IntOrString::from("0%").as_percent(), Some(0));
        assert_eq!(IntOrString::from("-5%").as_percent(), Some(-5));
        assert_eq!(IntOrString::from("25").as_percent(), None);
        assert_eq!(IntOrString::from("%").as_percent(), None);
        assert_eq!(IntOrString::from("2.5%").as_percent(), None);
        assert_eq!(IntOrString::from(25).as_percent(), None);
    }

    // Cases from apimachinery's TestGetIntFromIntOrPercent / GetScaledValueFromIntOrPercent.
    #[test]
    fn scaled_values() {
        let cases: &[(IntOrString, i32, bool, Result<i32, ()>)] = &[
            (IntOrString::Int(123), 100, true, Ok(123)),
            (IntOrString::from("90%"), 100, true, Ok(90)),
            (IntOrString::from("90%"), 95, true, Ok(86)),
            (IntOrString::from("90%"), 95, false, Ok(85)),
            (IntOrString::from("%"), 0, false, Err(())),
            (IntOrString::from("90#"), 100, false, Err(())),
            (IntOrString::from("#%"), 100, false, Err(())),
            (IntOrString::from("90"), 100, false, Err(())),
            (IntOrString::from("25%"), 10, true, Ok(3)),
            (IntOrString::from("25%"), 10, false, Ok(2)),
            (IntOrString::from("0%"), 10, true, Ok(0)),
            (IntOrString::from("100%"), 7, false, Ok(7)),
            (IntOrString::from("-25%"), 10, true, Ok(-2)),
            (IntOrString::from("-25%"), 10, false, Ok(-3)),
            (IntOrString::from("200%"), i32::MAX, false, Err(())),
            (IntOrString::from("100%"), i32::MAX, true, Ok(i32::MAX)),
        ];
        for (value, total, round_up, expect) in cases {
            let got = value.scaled_value(*total, *round_up).map_err(|_| ());
            assert_eq!(got, *expect, "{value} of {total} (round up: {round_up})");
        }
    }

    #[test]
    fn scaled_value_errors() {
        let err = IntOrString::from("90").scaled_value(100, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid IntOrString \"90\": a string must be a percentage such as \"25%\""
        );
        let err = IntOrString::from("x%").scaled_value(100, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid IntOrString \"x%\": the percentage is not an integer"
        );
        let err = IntOrString::from("200%")
            .scaled_value(i32::MAX, true)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "IntOrString \"200%\" of 2147483647 does not fit in an i32"
        );
    }
}
