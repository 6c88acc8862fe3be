//! Regression tests for issue 13, defects 5 and 6 (the k8s-core parts): edge cases where the
//! SDK disagreed with the Go reference (`k8s.io/apimachinery`), each checked against what Go
//! does (see `oracles/go` and the differential test `go_differential.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use k8s_core::{MicroTime, Quantity, Time};

// ---------------------------------------------------------------------------------------------
// Defect 5: Quantity from large JSON numbers was rounded through f64.

/// Decodes a JSON number as a quantity: the result must be the exact value (what Go's
/// `Quantity.UnmarshalJSON` keeps) or an error naming the problem, never a rounded value.
fn exact_or_clear_error(json: &str, exact: &str) {
    match serde_json::from_str::<Quantity>(json) {
        Ok(q) => assert_eq!(q.as_str(), exact, "{json} decoded as a different value"),
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.contains("exactly") && message.contains("string"),
                "{json}: unclear error: {message}"
            );
        }
    }
}

#[test]
fn quantity_json_number_above_u64_is_never_rounded() {
    // Go: "18446744073709551616"; this SDK used to answer "18446744073709552k".
    exact_or_clear_error("18446744073709551616", "18446744073709551616");
    exact_or_clear_error("-18446744073709551617", "-18446744073709551617");
    exact_or_clear_error(
        "123456789012345678901234567890",
        "123456789012345678901234567890",
    );
    exact_or_clear_error("0.12345678901234567", "123456790n");
    // Its f64 prints in 15 digits (-7.18893294431015e37), yet is not the number written.
    exact_or_clear_error(
        "-71889329443101501049465901571268023475",
        "-71889329443101501049465901571268023475",
    );
    // Inside a resource map, as in `resources.limits`.
    let map: Result<BTreeMap<String, Quantity>, _> =
        serde_json::from_str(r#"{"memory": 18446744073709551616}"#);
    match map {
        Ok(map) => assert_eq!(map["memory"].as_str(), "18446744073709551616"),
        Err(err) => assert!(err.to_string().contains("exactly"), "{err}"),
    }
}

#[test]
fn quantity_json_number_beyond_f64_range_is_exact_or_clear() {
    // Go keeps "1e400" exact; serde_json cannot hold it in an f64.
    match serde_json::from_str::<Quantity>("1e400") {
        Ok(q) => assert_eq!(q.as_str(), "10e399"),
        Err(err) => assert!(err.to_string().contains("out of range"), "{err}"),
    }
}

#[test]
fn quantity_from_f64_values_keeps_short_numbers_and_rejects_rounded_ones() {
    // Through an f64 (`serde_json::Value`, YAML, buffered content) short numbers are exact.
    let value = serde_json::json!(0.5);
    assert_eq!(
        serde_json::from_value::<Quantity>(value).unwrap().as_str(),
        "500m"
    );
    let value = serde_json::json!(1.5e-3);
    assert_eq!(
        serde_json::from_value::<Quantity>(value).unwrap().as_str(),
        "1500u"
    );
    // 2^64 as an f64 prints as 18446744073709552000: more digits than an f64 keeps exactly,
    // so the text it came from is unknown. (A plain f64 source: a `serde_json::Value` hands
    // over its number's text when serde_json's `raw_value` feature is on.)
    use serde::Deserialize as _;
    use serde::de::IntoDeserializer as _;
    for inexact in [18446744073709551616.0_f64, -7.18893294431015e37, 0.1 + 0.2] {
        let source: serde::de::value::F64Deserializer<serde::de::value::Error> =
            inexact.into_deserializer();
        let err = Quantity::deserialize(source).unwrap_err();
        assert!(err.to_string().contains("exactly"), "{inexact}: {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 6 (core): the exponent range of `Quantity::parse`.

#[test]
fn quantity_exponent_accepts_the_whole_i32_range() {
    // The docs say only exponents outside i32 are rejected; i32::MIN is inside.
    assert_eq!(
        Quantity::parse("1e-2147483648").unwrap().canonical(),
        "1e-9"
    );
    assert!(Quantity::parse("1e2147483647").is_ok());
    assert!(Quantity::parse("1e-2147483649").is_err());
    assert!(Quantity::parse("1e2147483648").is_err());
}

// ---------------------------------------------------------------------------------------------
// Defect 6 (core): metav1.Time parsing as Go's time.Parse(time.RFC3339, …).

fn time(s: &str) -> Result<Time, serde_json::Error> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
}

fn micro(s: &str) -> Result<MicroTime, serde_json::Error> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
}

#[test]
fn time_accepts_more_than_nine_fractional_digits_truncating() {
    let t = time("2024-01-02T03:04:05.1234567891Z").unwrap();
    assert_eq!(t.timestamp().subsec_nanosecond(), 123_456_789);
    let t = time("2024-01-02T03:04:05.99999999999999999999Z").unwrap();
    assert_eq!(t.timestamp().subsec_nanosecond(), 999_999_999);
    assert_eq!(t.to_string(), "2024-01-02T03:04:05Z");
    let m = micro("2024-01-02T03:04:05.1234567891Z").unwrap();
    assert_eq!(m.to_string(), "2024-01-02T03:04:05.123456Z");
}

#[test]
fn time_rejects_what_go_rejects() {
    for input in [
        "2024-01-02t03:04:05Z",      // lower-case t
        "2024-01-02T03:04:05z",      // lower-case z
        "2024-01-02T03:04:60Z",      // leap second
        "2024-12-31T23:59:60Z",      // leap second
        "2024-01-02T03:04:05+0200",  // offset without colon
        "2024-01-02T03:04:05+02",    // short offset
        "2024-01-02 03:04:05Z",      // space separator
        "2024-01-02T03:04:05.Z",     // dot without digits
        "2024-01-02T03:04:05+25:00", // offset hour above 24
        "2024-02-30T03:04:05Z",      // no such day
        "2023-02-29T03:04:05Z",      // not a leap year
        "2024-01-02T24:00:00Z",      // hour 24
        "20240-01-02T03:04:05Z",     // five-digit year
        " 2024-01-02T03:04:05Z",     // whitespace
        "2024-01-02T03:04:05Z ",
    ] {
        assert!(time(input).is_err(), "Time accepted {input:?}");
        assert!(micro(input).is_err(), "MicroTime accepted {input:?}");
        assert!(input.parse::<Time>().is_err(), "FromStr accepted {input:?}");
    }
}

#[test]
fn time_accepts_what_go_accepts() {
    for (input, utc) in [
        // One-digit hour (Go's layout "15" takes one or two digits).
        ("2024-01-02T3:04:05Z", "2024-01-02T03:04:05Z"),
        // Comma as the decimal separator.
        ("2024-01-02T03:04:05,5Z", "2024-01-02T03:04:05Z"),
        // Offsets: Go checks hour <= 24 and minute <= 60.
        ("2024-01-02T03:04:05+24:00", "2024-01-01T03:04:05Z"),
        ("2024-01-02T03:04:05-00:60", "2024-01-02T04:04:05Z"),
        ("2024-01-02T03:04:05-00:00", "2024-01-02T03:04:05Z"),
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
    ] {
        let t = time(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(t.to_string(), utc, "{input}");
        assert_eq!(input.parse::<Time>().unwrap(), t);
    }
}

#[test]
fn time_past_the_supported_range_is_a_clear_error() {
    // Go accepts these (year 10000 in UTC); jiff's Timestamp ends in 9999-12-30 (UTC), so the
    // SDK must say so rather than fail with an unrelated message.
    for input in [
        "9999-12-31T23:00:00-05:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T00:00:00Z",
    ] {
        let err = time(input).unwrap_err().to_string();
        assert!(err.contains("supported range"), "{input}: {err}");
    }
}
