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
//!
//! Layout: the exact decimal and its arithmetic (`decimal.rs`), the grammar (`parse.rs`), the
//! canonical spelling (`format.rs`), serde (`serde_impl.rs`), and [`Quantity`] itself (here).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

mod decimal;
mod format;
mod parse;
mod serde_impl;

use decimal::{Decimal, max_binary_si};
use format::{Format, canonical_string};
pub use parse::QuantityError;
use parse::{ErrorKind, parse_value, scan, value_of};

/// Significant decimal digits that always survive a round trip through an `f64` (`DBL_DIG`).
const F64_EXACT_DIGITS: usize = 15;

/// 2^63: the magnitude from which serde_json hands over integers as `f64` (beyond `i64`/`u64`).
const F64_BEYOND_INTEGERS: f64 = 9_223_372_036_854_775_808.0;

/// A Kubernetes resource quantity (`io.k8s.apimachinery.pkg.api.resource.Quantity`), such as
/// `"100m"` CPU or `"512Mi"` of memory.
///
/// A `Quantity` keeps the exact string it was parsed from and serializes it unchanged
/// (`"100m"` stays `"100m"`, `"1000m"` stays `"1000m"`), so server data round-trips
/// byte-for-byte. Every `Quantity` is valid: the grammar is checked whenever one is built or
/// decoded. The exact value is computed from the string when it is needed (comparisons,
/// hashing, [`canonical`](Quantity::canonical), the `to_*` conversions, arithmetic), so decoding
/// a list of objects pays for one string per quantity and nothing for values nobody reads. The
/// value is not cached (a `Quantity` has no interior mutability and is a plain map key); a
/// comparison of two identical strings does not parse them.
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
    /// The suffix family chosen when built from a value (it decides the canonical spelling and
    /// can differ from the one `raw` reads as: `from_bytes(1000)` is binarySI spelled `"1k"`);
    /// `None`: the one of `raw`.
    format: Option<Format>,
}

impl Quantity {
    /// Parses a quantity, keeping `s` verbatim as its string form.
    ///
    /// Whitespace is not trimmed (it is an error), matching apimachinery's `ParseQuantity`.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        Quantity::from_string(s.to_owned())
    }

    fn from_string(raw: String) -> Result<Self, QuantityError> {
        match scan(&raw) {
            Ok(_) => Ok(Quantity { raw, format: None }),
            Err(kind) => Err(QuantityError { input: raw, kind }),
        }
    }

    /// The exact value and suffix family, computed from the string.
    fn parsed(&self) -> (Decimal, Format) {
        let (value, format) = match scan(&self.raw) {
            Ok(scanned) => value_of(scanned),
            // Unreachable: every constructor checks `raw` with `scan` or spells a value
            // canonically. Zero keeps this total without a panic.
            Err(_) => (Decimal::zero(), Format::DecimalSI),
        };
        (value, self.format.unwrap_or(format))
    }

    /// The exact value.
    fn value(&self) -> Decimal {
        self.parsed().0
    }

    /// The suffix family of the value (decides the canonical spelling).
    fn format(&self) -> Format {
        self.parsed().1
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
            format: Some(format),
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
        let (value, format) = self.parsed();
        canonical_string(&value, format)
    }

    /// Whether [`as_str`](Quantity::as_str) already is the [`canonical`](Quantity::canonical)
    /// spelling.
    pub fn is_canonical(&self) -> bool {
        self.raw == self.canonical()
    }

    /// Replaces the string form with the [`canonical`](Quantity::canonical) spelling.
    pub fn canonicalize(&mut self) {
        // The suffix family stays (the canonical spelling of a binarySI value may read as
        // decimalSI: `"0.5Ki"` is `"512"`).
        let (value, format) = self.parsed();
        self.raw = canonical_string(&value, format);
        self.format = Some(format);
    }

    /// Compares the values (`"1Gi" > "1G"`, `"1000m" == "1"`); the same as [`Ord::cmp`].
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        self.cmp(other)
    }

    /// Whether the values are equal (`"1000m"` and `"1"` are); the same as `==`.
    pub fn eq_value(&self, other: &Quantity) -> bool {
        self == other
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.value().is_zero()
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.value().negative
    }

    /// The value as the nearest `f64` (possibly infinite); for display and heuristics, never for
    /// equality.
    pub fn as_f64(&self) -> f64 {
        self.value().to_f64()
    }

    /// `ceil(value / 10^scale)` (apimachinery's `ScaledValue`), or `None` if it does not fit an
    /// `i64`: `"1.5k".to_scaled(3)` is `Some(2)`, `"1".to_scaled(-3)` is `Some(1000)`.
    pub fn to_scaled(&self, scale: i32) -> Option<i64> {
        self.value()
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
        if self.value().exponent < 0 {
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
        if self.value().negative {
            return None;
        }
        self.value()
            .scaled_ceil(0)
            .and_then(|v| u64::try_from(v).ok())
    }

    /// The exact sum, spelled canonically in `self`'s suffix family (in `rhs`'s if `self` is
    /// zero), like apimachinery's `Add`: `"1Gi" + "512Mi"` is `"1536Mi"`.
    ///
    /// `None` only if the operands are so far apart in magnitude (more than 4096 digits, e.g.
    /// `"1e5000" + "1"`) that the exact result would be unreasonably long.
    pub fn checked_add(&self, rhs: &Quantity) -> Option<Quantity> {
        let value = self.value().checked_add(&rhs.value())?;
        Some(Quantity::from_value(value, self.arithmetic_format(rhs)))
    }

    /// The exact difference, spelled like [`checked_add`](Quantity::checked_add) spells sums.
    pub fn checked_sub(&self, rhs: &Quantity) -> Option<Quantity> {
        let value = self.value().checked_add(&rhs.value().negated())?;
        Some(Quantity::from_value(value, self.arithmetic_format(rhs)))
    }

    fn arithmetic_format(&self, rhs: &Quantity) -> Format {
        if self.value().is_zero() {
            rhs.format()
        } else {
            self.format()
        }
    }
}

impl Default for Quantity {
    /// Zero, spelled `"0"` (what Go's zero `Quantity` serializes as).
    fn default() -> Self {
        Quantity {
            raw: "0".to_owned(),
            format: Some(Format::DecimalSI),
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: the normalised value, not the spelling.
        self.value().hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        // The same string is the same value (and the same suffix family does not matter).
        if self.raw == other.raw {
            return Ordering::Equal;
        }
        self.value().cmp(&other.value())
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
