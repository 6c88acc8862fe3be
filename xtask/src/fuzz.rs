//! `cargo xtask fuzz TARGET|all [--time N] [--seed S]`: longer runs of the stable fuzz harness of
//! the `fuzz/` crate (`k8s-sdk-fuzz`).
//!
//! It runs `cargo test --release -p k8s-sdk-fuzz --test fuzz_targets` for the chosen targets
//! with `K8S_FUZZ_SECONDS=N` (default 60 per target), an iteration budget that does not end the
//! run first, and `K8S_FUZZ_SEED` when `--seed` is given. The target names are read from the
//! fuzz crate's `TARGETS` table (`fuzz/src/lib.rs`), so a new target needs no change here.
//! Inputs that fail are saved by the harness under `<target dir>/fuzz-failures/<target>/`; the
//! command prints that directory and the files a run added to it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::spec_fetch::workspace_root;

/// Seconds per target when `--time` is not given.
pub const DEFAULT_SECONDS: u64 = 60;

const USAGE: &str = "usage: cargo xtask fuzz TARGET|all [--time SECONDS] [--seed N]";

/// What `cargo xtask fuzz` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzArgs {
    /// The targets to run, in the order of the fuzz crate's table.
    pub targets: Vec<String>,
    /// Seconds of mutated inputs per target.
    pub seconds: u64,
    /// `K8S_FUZZ_SEED`, if given.
    pub seed: Option<u64>,
}

/// The target names of the fuzz crate's `TARGETS` table: every `name: "..."` of its source.
pub fn target_names(lib_rs: &str) -> Vec<String> {
    lib_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name: \""))
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Parses the arguments after `fuzz`; `known` are the valid target names.
pub fn parse_args(args: &[String], known: &[String]) -> Result<FuzzArgs, String> {
    let mut target: Option<&str> = None;
    let mut seconds = DEFAULT_SECONDS;
    let mut seed = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = it
                .next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
            v.parse::<u64>()
                .map_err(|_| format!("{name} needs a whole number, not {v:?}\n{USAGE}"))
        };
        match a.as_str() {
            "--time" => {
                seconds = number("--time")?;
                if seconds == 0 {
                    return Err(format!("--time must be at least 1 second\n{USAGE}"));
                }
            }
            "--seed" => seed = Some(number("--seed")?),
            flag if flag.starts_with('-') => {
                return Err(format!("unknown argument {flag:?}\n{USAGE}"));
            }
            name => {
                if let Some(first) = target {
                    return Err(format!(
                        "one target at a time ({first:?} and {name:?}); use `all` for every target\n{USAGE}"
                    ));
                }
                target = Some(name);
            }
        }
    }
    let Some(target) = target else {
        return Err(format!(
            "which target? one of: all, {}\n{USAGE}",
            known.join(", ")
        ));
    };
    let targets = if target == "all" {
        known.to_vec()
    } else if known.iter().any(|k| k == target) {
        vec![target.to_owned()]
    } else {
        return Err(format!(
            "unknown fuzz target {target:?}; the targets are: all, {}",
            known.join(", ")
        ));
    };
    Ok(FuzzArgs {
        targets,
        seconds,
        seed,
    })
}

fn files_in(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// Entry point of `cargo xtask fuzz ...`.
pub fn run(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    let lib = root.join("fuzz/src/lib.rs");
    let source =
        std::fs::read_to_string(&lib).map_err(|e| format!("cannot read {}: {e}", lib.display()))?;
    let known = target_names(&source);
    if known.is_empty() {
        return Err(format!("no fuzz targets found in {}", lib.display()));
    }
    let a = parse_args(args, &known)?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join("target"));
    let failures = target_dir.join("fuzz-failures");
    let before: Vec<BTreeSet<PathBuf>> = a
        .targets
        .iter()
        .map(|t| files_in(&failures.join(t)))
        .collect();
    println!(
        "fuzzing {} for {} s each (release build); failing inputs are saved under {}/<target>/",
        a.targets.join(", "),
        a.seconds,
        failures.display()
    );
    let mut cmd = crate::cargo();
    cmd.current_dir(&root)
        .args([
            "test",
            "--release",
            "-p",
            "k8s-sdk-fuzz",
            "--test",
            "fuzz_targets",
            "--",
            "--exact",
            "--nocapture",
        ])
        .args(&a.targets)
        .env("K8S_FUZZ_SECONDS", a.seconds.to_string())
        // Time is the budget of a long run, not the default iteration cap.
        .env("K8S_FUZZ_ITERATIONS", u64::MAX.to_string());
    if let Some(seed) = a.seed {
        cmd.env("K8S_FUZZ_SEED", seed.to_string());
    }
    let result = crate::run(&mut cmd);
    let mut found = Vec::new();
    for (t, old) in a.targets.iter().zip(&before) {
        found.extend(files_in(&failures.join(t)).difference(old).cloned());
    }
    if found.is_empty() {
        println!("no new failing inputs in {}", failures.display());
    } else {
        println!("failing inputs saved:");
        for f in &found {
            println!("  {}", f.display());
        }
        println!(
            "fix the bug, then add each input to fuzz/corpus/<target>/ as `regression-<what>`"
        );
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn targets_are_read_from_the_fuzz_crate() {
        let src = std::fs::read_to_string(workspace_root().join("fuzz/src/lib.rs")).unwrap();
        let names = target_names(&src);
        assert!(names.len() >= 13, "{names:?}");
        for t in ["quantity", "model_text", "watch_event", "kubeconfig"] {
            assert!(names.iter().any(|n| n == t), "{t} missing from {names:?}");
        }
        // Each has its corpus directory.
        for n in &names {
            assert!(workspace_root().join("fuzz/corpus").join(n).is_dir(), "{n}");
        }
    }

    #[test]
    fn arguments() {
        let known = strings(&["quantity", "time"]);
        let p = |a: &[&str]| parse_args(&strings(a), &known);
        assert_eq!(
            p(&["quantity"]).unwrap(),
            FuzzArgs {
                targets: strings(&["quantity"]),
                seconds: DEFAULT_SECONDS,
                seed: None
            }
        );
        assert_eq!(
            p(&["all", "--time", "5", "--seed", "7"]).unwrap(),
            FuzzArgs {
                targets: known.clone(),
                seconds: 5,
                seed: Some(7)
            }
        );
        assert_eq!(p(&["--time", "9", "time"]).unwrap().seconds, 9);
        let err = p(&["quantitty"]).unwrap_err();
        assert!(
            err.contains("unknown fuzz target \"quantitty\"") && err.contains("quantity, time"),
            "{err}"
        );
        assert!(p(&[]).unwrap_err().contains("which target?"));
        assert!(
            p(&["time", "--time"])
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            p(&["time", "--time", "x"])
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            p(&["time", "--time", "0"])
                .unwrap_err()
                .contains("at least 1")
        );
        assert!(p(&["time", "quantity"]).unwrap_err().contains("one target"));
        assert!(
            p(&["time", "--jobs", "2"])
                .unwrap_err()
                .contains("unknown argument")
        );
    }
}
