//! The exact value of a quantity: a small arbitrary-precision decimal, and the arithmetic,
//! rounding and comparisons apimachinery's rules need.

use std::cmp::Ordering;

/// Longest digit string [`Quantity::checked_add`](super::Quantity::checked_add) and
/// [`Quantity::checked_sub`](super::Quantity::checked_sub) will build when
/// aligning two values with very different exponents (`"1e5000" + "1"`).
const MAX_ARITHMETIC_DIGITS: i64 = 4096;

/// An exact decimal number: `(-1)^negative × digits × 10^exponent`.
///
/// Normalised: `digits` (most significant first, each `0..=9`) has no leading and no trailing
/// zeros, so every value has exactly one representation and the derived `Eq`/`Hash` are value
/// equality. Zero is the empty digit string with exponent 0 and `negative == false`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Decimal {
    pub(super) negative: bool,
    pub(super) digits: Vec<u8>,
    pub(super) exponent: i64,
}

impl Decimal {
    pub(super) fn zero() -> Self {
        Decimal {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Builds a normalised decimal from any digit string.
    pub(super) fn new(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Self {
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

    pub(super) fn from_u128(negative: bool, mut magnitude: u128) -> Self {
        let mut digits = Vec::with_capacity(40);
        while magnitude > 0 {
            digits.push((magnitude % 10) as u8);
            magnitude /= 10;
        }
        digits.reverse();
        Decimal::new(negative, digits, 0)
    }

    pub(super) fn from_i128(value: i128) -> Self {
        Decimal::from_u128(value < 0, value.unsigned_abs())
    }

    pub(super) fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// One past the position of the most significant digit: a non-zero magnitude lies in
    /// `[10^(order-1), 10^order)`.
    pub(super) fn order(&self) -> i64 {
        self.digits.len() as i64 + self.exponent
    }

    pub(super) fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
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

    pub(super) fn negated(&self) -> Decimal {
        let mut out = self.clone();
        out.negative = !out.is_zero() && !out.negative;
        out
    }

    pub(super) fn with_magnitude_of(&self, magnitude: &Decimal) -> Decimal {
        let mut out = magnitude.clone();
        out.negative = self.negative && !out.is_zero();
        out
    }

    /// Multiplies the magnitude by a small factor.
    pub(super) fn mul_small(&self, factor: u32) -> Decimal {
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
    pub(super) fn round_away_from_zero(&self, min_exponent: i64) -> Decimal {
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
    pub(super) fn integer_digits(&self, max_len: i64) -> Option<Vec<u8>> {
        if self.exponent < 0 || self.order() > max_len {
            return None;
        }
        let mut out = self.digits.clone();
        out.extend(std::iter::repeat_n(0, self.exponent as usize));
        Some(out)
    }

    /// The magnitude's digits, little-endian, shifted so that index 0 is `10^low`.
    pub(super) fn aligned_le(&self, low: i64, width: usize) -> Vec<u8> {
        let mut out = vec![0u8; width];
        let shift = (self.exponent - low) as usize;
        for (i, &d) in self.digits.iter().rev().enumerate() {
            out[shift + i] = d;
        }
        out
    }

    /// Exact sum, or `None` when the operands are too far apart to align cheaply.
    pub(super) fn checked_add(&self, other: &Decimal) -> Option<Decimal> {
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
    pub(super) fn scaled_ceil(&self, scale: i64) -> Option<i128> {
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

    pub(super) fn to_f64(&self) -> f64 {
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
pub(super) fn div_exact(digits: &[u8], divisor: u64) -> Option<Vec<u8>> {
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
pub(super) fn max_binary_si() -> Decimal {
    Decimal::from_u128(false, i64::MAX as u128)
}
