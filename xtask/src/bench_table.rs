//! `cargo xtask bench-table`: the performance table of issue 18 from one run.
//!
//! Runs the criterion benches that the table needs (`serde`, `protobuf`, `client`, one `cargo
//! bench` after the other), then `bench-build` (build time and binary size), and writes the
//! table between `<!-- BEGIN bench-table -->` and `<!-- END bench-table -->` in BENCHMARKS.md.
//! Figures are read from criterion's own output (`<target>/criterion/<group>/<id>/new/
//! estimates.json`, the mean), the wire sizes from the `bytes:` line the protobuf bench prints,
//! and the build figures from the `target/bench-build.json` that `bench-build` writes. With
//! `--no-run` / `--no-build` the files of an earlier run are read instead; the table says when
//! its figures were measured (the estimates' modification times), so a table mixing runs shows.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use serde_json::Value;

const BEGIN: &str = "<!-- BEGIN bench-table -->";
const END: &str = "<!-- END bench-table -->";
const BENCHES: [&str; 3] = ["serde", "protobuf", "client"];
const STDOUT_FILE: &str = "bench-table-stdout.txt";

/// Runs the command with the arguments after its name.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut bench = true;
    let mut build = true;
    let mut write = true;
    for a in args {
        match a.as_str() {
            "--no-run" => bench = false,
            "--no-build" => build = false,
            "--no-write" => write = false,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: cargo xtask bench-table [--no-run] [--no-build] [--no-write]"
                ));
            }
        }
    }
    let root = crate::spec_fetch::workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() { root.join(p) } else { p })
        .unwrap_or_else(|| root.join("target"));
    let criterion = target.join("criterion");
    let load_before = load_average();
    if bench {
        run_benches(&root, &criterion)?;
    }
    if build {
        crate::bench_build::run(&["--only".into(), "core,kube".into()])?;
    }
    let load_after = load_average();
    let stdout = std::fs::read_to_string(criterion.join(STDOUT_FILE)).map_err(|e| {
        format!(
            "cannot read {}: {e} (run without --no-run first)",
            criterion.join(STDOUT_FILE).display()
        )
    })?;
    let est = Estimates::new(&criterion);
    let build_json = root.join("target/bench-build.json");
    let builds = read_json(&build_json)?;
    let table = render(&est, &stdout, &builds, &build_json)?;
    let table = format!(
        "{table}\nLoad average (1 min) when the run started: {load_before}; when it ended: {load_after}.\n"
    );
    println!("{table}");
    if write {
        write_section(&root.join("BENCHMARKS.md"), &table)?;
        eprintln!("wrote the bench-table section of BENCHMARKS.md");
    }
    Ok(())
}

fn run_benches(root: &Path, criterion: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // One bench at a time, in the table's order, so a bench that fails late (the client's,
    // which needs a real apiserver) leaves the others' figures written.
    std::fs::create_dir_all(criterion)
        .map_err(|e| format!("cannot create {}: {e}", criterion.display()))?;
    let mut captured = String::new();
    for b in BENCHES {
        eprintln!("bench-table: cargo bench -p k8s-sdk-benches --bench {b}");
        let mut child = Command::new(&cargo)
            .current_dir(root)
            .args(["bench", "-p", "k8s-sdk-benches", "--bench", b])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run cargo bench: {e}"))?;
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines() {
                let line = line.map_err(|e| format!("cannot read cargo bench's output: {e}"))?;
                println!("{line}");
                captured.push_str(&line);
                captured.push('\n');
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("cargo bench --bench {b} did not finish: {e}"))?;
        write_atomic(&criterion.join(STDOUT_FILE), &captured)?;
        if !status.success() {
            return Err(format!("cargo bench --bench {b} failed: {status}"));
        }
    }
    Ok(())
}

/// Mean times of criterion's last run, and the span of their modification times.
struct Estimates {
    dir: PathBuf,
    times: std::cell::RefCell<Vec<SystemTime>>,
}

impl Estimates {
    fn new(dir: &Path) -> Self {
        Estimates {
            dir: dir.to_owned(),
            times: Default::default(),
        }
    }

    /// The mean time in nanoseconds of `group`/`id` (criterion's directory names: `/` → `_`).
    fn mean_ns(&self, group: &str, id: &str) -> Result<f64, String> {
        let path = self
            .dir
            .join(safe(group))
            .join(safe(id))
            .join("new/estimates.json");
        let v = read_json(&path)?;
        if let Ok(m) = std::fs::metadata(&path).and_then(|m| m.modified()) {
            self.times.borrow_mut().push(m);
        }
        v.pointer("/mean/point_estimate")
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("{}: no /mean/point_estimate", path.display()))
    }

    fn span(&self) -> String {
        let t = self.times.borrow();
        match (t.iter().min(), t.iter().max()) {
            (Some(a), Some(b)) => format!("{} – {}", utc(*a), utc(*b)),
            _ => "unknown".into(),
        }
    }
}

fn safe(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '?' | '"' | '/' | '\\' | '*' | '<' | '>' | ':' | '|' | '^' => '_',
            c => c,
        })
        .collect()
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// One row: what is compared, our figure, theirs, the ratio (bigger = better for us unless
/// `lower_is_better`) and the target.
#[derive(Debug)]
struct Line {
    measure: &'static str,
    ours: String,
    theirs: String,
    ratio: f64,
    /// `None`: a comparison without a target of its own (k8s-pb, the no-trim decodes).
    target: Option<f64>,
    lower_is_better: bool,
}

fn ms(ns: f64) -> String {
    format!("{:.1} ms", ns / 1e6)
}

/// A speed row: `ours`/`theirs` are criterion (group, id) pairs; ratio = their time / ours.
fn speed(
    est: &Estimates,
    measure: &'static str,
    ours: (&str, &str),
    theirs: (&str, &str),
    target: Option<f64>,
) -> Result<Line, String> {
    let o = est.mean_ns(ours.0, ours.1)?;
    let t = est.mean_ns(theirs.0, theirs.1)?;
    Ok(Line {
        measure,
        ours: format!("{} (`{}/{}`)", ms(o), ours.0, ours.1),
        theirs: format!("{} (`{}/{}`)", ms(t), theirs.0, theirs.1),
        ratio: t / o,
        target,
        lower_is_better: false,
    })
}

fn render(
    est: &Estimates,
    stdout: &str,
    builds: &Value,
    build_json: &Path,
) -> Result<String, String> {
    const PB: &str = "protobuf_podlist_5000";
    // The decodes again after `mallopt(M_TRIM_THRESHOLD)` (see benches/benches/protobuf.rs).
    const PB_NO_TRIM: &str = "protobuf_podlist_5000_no_trim";
    const LIST: &str = "client_pb_list_1000_pods";
    const WATCH: &str = "client_pb_watch_10000_events";
    let mut lines = vec![
        speed(
            est,
            "decode the 5,000-Pod list: protobuf vs k8s-openapi decoding it as JSON",
            (PB, "decode/k8s-sdk-protobuf"),
            (PB, "decode/k8s-openapi-json"),
            Some(3.0),
        )?,
        speed(
            est,
            "decode the 5,000-Pod list: protobuf vs k8s-pb (prost types) on the same bytes",
            (PB, "decode/k8s-sdk-protobuf"),
            (PB, "decode/k8s-pb-protobuf"),
            None,
        )?,
        speed(
            est,
            "the same decode with glibc's heap trimming off (every decoder alike): protobuf vs k8s-openapi JSON",
            (PB_NO_TRIM, "decode/k8s-sdk-protobuf"),
            (PB_NO_TRIM, "decode/k8s-openapi-json"),
            None,
        )?,
        speed(
            est,
            "the same decode with glibc's heap trimming off: protobuf vs k8s-pb",
            (PB_NO_TRIM, "decode/k8s-sdk-protobuf"),
            (PB_NO_TRIM, "decode/k8s-pb-protobuf"),
            None,
        )?,
        wire_bytes(stdout)?,
        speed(
            est,
            "client: list 1,000 Pods, SDK with protobuf vs kube 5 (real kube-apiserver)",
            (LIST, "k8s-client-protobuf"),
            (LIST, "kube"),
            Some(2.0),
        )?,
        speed(
            est,
            "client: 10,000 watch events, SDK in JSON vs kube 5 (real kube-apiserver)",
            (WATCH, "k8s-client-json"),
            (WATCH, "kube"),
            Some(1.0),
        )?,
        speed(
            est,
            "client: 10,000 watch events, SDK with protobuf vs kube 5 (real kube-apiserver)",
            (WATCH, "k8s-client-protobuf"),
            (WATCH, "kube"),
            Some(2.0),
        )?,
        speed(
            est,
            "decode JSON (5,000-Pod list) vs k8s-openapi",
            ("podlist_5000", "decode/k8s-sdk"),
            ("podlist_5000", "decode/k8s-openapi"),
            Some(1.25),
        )?,
    ];
    lines.extend(build_lines(builds, build_json)?);
    let mut out = format!(
        "Criterion figures measured {} (UTC, modification times of the estimates); build figures \
         from `{}` ({}).\n\n",
        est.span(),
        "target/bench-build.json",
        builds
            .get("date")
            .and_then(Value::as_str)
            .unwrap_or("undated")
    );
    out.push_str(
        "| measure | k8s-sdk | comparison | ratio | target | status |\n|---|---|---|---|---|---|\n",
    );
    for l in &lines {
        let sign = if l.lower_is_better { "≤" } else { "≥" };
        let (target, status) = match l.target {
            Some(t) => {
                let met = if l.lower_is_better {
                    l.ratio <= t
                } else {
                    l.ratio >= t
                };
                let status = if met { "met" } else { "**not met**" };
                (format!("{sign} {t}×"), status)
            }
            None => ("—".to_owned(), "(comparison)"),
        };
        out.push_str(&format!(
            "| {} | {} | {} | **{:.2}×** | {target} | {status} |\n",
            l.measure, l.ours, l.theirs, l.ratio,
        ));
    }
    Ok(out)
}

/// The protobuf bench prints `bytes: JSON in N (…); protobuf M (…)`.
fn wire_bytes(stdout: &str) -> Result<Line, String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("bytes: JSON in "))
        .ok_or("the protobuf bench printed no `bytes: JSON in …` line")?;
    let json = number_after(line, "bytes: JSON in ")?;
    let pb = number_after(line, "protobuf ")?;
    Ok(Line {
        measure: "bytes on the wire: the 5,000-Pod list in protobuf vs JSON",
        ours: format!("{pb} B"),
        theirs: format!("{json} B"),
        ratio: pb as f64 / json as f64,
        target: Some(0.5),
        lower_is_better: true,
    })
}

fn number_after(line: &str, prefix: &str) -> Result<u64, String> {
    let rest = line
        .find(prefix)
        .map(|i| &line[i + prefix.len()..])
        .ok_or_else(|| format!("no {prefix:?} in {line:?}"))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .map_err(|_| format!("no number after {prefix:?} in {line:?}"))
}

/// The "list pods" rows from `bench-build`'s JSON: core only vs kube + k8s-openapi.
fn build_lines(builds: &Value, path: &Path) -> Result<Vec<Line>, String> {
    let field = |variant: &str, key: &str| -> Result<f64, String> {
        builds
            .pointer(&format!("/variants/{variant}/{key}"))
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("{}: no /variants/{variant}/{key}", path.display()))
    };
    let mut lines = Vec::new();
    // Build time as CPU time (user + system of cargo and rustc): on a shared machine the load
    // changes wall time between the two builds; wall time when no CPU time was recorded.
    for (measure, cpu, wall, target) in [
        (
            "\"list pods\" program build, debug, core only (CPU time) vs kube + k8s-openapi",
            "debug_cpu_secs",
            "debug_secs",
            0.6,
        ),
        (
            "\"list pods\" program build, release, core only (CPU time) vs kube + k8s-openapi",
            "release_cpu_secs",
            "release_secs",
            0.6,
        ),
    ] {
        let (o, t) = match (field("core", cpu), field("kube", cpu)) {
            (Ok(o), Ok(t)) => (o, t),
            _ => (field("core", wall)?, field("kube", wall)?),
        };
        let (ow, tw) = (field("core", wall)?, field("kube", wall)?);
        lines.push(Line {
            measure,
            ours: format!("{o:.1} s (wall {ow:.1} s)"),
            theirs: format!("{t:.1} s (wall {tw:.1} s)"),
            ratio: o / t,
            target: Some(target),
            lower_is_better: true,
        });
    }
    let (o, t) = (
        field("core", "binary_bytes")?,
        field("kube", "binary_bytes")?,
    );
    lines.push(Line {
        measure: "release binary of the \"list pods\" program vs kube + k8s-openapi",
        ours: format!("{:.2} MiB", o / 1_048_576.0),
        theirs: format!("{:.2} MiB", t / 1_048_576.0),
        ratio: o / t,
        target: Some(0.5),
        lower_is_better: true,
    });
    Ok(lines)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d %H:%M"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| format!("@{secs}"))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot replace {}: {e}", path.display())
    })
}

fn write_section(path: &Path, table: &str) -> Result<(), String> {
    crate::bench_build::write_between(path, (BEGIN, END), "Issue 18 performance table", table)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn estimate(dir: &Path, group: &str, id: &str, ns: f64) {
        let d = dir.join(safe(group)).join(safe(id)).join("new");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("estimates.json"),
            format!(r#"{{"mean":{{"point_estimate":{ns}}}}}"#),
        )
        .unwrap();
    }

    #[test]
    fn the_table_is_computed_from_criterion_and_build_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path();
        estimate(c, "protobuf_podlist_5000", "decode/k8s-sdk-protobuf", 50e6);
        estimate(c, "protobuf_podlist_5000", "decode/k8s-openapi-json", 200e6);
        estimate(c, "protobuf_podlist_5000", "decode/k8s-pb-protobuf", 75e6);
        estimate(
            c,
            "protobuf_podlist_5000_no_trim",
            "decode/k8s-sdk-protobuf",
            40e6,
        );
        estimate(
            c,
            "protobuf_podlist_5000_no_trim",
            "decode/k8s-openapi-json",
            52e6,
        );
        estimate(
            c,
            "protobuf_podlist_5000_no_trim",
            "decode/k8s-pb-protobuf",
            30e6,
        );
        estimate(c, "client_pb_list_1000_pods", "k8s-client-protobuf", 40e6);
        estimate(c, "client_pb_list_1000_pods", "kube", 60e6);
        estimate(c, "client_pb_watch_10000_events", "k8s-client-json", 1e9);
        estimate(
            c,
            "client_pb_watch_10000_events",
            "k8s-client-protobuf",
            0.5e9,
        );
        estimate(c, "client_pb_watch_10000_events", "kube", 1.1e9);
        estimate(c, "podlist_5000", "decode/k8s-sdk", 100e6);
        estimate(c, "podlist_5000", "decode/k8s-openapi", 110e6);
        let builds: Value = serde_json::json!({"date": "2026-12-02", "variants": {
            "core": {"debug_secs": 30.0, "release_secs": 60.0, "debug_cpu_secs": 45.0,
                     "release_cpu_secs": 100.0, "binary_bytes": 4194304.0},
            "kube": {"debug_secs": 40.0, "release_secs": 90.0, "debug_cpu_secs": 60.0,
                     "release_cpu_secs": 125.0, "binary_bytes": 10485760.0}}});
        let stdout = "x\nbytes: JSON in 1000 (k8s-sdk out 1000, k8s-openapi out 1000); protobuf 480 (0.480x of the JSON in)\n";
        let t = render(&Estimates::new(c), stdout, &builds, Path::new("b.json")).unwrap();
        assert!(t.contains("| **4.00×** | ≥ 3× | met |"), "{t}");
        assert!(t.contains("| **1.50×** | — | (comparison) |"), "{t}");
        assert!(t.contains("| **1.30×** | — | (comparison) |"), "{t}");
        assert!(t.contains("| **0.75×** | — | (comparison) |"), "{t}");
        assert!(
            t.contains("480 B | 1000 B | **0.48×** | ≤ 0.5× | met |"),
            "{t}"
        );
        assert!(t.contains("| **1.50×** | ≥ 2× | **not met** |"), "{t}");
        assert!(t.contains("| **1.10×** | ≥ 1× | met |"), "{t}");
        assert!(t.contains("| **2.20×** | ≥ 2× | met |"), "{t}");
        assert!(t.contains("| **1.10×** | ≥ 1.25× | **not met** |"), "{t}");
        assert!(
            t.contains(
                "| 45.0 s (wall 30.0 s) | 60.0 s (wall 40.0 s) | **0.75×** | ≤ 0.6× | **not met** |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| 4.00 MiB | 10.00 MiB | **0.40×** | ≤ 0.5× | met |"),
            "{t}"
        );
    }

    #[test]
    fn a_missing_figure_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = Estimates::new(dir.path())
            .mean_ns("podlist_5000", "decode/k8s-sdk")
            .unwrap_err();
        assert!(
            e.contains("podlist_5000/decode_k8s-sdk/new/estimates.json"),
            "{e}"
        );
        let e = wire_bytes("no such line").unwrap_err();
        assert!(e.contains("bytes: JSON in"), "{e}");
    }
}
