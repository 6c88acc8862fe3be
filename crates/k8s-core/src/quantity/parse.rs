//! The quantity grammar: a string to an exact value and its format, or an error naming the
//! problem.

use std::cmp::Ordering;

use super::decimal::{Decimal, max_binary_si};
use super::format::{BINARY_SI_SUFFIXES, DECIMAL_SI_SUFFIXES, Format};

/// What went wrong while parsing a quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum ErrorKind {
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
    pub(super) input: String,
    pub(super) kind: ErrorKind,
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

/// A string that follows the quantity grammar, split into its parts: what [`value_of`] builds
/// the exact value from. Scanning allocates nothing, so checking a quantity is cheap; building
/// its value is left until it is needed.
pub(super) struct Scanned<'a> {
    negative: bool,
    int_digits: &'a [u8],
    frac_digits: &'a [u8],
    multiplier: Multiplier,
    format: Format,
}

/// Checks the quantity grammar (see the module docs), without building the value. Every error
/// [`parse_value`] can report is reported here: building the value of a scanned string cannot
/// fail.
pub(super) fn scan(s: &str) -> Result<Scanned<'_>, ErrorKind> {
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
    let (multiplier, format) = interpret_suffix(&s[pos..])?;
    Ok(Scanned {
        negative,
        int_digits,
        frac_digits,
        multiplier,
        format,
    })
}

/// Parses the quantity grammar into an exact value and its format (see the module docs).
pub(super) fn parse_value(s: &str) -> Result<(Decimal, Format), ErrorKind> {
    scan(s).map(value_of)
}

/// The exact value and format of a scanned quantity: digits times the suffix's multiplier,
/// rounded away from zero to nano, binarySI capped at 2^63-1.
pub(super) fn value_of(scanned: Scanned<'_>) -> (Decimal, Format) {
    let Scanned {
        negative,
        int_digits,
        frac_digits,
        multiplier,
        mut format,
    } = scanned;
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
    (value, format)
}
