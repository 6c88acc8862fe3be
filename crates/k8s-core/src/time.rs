//! [`Time`] (`io.k8s.apimachinery.pkg.apis.meta.v1.Time`) and [`MicroTime`]
//! (`io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime`): instants in the Kubernetes wire format,
//! wrapping [`jiff::Timestamp`].
//!
//! | type          | serialized as (always UTC)      | example                         |
//! |---------------|---------------------------------|---------------------------------|
//! | [`Time`]      | RFC 3339, whole seconds         | `"2024-01-02T03:04:05Z"`        |
//! | [`MicroTime`] | RFC 3339, exactly 6 fractional digits | `"2024-01-02T03:04:05.123456Z"` |
//!
//! Serialization truncates (never rounds) to the wire precision, as Go's `time.Format` does.
//! Deserialization (and `FromStr`) accepts what Go's `time.Parse(time.RFC3339, …)` accepts, as
//! `metav1.Time` does: other offsets (`+02:00`, converted to UTC; Go allows hours up to 24 and
//! minutes up to 60), any number of fractional digits after `.` or `,` (truncated to
//! nanoseconds), a one-digit hour. It rejects what Go rejects: lower-case `t`/`z`, second 60,
//! `+hhmm` offsets, whitespace. `null` is not a timestamp: optional fields are `Option<Time>` in
//! generated code. The deliberate differences from Go are listed on [`Time`].

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::Offset;
use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MICRO: i128 = 1_000;

/// Rounds `ts` down (towards the past) to a multiple of `unit` nanoseconds.
fn floor_to(ts: Timestamp, unit: i128) -> Timestamp {
    let nanos = ts.as_nanosecond();
    // The floor of a valid timestamp is valid except below the minimum, which is whole seconds.
    Timestamp::from_nanosecond(nanos - nanos.rem_euclid(unit)).unwrap_or(ts)
}

/// Writes `ts` in UTC as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, truncating the fraction.
fn write_rfc3339(f: &mut impl fmt::Write, ts: Timestamp, micros: bool) -> fmt::Result {
    let dt = Offset::UTC.to_datetime(ts);
    let year = dt.year();
    if year >= 0 {
        write!(f, "{year:04}")?;
    } else {
        // Outside RFC 3339; the ISO 8601 expanded form, which the parser accepts back.
        write!(f, "-{:06}", year.unsigned_abs())?;
    }
    write!(
        f,
        "-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )?;
    if micros {
        write!(f, ".{:06}", dt.subsec_nanosecond() / 1_000)?;
    }
    f.write_str("Z")
}

/// Why a string is not a timestamp.
enum ParseError {
    /// Not the RFC 3339 shape Go accepts; the text says what was expected where.
    Syntax(String),
    /// A valid timestamp outside [`Timestamp`]'s range.
    Range,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Syntax(why) => f.write_str(why),
            ParseError::Range => write!(
                f,
                "outside the supported range ({} to {})",
                Timestamp::MIN,
                Timestamp::MAX
            ),
        }
    }
}

/// Reads RFC 3339 the way Go's `time.Parse(time.RFC3339, s)` does (what `metav1.Time` uses):
///
/// * `YYYY-MM-DDTHH:MM:SS` with an upper-case `T`; the hour may have one digit (`T3:04:05`);
///   seconds stop at 59 (no leap second); the day must exist in that month;
/// * an optional fraction after `.` or `,` with any number of digits, truncated to nanoseconds;
/// * `Z` (upper case) or `±HH:MM` with the colon; Go checks only hour ≤ 24 and minute ≤ 60;
/// * nothing else: no whitespace, no `+HHMM`, no lower-case `t`/`z`.
///
/// One extension: a year of a sign and six digits (`-000001-…`, ISO 8601's expanded form),
/// which is what [`write_rfc3339`] writes for years before 0, so that every `Time` reads back.
fn parse_rfc3339(s: &str) -> Result<Timestamp, ParseError> {
    let mut cursor = Cursor {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let year = match cursor.peek() {
        Some(sign @ (b'+' | b'-')) => {
            cursor.pos += 1;
            let year = cursor.digits(6, "a six-digit expanded year")?;
            if sign == b'-' { -year } else { year }
        }
        _ => cursor.digits(4, "a four-digit year")?,
    };
    cursor.expect(b'-')?;
    let month = cursor.digits(2, "a two-digit month")?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2, "a two-digit day")?;
    cursor.expect(b'T')?;
    // Go's layout element "15" takes one or two digits.
    let hour = match cursor.bytes.get(cursor.pos + 1) {
        Some(b) if b.is_ascii_digit() => cursor.digits(2, "an hour")?,
        _ => cursor.digits(1, "an hour")?,
    };
    cursor.expect(b':')?;
    let minute = cursor.digits(2, "two-digit minutes")?;
    cursor.expect(b':')?;
    let second = cursor.digits(2, "two-digit seconds")?;
    let mut nanos = 0;
    if matches!(cursor.peek(), Some(b'.' | b',')) && cursor.is_digit_at(cursor.pos + 1) {
        cursor.pos += 1;
        let mut count = 0;
        while cursor.is_digit_at(cursor.pos) {
            if count < 9 {
                nanos = nanos * 10 + i32::from(cursor.bytes[cursor.pos] - b'0');
                count += 1;
            }
            cursor.pos += 1;
        }
        // Digits past the ninth are dropped (truncated), as Go does.
        for _ in count..9 {
            nanos *= 10;
        }
    }
    let offset_seconds = match cursor.peek() {
        Some(b'Z') => {
            cursor.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            cursor.pos += 1;
            let hours = cursor.digits(2, "a two-digit offset hour")?;
            cursor.expect(b':')?;
            let minutes = cursor.digits(2, "two-digit offset minutes")?;
            if hours > 24 || minutes > 60 {
                return Err(ParseError::Syntax("the offset is out of range".into()));
            }
            let seconds = (hours * 60 + minutes) * 60;
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => {
            return Err(ParseError::Syntax(format!(
                "expected `Z` or an offset such as `+02:00` at byte {}",
                cursor.pos
            )));
        }
    };
    if cursor.pos != s.len() {
        return Err(ParseError::Syntax(format!(
            "unexpected text after the offset at byte {}",
            cursor.pos
        )));
    }
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return Err(ParseError::Syntax("a field is out of range".into()));
    }
    let date = jiff::civil::Date::new(year as i16, month as i8, day as i8)
        .map_err(|_| ParseError::Syntax("no such day".into()))?;
    let datetime = date.at(hour as i8, minute as i8, second as i8, nanos);
    Offset::from_seconds(offset_seconds)
        .and_then(|offset| offset.to_timestamp(datetime))
        .map_err(|_| ParseError::Range)
}

/// A position in the input of [`parse_rfc3339`].
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn is_digit_at(&self, pos: usize) -> bool {
        self.bytes.get(pos).is_some_and(u8::is_ascii_digit)
    }

    /// Exactly `n` ASCII digits (at most 6, so the value fits).
    fn digits(&mut self, n: usize, what: &str) -> Result<i32, ParseError> {
        let field = self
            .bytes
            .get(self.pos..self.pos + n)
            .filter(|field| field.iter().all(u8::is_ascii_digit))
            .ok_or_else(|| ParseError::Syntax(format!("expected {what} at byte {}", self.pos)))?;
        self.pos += n;
        Ok(field
            .iter()
            .fold(0, |acc, &d| acc * 10 + i32::from(d - b'0')))
    }

    fn expect(&mut self, byte: u8) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(ParseError::Syntax(format!(
                "expected `{}` at byte {}",
                char::from(byte),
                self.pos
            )))
        }
    }
}

/// Parses an RFC 3339 timestamp for `what` (`Time` or `MicroTime`).
fn parse_timestamp<E: de::Error>(what: &str, v: &str) -> Result<Timestamp, E> {
    parse_rfc3339(v).map_err(|err| {
        let shown: String = v.chars().take(64).collect();
        let ellipsis = if shown.len() < v.len() { "…" } else { "" };
        match err {
            ParseError::Syntax(_) => E::custom(format_args!(
                "invalid {what} {shown:?}{ellipsis}: expected an RFC 3339 timestamp such as \
                 \"2024-01-02T03:04:05Z\" ({err})"
            )),
            ParseError::Range => {
                E::custom(format_args!("invalid {what} {shown:?}{ellipsis}: {err}"))
            }
        }
    })
}

macro_rules! wire_time {
    (
        $(#[$meta:meta])*
        $name:ident, unit = $unit:expr, micros = $micros:expr, example = $example:literal
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub Timestamp);

        impl $name {
            /// The current time, truncated to the wire precision so that it equals its own round
            /// trip.
            pub fn now() -> Self {
                $name(floor_to(Timestamp::now(), $unit))
            }

            /// The wrapped timestamp.
            pub fn timestamp(&self) -> Timestamp {
                self.0
            }

            /// This instant truncated (towards the past) to the wire precision: what a
            /// serialize/deserialize round trip gives back.
            pub fn truncated(self) -> Self {
                $name(floor_to(self.0, $unit))
            }
        }

        impl From<Timestamp> for $name {
            /// Wraps the timestamp unchanged; serialization truncates it to the wire precision
            /// (see [`truncated`](Self::truncated)).
            fn from(ts: Timestamp) -> Self {
                $name(ts)
            }
        }

        impl From<$name> for Timestamp {
            fn from(t: $name) -> Self {
                t.0
            }
        }

        impl fmt::Display for $name {
            #[doc = concat!("The wire format, e.g. `", $example, "`.")]
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_rfc3339(f, self.0, $micros)
            }
        }

        impl FromStr for $name {
            type Err = jiff::Error;

            /// Parses an RFC 3339 timestamp as deserialization does (see the type's docs),
            /// keeping its full precision in memory.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_rfc3339(s)
                    .map($name)
                    .map_err(|err| jiff::Error::from_args(format_args!("{err}")))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct TimeVisitor;

                impl<'de> Visitor<'de> for TimeVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!(
                            "an RFC 3339 timestamp string such as \"",
                            $example,
                            "\""
                        ))
                    }

                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        parse_timestamp(stringify!($name), v).map($name)
                    }

                    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<$name, E> {
                        match std::str::from_utf8(v) {
                            Ok(s) => self.visit_str(s),
                            Err(_) => Err(E::invalid_value(Unexpected::Bytes(v), &self)),
                        }
                    }
                }

                deserializer.deserialize_str(TimeVisitor)
            }
        }
    };
}

wire_time! {
    /// An instant with second precision on the wire
    /// (`io.k8s.apimachinery.pkg.apis.meta.v1.Time`), e.g. `creationTimestamp`.
    ///
    /// Serializes as RFC 3339 in UTC with whole seconds (`"2024-01-02T03:04:05Z"`), truncating
    /// any fraction; deserializes RFC 3339 as Go's `metav1.Time` does (Go's
    /// `time.Parse(time.RFC3339, …)`: other offsets are converted to UTC, fractions are kept in
    /// memory down to nanoseconds, a one-digit hour and `,` before the fraction are accepted;
    /// lower-case `t`/`z`, second 60, `+hhmm` offsets and whitespace are rejected; `null` is for
    /// `Option<Time>`).
    ///
    /// In memory the wrapped [`Timestamp`] keeps whatever precision it was given (as Go's
    /// `metav1.Time` does), so a `Time` built from a sub-second timestamp is not equal to its
    /// own round trip; use [`Time::now`] or [`Time::truncated`] when that matters.
    ///
    /// # Deliberate differences from Go
    ///
    /// Checked by the differential test against `k8s.io/apimachinery` (`oracles/go`):
    ///
    /// * Range: [`Timestamp`] ends at 9999-12-30T22:00:00Z (UTC) and starts in year −9999. Go
    ///   accepts e.g. `9999-12-31T23:00:00-05:00` (year 10000 in UTC) and writes it back as
    ///   `10000-01-01T04:00:00Z`, which Go itself cannot read; here such input is an error saying
    ///   it is outside the supported range.
    /// * [`MicroTime`] reads what [`Time`] reads. Go's `MicroTime` parses with the layout
    ///   `RFC3339Micro` and so requires exactly six fractional digits; accepting other precisions
    ///   never changes a value, and the two types convert into each other.
    /// * Years before 0 are written in ISO 8601's expanded form (`-000001-12-31T23:00:00Z`),
    ///   and that form (a sign and six digits) is read back; Go writes
    ///   `-0001-12-31T23:00:00Z`, which neither side reads. Only instants before year 0 are
    ///   affected.
    /// * Go writes its zero time (`0001-01-01T00:00:00Z`) as `null` and reads `null` as it; here
    ///   absence is `Option::None`, and `0001-01-01T00:00:00Z` is an ordinary instant.
    ///
    /// ```
    /// use k8s_core::Time;
    ///
    /// let t: Time = serde_json::from_str(r#""2024-01-02T03:04:05Z""#)?;
    /// assert_eq!(t.to_string(), "2024-01-02T03:04:05Z");
    /// assert_eq!(serde_json::to_string(&t)?, r#""2024-01-02T03:04:05Z""#);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    Time, unit = NANOS_PER_SECOND, micros = false, example = "2024-01-02T03:04:05Z"
}

wire_time! {
    /// An instant with microsecond precision on the wire
    /// (`io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime`), e.g. `Lease.spec.renewTime` and
    /// `events.k8s.io` `eventTime`.
    ///
    /// Serializes as RFC 3339 in UTC with exactly six fractional digits
    /// (`"2024-01-02T03:04:05.123456Z"`), truncating finer digits; deserializes what [`Time`]
    /// deserializes, with or without a fraction (Go requires exactly six digits). As with
    /// [`Time`], the wrapped [`Timestamp`] keeps full precision in memory.
    ///
    /// ```
    /// use k8s_core::MicroTime;
    ///
    /// let t: MicroTime = serde_json::from_str(r#""2025-11-26T10:02:03.123456Z""#)?;
    /// assert_eq!(serde_json::to_string(&t)?, r#""2025-11-26T10:02:03.123456Z""#);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    MicroTime, unit = NANOS_PER_MICRO, micros = true, example = "2024-01-02T03:04:05.123456Z"
}

impl From<Time> for MicroTime {
    fn from(t: Time) -> Self {
        MicroTime(t.0)
    }
}

impl From<MicroTime> for Time {
    /// Keeps the full in-memory precision; serialization truncates to seconds.
    fn from(t: MicroTime) -> Self {
        Time(t.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn time_round_trips_server_data_exactly() {
        for s in [
            "2024-01-02T03:04:05Z",
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-30T21:59:59Z",
            "1969-07-20T20:17:40Z",
        ] {
            let json = format!("\"{s}\"");
            let t: Time = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&t).unwrap(), json);
            assert_eq!(t.to_string(), s);
            assert_eq!(s.parse::<Time>().unwrap(), t);
        }
    }

    #[test]
    fn micro_time_round_trips_server_data_exactly() {
        for s in [
            "2025-11-26T10:02:03.123456Z",
            "2024-01-02T03:04:05.000000Z",
            "2024-01-02T03:04:05.000001Z",
            "1969-12-31T23:59:59.999999Z",
        ] {
            let json = format!("\"{s}\"");
            let t: MicroTime = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&t).unwrap(), json);
            assert_eq!(t.to_string(), s);
        }
    }

    #[test]
    fn serialization_truncates_to_wire_precision() {
        let t = Time(ts("2024-01-02T03:04:05.999999999Z"));
        assert_eq!(t.to_string(), "2024-01-02T03:04:05Z");
        let m = MicroTime(ts("2024-01-02T03:04:05.123456789Z"));
        assert_eq!(m.to_string(), "2024-01-02T03:04:05.123456Z");
        // Before 1970 truncation still goes towards the past.
        let t = Time(ts("1969-12-31T23:59:59.5Z"));
        assert_eq!(t.to_string(), "1969-12-31T23:59:59Z");
        let m = MicroTime(ts("1969-12-31T23:59:59.9999995Z"));
        assert_eq!(m.to_string(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            MicroTime(ts("2024-01-02T03:04:05Z")).to_string(),
            "2024-01-02T03:04:05.000000Z"
        );
    }

    #[test]
    fn deserialization_accepts_rfc3339_variants() {
        for (input, utc) in [
            ("2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05Z"),
            ("2024-01-01T22:04:05-05:00", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05.5Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05.123456789Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05Z"),
        ] {
            let t: Time = serde_json::from_str(&format!("\"{input}\"")).unwrap();
            assert_eq!(t.to_string(), utc, "{input}");
        }
        let m: MicroTime = serde_json::from_str("\"2024-01-02T05:04:05.1+02:00\"").unwrap();
        assert_eq!(m.to_string(), "2024-01-02T03:04:05.100000Z");
        let m: MicroTime = serde_json::from_str("\"2024-01-02T03:04:05Z\"").unwrap();
        assert_eq!(m.to_string(), "2024-01-02T03:04:05.000000Z");
    }

    #[test]
    fn deserialization_errors_are_clear() {
        for (json, message) in [
            (
                "\"yesterday\"",
                "invalid Time \"yesterday\": expected an RFC 3339 timestamp",
            ),
            (
                "\"2024-01-02T03:04:05\"",
                "invalid Time \"2024-01-02T03:04:05\": expected an RFC 3339",
            ),
            ("\"\"", "invalid Time \"\": expected an RFC 3339 timestamp"),
            (
                "null",
                "invalid type: null, expected an RFC 3339 timestamp string",
            ),
            (
                "1704164645",
                "invalid type: integer `1704164645`, expected an RFC 3339 timestamp",
            ),
        ] {
            let err = serde_json::from_str::<Time>(json).unwrap_err().to_string();
            assert!(err.starts_with(message), "{json}: {err}");
        }
        let err = serde_json::from_str::<MicroTime>("\"nope\"")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid MicroTime \"nope\""), "{err}");
        let long = format!("\"{}\"", "x".repeat(1000));
        let err = serde_json::from_str::<Time>(&long).unwrap_err().to_string();
        assert!(err.len() < 400, "{err}");
        assert!("garbage".parse::<Time>().is_err());
    }

    #[test]
    fn optional_fields_handle_null() {
        #[derive(Deserialize, Serialize)]
        struct Meta {
            #[serde(rename = "creationTimestamp")]
            creation_timestamp: Option<Time>,
        }
        let meta: Meta = serde_json::from_str(r#"{"creationTimestamp":null}"#).unwrap();
        assert!(meta.creation_timestamp.is_none());
        let meta: Meta =
            serde_json::from_str(r#"{"creationTimestamp":"2024-01-02T03:04:05Z"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&meta).unwrap(),
            r#"{"creationTimestamp":"2024-01-02T03:04:05Z"}"#
        );
    }

    #[test]
    fn now_and_truncation() {
        let t = Time::now();
        assert_eq!(t.timestamp().subsec_nanosecond(), 0);
        let back: Time = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let m = MicroTime::now();
        assert_eq!(m.timestamp().subsec_nanosecond() % 1000, 0);
        let back: MicroTime = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);

        let precise = Time::from(ts("2024-01-02T03:04:05.75Z"));
        assert_eq!(precise.timestamp(), ts("2024-01-02T03:04:05.75Z"));
        assert_eq!(precise.truncated().timestamp(), ts("2024-01-02T03:04:05Z"));
        let precise = MicroTime::from(ts("2024-01-02T03:04:05.1234567Z"));
        assert_eq!(
            precise.truncated().timestamp(),
            ts("2024-01-02T03:04:05.123456Z")
        );
        let early = Time(ts("1969-12-31T23:59:59.5Z"));
        assert_eq!(early.truncated().timestamp(), ts("1969-12-31T23:59:59Z"));
        assert_eq!(Time(Timestamp::MIN).truncated().timestamp(), Timestamp::MIN);
    }

    #[test]
    fn conversions_and_ordering() {
        let micro: MicroTime = "2024-01-02T03:04:05.5Z".parse().unwrap();
        let time = Time::from(micro);
        assert_eq!(time.to_string(), "2024-01-02T03:04:05Z");
        assert_eq!(MicroTime::from(time), micro);
        assert_eq!(Timestamp::from(time), micro.timestamp());
        let earlier: Time = "2024-01-02T03:04:04Z".parse().unwrap();
        assert!(earlier < time);
        assert_eq!(Time::default().to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            format!("{:?}", Time(ts("2024-01-02T03:04:05Z"))),
            "Time(2024-01-02T03:04:05Z)"
        );
    }

    #[test]
    fn extreme_years_round_trip() {
        for t in [
            Time(Timestamp::MIN),
            Time(Timestamp::MAX).truncated(),
            Time(ts("0099-01-01T00:00:00Z")),
        ] {
            let json = serde_json::to_string(&t).unwrap();
            let back: Time = serde_json::from_str(&json).unwrap();
            assert_eq!(back, t, "{json}");
        }
        assert_eq!(
            Time(ts("0099-01-01T00:00:00Z")).to_string(),
            "0099-01-01T00:00:00Z"
        );
    }
}
