//! The canonical spelling of a quantity: suffix families and apimachinery's `Quantity.String()`.

use std::cmp::Ordering;

use super::decimal::{Decimal, div_exact};

/// The largest multiple of three that the exponent grammar (`i32`) allows.
const MAX_CANONICAL_EXPONENT: i64 = (i32::MAX as i64 / 3) * 3;

/// Decimal SI suffixes and their base-10 exponents.
pub(super) const DECIMAL_SI_SUFFIXES: [(&str, i64); 10] = [
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
pub(super) const BINARY_SI_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// The suffix family a quantity was written in; decides the canonical spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// `12e6`, `1E-3`.
    DecimalExponent,
    /// `12Mi` (powers of 1024).
    BinarySI,
    /// `12M`, `100m` (powers of 1000), or no suffix.
    DecimalSI,
}

/// Spells `value` the way apimachinery's `Quantity.String()` does for `format`.
pub(super) fn canonical_string(value: &Decimal, format: Format) -> String {
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
