//! [`Quantity`] (`io.k8s.apimachinery.pkg.api.resource.Quantity`): parsing, exact values and
//! canonical spelling of Kubernetes resource quantities. The user-facing rules are documented on
//! [`Quantity`].
//!
//! # Why a hand-written parser
//!
//! No well-kept Rust crate implements the Kubernetes quantity grammar together with
//! apimachinery's rounding, capping and canonicalisation rules, and a general decimal crate would
//! still need all of them on top, so this module ports them directly from
//! `k8s.io/apimachinery/pkg/api/resource` (quantity.go, amount.go, suffix.go), with Go's test
//! tables ported as unit tests. Values are a small arbitrary-precision decimal (sign, decimal
//! digits, base-10 exponent) so that nothing the API server accepts overflows here.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest multiple of three that the exponent grammar (`i32`) allows.
const MAX_CANONICAL_EXPONENT: i64 = (i32::MAX as i64 / 3) * 3;

/// Significant decimal digits that always survive a round trip through an `f64` (`DBL_DIG`).
const F64_EXACT_DIGITS: usize = 15;

/// 2^63: the magnitude from which serde_json hands over integers as `f64` (beyond `i64`/`u64`).
const F64_BEYOND_INTEGERS: f64 = 9_223_372_036_854_775_808.0;

/// serde_json's name for its raw-value protocol (`serde_json::value::RawValue`). When serde_json is
/// built with its `raw_value` feature, `deserialize_newtype_struct` with this name hands the
/// visitor a one-entry map whose value is the JSON text of the value; without the feature, and in
/// every other format, it is an ordinary newtype and the value is visited as usual.
const SERDE_JSON_RAW_VALUE: &str = "$serde_json::private::RawValue";

/// Longest digit string [`Quantity::checked_add`] and [`Quantity::checked_sub`] will build when
/// aligning two values with very different exponents (`"1e5000" + "1"`).
const MAX_ARITHMETIC_DIGITS: i64 = 4096;

/// Decimal SI suffixes and their base-10 exponents.
const DECIMAL_SI_SUFFIXES: [(&str, i64); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

/// Binary SI suffixes, indexed by their power of 1024.
const BINARY_SI_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// The suffix family a quantity was written in; decides the canonical spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `12e6`, `1E-3`.
    DecimalExponent,
    /// `12Mi` (powers of 1024).
    BinarySI,
    /// `12M`, `100m` (powers of 1000), or no suffix.
    DecimalSI,
}

/// An exact decimal number: `(-1)^negative × digits × 10^exponent`.
///
/// Normalised: `digits` (most significant first, each `0..=9`) has no leading and no trailing
/// zeros, so every value has exactly one representation and the derived `Eq`/`Hash` are value
/// equality. Zero is the empty digit string with exponent 0 and `negative == false`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

impl Decimal {
    fn zero() -> Self {
        Decimal {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Builds a normalised decimal from any digit string.
    fn new(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Self {
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Decimal::zero();
        }
        Decimal {
            negative,
            digits,
            exponent,
        }
    }

    fn from_u128(negative: bool, mut magnitude: u128) -> Self {
        let mut digits = Vec::with_capacity(40);
        while magnitude > 0 {
            digits.push((magnitude % 10) as u8);
            magnitude /= 10;
        }
        digits.reverse();
        Decimal::new(negative, digits, 0)
    }

    fn from_i128(value: i128) -> Self {
        Decimal::from_u128(value < 0, value.unsigned_abs())
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// One past the position of the most significant digit: a non-zero magnitude lies in
    /// `[10^(order-1), 10^order)`.
    fn order(&self) -> i64 {
        self.digits.len() as i64 + self.exponent
    }

    fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self
                .order()
                .cmp(&other.order())
                .then_with(|| self.digits.cmp(&other.digits)),
        }
    }

    fn negated(&self) -> Decimal {
        let mut out = self.clone();
        out.negative = !out.is_zero() && !out.negative;
        out
    }

    fn with_magnitude_of(&self, magnitude: &Decimal) -> Decimal {
        let mut out = magnitude.clone();
        out.negative = self.negative && !out.is_zero();
        out
    }

    /// Multiplies the magnitude by a small factor.
    fn mul_small(&self, factor: u32) -> Decimal {
        let mut out = Vec::with_capacity(self.digits.len() + 10);
        let mut carry: u64 = 0;
        for &d in self.digits.iter().rev() {
            let x = u64::from(d) * u64::from(factor) + carry;
            out.push((x % 10) as u8);
            carry = x / 10;
        }
        while carry > 0 {
            out.push((carry % 10) as u8);
            carry /= 10;
        }
        out.reverse();
        Decimal::new(self.negative, out, self.exponent)
    }

    /// Rounds away from zero to a multiple of `10^min_exponent` (apimachinery's `inf.RoundUp`).
    fn round_away_from_zero(&self, min_exponent: i64) -> Decimal {
        if self.is_zero() || self.exponent >= min_exponent {
            return self.clone();
        }
        // Normalised digits end in a non-zero digit, so dropping any digit loses precision and
        // the kept part always moves one unit away from zero.
        let dropped = min_exponent - self.exponent;
        let len = self.digits.len() as i64;
        let mut kept = if dropped >= len {
            Vec::new()
        } else {
            self.digits[..(len - dropped) as usize].to_vec()
        };
        increment(&mut kept);
        Decimal::new(self.negative, kept, min_exponent)
    }

    /// The digits of the value as an integer, if it is one and is not absurdly long.
    fn integer_digits(&self, max_len: i64) -> Option<Vec<u8>> {
        if self.exponent < 0 || self.order() > max_len {
            return None;
        }
        let mut out = self.digits.clone();
        out.extend(std::iter::repeat_n(0, self.exponent as usize));
        Some(out)
    }

    /// The magnitude's digits, little-endian, shifted so that index 0 is `10^low`.
    fn aligned_le(&self, low: i64, width: usize) -> Vec<u8> {
        let mut out = vec![0u8; width];
        let shift = (self.exponent - low) as usize;
        for (i, &d) in self.digits.iter().rev().enumerate() {
            out[shift + i] = d;
        }
        out
    }

    /// Exact sum, or `None` when the operands are too far apart to align cheaply.
    fn checked_add(&self, other: &Decimal) -> Option<Decimal> {
        if self.is_zero() {
            return Some(other.clone());
        }
        if other.is_zero() {
            return Some(self.clone());
        }
        let low = self.exponent.min(other.exponent);
        let high = self.order().max(other.order());
        let width = high - low + 1;
        if width > MAX_ARITHMETIC_DIGITS {
            return None;
        }
        let width = width as usize;
        let a = self.aligned_le(low, width);
        let b = other.aligned_le(low, width);
        let (negative, mut le) = if self.negative == other.negative {
            (self.negative, add_le(&a, &b))
        } else {
            match self.cmp_magnitude(other) {
                Ordering::Equal => return Some(Decimal::zero()),
                Ordering::Greater => (self.negative, sub_le(&a, &b)),
                Ordering::Less => (other.negative, sub_le(&b, &a)),
            }
        };
        le.reverse();
        Some(Decimal::new(negative, le, low))
    }

    /// `ceil(self / 10^scale)` as an `i128`, or `None` if it does not fit.
    fn scaled_ceil(&self, scale: i64) -> Option<i128> {
        if self.is_zero() {
            return Some(0);
        }
        let exponent = self.exponent.checked_sub(scale)?;
        let integer_len = (self.digits.len() as i64).checked_add(exponent)?;
        if integer_len > 38 {
            return None;
        }
        let mut acc: i128 = 0;
        let fractional = exponent < 0;
        if fractional {
            for &d in &self.digits[..integer_len.max(0) as usize] {
                acc = acc * 10 + i128::from(d);
            }
        } else {
            for &d in &self.digits {
                acc = acc * 10 + i128::from(d);
            }
            for _ in 0..exponent {
                acc *= 10;
            }
        }
        if self.negative {
            // Truncating a negative value towards zero is its ceiling.
            acc = -acc;
        } else if fractional {
            acc += 1;
        }
        Some(acc)
    }

    fn to_f64(&self) -> f64 {
        if self.is_zero() {
            return 0.0;
        }
        let mut text = String::with_capacity(self.digits.len() + 24);
        if self.negative {
            text.push('-');
        }
        text.extend(self.digits.iter().map(|&d| char::from(b'0' + d)));
        text.push('e');
        text.push_str(&self.exponent.to_string());
        // The standard library rounds correctly and saturates huge exponents to 0 or infinity.
        text.parse().unwrap_or(f64::NAN)
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        fn sign(d: &Decimal) -> i8 {
            match (d.is_zero(), d.negative) {
                (true, _) => 0,
                (false, true) => -1,
                (false, false) => 1,
            }
        }
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if self.negative => self.cmp_magnitude(other).reverse(),
            Ordering::Equal => self.cmp_magnitude(other),
            unequal => unequal,
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Adds one to a big-endian digit string.
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, 1);
}

fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + 1);
    let mut carry = 0;
    for (x, y) in a.iter().zip(b) {
        let s = x + y + carry;
        out.push(s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out
}

/// `a - b` for little-endian digit strings with `a >= b`.
fn sub_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0;
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (i16::from(x), i16::from(y) + borrow);
        if x >= y {
            out.push((x - y) as u8);
            borrow = 0;
        } else {
            out.push((x + 10 - y) as u8);
            borrow = 1;
        }
    }
    out
}

/// Divides a big-endian digit string by `divisor`; `Some(quotient)` only if it divides exactly.
fn div_exact(digits: &[u8], divisor: u64) -> Option<Vec<u8>> {
    let mut quotient = Vec::with_capacity(digits.len());
    let mut remainder: u64 = 0;
    for &d in digits {
        let current = remainder * 10 + u64::from(d);
        quotient.push((current / divisor) as u8);
        remainder = current % divisor;
    }
    if remainder != 0 {
        return None;
    }
    let leading = quotient.iter().take_while(|&&d| d == 0).count();
    quotient.drain(..leading);
    Some(quotient)
}

/// 2⁶³−1, the cap apimachinery applies to binarySI quantities when parsing.
fn max_binary_si() -> Decimal {
    Decimal::from_u128(false, i64::MAX as u128)
}

/// What went wrong while parsing a quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum ErrorKind {
    #[error("the empty string is not a quantity (write \"0\" for zero)")]
    Empty,
    #[error("leading or trailing whitespace is not allowed")]
    Whitespace,
    #[error(
        "expected a number (digits with an optional sign and decimal point, e.g. \"1.5\") \
         before the suffix"
    )]
    NoDigits,
    #[error("more than one decimal point")]
    ExtraDecimalPoint,
    #[error(
        "unknown suffix {0}; expected one of n, u, m, k, M, G, T, P, E (decimal SI), \
         Ki, Mi, Gi, Ti, Pi, Ei (binary SI), or an exponent such as e3 or E-6"
    )]
    UnknownSuffix(String),
    #[error("exponent {0} must be `e` or `E` followed by an optionally signed integer")]
    BadExponent(String),
    #[error("exponent {0} is out of range (-2147483648 to 2147483647)")]
    ExponentOutOfRange(String),
    #[error("not a finite number")]
    NotFinite,
    #[error(
        "the number has more significant digits than a 64-bit float holds exactly, so it may \
         have been rounded before it got here; write the quantity as a string"
    )]
    InexactFloat,
}

/// A string (or number) is not a valid Kubernetes quantity.
///
/// The message names the input and the problem, e.g.
/// `invalid quantity "1.5Gb": unknown suffix "Gb"; expected one of n, u, m, …`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {}: {kind}", quote_abbreviated(.input))]
pub struct QuantityError {
    input: String,
    kind: ErrorKind,
}

impl QuantityError {
    /// The input that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// Quotes `s` for an error message, cutting it short if it is long.
fn quote_abbreviated(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    if s.chars().count() <= MAX_CHARS {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_CHARS).collect();
        format!("{head:?}…")
    }
}

/// The exponent a suffix stands for.
enum Multiplier {
    /// Times 10^n.
    Decimal(i64),
    /// Times 1024^n.
    Binary(u32),
}

fn interpret_suffix(suffix: &str) -> Result<(Multiplier, Format), ErrorKind> {
    if let Some(&(_, exponent)) = DECIMAL_SI_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Ok((Multiplier::Decimal(exponent), Format::DecimalSI));
    }
    if let Some(power) = BINARY_SI_SUFFIXES.iter().skip(1).position(|s| *s == suffix) {
        return Ok((Multiplier::Binary(power as u32 + 1), Format::BinarySI));
    }
    if let Some(rest) = suffix.strip_prefix(['e', 'E']) {
        let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ErrorKind::BadExponent(quote_abbreviated(suffix)));
        }
        let exponent = rest
            .parse::<i32>()
            .map(i64::from)
            .map_err(|_| ErrorKind::ExponentOutOfRange(quote_abbreviated(suffix)))?;
        return Ok((Multiplier::Decimal(exponent), Format::DecimalExponent));
    }
    if suffix.starts_with('.') {
        return Err(ErrorKind::ExtraDecimalPoint);
    }
    Err(ErrorKind::UnknownSuffix(quote_abbreviated(suffix)))
}

/// Parses the quantity grammar into an exact value and its format (see the module docs).
fn parse_value(s: &str) -> Result<(Decimal, Format), ErrorKind> {
    if s.is_empty() {
        return Err(ErrorKind::Empty);
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(ErrorKind::Whitespace);
    }
    let bytes = s.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos += 1;
            true
        }
        Some(b'+') => {
            pos += 1;
            false
        }
        _ => false,
    };
    let scan_digits = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_end = scan_digits(pos);
    let int_digits = &bytes[pos..int_end];
    pos = int_end;
    let mut frac_digits: &[u8] = &[];
    if bytes.get(pos) == Some(&b'.') {
        let frac_end = scan_digits(pos + 1);
        frac_digits = &bytes[pos + 1..frac_end];
        pos = frac_end;
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(ErrorKind::NoDigits);
    }
    // `pos` only ever advanced over ASCII bytes, so it is a char boundary.
    let (multiplier, mut format) = interpret_suffix(&s[pos..])?;

    let digits: Vec<u8> = int_digits
        .iter()
        .chain(frac_digits)
        .map(|b| b - b'0')
        .collect();
    let mut exponent = -(frac_digits.len() as i64);
    let mut value = match multiplier {
        Multiplier::Decimal(e) => {
            exponent += e;
            Decimal::new(negative, digits, exponent)
        }
        Multiplier::Binary(power) => {
            let mut value = Decimal::new(negative, digits, exponent);
            for _ in 0..power {
                value = value.mul_small(1024);
            }
            value
        }
    };

    // Keep non-zero values down to nano, rounding away from zero: asking for a sliver of a
    // resource should get some of it.
    value = value.round_away_from_zero(-9);

    if format == Format::BinarySI {
        let max = max_binary_si();
        if value.cmp_magnitude(&max) == Ordering::Greater {
            value = value.with_magnitude_of(&max);
        }
        if !value.is_zero() && value.cmp_magnitude(&Decimal::from_u128(false, 1)) == Ordering::Less
        {
            format = Format::DecimalSI;
        }
    }
    Ok((value, format))
}

/// Spells `value` the way apimachinery's `Quantity.String()` does for `format`.
fn canonical_string(value: &Decimal, format: Format) -> String {
    if value.is_zero() {
        return "0".to_owned();
    }
    let mut out = String::with_capacity(value.digits.len() + 8);
    if value.negative {
        out.push('-');
    }
    let push_digits = |out: &mut String, digits: &[u8]| {
        out.extend(digits.iter().map(|&d| char::from(b'0' + d)));
    };

    if format == Format::BinarySI
        && value.cmp_magnitude(&Decimal::from_u128(false, 1024)) != Ordering::Less
    {
        // A fraction falls through to decimalSI rather than lose precision.
        if let Some(mut mantissa) = value.integer_digits(40) {
            let mut power = 0;
            while power + 1 < BINARY_SI_SUFFIXES.len() {
                match div_exact(&mantissa, 1024) {
                    Some(quotient) => {
                        mantissa = quotient;
                        power += 1;
                    }
                    None => break,
                }
            }
            push_digits(&mut out, &mantissa);
            out.push_str(BINARY_SI_SUFFIXES[power]);
            return out;
        }
    }

    // Decimal: an integer mantissa and an exponent that is a multiple of three, at most
    // `MAX_CANONICAL_EXPONENT` so that the spelling parses back ("100e2147483647" is worth
    // 1e2147483649 and is spelled "1000e2147483646"; such values only come from a long input,
    // so the padding is as long as that input at most).
    let exponent = (value.exponent - value.exponent.rem_euclid(3)).min(MAX_CANONICAL_EXPONENT);
    let padding = value.exponent - exponent;
    push_digits(&mut out, &value.digits);
    out.extend(std::iter::repeat_n('0', padding as usize));
    let si_suffix = DECIMAL_SI_SUFFIXES
        .iter()
        .find(|(_, e)| *e == exponent)
        .map(|(s, _)| *s);
    match (format, si_suffix) {
        (Format::DecimalSI | Format::BinarySI, Some(suffix)) => out.push_str(suffix),
        _ if exponent == 0 => {}
        // No decimalSI suffix beyond E: fall back to exponent notation, never drop magnitude.
        _ => {
            out.push('e');
            out.push_str(&exponent.to_string());
        }
    }
    out
}

/// A Kubernetes resource quantity (`io.k8s.apimachinery.pkg.api.resource.Quantity`), such as
/// `"100m"` CPU or `"512Mi"` of memory.
///
/// A `Quantity` keeps the exact string it was parsed from and serializes it unchanged
/// (`"100m"` stays `"100m"`, `"1000m"` stays `"1000m"`), so server data round-trips
/// byte-for-byte. Next to it, it holds the parsed exact value, so every `Quantity` is valid.
///
/// # Grammar
///
/// ```text
/// <quantity>        ::= <signedNumber><suffix>
/// <signedNumber>    ::= <number> | <sign><number>
/// <sign>            ::= "+" | "-"
/// <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
/// <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
/// <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei               (powers of 1024)
/// <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E   (powers of 1000)
/// <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>
/// ```
///
/// # Value rules (as in apimachinery)
///
/// * The value is exact: an arbitrary-precision decimal; binary suffixes are multiplied out
///   exactly. Floats are only used by [`Quantity::as_f64`].
/// * Parsing rounds a non-zero value *away from zero* to a multiple of 10⁻⁹ (`"0.1n"` is worth
///   `1n`) and caps a binarySI value at 2⁶³−1 in magnitude (`"9Ei"` is worth
///   9223372036854775807). DecimalSI and exponent values are not capped (`"12E"` is exact).
/// * The suffix family ("format": binarySI, decimalSI or exponent) is remembered and decides the
///   [canonical](Quantity::canonical) spelling.
///
/// # Known differences from Go
///
/// * Go's scanner accepts a sign or a suffix with no digits (`"-"`, `"Ki"`, `"m"`) as zero; the
///   documented grammar requires digits, and so does this parser.
/// * Go silently truncates an `e` exponent to 32 bits (`"1e4294967296"` is worth 1 there);
///   exponents outside the `i32` range (−2147483648 to 2147483647) are rejected here.
/// * Go's `String()` drops the magnitude of a decimalSI value of 10²¹ or more (`"1000E"` is
///   spelled `"1"` there: there is no suffix beyond `E`); [`Quantity::canonical`] falls back to
///   exponent notation (`"1e21"`). Go also keeps the scale in an `int32`, so values near the
///   exponent bounds wrap there (`"1.5e-2147483648"` becomes `"150e2147483646"`); here they are
///   exact, and canonical exponents stay within the `i32` grammar (`"100e2147483647"` is
///   `"1000e2147483646"`).
/// * When Go's fast path finds an input canonical it re-emits the input verbatim, which keeps a
///   leading `+`, leading zeros or an upper-case `E` exponent (`"+1"`, `"01"`, `"1E3"`);
///   [`Quantity::canonical`] normalises these (`"1"`, `"1"`, `"1e3"`).
///
/// # Equality and ordering are by value
///
/// `PartialEq`, `Eq`, `Hash`, `PartialOrd` and `Ord` compare **values**, like apimachinery's
/// `Quantity.Cmp`/`Equal` and `equality.Semantic`: `"1000m" == "1"`, `"1Gi" > "1G"`. Two
/// equal quantities may therefore serialize differently; compare [`Quantity::as_str`] for
/// string identity, or [`Quantity::canonical`] for the spelling the API server would store.
///
/// # Building quantities
///
/// ```
/// use k8s_core::Quantity;
///
/// let cpu: Quantity = "250m".parse()?;
/// assert_eq!(cpu.to_millis(), Some(250));
/// assert_eq!(Quantity::from_bytes(512 * 1024 * 1024).as_str(), "512Mi");
/// assert_eq!(Quantity::from_millis(1500).as_str(), "1500m");
/// assert_eq!(Quantity::from(2).as_str(), "2");
/// assert!("1Gi".parse::<Quantity>()? > "1G".parse()?);
/// assert_eq!("1024Mi".parse::<Quantity>()?.canonical(), "1Gi");
/// # Ok::<(), k8s_core::QuantityError>(())
/// ```
///
/// # JSON
///
/// Serializes as a JSON string. Deserializes from a string (surrounding whitespace is trimmed,
/// as the API server does), from a JSON number, and from `null` (zero, as in Go). A number is
/// stored in canonical form and is never rounded:
///
/// * When serde_json reads the JSON text itself and its `raw_value` feature is enabled in the
///   build, the number's text is read with the quantity grammar, exactly as Go's
///   `Quantity.UnmarshalJSON` does: `18446744073709551616` stays `"18446744073709551616"`,
///   `1e400` becomes `"10e399"`, `1e3` stays `"1e3"`, `1000` becomes `"1k"`, `0.5` `"500m"`.
/// * Otherwise (serde_json without that feature, a `serde_json::Value`, YAML, content that serde
///   buffers) integers that fit `i64`/`u64` are exact, and any other number arrives as an `f64`,
///   possibly rounded already. It is accepted, in decimalSI form, when its shortest decimal form
///   has at most 15 significant digits and its magnitude is below 2⁶³ — exact for every number
///   written that way (`0.5` → `"500m"`, `1e3` → `"1k"`); otherwise it is rejected with an error
///   asking for a string (`18446744073709551616` arrives as 18446744073709552000, `1e400` does
///   not fit at all). What this cannot see: a number written with more than 15 significant
///   digits that an `f64` rounds to a shorter one (`0.1000000000000000001` arrives as `0.1`),
///   or one below ~1e−308 (it arrives as 0; Go rounds it up to `1n`). Enable serde_json's
///   `raw_value` feature, or write quantities as strings, to rule those out.
#[derive(Clone)]
pub struct Quantity {
    raw: String,
    value: Decimal,
    format: Format,
}

impl Quantity {
    /// Parses a quantity, keeping `s` verbatim as its string form.
    ///
    /// Whitespace is not trimmed (it is an error), matching apimachinery's `ParseQuantity`.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        Quantity::from_string(s.to_owned())
    }

    fn from_string(raw: String) -> Result<Self, QuantityError> {
        match parse_value(&raw) {
            Ok((value, format)) => Ok(Quantity { raw, value, format }),
            Err(kind) => Err(QuantityError { input: raw, kind }),
        }
    }

    /// Builds a quantity from a value, spelled canonically. The spelling parses back to exactly
    /// `value`.
    fn from_value(value: Decimal, format: Format) -> Self {
        let value = value.round_away_from_zero(-9);
        // A binarySI spelling above the cap would be capped when read back: keep it decimal.
        let format = if format == Format::BinarySI
            && value.cmp_magnitude(&max_binary_si()) == Ordering::Greater
        {
            Format::DecimalSI
        } else {
            format
        };
        Quantity {
            raw: canonical_string(&value, format),
            value,
            format,
        }
    }

    fn from_f64(v: f64) -> Result<Self, QuantityError> {
        if !v.is_finite() {
            return Err(QuantityError {
                input: v.to_string(),
                kind: ErrorKind::NotFinite,
            });
        }
        // `{:e}` prints the shortest digits that read back as `v`, in quantity grammar.
        let text = format!("{v:e}");
        // Any decimal of at most 15 significant digits survives the trip through an f64 and
        // comes back as exactly those digits; a longer shortest form means the number the f64
        // was made from cannot be known (2^64 arrives as 18446744073709552000).
        // Integers beyond 64 bits only ever arrive as floats (serde_json reads smaller ones as
        // integers), already rounded: reject them, whatever their shortest form.
        let mantissa = text.split('e').next().unwrap_or("");
        if v.abs() >= F64_BEYOND_INTEGERS
            || mantissa.bytes().filter(u8::is_ascii_digit).count() > F64_EXACT_DIGITS
        {
            return Err(QuantityError {
                input: text,
                kind: ErrorKind::InexactFloat,
            });
        }
        let (value, _) = parse_value(&text).map_err(|kind| QuantityError { input: text, kind })?;
        Ok(Quantity::from_value(value, Format::DecimalSI))
    }

    /// A JSON number's text, read with the quantity grammar as Go's `UnmarshalJSON` does: exact,
    /// in the number's own format (`1e3` stays an exponent, `1000` becomes `"1k"`).
    fn from_json_number(text: &str) -> Result<Self, QuantityError> {
        match parse_value(text) {
            Ok((value, format)) => Ok(Quantity::from_value(value, format)),
            Err(kind) => Err(QuantityError {
                input: text.to_owned(),
                kind,
            }),
        }
    }

    /// `millis / 1000`, in decimalSI: `from_millis(1500)` is `"1500m"`, `from_millis(2000)` is
    /// `"2"`.
    pub fn from_millis(millis: i64) -> Self {
        Quantity::from_scaled(millis, -3)
    }

    /// `value × 10^scale`, in decimalSI (apimachinery's `NewScaledQuantity`):
    /// `from_scaled(5, 6)` is `"5M"`. A scale below −9 rounds away from zero to nano.
    pub fn from_scaled(value: i64, scale: i32) -> Self {
        let mut decimal = Decimal::from_i128(value.into());
        if !decimal.is_zero() {
            decimal.exponent += i64::from(scale);
        }
        Quantity::from_value(decimal, Format::DecimalSI)
    }

    /// A byte count, in binarySI (apimachinery's `NewQuantity(n, BinarySI)`):
    /// `from_bytes(1 << 30)` is `"1Gi"`, `from_bytes(1536)` is `"1536"` (not a whole number of
    /// Ki), `from_bytes(1000)` is `"1k"` (binarySI values below 1024 are spelled in decimalSI).
    ///
    /// Values above 2⁶³−1 saturate there, as the API server caps binarySI quantities.
    pub fn from_bytes(bytes: u64) -> Self {
        let bytes = bytes.min(i64::MAX as u64);
        Quantity::from_value(Decimal::from_u128(false, bytes.into()), Format::BinarySI)
    }

    /// The string form, exactly as parsed or built.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Consumes the quantity, returning its string form.
    pub fn into_string(self) -> String {
        self.raw
    }

    /// The canonical spelling of the value, as the API server would store it: `"1000m"` →
    /// `"1"`, `"1.5"` → `"1500m"`, `"1024Mi"` → `"1Gi"`, `"1.5Gi"` → `"1536Mi"`,
    /// `"0.5Ki"` → `"512"`, `"1e3"` → `"1e3"`.
    ///
    /// This is apimachinery's `CanonicalizeBytes`: the suffix family of the input is kept
    /// (binarySI, decimalSI or exponent); the result has no fractional digits and the largest
    /// suffix that loses no precision (exponents are multiples of three). A binarySI value below
    /// 1024 in magnitude, or with a fraction, is spelled in decimalSI; a decimalSI value beyond
    /// `E` (10¹⁸) falls back to exponent notation (`"1000E"` → `"1e21"`). Zero is `"0"`.
    pub fn canonical(&self) -> String {
        canonical_string(&self.value, self.format)
    }

    /// Whether [`as_str`](Quantity::as_str) already is the [`canonical`](Quantity::canonical)
    /// spelling.
    pub fn is_canonical(&self) -> bool {
        self.raw == self.canonical()
    }

    /// Replaces the string form with the [`canonical`](Quantity::canonical) spelling.
    pub fn canonicalize(&mut self) {
        self.raw = self.canonical();
    }

    /// Compares the values (`"1Gi" > "1G"`, `"1000m" == "1"`); the same as [`Ord::cmp`].
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        self.value.cmp(&other.value)
    }

    /// Whether the values are equal (`"1000m"` and `"1"` are); the same as `==`.
    pub fn eq_value(&self, other: &Quantity) -> bool {
        self.value == other.value
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.value.is_zero()
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.value.negative
    }

    /// The value as the nearest `f64` (possibly infinite); for display and heuristics, never for
    /// equality.
    pub fn as_f64(&self) -> f64 {
        self.value.to_f64()
    }

    /// `ceil(value / 10^scale)` (apimachinery's `ScaledValue`), or `None` if it does not fit an
    /// `i64`: `"1.5k".to_scaled(3)` is `Some(2)`, `"1".to_scaled(-3)` is `Some(1000)`.
    pub fn to_scaled(&self, scale: i32) -> Option<i64> {
        self.value
            .scaled_ceil(scale.into())
            .and_then(|v| i64::try_from(v).ok())
    }

    /// The value rounded up to an integer (apimachinery's `Value`), or `None` if it does not fit
    /// an `i64`: `"1.5"` gives `Some(2)`, `"1Gi"` gives `Some(1073741824)`.
    pub fn to_i64_ceil(&self) -> Option<i64> {
        self.to_scaled(0)
    }

    /// The value if it is an integer that fits an `i64`: `"1k"` gives `Some(1000)`, `"1.5"` gives
    /// `None`.
    pub fn to_i64_exact(&self) -> Option<i64> {
        if self.value.exponent < 0 {
            return None;
        }
        self.to_scaled(0)
    }

    /// The value in thousandths, rounded up (apimachinery's `MilliValue`), or `None` if it does
    /// not fit an `i64`: CPU `"250m"` gives `Some(250)`, `"2"` gives `Some(2000)`.
    pub fn to_millis(&self) -> Option<i64> {
        self.to_scaled(-3)
    }

    /// The value as a byte count, rounded up, or `None` if it is negative or does not fit a
    /// `u64`: memory `"1Gi"` gives `Some(1073741824)`, `"1.5"` gives `Some(2)`.
    pub fn to_bytes(&self) -> Option<u64> {
        if self.value.negative {
            return None;
        }
        self.value
            .scaled_ceil(0)
            .and_then(|v| u64::try_from(v).ok())
    }

    /// The exact sum, spelled canonically in `self`'s suffix family (in `rhs`'s if `self` is
    /// zero), like apimachinery's `Add`: `"1Gi" + "512Mi"` is `"1536Mi"`.
    ///
    /// `None` only if the operands are so far apart in magnitude (more than 4096 digits, e.g.
    /// `"1e5000" + "1"`) that the exact result would be unreasonably long.
    pub fn checked_add(&self, rhs: &Quantity) -> Option<Quantity> {
        let value = self.value.checked_add(&rhs.value)?;
        Some(Quantity::from_value(value, self.arithmetic_format(rhs)))
    }

    /// The exact difference, spelled like [`checked_add`](Quantity::checked_add) spells sums.
    pub fn checked_sub(&self, rhs: &Quantity) -> Option<Quantity> {
        let value = self.value.checked_add(&rhs.value.negated())?;
        Some(Quantity::from_value(value, self.arithmetic_format(rhs)))
    }

    fn arithmetic_format(&self, rhs: &Quantity) -> Format {
        if self.value.is_zero() {
            rhs.format
        } else {
            self.format
        }
    }
}

impl Default for Quantity {
    /// Zero, spelled `"0"` (what Go's zero `Quantity` serializes as).
    fn default() -> Self {
        Quantity {
            raw: "0".to_owned(),
            value: Decimal::zero(),
            format: Format::DecimalSI,
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: the normalised value, not the spelling.
        self.value.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Quantity").field(&self.raw).finish()
    }
}

impl fmt::Display for Quantity {
    /// The string form, as on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl TryFrom<&str> for Quantity {
    type Error = QuantityError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Quantity::parse(s)
    }
}

impl TryFrom<String> for Quantity {
    type Error = QuantityError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Quantity::from_string(s)
    }
}

impl AsRef<str> for Quantity {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

impl From<Quantity> for String {
    fn from(q: Quantity) -> Self {
        q.raw
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Quantity {
            /// The integer in decimalSI, spelled canonically (`1000` → `"1k"`).
            fn from(v: $t) -> Self {
                Quantity::from_value(Decimal::from_i128(v.into()), Format::DecimalSI)
            }
        }
    )*};
}
from_integer!(i32, u32, i64, u64);

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

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
                assert_eq!(got.value, want, "value of {text}");
                assert_eq!(got.format, *format, "format of {text}");
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
            assert_eq!(&parsed.value, value);
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
            assert_eq!(reparsed.value, built.value);
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
        let map =
            de::value::MapDeserializer::<_, de::value::Error>::new(std::iter::once(("cpu", "1")));
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
}
