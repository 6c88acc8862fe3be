//! Differential test against the Go reference (`k8s.io/apimachinery`, see `oracles/go`).
//!
//! Builds the Go oracle with `go build` (into `target/tmp/go-oracle/`), generates more than
//! 100,000 inputs from a fixed seed — valid and malformed quantities, JSON values for quantities,
//! RFC 3339 timestamps — and runs each through both the SDK and Go. Every disagreement fails the
//! test unless it falls into one of the documented, deliberate differences of [`Difference`].
//!
//! Skipped, with a message saying so, only when `go` is not on `PATH` (CI has it). Environment:
//! `K8S_DIFF_SEED` (default 13) and `K8S_DIFF_SCALE` (a multiplier for the input count, default
//! 1) change the run; `K8S_DIFF_DUMP=FILE` writes the oracle's input lines to `FILE`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use k8s_core::{MicroTime, Quantity, Time};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Documented, deliberate differences. Each variant is matched by a precise predicate below; a
// disagreement that no predicate explains is a failure.

/// A disagreement with Go that the SDK makes on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Difference {
    /// Go's scanner reads a sign, a point or a suffix without digits (`"-"`, `"."`, `"Ki"`) as
    /// zero; the documented grammar requires digits, and so does `Quantity::parse`.
    GoAcceptsNoDigits,
    /// Go parses an exponent as int64 and silently truncates it to int32 (`"1e4294967296"` is
    /// worth 1); the SDK rejects exponents outside the i32 range.
    ExponentOutsideI32,
    /// Go spells a decimalSI value of 1000E (10^21) or more without its magnitude (`"1000E"`
    /// becomes `"1"`: there is no suffix beyond E and Go drops it); the SDK falls back to
    /// exponent notation (`"1e21"`), which keeps the value.
    GoDropsMagnitudeBeyondE,
    /// Go keeps the scale of a quantity in an int32 and wraps around near its bounds
    /// (`"1.5e-2147483648"` becomes `"150e2147483646"`); the SDK's exponent is 64-bit and exact.
    GoScaleOverflow,
    /// Go's `Quantity.UnmarshalJSON` strips the quotes of a JSON string without decoding its
    /// escapes (`"\u0031"` is not a quantity there); serde_json decodes them first.
    GoKeepsJsonEscapes,
    /// Only in builds where serde_json lacks its `raw_value` feature (otherwise the SDK reads the
    /// number's text and must agree exactly): a JSON number that is not a 64-bit integer
    /// reaches the SDK as an f64. It is stored in decimalSI form (`1e3` as `"1k"`, Go keeps
    /// `"1e3"`; same value), or rejected when the f64 cannot be exact (more than 15
    /// significant digits in its shortest form, 2^63 or more, `1e400`). A number written with
    /// more than 15 significant digits, or below 1e-290, may arrive already rounded and then
    /// differs from Go's exact value: the f64 hides it (documented on `Quantity`).
    JsonNumberThroughF64,
    /// jiff's `Timestamp` ends at 9999-12-30T22:00:00Z UTC; Go accepts later instants (up to
    /// year 10000 through an offset) and writes them back in a form it cannot read.
    BeyondTimestampRange,
    /// Go writes its zero time (`0001-01-01T00:00:00Z`) as `null`; the SDK writes the instant.
    GoZeroTimeIsNull,
    /// The SDK reads (and writes, for years before 0) ISO 8601's expanded year, a sign and six
    /// digits, so that every `Time` reads back; Go reads only four-digit years.
    ExpandedYear,
    /// Years before 0 (reachable through an offset from year 0000): Go writes `-0001-…`, the SDK
    /// `-000001-…` (the expanded form it reads back). Same instant.
    NegativeYearSpelling,
    /// `MicroTime` reads what `Time` reads; Go's `MicroTime` requires exactly six fractional
    /// digits. The instant is what Go's `Time` reads.
    MicroTimeAnyPrecision,
}

// ---------------------------------------------------------------------------------------------
// The protocol of `oracles/go/main.go`.

#[derive(Serialize)]
struct Request<'a> {
    op: &'static str,
    a: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    b: Option<&'a str>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    err: String,
    str: Option<String>,
    canon: Option<String>,
    bok: Option<bool>,
    cmp: Option<i32>,
    sec: Option<i64>,
    nsec: Option<i64>,
    out: Option<String>,
}

#[derive(Clone, Debug)]
enum Case {
    Quantity {
        a: String,
        b: Option<String>,
    },
    QuantityJson(String),
    /// Both `t` and `mt` ops are sent for each timestamp.
    Timestamp(String),
}

// ---------------------------------------------------------------------------------------------
// Building and running the oracle.

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the oracle; `None` when `go` is not installed.
fn build_oracle() -> Option<PathBuf> {
    if Command::new("go").arg("version").output().is_err() {
        return None;
    }
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-oracle");
    std::fs::create_dir_all(&out_dir).unwrap();
    let binary = out_dir.join("k8s-oracle");
    let started = Instant::now();
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(workspace_root().join("oracles/go"))
        .status()
        .expect("run go build");
    assert!(status.success(), "go build of oracles/go failed: {status}");
    eprintln!(
        "go-differential: built the Go oracle in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Some(binary)
}

fn run_oracle(binary: &Path, requests: Vec<String>) -> Vec<Answer> {
    let mut child = Command::new(binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the Go oracle");
    let mut stdin = child.stdin.take().unwrap();
    let count = requests.len();
    let writer = std::thread::spawn(move || {
        let mut buffered = std::io::BufWriter::new(&mut stdin);
        for line in requests {
            buffered.write_all(line.as_bytes()).unwrap();
            buffered.write_all(b"\n").unwrap();
        }
        buffered.flush().unwrap();
    });
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let answers: Vec<Answer> = stdout
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success(), "the Go oracle failed");
    assert_eq!(answers.len(), count, "one answer per request");
    answers
}

// ---------------------------------------------------------------------------------------------
// Input generation (SplitMix64 with a fixed seed).

struct Rng(std::cell::Cell<u64>);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(std::cell::Cell::new(seed))
    }

    fn next(&self) -> u64 {
        self.0.set(self.0.get().wrapping_add(0x9e37_79b9_7f4a_7c15));
        let mut z = self.0.get();
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn digits(&self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn range(&self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1) as u64) as i64
    }
}

const QUANTITY_SPECIALS: &[&str] = &[
    "0",
    "-0",
    "+0",
    "00",
    "0.0",
    ".0",
    "0.",
    "1",
    "-1",
    "+1",
    "01",
    "1.",
    ".1",
    "1Ki",
    "1024Mi",
    "9Ei",
    "8Ei",
    "7Ei",
    "-9Ei",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "9223372036854775807Ki",
    "18446744073709551616",
    "12E",
    "1000E",
    "0.1n",
    "0.5e-9",
    "1e-9",
    "1e-10",
    "1e2147483647",
    "1e-2147483647",
    "1e-2147483648",
    "1e2147483648",
    "1e-2147483649",
    "1e4294967296",
    "1e9223372036854775807",
    "1e9223372036854775808",
    "1.5e-2147483648",
    "100.035Ki",
    ".001Ki",
    ".000000001Ki",
    ".000000000001Ki",
    "1.5Gi",
    "0.5Ki",
    "1023",
    "1024",
    "1025",
    "1E3",
    "1e3",
    "1e+3",
    "1E-3",
    "",
    " ",
    "-",
    "+",
    ".",
    "-.",
    "Ki",
    "m",
    "e3",
    "1e",
    "1e+",
    "1ee3",
    "1K",
    "1KI",
    "1kb",
    "1 Gi",
    " 1",
    "1 ",
    "1,5",
    "NaN",
    "Inf",
    "0x10",
    "--1",
    "1Mi5",
    "1.1.1",
    "1+1",
    "1.5Gb",
    "\u{a0}1",
    "1\u{a0}",
    "１",
    "1e3.5",
    "123456789012345678901234567890123456789012345",
    "0.000000000000000000000000000001",
    "999999999999999999n",
    "1000000000000000000000m",
];

const DECIMAL_SUFFIXES: &[&str] = &["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];
const BINARY_SUFFIXES: &[&str] = &["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
const BAD_SUFFIXES: &[&str] = &[
    "K", "KI", "ki", "mi", "b", "Gb", "i", "e", "E+", "e-", "ee", "ms", "kk", "Kii", " ", "x",
    "\u{b5}", "µ", "Ki ", "e3 ", "e.5", "e--1", "e+-1", "e0x1",
];

fn quantity_number(rng: &Rng) -> String {
    let mut s = String::new();
    s.push_str(match rng.below(10) {
        0..=6 => "",
        7 => "+",
        _ => "-",
    });
    let int_len = match rng.below(20) {
        0 => 0,
        1..=12 => 1 + rng.below(4),
        13..=17 => 1 + rng.below(19),
        18 => 19 + rng.below(25),
        _ => 40 + rng.below(if rng.chance(5) { 600 } else { 40 }),
    };
    if rng.chance(10) {
        s.push_str(&"0".repeat(1 + rng.below(4)));
    }
    s.push_str(&rng.digits(int_len));
    if rng.chance(30) {
        s.push('.');
        let frac_len = match rng.below(10) {
            0 => 0,
            1..=6 => 1 + rng.below(4),
            7..=8 => 1 + rng.below(15),
            _ => 15 + rng.below(40),
        };
        s.push_str(&rng.digits(frac_len));
    }
    if int_len == 0 && !s.contains('.') {
        s.push_str(&rng.digits(1));
    }
    s
}

fn exponent(rng: &Rng) -> String {
    let e = rng.pick(&["e", "E"]);
    let sign = rng.pick(&["", "", "+", "-", "-"]);
    let magnitude: String = match rng.below(12) {
        0..=6 => rng.range(0, 40).to_string(),
        7..=8 => rng.range(0, 400).to_string(),
        9 => rng.range(0, 2_000_000).to_string(),
        10 => (2_147_483_647 - rng.range(-3, 40)).to_string(),
        _ => rng.range(2_147_483_648, 9_999_999_999).to_string(),
    };
    format!("{e}{sign}{magnitude}")
}

fn quantity(rng: &Rng) -> String {
    match rng.below(100) {
        0..=7 => rng.pick(QUANTITY_SPECIALS).to_owned(),
        8..=17 => {
            // Random characters from the grammar's alphabet.
            let alphabet: Vec<char> = "0123456789.+-eEinumkKMGTP i".chars().collect();
            let len = rng.below(9);
            (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        }
        18..=27 => {
            // A valid quantity with one mutation.
            let mut s: Vec<char> = format!(
                "{}{}",
                quantity_number(rng),
                rng.pick(&["Ki", "Mi", "m", "k", "u", "n", "E", "e3"])
            )
            .chars()
            .collect();
            let at = rng.below(s.len() + 1);
            match rng.below(3) {
                0 if at < s.len() => {
                    s.remove(at);
                }
                1 => s.insert(
                    at,
                    rng.pick(&[".", "-", "+", "e", " ", "i", "0"])
                        .chars()
                        .next()
                        .unwrap(),
                ),
                _ if at < s.len() => {
                    s[at] = rng.pick(&["1", ".", "E", "K", "x"]).chars().next().unwrap()
                }
                _ => s.push('.'),
            }
            s.into_iter().collect()
        }
        _ => {
            let number = quantity_number(rng);
            let suffix = match rng.below(10) {
                0..=3 => rng.pick(DECIMAL_SUFFIXES).to_owned(),
                4..=6 => rng.pick(BINARY_SUFFIXES).to_owned(),
                7..=8 => exponent(rng),
                _ => rng.pick(BAD_SUFFIXES).to_owned(),
            };
            let mut s = format!("{number}{suffix}");
            if rng.chance(2) {
                s.insert(0, ' ');
            }
            if rng.chance(2) {
                s.push(' ');
            }
            s
        }
    }
}

fn quantity_json(rng: &Rng) -> String {
    match rng.below(10) {
        // A JSON number.
        0..=4 => {
            let mut s = String::new();
            if rng.chance(30) {
                s.push('-');
            }
            let int_len = 1 + match rng.below(10) {
                0..=5 => rng.below(4),
                6..=8 => rng.below(20),
                _ => 20 + rng.below(30),
            };
            let int = rng.digits(int_len);
            s.push_str(int.trim_start_matches('0'));
            if s.is_empty() || s == "-" {
                s.push('0');
            }
            if rng.chance(40) {
                s.push('.');
                s.push_str(&rng.digits(1 + rng.below(20)));
            }
            if rng.chance(30) {
                s.push_str(rng.pick(&["e", "E"]));
                s.push_str(rng.pick(&["", "+", "-"]));
                s.push_str(
                    &rng.range(0, if rng.chance(10) { 500 } else { 30 })
                        .to_string(),
                );
            }
            s
        }
        // A JSON string, sometimes with whitespace or escapes.
        5..=8 => {
            let q = quantity(rng);
            let mut text = serde_json::to_string(&q).unwrap();
            match rng.below(8) {
                0 => text = format!("\" {}\"", &text[1..]),
                1 => text = format!("\"\\t{}\"", &text[1..text.len() - 1]),
                2 => text = format!("\"\\u0031{}", &text[1..]),
                3 => text = format!(" {text} "),
                _ => {}
            }
            text
        }
        _ => rng
            .pick(&[
                "null", "true", "false", "[]", "{}", "[1]", "\"\"", "\"null\"", "0", "-0",
            ])
            .to_owned(),
    }
}

const TIME_SPECIALS: &[&str] = &[
    "2024-01-02T03:04:05Z",
    "0000-01-01T00:00:00Z",
    "0000-01-01T00:00:00+00:01",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00.000000Z",
    "1970-01-01T00:00:00Z",
    "9999-12-30T22:00:00Z",
    "9999-12-30T22:00:00.999999999Z",
    "9999-12-30T22:00:01Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:00:00-05:00",
    "2016-12-31T23:59:60Z",
    "2024-02-29T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2024-01-02T03:04:05.123456789012Z",
    "2024-01-02T03:04:05,5Z",
    "2024-01-02T3:04:05Z",
    "2024-01-02T03:04:05+24:00",
    "2024-01-02T03:04:05-24:60",
    "2024-01-02T03:04:05+25:00",
    "2024-01-02T03:04:05+0200",
    "2024-01-02t03:04:05z",
    "-000001-01-01T00:00:00Z",
    "+002024-01-02T03:04:05Z",
    "",
    "null",
];

fn two(n: i64) -> String {
    format!("{n:02}")
}

fn timestamp(rng: &Rng) -> String {
    if rng.chance(3) {
        return rng.pick(TIME_SPECIALS).to_owned();
    }
    let year = match rng.below(20) {
        0 => rng.range(0, 3),
        1 => rng.range(9996, 9999),
        2..=4 => rng.range(0, 9999),
        _ => rng.range(1960, 2100),
    };
    let year = if rng.chance(1) {
        format!("{}{:06}", rng.pick(&["+", "-"]), year)
    } else if rng.chance(1) {
        year.to_string()
    } else {
        format!("{year:04}")
    };
    let month = if rng.chance(3) {
        rng.range(0, 13)
    } else {
        rng.range(1, 12)
    };
    let day = match rng.below(10) {
        0 => rng.range(28, 32),
        1 => rng.range(0, 1),
        _ => rng.range(1, 28),
    };
    let hour = if rng.chance(3) {
        rng.range(0, 25)
    } else {
        rng.range(0, 23)
    };
    let hour = if rng.chance(5) {
        hour.to_string()
    } else {
        two(hour)
    };
    let minute = if rng.chance(2) {
        rng.range(0, 61)
    } else {
        rng.range(0, 59)
    };
    let second = match rng.below(40) {
        0 => rng.range(59, 61),
        _ => rng.range(0, 59),
    };
    let separator = match rng.below(50) {
        0 => "t",
        1 => " ",
        _ => "T",
    };
    let fraction = match rng.below(10) {
        0..=4 => String::new(),
        5..=7 => format!(".{}", rng.digits(6)),
        8 => format!("{}{}", rng.pick(&[".", ","]), rng.digits(rng.below(16))),
        _ => format!(".{}", rng.digits(1 + rng.below(9))),
    };
    let offset = match rng.below(20) {
        0..=9 => "Z".to_owned(),
        10 => rng.pick(&["z", "", "UTC", "+", "Z ", "-00:00"]).to_owned(),
        11 => format!(
            "{}{}{}",
            rng.pick(&["+", "-"]),
            two(rng.range(0, 25)),
            two(rng.range(0, 61))
        ),
        12 => format!("{}{}", rng.pick(&["+", "-"]), two(rng.range(0, 25))),
        _ => format!(
            "{}{}:{}",
            rng.pick(&["+", "-"]),
            two(if rng.chance(10) {
                rng.range(0, 99)
            } else {
                rng.range(0, 14)
            }),
            two(if rng.chance(10) {
                rng.range(0, 99)
            } else {
                rng.pick(&["0", "30", "45"]).parse().unwrap()
            })
        ),
    };
    let mut s = format!(
        "{year}-{}-{}{separator}{hour}:{}:{}{fraction}{offset}",
        two(month),
        two(day),
        two(minute),
        two(second)
    );
    if rng.chance(4) {
        // One random edit.
        let mut chars: Vec<char> = s.chars().collect();
        let at = rng.below(chars.len());
        match rng.below(3) {
            0 => {
                chars.remove(at);
            }
            1 => chars.insert(
                at,
                rng.pick(&["0", "9", "-", ":", ".", " ", "T", "Z", "+"])
                    .chars()
                    .next()
                    .unwrap(),
            ),
            _ => {
                chars[at] = rng
                    .pick(&["0", "1", "5", "9", "x", ":"])
                    .chars()
                    .next()
                    .unwrap()
            }
        }
        s = chars.into_iter().collect();
    }
    if rng.chance(1) {
        s = format!(" {s}");
    }
    s
}

/// The scale (base-10 exponent of the last digit) Go computes for a quantity written with an
/// `e` exponent: the exponent truncated to int32, minus the fractional digits, wrapping as
/// int32 arithmetic does.
fn go_scale(s: &str) -> Option<i32> {
    let at = s.find(['e', 'E'])?;
    let exponent: i64 = s[at + 1..].parse().ok()?;
    let fraction = s[..at]
        .split_once('.')
        .map_or(0, |(_, f)| f.bytes().take_while(u8::is_ascii_digit).count());
    Some((exponent as i32).wrapping_sub(fraction as i32))
}

/// Go's `inf.Dec` takes time proportional to 10^|scale| to handle a quantity whose scale is far
/// from zero (`"1e-2147483647"` and `"1.23456789012345678901e2147483600"` do not finish), and
/// comparing quantities whose scales are far apart takes as long. Go's int64 fast path (at most
/// 18 significant digits and a scale of at least -9) is quick at any scale. Inputs that would
/// reach the slow path are checked on the SDK side only (it must answer at once).
const GO_SCALE_LIMIT: i32 = 20_000;

fn go_would_hang(s: &str) -> bool {
    let Some(scale) = go_scale(s) else {
        return false;
    };
    let number = s.trim_start_matches(['+', '-']);
    let (int, rest) = number.split_at(
        number
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(number.len()),
    );
    let fraction = rest
        .strip_prefix('.')
        .map_or(0, |f| f.bytes().take_while(u8::is_ascii_digit).count());
    let fast_path = int.trim_start_matches('0').len() + fraction <= 18 && scale >= -9;
    !fast_path && scale.unsigned_abs() > GO_SCALE_LIMIT as u32
}

fn go_cmp_would_hang(s: &str) -> bool {
    go_scale(s).is_some_and(|scale| scale.unsigned_abs() > GO_SCALE_LIMIT as u32)
}

/// Inputs kept from Go (see [`go_would_hang`]); the SDK must still answer them quickly.
fn check_sdk_only(a: &str) {
    let started = Instant::now();
    if let Ok(q) = Quantity::parse(a) {
        let _ = q.canonical();
        let _ = q.cmp_value(&Quantity::from(1));
    }
    assert!(started.elapsed().as_secs() < 1, "{a:?} is slow");
}

fn generate(seed: u64, scale: usize) -> (Vec<Case>, usize) {
    let rng = &mut Rng::new(seed);
    let mut cases = Vec::new();
    let mut sdk_only = 0;
    for _ in 0..76_000 * scale {
        let a = quantity(rng);
        if go_would_hang(&a) {
            check_sdk_only(&a);
            sdk_only += 1;
            continue;
        }
        let b = match rng.below(10) {
            0..=3 => None,
            4..=5 => Quantity::parse(&a).ok().map(|q| {
                // The same value spelled differently, or a neighbour.
                match rng.below(3) {
                    0 => q.canonical(),
                    1 => format!(
                        "{}000m",
                        q.canonical().trim_end_matches(char::is_alphabetic)
                    ),
                    _ => q
                        .checked_add(&Quantity::from_scaled(1, -9))
                        .map_or_else(|| q.canonical(), |n| n.canonical()),
                }
            }),
            _ => Some(quantity(rng)),
        };
        let b = b.filter(|b| !go_cmp_would_hang(&a) && !go_cmp_would_hang(b));
        cases.push(Case::Quantity { a, b });
    }
    for _ in 0..12_000 * scale {
        let json = quantity_json(rng);
        if go_would_hang(json.trim().trim_matches('"').trim()) {
            sdk_only += 1;
            continue;
        }
        cases.push(Case::QuantityJson(json));
    }
    for _ in 0..20_000 * scale {
        cases.push(Case::Timestamp(timestamp(rng)));
    }
    (cases, sdk_only)
}

// ---------------------------------------------------------------------------------------------
// The SDK's answers and the comparison.

/// Whether this build's serde_json hands `Quantity` the text of JSON numbers (the `raw_value`
/// feature is on somewhere in the build).
fn json_reads_number_text() -> bool {
    serde_json::from_str::<Quantity>("1e3").is_ok_and(|q| q.as_str() == "1e3")
}

fn sign(o: std::cmp::Ordering) -> i32 {
    o as i32
}

/// The explicit exponent of a quantity's text, if it has one.
fn explicit_exponent(s: &str) -> Option<i128> {
    let at = s.find(['e', 'E'])?;
    s[at + 1..].parse().ok()
}

/// Whether `go` is `sdk` with its exponent beyond E dropped (`"1e21"` vs `"1"`).
fn drops_magnitude_beyond_e(sdk: &str, go: &str) -> bool {
    sdk.rsplit_once('e').is_some_and(|(mantissa, exponent)| {
        mantissa == go && exponent.parse::<i64>().is_ok_and(|e| e >= 21)
    })
}

struct Outcome {
    disagreements: Vec<String>,
    documented: BTreeMap<Difference, usize>,
}

impl Outcome {
    fn fail(&mut self, what: String) {
        self.disagreements.push(what);
    }

    fn allow(&mut self, difference: Difference) {
        *self.documented.entry(difference).or_default() += 1;
    }
}

fn check_quantity(a: &str, b: Option<&str>, go: &Answer, out: &mut Outcome) {
    let rust = Quantity::parse(a);
    match (&rust, go.ok) {
        (Ok(q), true) => {
            let canon = go.canon.as_deref().unwrap_or_default();
            if q.canonical() != canon {
                let near_bounds =
                    explicit_exponent(a).is_some_and(|e| e.abs() > 2_147_483_647 - 1_000);
                if near_bounds {
                    out.allow(Difference::GoScaleOverflow);
                } else if drops_magnitude_beyond_e(&q.canonical(), canon) {
                    out.allow(Difference::GoDropsMagnitudeBeyondE);
                } else {
                    out.fail(format!(
                        "parse {a:?}: canonical {:?}, Go {canon:?}",
                        q.canonical()
                    ));
                }
                return;
            }
            // Go's String() is its canonical form, or the input when its fast path found it
            // canonical; the SDK keeps the input (`as_str`) and computes `canonical()`.
            let go_str = go.str.as_deref().unwrap_or_default();
            if go_str != canon && go_str != a {
                out.fail(format!(
                    "parse {a:?}: Go String() {go_str:?} is neither {canon:?} nor the input"
                ));
            }
        }
        (Err(e), false) => {
            let _ = e;
        }
        (Err(e), true) => {
            let message = e.to_string();
            if message.contains("expected a number") && go.canon.as_deref() == Some("0") {
                out.allow(Difference::GoAcceptsNoDigits);
            } else if message.contains("is out of range")
                && explicit_exponent(a)
                    .is_some_and(|e| !(-2_147_483_648..=2_147_483_647).contains(&e))
            {
                out.allow(Difference::ExponentOutsideI32);
            } else {
                out.fail(format!(
                    "parse {a:?}: SDK error ({message}), Go {:?}",
                    go.canon
                ));
            }
            return;
        }
        (Ok(q), false) => {
            out.fail(format!(
                "parse {a:?}: SDK {:?}, Go error ({})",
                q.canonical(),
                go.err
            ));
            return;
        }
    }
    let (Ok(qa), Some(b)) = (rust, b) else { return };
    let rust_b = Quantity::parse(b);
    if rust_b.is_ok() != go.bok.unwrap_or(false) {
        // Explained (or failed) where `b` is checked as an `a` of its own; compare only when
        // both sides parse both.
        return;
    }
    let (Ok(qb), Some(go_cmp)) = (rust_b, go.cmp) else {
        return;
    };
    let rust_cmp = sign(qa.cmp_value(&qb));
    if rust_cmp != go_cmp {
        let near_bounds = [a, b]
            .iter()
            .any(|s| explicit_exponent(s).is_some_and(|e| e.abs() > 2_147_483_647 - 1_000));
        if near_bounds {
            out.allow(Difference::GoScaleOverflow);
        } else {
            out.fail(format!("cmp {a:?} {b:?}: SDK {rust_cmp}, Go {go_cmp}"));
        }
    }
}

/// Whether an `f64` made from this JSON number may differ from it in a way the SDK cannot see:
/// more than 15 significant digits, or so small that it underflows to zero.
fn f64_cannot_tell(number: &str) -> bool {
    let mantissa = number.split(['e', 'E']).next().unwrap_or(number);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').len();
    let underflow = explicit_exponent(number).is_some_and(|e| e < -290);
    significant > 15 || underflow
}

fn check_quantity_json(json: &str, go: &Answer, number_text: bool, out: &mut Outcome) {
    let rust = serde_json::from_str::<Quantity>(json);
    let trimmed = json.trim();
    let is_number = trimmed.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    let go_canon = go.canon.as_deref().unwrap_or_default();
    match (&rust, go.ok) {
        (Ok(q), true) => {
            let same = if is_number && number_text {
                q.as_str() == go_canon
            } else {
                q.canonical() == go_canon
            };
            if same {
                return;
            }
            let same_value = Quantity::parse(go_canon).is_ok_and(|g| g == *q);
            let sdk = if is_number && number_text {
                q.as_str().to_owned()
            } else {
                q.canonical()
            };
            let content = trimmed.trim_matches('"').trim();
            let near_bounds =
                explicit_exponent(content).is_some_and(|e| e.abs() > 2_147_483_647 - 1_000);
            if is_number && !number_text && (same_value || f64_cannot_tell(trimmed)) {
                out.allow(Difference::JsonNumberThroughF64);
            } else if near_bounds {
                out.allow(Difference::GoScaleOverflow);
            } else if drops_magnitude_beyond_e(&sdk, go_canon) {
                out.allow(Difference::GoDropsMagnitudeBeyondE);
            } else {
                out.fail(format!(
                    "json {json:?}: SDK {:?}, Go {go_canon:?}",
                    q.as_str()
                ));
            }
        }
        (Err(_), false) => {}
        (Err(e), true) => {
            let message = e.to_string();
            if is_number
                && !number_text
                && (message.contains("write the quantity as a string")
                    || message.contains("out of range"))
            {
                out.allow(Difference::JsonNumberThroughF64);
            } else if message.contains("expected a number") && go_canon == "0" {
                out.allow(Difference::GoAcceptsNoDigits);
            } else if message.contains("is out of range") {
                out.allow(Difference::ExponentOutsideI32);
            } else {
                out.fail(format!(
                    "json {json:?}: SDK error ({message}), Go {go_canon:?}"
                ));
            }
        }
        (Ok(q), false) => {
            if json.contains('\\') {
                out.allow(Difference::GoKeepsJsonEscapes);
            } else {
                out.fail(format!(
                    "json {json:?}: SDK {:?}, Go error ({})",
                    q.as_str(),
                    go.err
                ));
            }
        }
    }
}

/// `(seconds, nanoseconds, JSON)` as Go reports them: Unix seconds floored, nanoseconds in
/// `0..1e9`.
fn rust_time<T: Serialize + for<'de> Deserialize<'de>>(
    s: &str,
    timestamp: impl Fn(&T) -> jiff::Timestamp,
) -> Result<(i64, i64, String), String> {
    let value: T = serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| e.to_string())?;
    let nanos = timestamp(&value).as_nanosecond();
    let sec = nanos.div_euclid(1_000_000_000) as i64;
    let nsec = nanos.rem_euclid(1_000_000_000) as i64;
    Ok((sec, nsec, serde_json::to_string(&value).unwrap()))
}

fn check_time(s: &str, micro: bool, go: &Answer, go_time: &Answer, out: &mut Outcome) {
    let rust = if micro {
        rust_time::<MicroTime>(s, |m| m.timestamp())
    } else {
        rust_time::<Time>(s, |t| t.timestamp())
    };
    let what = if micro { "MicroTime" } else { "Time" };
    match (&rust, go.ok) {
        (Ok((sec, nsec, json)), true) => {
            if (Some(*sec), Some(*nsec)) != (go.sec, go.nsec) {
                out.fail(format!(
                    "{what} {s:?}: SDK {sec}.{nsec:09}, Go {:?}.{:?}",
                    go.sec, go.nsec
                ));
            } else if Some(json) != go.out.as_ref() {
                let go_out = go.out.as_deref().unwrap_or_default();
                if go_out == "null" && (json.starts_with("\"0001-01-01T00:00:00")) {
                    out.allow(Difference::GoZeroTimeIsNull);
                } else if go_out.starts_with("\"-")
                    && json.starts_with("\"-00")
                    && json[4..] == go_out[2..]
                {
                    out.allow(Difference::NegativeYearSpelling);
                } else {
                    out.fail(format!("{what} {s:?}: SDK writes {json}, Go {go_out}"));
                }
            }
        }
        (Err(_), false) => {}
        (Err(e), true) => {
            let beyond = go.sec.is_some_and(|sec| {
                !(jiff::Timestamp::MIN.as_second()..=jiff::Timestamp::MAX.as_second())
                    .contains(&sec)
            });
            if e.contains("supported range") && beyond {
                out.allow(Difference::BeyondTimestampRange);
            } else {
                out.fail(format!("{what} {s:?}: SDK error ({e}), Go {:?}", go.out));
            }
        }
        (Ok((sec, nsec, json)), false) => {
            if s.starts_with(['+', '-'])
                && s.split('-')
                    .nth(1)
                    .is_some_and(|y| y.len() == 6 || s.starts_with('+'))
            {
                out.allow(Difference::ExpandedYear);
            } else if micro
                && go_time.ok
                && (go_time.sec, go_time.nsec) == (Some(*sec), Some(*nsec))
            {
                out.allow(Difference::MicroTimeAnyPrecision);
            } else {
                out.fail(format!("{what} {s:?}: SDK {json}, Go error ({})", go.err));
            }
        }
    }
}

#[test]
fn sdk_agrees_with_go_apimachinery() {
    let Some(binary) = build_oracle() else {
        eprintln!(
            "go-differential: SKIPPED: `go` is not on PATH, so the Go reference cannot be built \
             (install Go 1.26+; CI has it)"
        );
        return;
    };
    let started = Instant::now();
    let seed = std::env::var("K8S_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(13);
    let scale = std::env::var("K8S_DIFF_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (cases, sdk_only) = generate(seed, scale);

    let mut requests = Vec::with_capacity(cases.len() * 2);
    for case in &cases {
        let line = |op, a, b| serde_json::to_string(&Request { op, a, b }).unwrap();
        match case {
            Case::Quantity { a, b } => requests.push(line("q", a, b.as_deref())),
            Case::QuantityJson(json) => requests.push(line("qj", json, None)),
            Case::Timestamp(s) => {
                requests.push(line("t", s, None));
                requests.push(line("mt", s, None));
            }
        }
    }
    let request_count = requests.len();
    if let Ok(path) = std::env::var("K8S_DIFF_DUMP") {
        // The oracle's input, to replay by hand: `target/tmp/go-oracle/k8s-oracle < FILE`.
        std::fs::write(&path, requests.join("\n") + "\n").unwrap();
    }
    let answers = run_oracle(&binary, requests);

    let number_text = json_reads_number_text();
    let mut outcome = Outcome {
        disagreements: Vec::new(),
        documented: BTreeMap::new(),
    };
    let mut answers = answers.iter();
    for case in &cases {
        match case {
            Case::Quantity { a, b } => {
                check_quantity(a, b.as_deref(), answers.next().unwrap(), &mut outcome)
            }
            Case::QuantityJson(json) => {
                check_quantity_json(json, answers.next().unwrap(), number_text, &mut outcome)
            }
            Case::Timestamp(s) => {
                let go_time = answers.next().unwrap();
                let go_micro = answers.next().unwrap();
                check_time(s, false, go_time, go_time, &mut outcome);
                check_time(s, true, go_micro, go_time, &mut outcome);
            }
        }
    }

    eprintln!(
        "go-differential: {} inputs ({request_count} oracle requests, seed {seed}) in {:.1} s; \
         serde_json reads number text: {number_text}; {sdk_only} more checked on the SDK side \
         only (Go's inf.Dec does not finish on them)",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    for (difference, count) in &outcome.documented {
        eprintln!("go-differential:   documented difference {difference:?}: {count}");
    }
    assert!(cases.len() >= 100_000, "at least 100,000 inputs");
    if !outcome.disagreements.is_empty() {
        let shown: Vec<&String> = outcome.disagreements.iter().take(40).collect();
        panic!(
            "{} undocumented disagreements with Go, e.g.:\n{}",
            outcome.disagreements.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
