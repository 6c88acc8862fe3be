//! Fuzz targets of the k8s-sdk decoders and a small, dependency-free fuzzing loop for stable Rust.
//!
//! Every target is a plain `fn(&[u8])` in [`targets`] that must never panic, whatever the bytes;
//! several also check invariants (a canonical quantity reads back as the same value, a formatted
//! `Time` reads back, a committed model text reads back as the same model) and panic when one
//! breaks. [`TARGETS`] lists them with a dictionary of tokens for the mutator.
//!
//! [`run`] executes one target over its committed seed corpus (`fuzz/corpus/<target>/`) and then
//! over inputs mutated from the seeds by a PRNG with a fixed seed, within a [`Budget`] of time
//! and iterations. `cargo test -p k8s-sdk-fuzz` runs every target this way (one test per
//! target); a panic, or an input that takes longer than [`SLOW_INPUT`], fails the test, and the
//! input is written to `target/fuzz-failures/<target>/` to become a regression seed.
//!
//! Budget: `K8S_FUZZ_SECONDS` (seconds per target, default 6) and `K8S_FUZZ_ITERATIONS`
//! (mutated inputs per target, default 2,000,000, whichever ends first); `K8S_FUZZ_SEED` (default
//! 13) changes the mutation sequence.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod targets;

/// A fuzz target: a name (its corpus directory), the function, and tokens the mutator inserts.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The name, also the directory of its seed corpus under `fuzz/corpus/`.
    pub name: &'static str,
    /// Runs one input; panics only on a bug.
    pub run: fn(&[u8]),
    /// Tokens of the input language (suffixes, separators, keys) for the mutator.
    pub dictionary: &'static [&'static str],
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "1.5",
    "18446744073709551616",
    "\"\"",
];

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "quantity",
        run: targets::quantity,
        dictionary: &[
            "Ki",
            "Mi",
            "Gi",
            "Ti",
            "Pi",
            "Ei",
            "n",
            "u",
            "m",
            "k",
            "M",
            "G",
            "T",
            "P",
            "E",
            "e",
            "E-",
            "e+",
            ".",
            "-",
            "+",
            "0",
            "9",
            "2147483647",
            "2147483648",
            "\"",
            " ",
        ],
    },
    Target {
        name: "time",
        run: targets::time,
        dictionary: &[
            "T",
            "Z",
            "t",
            "z",
            ":",
            "-",
            "+",
            ".",
            ",",
            "00",
            "59",
            "60",
            "24:00",
            "9999",
            "0000",
            "-000001",
            "+00:00",
            "12-31",
            "02-29",
            "\"",
            "123456789",
        ],
    },
    Target {
        name: "micro_time",
        run: targets::micro_time,
        dictionary: &[
            "T", "Z", ":", "-", "+", ".", ",", "000000", "999999", "60", "9999", "0000", "+24:00",
            "\"",
        ],
    },
    Target {
        name: "int_or_string",
        run: targets::int_or_string,
        dictionary: &[
            "%",
            "-",
            "2147483647",
            "2147483648",
            "-2147483648",
            "1.0",
            "\"",
            "100%",
            "1e3",
        ],
    },
    Target {
        name: "byte_string",
        run: targets::byte_string,
        dictionary: &[
            "=", "==", "+", "/", "\\n", "\\r", "A", "_", "-", "\"", "null",
        ],
    },
    Target {
        name: "list",
        run: targets::list,
        dictionary: JSON_TOKENS,
    },
    Target {
        name: "status",
        run: targets::status,
        dictionary: JSON_TOKENS,
    },
    Target {
        name: "watch_event",
        run: targets::watch_event,
        dictionary: &[
            "\"type\"",
            "\"object\"",
            "\"ADDED\"",
            "\"MODIFIED\"",
            "\"DELETED\"",
            "\"BOOKMARK\"",
            "\"ERROR\"",
            "{",
            "}",
            ":",
            ",",
            "null",
            "\\",
        ],
    },
    Target {
        name: "watch_lines",
        run: targets::watch_lines,
        dictionary: &["\n", "\r\n", " ", "\t", "{", "}", "\"type\":\"ADDED\""],
    },
    Target {
        name: "kubeconfig",
        run: targets::kubeconfig,
        dictionary: &[
            "\n",
            "  ",
            "- ",
            ": ",
            "clusters",
            "contexts",
            "users",
            "current-context",
            "server",
            "https://",
            "user:pass@",
            ":99999",
            "[::1]",
            "token",
            "exec",
            "command",
            "client-certificate-data",
            "certificate-authority",
            "insecure-skip-tls-verify",
            "proxy-url",
            "namespace",
            "&a",
            "*a",
            "!!binary",
            "~",
            "'",
            "\"",
        ],
    },
    Target {
        name: "protobuf",
        run: targets::protobuf,
        dictionary: &[
            "k8s\0",
            "\x0a\x00",
            "\x12\x00",
            "\x1a\x00\x22\x00",
            "\x0b",
            "\x0d\x00\x00\x00\x00",
            "\x00\x00\x00\x10",
            "\x0a\x06Status",
            "\x0a\x05ADDED",
        ],
    },
    Target {
        name: "yaml_stream",
        run: targets::yaml_stream,
        dictionary: &[
            "\n",
            "---\n",
            "--- #c\n",
            "...\n",
            "  ",
            "- ",
            ": ",
            "# ",
            "&a ",
            "*a",
            "<<: ",
            "|\n",
            ">-\n",
            "{",
            "}",
            "[",
            "]",
            "'",
            "\"",
            "~",
            "null",
            "!!binary ",
            "\r\n",
            "\t",
            "\u{feff}",
        ],
    },
    Target {
        name: "in_cluster",
        run: targets::in_cluster,
        dictionary: &[
            "\0", "10.0.0.1", "::1", "fd00::1", "443", "0", "65536", "/", ":", "[", "]", "-----",
            "\n", "default",
        ],
    },
    Target {
        name: "codegen_v2",
        run: targets::codegen_v2,
        dictionary: &[
            "\"definitions\"",
            "\"paths\"",
            "\"$ref\"",
            "\"#/definitions/",
            "\"type\"",
            "\"object\"",
            "\"array\"",
            "\"items\"",
            "\"properties\"",
            "\"required\"",
            "\"x-kubernetes-group-version-kind\"",
            "\"parameters\"",
            "\"responses\"",
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
        ],
    },
    Target {
        name: "codegen_v3",
        run: targets::codegen_v3,
        dictionary: &[
            "\"components\"",
            "\"schemas\"",
            "\"paths\"",
            "\"$ref\"",
            "\"#/components/schemas/",
            "\"allOf\"",
            "\"default\"",
            "\"type\"",
            "\"object\"",
            "\"properties\"",
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
        ],
    },
    Target {
        name: "model_text",
        run: targets::model_text,
        dictionary: &[
            "\n",
            "  ",
            "def ",
            "op ",
            "field ",
            "param ",
            "gvk ",
            "response ",
            "default ",
            "x ",
            "struct",
            "ref:",
            "[",
            "]",
            "{",
            "}",
            "!",
            "string",
            "i32",
            "map:",
            "GET ",
            "version ",
        ],
    },
    Target {
        name: "spdy_frames",
        run: targets::spdy_frames,
        // ASCII only (tokens are text): version 3 and the control frame types, small lengths.
        dictionary: &[
            "\x00\x03\x00\x01",
            "\x00\x03\x00\x02",
            "\x00\x03\x00\x06",
            "\x00\x03\x00\x09",
            "\x00\x00\x00\x01",
            "\x00\x00\x00\x08",
            "\x01",
            "\x7f\x7f\x7f",
            "streamtype",
            "port",
            "requestid",
        ],
    },
];

/// An input that takes longer than this is reported as a failure (a hang or a blow-up).
pub const SLOW_INPUT: Duration = Duration::from_secs(2);

/// How long one target runs.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Time for the mutated inputs (the seeds always all run).
    pub time: Duration,
    /// Mutated inputs at most.
    pub iterations: u64,
    /// Seed of the mutation PRNG.
    pub seed: u64,
}

impl Budget {
    /// `K8S_FUZZ_SECONDS` (default 6), `K8S_FUZZ_ITERATIONS` (default 2,000,000),
    /// `K8S_FUZZ_SEED` (default 13).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Budget {
            time: Duration::from_secs(var("K8S_FUZZ_SECONDS").unwrap_or(6)),
            iterations: var("K8S_FUZZ_ITERATIONS").unwrap_or(2_000_000),
            seed: var("K8S_FUZZ_SEED").unwrap_or(13),
        }
    }
}

/// An input on which a target panicked or was too slow.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The input.
    pub input: Vec<u8>,
    /// The panic message, or how long it took.
    pub message: String,
    /// Where the input was written, if it could be.
    pub saved: Option<PathBuf>,
}

/// What one run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Seed files run.
    pub seeds: usize,
    /// Mutated inputs run.
    pub iterations: u64,
    /// Inputs that failed (at most a few: the run stops early).
    pub failures: Vec<Failure>,
}

/// The seed corpus directory of a target.
pub fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name)
}

/// Reads a target's seed corpus, in file-name order.
pub fn read_corpus(name: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir(name))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Runs `target` over its corpus, then over mutated inputs until the budget is spent or a few
/// inputs have failed.
pub fn run(target: &Target, budget: &Budget) -> Report {
    let seeds = read_corpus(target.name);
    let mut report = Report {
        seeds: seeds.len(),
        ..Report::default()
    };
    for seed in &seeds {
        execute(target, seed, &mut report);
    }
    let corpus: Vec<Vec<u8>> = if seeds.is_empty() {
        vec![Vec::new()]
    } else {
        seeds
    };
    let mut rng = Rng(budget.seed ^ fnv1a(target.name.as_bytes()));
    let started = Instant::now();
    while report.iterations < budget.iterations
        && started.elapsed() < budget.time
        && report.failures.len() < 3
    {
        let input = mutate(&mut rng, &corpus, target.dictionary);
        execute(target, &input, &mut report);
        report.iterations += 1;
    }
    report
}

fn execute(target: &Target, input: &[u8], report: &mut Report) {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let message = match outcome {
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".to_owned()),
        Ok(()) if started.elapsed() > SLOW_INPUT => {
            format!("slow input: {:.1} s", started.elapsed().as_secs_f64())
        }
        Ok(()) => return,
    };
    let saved = save_failure(target.name, input);
    report.failures.push(Failure {
        input: input.to_vec(),
        message,
        saved,
    });
}

fn save_failure(name: &str, input: &[u8]) -> Option<PathBuf> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target_dir.join("fuzz-failures").join(name);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{:016x}", fnv1a(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Longest input the mutator builds.
const MAX_INPUT: usize = 1 << 16;

const INTERESTING_BYTES: &[u8] = b"\0\x01\x7f\x80\xff\"\\\n\r\t {}[]:,.-+0159eEZ%=/";

/// A seed with one to eight stacked mutations, libFuzzer style.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>], dictionary: &[&str]) -> Vec<u8> {
    let mut data = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let len = data.len();
        match rng.below(11) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 => {
                let at = rng.below(len + 1);
                data.insert(at, rng.next() as u8);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                data.drain(at..at + n);
            }
            4 | 5 if !dictionary.is_empty() => {
                let token = dictionary[rng.below(dictionary.len())].as_bytes();
                let at = rng.below(len + 1);
                data.splice(at..at, token.iter().copied());
            }
            6 if len > 0 && !dictionary.is_empty() => {
                let token = dictionary[rng.below(dictionary.len())].as_bytes();
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(8));
                data.splice(at..at + n, token.iter().copied());
            }
            7 if len > 0 => {
                // Duplicate a chunk, sometimes many times (long inputs).
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let chunk = data[at..at + n].to_vec();
                let times = if rng.below(8) == 0 {
                    1 + rng.below(200)
                } else {
                    1
                };
                for _ in 0..times {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            8 => {
                // Splice with another seed.
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            9 if len > 0 => {
                data.truncate(rng.below(len));
            }
            _ => {
                // A run of digits (numbers, exponents, years).
                let at = rng.below(len + 1);
                let digits: Vec<u8> = (0..1 + rng.below(24))
                    .map(|_| b'0' + rng.below(10) as u8)
                    .collect();
                data.splice(at..at, digits);
            }
        }
        data.truncate(MAX_INPUT);
    }
    data
}
