//! Parsing, canonical form, comparisons, arithmetic and serde of [`Quantity`]; apimachinery's
//! test tables are ported here.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::serde_impl::SERDE_JSON_RAW_VALUE;
use super::*;

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// `mantissa × 10^exponent`.
fn dec(mantissa: i128, exponent: i64) -> Decimal {
    let mut d = Decimal::from_i128(mantissa);
    if !d.is_zero() {
        d.exponent += exponent;
    }
    d
}

use Format::{BinarySI as Bin, DecimalExponent as Exp, DecimalSI as Si};

// Port of apimachinery's TestQuantityParse table: input, expected value, expected format.
#[test]
fn parse_table_from_apimachinery() {
    let table: &[(&str, Decimal, Format)] = &[
        ("0", dec(0, 0), Si),
        ("0n", dec(0, 0), Si),
        ("0u", dec(0, 0), Si),
        ("0m", dec(0, 0), Si),
        ("0Ki", dec(0, 0), Bin),
        ("0k", dec(0, 0), Si),
        ("0Mi", dec(0, 0), Bin),
        ("0M", dec(0, 0), Si),
        ("0Gi", dec(0, 0), Bin),
        ("0G", dec(0, 0), Si),
        ("0Ti", dec(0, 0), Bin),
        ("0T", dec(0, 0), Si),
        // Quantity-less numbers are allowed.
        ("1", dec(1, 0), Si),
        // Binary suffixes.
        ("1Ki", dec(1024, 0), Bin),
        ("8Ki", dec(8 * 1024, 0), Bin),
        ("7Mi", dec(7 << 20, 0), Bin),
        ("6Gi", dec(6 << 30, 0), Bin),
        ("5Ti", dec(5 << 40, 0), Bin),
        ("4Pi", dec(4 << 50, 0), Bin),
        ("3Ei", dec(3 << 60, 0), Bin),
        ("10Ti", dec(10 << 40, 0), Bin),
        ("100Ti", dec(100 << 40, 0), Bin),
        // Decimal suffixes.
        ("5n", dec(5, -9), Si),
        ("4u", dec(4, -6), Si),
        ("3m", dec(3, -3), Si),
        ("9", dec(9, 0), Si),
        ("8k", dec(8, 3), Si),
        ("50k", dec(5, 4), Si),
        ("7M", dec(7, 6), Si),
        ("6G", dec(6, 9), Si),
        ("5T", dec(5, 12), Si),
        ("40T", dec(4, 13), Si),
        ("300T", dec(3, 14), Si),
        ("2P", dec(2, 15), Si),
        ("1E", dec(1, 18), Si),
        // Decimal exponents.
        ("1E-3", dec(1, -3), Exp),
        ("1e3", dec(1, 3), Exp),
        ("1E6", dec(1, 6), Exp),
        ("1e9", dec(1, 9), Exp),
        ("1E12", dec(1, 12), Exp),
        ("1e15", dec(1, 15), Exp),
        ("1E18", dec(1, 18), Exp),
        // Nonstandard but still parsable.
        ("1e14", dec(1, 14), Exp),
        ("1e13", dec(1, 13), Exp),
        ("100.035k", dec(100035, 0), Si),
        // Things that look like floating point.
        ("0.001", dec(1, -3), Si),
        ("0.0005k", dec(5, -1), Si),
        ("0.005", dec(5, -3), Si),
        ("0.05", dec(5, -2), Si),
        ("0.5", dec(5, -1), Si),
        ("0.00050k", dec(5, -1), Si),
        ("0.00500", dec(5, -3), Si),
        ("0.05000", dec(5, -2), Si),
        ("0.50000", dec(5, -1), Si),
        ("0.5e0", dec(5, -1), Exp),
        ("0.5e-1", dec(5, -2), Exp),
        ("0.5e-2", dec(5, -3), Exp),
        ("10.035M", dec(10035, 3), Si),
        ("1.2e3", dec(12, 2), Exp),
        ("1.3E+6", dec(13, 5), Exp),
        ("1.40e9", dec(14, 8), Exp),
        ("1.53E12", dec(153, 10), Exp),
        ("1.6e15", dec(16, 14), Exp),
        ("1.7E18", dec(17, 17), Exp),
        ("9.01", dec(901, -2), Si),
        ("8.1k", dec(81, 2), Si),
        ("7.123456M", dec(7123456, 0), Si),
        ("6.987654321G", dec(6987654321, 0), Si),
        ("5.444T", dec(5444, 9), Si),
        ("40.1T", dec(401, 11), Si),
        ("300.2T", dec(3002, 11), Si),
        ("2.5P", dec(25, 14), Si),
        ("1.01E", dec(101, 16), Si),
        // Things that saturate or round.
        ("3.001n", dec(4, -9), Si),
        ("1.1E-9", dec(2, -9), Exp),
        ("0.0000000001", dec(1, -9), Si),
        ("0.0000000005", dec(1, -9), Si),
        ("0.00000000050", dec(1, -9), Si),
        ("0.5e-9", dec(1, -9), Exp),
        ("0.9n", dec(1, -9), Si),
        ("0.00000012345", dec(124, -9), Si),
        ("0.00000012354", dec(124, -9), Si),
        ("9Ei", dec(i64::MAX.into(), 0), Bin),
        ("9223372036854775807Ki", dec(i64::MAX.into(), 0), Bin),
        ("12E", dec(12, 18), Si),
        // Fractional binary values.
        ("100.035Ki", dec(10243584, -2), Bin),
        ("0.5Mi", dec(512 * 1024, 0), Bin),
        ("0.05Gi", dec(536870912, -1), Bin),
        ("0.025Ti", dec(274877906944, -1), Bin),
        // Things written by trolls.
        ("0.000000000001Ki", dec(2, -9), Si), // rounds up, changes format
        (".001", dec(1, -3), Si),
        (".0001k", dec(100, -3), Si),
        ("1.", dec(1, 0), Si),
        ("1.G", dec(1, 9), Si),
    ];
    for (input, value, format) in table {
        for (prefix, negate) in [("", false), ("+", false), ("-", true)] {
            let text = format!("{prefix}{input}");
            let got = q(&text);
            let want = if negate {
                value.negated()
            } else {
                value.clone()
            };
            assert_eq!(got.value(), want, "value of {text}");
            assert_eq!(got.format(), *format, "format of {text}");
            assert_eq!(got.as_str(), text, "string of {text}");
        }
    }
}

#[test]
fn invalid_inputs_from_apimachinery_and_more() {
    for input in [
        "1.1.M",
        "1+1.0M",
        "0.1mi",
        "0.1am",
        "aoeu",
        ".5i",
        "1i",
        "-3.01i",
        "-3.01e-",
        " 1",
        "1 ",
        "",
        ".",
        "-.",
        "+",
        "-",
        "Ki",
        "m",
        "1e",
        "1e+",
        "1ee3",
        "1e3.5",
        "1K",
        "1KI",
        "1kb",
        "1Gb",
        "1 Gi",
        "1,5",
        "NaN",
        "inf",
        "1e99999999999",
        "1e2147483648",
        "--1",
        "1Mi5",
        "0x10",
        "1\u{a0}",
    ] {
        assert!(Quantity::parse(input).is_err(), "{input:?} parsed");
    }
    assert!(Quantity::parse("1e2147483647").is_ok());
    assert!(Quantity::parse("1e-2147483647").is_ok());
}

#[test]
fn error_messages_name_input_and_problem() {
    let cases = [
        (
            "",
            "invalid quantity \"\": the empty string is not a quantity",
        ),
        (
            " 1",
            "invalid quantity \" 1\": leading or trailing whitespace",
        ),
        ("Ki", "invalid quantity \"Ki\": expected a number"),
        (
            "1.5Gb",
            "invalid quantity \"1.5Gb\": unknown suffix \"Gb\"; expected one of n, u",
        ),
        (
            "1.1.M",
            "invalid quantity \"1.1.M\": more than one decimal point",
        ),
        (
            "3e-",
            "invalid quantity \"3e-\": exponent \"e-\" must be `e` or `E` followed",
        ),
        ("1e", "invalid quantity \"1e\": exponent \"e\" must be"),
        (
            "1e9999999999",
            "invalid quantity \"1e9999999999\": exponent \"e9999999999\" is out of range",
        ),
    ];
    for (input, prefix) in cases {
        let err = Quantity::parse(input).unwrap_err();
        assert!(err.to_string().starts_with(prefix), "{input:?}: {err}");
        assert_eq!(err.input(), input);
    }
    let long = format!("1{}", "x".repeat(500));
    let message = Quantity::parse(&long).unwrap_err().to_string();
    assert!(message.len() < 400, "{message}");
    assert!(message.contains('…'));
}

// Port of apimachinery's TestQuantityString: value and format -> canonical string, plus an
// alternate spelling that must canonicalise to the same string.
#[test]
fn canonical_table_from_apimachinery() {
    let table: &[(Decimal, Format, &str, &str)] = &[
        (dec(1 << 30, 0), Bin, "1Gi", "1024Mi"),
        (dec(300 << 20, 0), Bin, "300Mi", "307200Ki"),
        (dec(6 * 1024, 0), Bin, "6Ki", ""),
        (dec(1001 << 30, 0), Bin, "1001Gi", "1025024Mi"),
        (dec(1 << 40, 0), Bin, "1Ti", "1024Gi"),
        (dec(5, 0), Bin, "5", "5000m"),
        (dec(500, -3), Bin, "500m", "0.5"),
        (dec(1, 9), Si, "1G", "1000M"),
        (dec(1000, 6), Si, "1G", "0.001T"),
        (dec(1000000, 3), Si, "1G", ""),
        (dec(1000000000, 0), Si, "1G", ""),
        (dec(1, -3), Si, "1m", "1000u"),
        (dec(80, -3), Si, "80m", ""),
        (dec(1080, -3), Si, "1080m", "1.08"),
        (dec(108, -2), Si, "1080m", "1080000000n"),
        (dec(10800, -4), Si, "1080m", ""),
        (dec(300, 6), Si, "300M", ""),
        (dec(1, 12), Si, "1T", ""),
        (dec(1, 18), Si, "1E", ""),
        (dec(1, 21), Si, "1e21", "1000E"),
        (dec(5, 21), Si, "5e21", "5000E"),
        (dec(1, 24), Si, "1e24", "1000000E"),
        (dec(1234567, 6), Si, "1234567M", ""),
        (dec(1234567, -3), Bin, "1234567m", ""),
        (dec(3, 3), Si, "3k", ""),
        (dec(1025, 0), Bin, "1025", ""),
        (dec(0, 0), Si, "0", ""),
        (dec(0, 0), Bin, "0", ""),
        (dec(1, 9), Exp, "1e9", ".001e12"),
        (dec(1, -3), Exp, "1e-3", "0.001e0"),
        (dec(1, -9), Exp, "1e-9", "1000e-12"),
        (dec(80, -3), Exp, "80e-3", ""),
        (dec(300, 6), Exp, "300e6", ""),
        (dec(1, 12), Exp, "1e12", ""),
        (dec(1, 3), Exp, "1e3", ""),
        (dec(3, 3), Exp, "3e3", ""),
        (dec(0, 0), Exp, "0", "00"),
        (dec(1, -9), Si, "1n", ""),
        (dec(80, -9), Si, "80n", ""),
        (dec(1080, -9), Si, "1080n", ""),
        (dec(108, -8), Si, "1080n", ""),
        (dec(10800, -10), Si, "1080n", ""),
        (dec(1, -6), Si, "1u", ""),
        (dec(80, -6), Si, "80u", ""),
        (dec(1080, -6), Si, "1080u", ""),
    ];
    for (value, format, expect, alternate) in table {
        assert_eq!(
            canonical_string(value, *format),
            *expect,
            "{value:?} {format:?}"
        );
        if !value.is_zero() {
            let negative = canonical_string(&value.negated(), *format);
            assert_eq!(negative, format!("-{expect}"));
        }
        let parsed = q(expect);
        assert!(parsed.is_canonical(), "{expect} should be canonical");
        assert_eq!(parsed.canonical(), *expect);
        assert_eq!(parsed.value(), *value);
        if !alternate.is_empty() {
            let alt = q(alternate);
            assert_eq!(alt.canonical(), *expect, "alternate {alternate}");
            assert_eq!(alt.as_str(), *alternate, "alternate keeps its spelling");
            assert_eq!(alt, parsed, "same value");
        }
    }
}

// Port of apimachinery's TestQuantityParseEmit, plus the examples from the brief.
#[test]
fn parse_then_canonical() {
    for (input, expect) in [
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("1000m", "1"),
        ("1.5", "1500m"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("1e3", "1e3"),
        ("1E3", "1e3"),
        ("+1", "1"),
        ("01", "1"),
        ("100.035Ki", "102435840m"),
        ("9Ei", "9223372036854775807"),
        ("8Ei", "9223372036854775807"),
        ("7Ei", "7Ei"),
        ("12E", "12E"),
        ("1000E", "1e21"),
        ("0.1n", "1n"),
        ("0e9", "0"),
        ("-0", "0"),
        ("1e-12", "1e-9"),
        ("2048", "2048"),
        ("2048Ki", "2Mi"),
        ("1.25k", "1250"),
        (
            "123456789012345678901234567890123456789012345",
            "123456789012345678901234567890123456789012345",
        ),
        (
            "123456789012345678901234567890123456789012000",
            "123456789012345678901234567890123456789012k",
        ),
    ] {
        assert_eq!(q(input).canonical(), expect, "{input}");
        if expect != "0" && !input.starts_with(['+', '-']) {
            assert_eq!(q(&format!("-{input}")).canonical(), format!("-{expect}"));
        }
    }
}

#[test]
fn canonical_reparses_to_same_value() {
    let inputs = [
        "1",
        "1.5",
        "1.5Gi",
        "100.035Ki",
        "0.000000000001Ki",
        "7.123456M",
        "1e21",
        "12E",
        "9Ei",
        "0.5e-9",
        "1.7E18",
        "1023",
        "1024",
        "1025",
        "3Ei",
        "-1.5Mi",
        "123.456e-5",
    ];
    for input in inputs {
        let parsed = q(input);
        let again = q(&parsed.canonical());
        assert_eq!(again, parsed, "{input}");
        assert_eq!(again.canonical(), parsed.canonical(), "{input} is stable");
    }
}

#[test]
fn comparisons_are_by_value() {
    assert!(q("1Gi") > q("1G"));
    assert_eq!(q("1000m"), q("1"));
    assert_eq!(q("1000m").cmp_value(&q("1")), Ordering::Equal);
    assert!(q("1k").eq_value(&q("1e3")));
    assert!(q("100m") > q("50m"));
    assert!(q("50m") < q("100m"));
    assert!(q("10000T") > q("100Gi"));
    assert!(q("-1") < q("0"));
    assert!(q("-2") < q("-1"));
    assert!(q("-1Ki") < q("-1k"));
    assert!(q("0.1n") == q("1n"));
    assert!(q("1.5") < q("1501m"));
    assert!(q("1e-9") == q("1n"));
    assert!(q("12E") > q("9Ei"));
    assert_eq!(q("0"), q("-0Ki"));
    assert_eq!(q("0"), Quantity::default());
    let mut sorted = [q("1Gi"), q("1"), q("500m"), q("1G"), q("-1"), q("0")];
    sorted.sort();
    let spelled: Vec<&str> = sorted.iter().map(Quantity::as_str).collect();
    assert_eq!(spelled, ["-1", "0", "500m", "1", "1G", "1Gi"]);
}

#[test]
fn hash_agrees_with_eq() {
    use std::collections::HashSet;
    let set: HashSet<Quantity> = ["1", "1000m", "1e0", "0.001k", "1Ki", "1024"]
        .into_iter()
        .map(q)
        .collect();
    assert_eq!(set.len(), 2);
}

#[test]
fn default_is_zero() {
    let zero = Quantity::default();
    assert_eq!(zero.as_str(), "0");
    assert!(zero.is_zero());
    assert_eq!(serde_json::to_string(&zero).unwrap(), "\"0\"");
}

#[test]
fn accessors() {
    assert_eq!(q("250m").to_millis(), Some(250));
    assert_eq!(q("2").to_millis(), Some(2000));
    assert_eq!(q("0.1m").to_millis(), Some(1));
    assert_eq!(q("1n").to_millis(), Some(1));
    assert_eq!(q("1.5").to_i64_ceil(), Some(2));
    assert_eq!(q("-1.5").to_i64_ceil(), Some(-1));
    assert_eq!(q("1.5").to_i64_exact(), None);
    assert_eq!(q("1k").to_i64_exact(), Some(1000));
    assert_eq!(q("1Gi").to_bytes(), Some(1 << 30));
    assert_eq!(q("1.5").to_bytes(), Some(2));
    assert_eq!(q("-1").to_bytes(), None);
    assert_eq!(q("9Ei").to_bytes(), Some(i64::MAX as u64));
    assert_eq!(q("12E").to_bytes(), Some(12_000_000_000_000_000_000));
    assert_eq!(q("12E").to_i64_ceil(), None);
    assert_eq!(q("9223372036854775807").to_i64_ceil(), Some(i64::MAX));
    assert_eq!(q("9223372036854775808").to_i64_ceil(), None);
    assert_eq!(q("-9223372036854775808").to_i64_ceil(), Some(i64::MIN));
    assert_eq!(q("1e100").to_i64_ceil(), None);
    assert_eq!(q("1e-100").to_i64_ceil(), Some(1));
    assert_eq!(q("0").to_scaled(5), Some(0));
    // apimachinery's TestScaledValue.
    for (from, to, expect) in [
        (-9, -9, 1),
        (-9, -6, 1),
        (-9, -3, 1),
        (-9, 0, 1),
        (-6, -9, 1000),
        (-6, -6, 1),
        (-6, -3, 1),
        (-6, 0, 1),
        (-3, -9, 1_000_000),
        (-3, -6, 1000),
        (-3, -3, 1),
        (-3, 0, 1),
        (0, -9, 1_000_000_000),
        (0, -6, 1_000_000),
        (0, -3, 1000),
        (0, 0, 1),
        (2, -2, 10_000),
    ] {
        assert_eq!(Quantity::from_scaled(1, from).to_scaled(to), Some(expect));
    }
    assert!(!q("1").is_negative() && q("-1").is_negative());
}

#[test]
fn as_f64_matches_apimachinery() {
    for (input, expect) in [
        ("0", 0.0),
        ("1", 1.0),
        ("2Ki", 2048.0),
        ("1.1Ki", 1126.4),
        ("1Mi", 1.048576e6),
        ("2Gi", 2.147483648e9),
        ("12E", 1.2e19),
        ("9Ei", i64::MAX as f64),
        ("0.7", 0.7),
        ("-1.5", -1.5),
        ("12e500", f64::INFINITY),
        ("-12e500", f64::NEG_INFINITY),
        ("1e2147483647", f64::INFINITY),
        ("1e-2147483647", 1e-9),
    ] {
        assert_eq!(q(input).as_f64(), expect, "{input}");
    }
}

#[test]
fn constructors() {
    assert_eq!(Quantity::from_millis(1).as_str(), "1m");
    assert_eq!(Quantity::from_millis(1000).as_str(), "1");
    assert_eq!(Quantity::from_millis(1234000).as_str(), "1234");
    assert_eq!(Quantity::from_millis(1500).as_str(), "1500m");
    assert_eq!(Quantity::from_millis(-1500).as_str(), "-1500m");
    assert_eq!(Quantity::from(1).as_str(), "1");
    assert_eq!(Quantity::from(1000).as_str(), "1k");
    assert_eq!(Quantity::from(1234000).as_str(), "1234k");
    assert_eq!(Quantity::from(u64::MAX).as_str(), "18446744073709551615");
    assert_eq!(Quantity::from(i64::MIN).as_str(), "-9223372036854775808");
    assert_eq!(Quantity::from_bytes(1024).as_str(), "1Ki");
    assert_eq!(Quantity::from_bytes(1 << 20).as_str(), "1Mi");
    assert_eq!(Quantity::from_bytes(512 << 20).as_str(), "512Mi");
    assert_eq!(Quantity::from_bytes(1000).as_str(), "1k");
    assert_eq!(Quantity::from_bytes(1023).as_str(), "1023");
    assert_eq!(Quantity::from_bytes(1536).as_str(), "1536");
    assert_eq!(Quantity::from_bytes(0).as_str(), "0");
    assert_eq!(
        Quantity::from_bytes(u64::MAX).to_bytes(),
        Some(i64::MAX as u64)
    );
    // apimachinery's TestNewScaledSet.
    for (value, scale, expect) in [
        (1, -9, "1n"),
        (1000, -9, "1u"),
        (1, -6, "1u"),
        (1000, -6, "1m"),
        (1, -3, "1m"),
        (1000, -3, "1"),
        (1, 0, "1"),
        (0, -9, "0"),
        (0, 0, "0"),
        (5, 6, "5M"),
        (7, 30, "7e30"),
        (1, -12, "1n"),
    ] {
        assert_eq!(Quantity::from_scaled(value, scale).as_str(), expect);
    }
    // Built quantities are consistent with parsing their own spelling.
    for built in [
        Quantity::from_bytes(3 << 60),
        Quantity::from_scaled(-7, 30),
        Quantity::from_millis(123_456),
        Quantity::from(u64::MAX),
    ] {
        let reparsed = q(built.as_str());
        assert_eq!(reparsed.value(), built.value());
        assert_eq!(reparsed.canonical(), built.canonical());
    }
}

#[test]
fn arithmetic() {
    let add = |a: &str, b: &str| q(a).checked_add(&q(b)).unwrap();
    let sub = |a: &str, b: &str| q(a).checked_sub(&q(b)).unwrap();
    assert_eq!(add("1Gi", "512Mi").as_str(), "1536Mi");
    assert_eq!(add("100m", "900m").as_str(), "1");
    assert_eq!(add("10", "1e1").as_str(), "20");
    assert_eq!(add("10", "1Ki").as_str(), "1034");
    assert_eq!(add("0", "1Ki").as_str(), "1Ki");
    assert_eq!(add("1Ki", "0").as_str(), "1Ki");
    assert_eq!(add("100m", "0").as_str(), "100m");
    assert_eq!(add("1e3", "1e3").as_str(), "2e3");
    assert_eq!(add("0.5", "-0.5").as_str(), "0");
    assert_eq!(add("9Ei", "9Ei").as_str(), "18446744073709551614");
    assert_eq!(sub("10", "1e1").as_str(), "0");
    assert_eq!(sub("10", "1").as_str(), "9");
    assert_eq!(sub("0", "50").as_str(), "-50");
    assert_eq!(sub("1", "1500m").as_str(), "-500m");
    assert_eq!(sub("2Gi", "1Gi").as_str(), "1Gi");
    assert_eq!(sub("-3", "-5").as_str(), "2");
    assert_eq!(sub("1n", "1E").as_str(), "-999999999999999999999999999n");
    assert!(q("1e5000").checked_add(&q("1")).is_none());
    // Adding then subtracting many values cancels exactly.
    let parts = [
        "1.5",
        "7Ki",
        "3e7",
        "0.001",
        "123456789012345678901234567890",
        "9n",
    ];
    let mut total = Quantity::default();
    for p in parts {
        total = total.checked_add(&q(p)).unwrap();
    }
    for p in parts {
        total = total.checked_sub(&q(p)).unwrap();
    }
    assert!(total.is_zero());
}

#[test]
fn json_round_trip_keeps_spelling() {
    for s in [
        "100m", "1000m", "1Gi", "1024Mi", "1.5", "1e3", "+1", "0", "-1.5Ki", "12E",
    ] {
        let json = format!("\"{s}\"");
        let parsed: Quantity = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.as_str(), s);
        assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
    }
}

/// Whether this build's serde_json hands `Quantity` the text of a number (its `raw_value`
/// feature is on somewhere in the build); otherwise numbers arrive as `f64`.
fn json_reads_number_text() -> bool {
    serde_json::from_str::<Quantity>("1e3").unwrap().as_str() == "1e3"
}

#[test]
fn json_numbers_become_canonical_strings() {
    let text = json_reads_number_text();
    for (json, expect, through_f64) in [
        ("1", "1", "1"),
        ("0", "0", "0"),
        ("-1", "-1", "-1"),
        ("10", "10", "10"),
        ("1000", "1k", "1k"),
        ("0.5", "500m", "500m"),
        ("1.5", "1500m", "1500m"),
        ("1e3", "1e3", "1k"),
        ("1.0", "1", "1"),
        ("-0.0", "0", "0"),
        ("0.1", "100m", "100m"),
        ("1e-12", "1e-9", "1n"),
        ("1e15", "1e15", "1P"),
        (
            "18446744073709551615",
            "18446744073709551615",
            "18446744073709551615",
        ),
    ] {
        let parsed: Quantity = serde_json::from_str(json).unwrap();
        let expect = if text { expect } else { through_f64 };
        assert_eq!(parsed.as_str(), expect, "{json}");
    }
}

/// A deserializer that speaks serde_json's raw-value protocol, as serde_json does when its
/// `raw_value` feature is on: the value arrives as its JSON text.
struct RawJson<'a>(&'a str);

impl<'de> Deserializer<'de> for RawJson<'de> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only the raw-value protocol"))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        assert_eq!(name, SERDE_JSON_RAW_VALUE);
        visitor.visit_map(de::value::MapDeserializer::new(std::iter::once((
            SERDE_JSON_RAW_VALUE,
            self.0,
        ))))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[test]
fn json_text_is_read_exactly() {
    let raw = |json: &str| Quantity::deserialize(RawJson(json));
    for (json, expect) in [
        ("18446744073709551616", "18446744073709551616"),
        ("-18446744073709551617", "-18446744073709551617"),
        ("1e400", "10e399"),
        ("1E3", "1e3"),
        ("1000", "1k"),
        ("0.5", "500m"),
        ("1e-12", "1e-9"),
        ("0.12345678901234567", "123456790n"),
        ("-0", "0"),
        ("null", "0"),
        ("\"100m\"", "100m"),
        ("\" 1Gi \"", "1Gi"),
        ("\"1\\u0030\"", "10"),
    ] {
        let parsed = raw(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(parsed.as_str(), expect, "{json}");
    }
    for (json, message) in [
        (
            "true",
            "invalid type: boolean `true`, expected a Kubernetes quantity",
        ),
        ("[1]", "invalid type: sequence"),
        ("{}", "invalid type: map"),
        ("1e99999999999", "exponent \"e99999999999\" is out of range"),
        ("\"1.5Gb\"", "unknown suffix"),
        ("\"\"", "empty string"),
    ] {
        let err = raw(json).unwrap_err().to_string();
        assert!(err.contains(message), "{json}: {err}");
    }
    // Another format's map is not a quantity.
    let map = de::value::MapDeserializer::<_, de::value::Error>::new(std::iter::once(("cpu", "1")));
    assert!(Quantity::deserialize(map).is_err());
}

#[test]
fn yaml_scalars() {
    use std::collections::BTreeMap;
    let yaml = "cpu: 0.5\nmemory: 1Gi\npods: 110\nstorage: \"2e3\"\n";
    let map: BTreeMap<String, Quantity> = serde_saphyr::from_str(yaml).unwrap();
    let spelled: Vec<&str> = map.values().map(Quantity::as_str).collect();
    assert_eq!(spelled, ["500m", "1Gi", "110", "2e3"]);
    let err = serde_saphyr::from_str::<BTreeMap<String, Quantity>>("m: 18446744073709551616\n")
        .unwrap_err();
    assert!(err.to_string().contains("as a string"), "{err}");
}

#[test]
fn floats_are_exact_or_rejected() {
    assert_eq!(Quantity::from_f64(0.1).unwrap().as_str(), "100m");
    assert_eq!(
        Quantity::from_f64(123456789012345.0).unwrap().as_str(),
        "123456789012345"
    );
    assert_eq!(Quantity::from_f64(1e18).unwrap().as_str(), "1E");
    for inexact in [
        18446744073709551616.0,
        0.1 + 0.2,
        1.0 / 3.0,
        1e300,
        -7.18893294431015e37,
    ] {
        let err = Quantity::from_f64(inexact).unwrap_err().to_string();
        assert!(err.contains("write the quantity as a string"), "{err}");
    }
    assert!(Quantity::from_f64(f64::NAN).is_err());
}

#[test]
fn json_whitespace_null_and_errors() {
    // apimachinery's TestJSONWhitespace.
    for (json, expect) in [
        ("\" 1\"", "1"),
        ("\"1 \"", "1"),
        ("1", "1"),
        (" 1", "1"),
        ("1 ", "1"),
        ("-1", "-1"),
        (" -1", "-1"),
    ] {
        let parsed: Quantity = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.as_str(), expect);
    }
    let null: Quantity = serde_json::from_str("null").unwrap();
    assert!(null.is_zero());
    let none: Option<Quantity> = serde_json::from_str("null").unwrap();
    assert!(none.is_none());

    let err = serde_json::from_str::<Quantity>("\"1.5Gb\"").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid quantity \"1.5Gb\": unknown suffix"),
        "{err}"
    );
    let err = serde_json::from_str::<Quantity>("true").unwrap_err();
    assert!(
        err.to_string().contains("expected a Kubernetes quantity"),
        "{err}"
    );
    let err = serde_json::from_str::<Quantity>("\"\"").unwrap_err();
    assert!(err.to_string().contains("empty string"), "{err}");
}

#[test]
fn resource_map_round_trip() {
    use std::collections::BTreeMap;
    let json = r#"{"cpu":"250m","memory":"64Mi","nvidia.com/gpu":"1"}"#;
    let map: BTreeMap<String, Quantity> = serde_json::from_str(json).unwrap();
    assert_eq!(map["memory"].to_bytes(), Some(64 << 20));
    assert_eq!(serde_json::to_string(&map).unwrap(), json);
}

#[test]
fn display_debug_and_conversions() {
    let x = q("100m");
    assert_eq!(x.to_string(), "100m");
    assert_eq!(format!("{x:?}"), "Quantity(\"100m\")");
    assert_eq!(String::from(x.clone()), "100m");
    assert_eq!(x.as_ref(), "100m");
    assert_eq!(Quantity::try_from("1Gi").unwrap(), q("1Gi"));
    assert_eq!(
        Quantity::try_from("1Gi".to_owned()).unwrap().into_string(),
        "1Gi"
    );
    assert!(Quantity::try_from("x").is_err());
    let mut y = q("1024Mi");
    assert!(!y.is_canonical());
    y.canonicalize();
    assert_eq!(y.as_str(), "1Gi");
}

#[test]
fn pathological_inputs_stay_cheap() {
    let long_fraction = format!("0.{}1", "0".repeat(100_000));
    assert_eq!(q(&long_fraction).canonical(), "1n");
    let many_digits = "9".repeat(10_000);
    let parsed = q(&many_digits);
    assert_eq!(parsed.canonical(), many_digits);
    assert_eq!(parsed.to_i64_ceil(), None);
    assert_eq!(q("1e2147483647").canonical(), "10e2147483646");
    // Worth 1e2147483649: the canonical exponent stays within the grammar (found by fuzzing).
    for input in ["100.0e2147483647", "100e2147483647", "-1000e2147483647"] {
        let canonical = q(input).canonical();
        assert_eq!(q(&canonical), q(input), "{input} -> {canonical}");
        assert_eq!(q(&canonical).canonical(), canonical);
    }
    assert_eq!(q("100e2147483647").canonical(), "1000e2147483646");
    assert_eq!(q("1e-2147483647").canonical(), "1e-9");
}

#[test]
fn decoding_checks_the_grammar_and_keeps_only_the_string() {
    let decoded: Vec<Quantity> = serde_json::from_str(r#"["128Mi", "250m", "1e3"]"#).unwrap();
    assert!(decoded.iter().all(|x| x.format.is_none()));
    // Still every invalid string is refused while decoding, with the same message.
    for bad in ["1Gb", "", "1.1.M", "Mi"] {
        let json = format!("{bad:?}");
        let err = serde_json::from_str::<Quantity>(&json).unwrap_err();
        assert!(
            err.to_string().contains("invalid quantity"),
            "{bad:?}: {err}"
        );
    }
    // A decoded quantity behaves as one built from a value.
    assert_eq!(decoded[0], Quantity::from_bytes(128 << 20));
    assert_eq!(decoded[1].to_millis(), Some(250));
    assert_eq!(decoded[2].canonical(), "1e3");
}

#[test]
fn hash_eq_and_order_agree_between_decoded_and_built_values() {
    use std::collections::HashSet;
    use std::hash::BuildHasher;
    let hasher = std::collections::hash_map::RandomState::new();
    let pairs = [
        ("1k", Quantity::from(1000)),
        ("1000m", Quantity::from_millis(1000)),
        ("1Gi", Quantity::from_bytes(1 << 30)),
        ("0.5", Quantity::from_millis(500)),
        ("0", Quantity::default()),
    ];
    for (text, built) in &pairs {
        let lazy: Quantity = serde_json::from_str(&format!("{text:?}")).unwrap();
        assert_eq!(hasher.hash_one(&lazy), hasher.hash_one(built), "{text}");
        let lazy: Quantity = serde_json::from_str(&format!("{text:?}")).unwrap();
        assert_eq!(lazy.cmp(built), Ordering::Equal, "{text}");
        assert_eq!(&lazy, built, "{text}");
    }
    let set: HashSet<Quantity> = ["1", "1000m", "1e0", "1Ki", "1024"]
        .iter()
        .map(|t| serde_json::from_str(&format!("{t:?}")).unwrap())
        .chain([Quantity::from(1), Quantity::from_bytes(1024)])
        .collect();
    assert_eq!(set.len(), 2);
}

#[test]
fn built_quantities_keep_their_suffix_family() {
    // binarySI below 1024 is spelled in decimalSI, but sums stay binarySI.
    let k = Quantity::from_bytes(1000);
    assert_eq!(k.as_str(), "1k");
    assert_eq!(
        k.checked_add(&Quantity::from_bytes(24)).unwrap().as_str(),
        "1Ki"
    );
    // canonicalize keeps the family of the value it spelled.
    let mut half = q("0.5Ki");
    half.canonicalize();
    assert_eq!(half.as_str(), "512");
    assert_eq!(half.checked_add(&q("512")).unwrap().as_str(), "1Ki");
    assert_eq!(q("512").checked_add(&q("512")).unwrap().as_str(), "1024");
}
