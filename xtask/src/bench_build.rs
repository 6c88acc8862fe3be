//! `cargo xtask bench-build`: the build cost of a minimal in-cluster "list pods" program, built
//! three ways from a clean target directory each time:
//!
//! 1. `k8s-api` (Kubernetes 1.34, `core` group only) + `k8s-client` without its default features
//!    (`http2`, `ws`: the program needs neither), as path dependencies on this workspace;
//! 2. the same with k8s-client's default features;
//! 3. `k8s-api` (1.34, all groups) + `k8s-client` without default features;
//! 4. kube 5 (`client`, `config`, `rustls-tls`, `ring`; no default features) + k8s-openapi 0.29
//!    (feature `v1_34`) from crates.io.
//!
//! For each: wall time of a debug and of a release build (each from an empty target directory),
//! peak resident memory of the largest compiler process (`/usr/bin/time -v`, "Maximum resident
//! set size", when available), the number of crates compiled, and the release binary's size,
//! as built and stripped (`strip`). Prints a Markdown table and writes it between the
//! `<!-- BEGIN bench-build -->` / `<!-- END bench-build -->` markers of BENCHMARKS.md
//! (atomically; the section is appended when the markers are missing).
//!
//! Options: `--only NAME[,NAME]` (`core`, `core-defaults`, `all-groups`, `kube`), `--no-write` (print only),
//! `--keep` (leave the temporary directory for inspection).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::spec_fetch::workspace_root;

const BEGIN: &str = "<!-- BEGIN bench-build -->";
const END: &str = "<!-- END bench-build -->";

const OURS_MAIN: &str = r#"use k8s_api::v1_34::core::v1::Pod;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = k8s_client::Client::try_from(k8s_client::Config::in_cluster()?)?;
    let pods = client.send(Pod::list(client.namespace())).await?;
    for pod in pods.items {
        println!("{}", pod.metadata.name.unwrap_or_default());
    }
    Ok(())
}
"#;

const KUBE_MAIN: &str = r#"use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = kube::Client::try_from(kube::Config::incluster()?)?;
    let pods: Api<Pod> = Api::default_namespaced(client);
    for pod in pods.list(&ListParams::default()).await? {
        println!("{}", pod.metadata.name.unwrap_or_default());
    }
    Ok(())
}
"#;

struct Variant {
    name: &'static str,
    label: &'static str,
    deps: String,
    main: &'static str,
}

fn variants(root: &Path) -> Vec<Variant> {
    let api = root.join("crates/k8s-api");
    let client = root.join("crates/k8s-client");
    let tokio = r#"tokio = { version = "1", features = ["rt", "macros"] }"#;
    // `client_defaults`: k8s-client's default features (`http2`, `ws`), or none of them (the
    // kube program, too, names only the features it needs).
    let ours = |features: &str, client_defaults: bool| {
        let client_features = if client_defaults {
            ""
        } else {
            ", default-features = false"
        };
        format!(
            "k8s-api = {{ path = {:?}, default-features = false, features = [\"v1_34\", {features}] }}\nk8s-client = {{ path = {:?}{client_features} }}\n{tokio}\n",
            api.display().to_string(),
            client.display().to_string()
        )
    };
    vec![
        Variant {
            name: "core",
            label: "k8s-api (1.34, core only) + k8s-client (no default features)",
            deps: ours("\"core\"", false),
            main: OURS_MAIN,
        },
        Variant {
            name: "core-defaults",
            label: "k8s-api (1.34, core only) + k8s-client (default features: http2, ws)",
            deps: ours("\"core\"", true),
            main: OURS_MAIN,
        },
        Variant {
            name: "all-groups",
            label: "k8s-api (1.34, all groups) + k8s-client (no default features)",
            deps: ours("\"all-groups\"", false),
            main: OURS_MAIN,
        },
        Variant {
            name: "kube",
            label: "kube 5 + k8s-openapi 0.29 (v1_34)",
            deps: format!(
                "kube = {{ version = \"5\", default-features = false, features = [\"client\", \"config\", \"rustls-tls\", \"ring\"] }}\nk8s-openapi = {{ version = \"0.29\", default-features = false, features = [\"std\", \"v1_34\"] }}\n{tokio}\n"
            ),
            main: KUBE_MAIN,
        },
    ]
}

/// One build's figures.
struct Build {
    wall: Duration,
    /// User + system CPU time of cargo and its children (`/usr/bin/time -v`): on a shared,
    /// loaded machine the steadier figure.
    cpu: Option<Duration>,
    max_rss_kib: Option<u64>,
    crates: usize,
}

struct Row {
    name: &'static str,
    label: &'static str,
    debug: Build,
    release: Build,
    binary: u64,
    stripped: Option<u64>,
    versions: String,
}

/// Runs the command with the arguments after its name.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut only: Option<Vec<String>> = None;
    let mut write = true;
    let mut keep = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--only" => {
                let v = it
                    .next()
                    .ok_or("--only needs a value (core,core-defaults,all-groups,kube)")?;
                only = Some(v.split(',').map(str::to_owned).collect());
            }
            "--no-write" => write = false,
            "--keep" => keep = true,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: cargo xtask bench-build [--only core,core-defaults,all-groups,kube] [--no-write] [--keep]"
                ));
            }
        }
    }
    let root = workspace_root();
    let generated = root.join("crates/k8s-api/src/generated/v1_34/mod.rs");
    if !generated.exists() {
        return Err(format!(
            "{} is missing: run `cargo xtask generate --all` first",
            generated.display()
        ));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let time_v = Path::new("/usr/bin/time").exists();
    if !time_v {
        eprintln!("note: /usr/bin/time not found (apt-get install time): no compiler peak memory");
    }
    let tmp = tempfile::Builder::new()
        .prefix("k8s-bench-build-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let load_before = load_average();
    let mut rows = Vec::new();
    for v in variants(&root) {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == v.name))
        {
            continue;
        }
        let dir = tmp.path().join(format!("list-pods-{}", v.name));
        write_project(&dir, &v, &root)?;
        eprintln!("bench-build: {} ({})", v.label, dir.display());
        // Resolve (and download) once, outside the timed builds.
        run_quiet(
            Command::new(&cargo)
                .current_dir(&dir)
                .args(["fetch", "--quiet"]),
        )?;
        let debug = build(&cargo, &dir, false, time_v)?;
        let release = build(&cargo, &dir, true, time_v)?;
        let bin = dir.join("target-release/release/list-pods");
        let binary = file_size(&bin)?;
        let stripped_path = dir.join("list-pods.stripped");
        let stripped = Command::new("strip")
            .arg("-o")
            .arg(&stripped_path)
            .arg(&bin)
            .status()
            .ok()
            .filter(|s| s.success())
            .and_then(|_| file_size(&stripped_path).ok());
        let versions = locked_versions(&dir.join("Cargo.lock"), v.name);
        eprintln!(
            "  debug {:.1?}, release {:.1?}, {} crates, binary {} bytes",
            debug.wall, release.wall, release.crates, binary
        );
        rows.push(Row {
            name: v.name,
            label: v.label,
            debug,
            release,
            binary,
            stripped,
            versions,
        });
    }
    let load = format!("{load_before} before, {} after", load_average());
    let table = render(&rows, &load);
    println!("{table}");
    write_json(&root.join("target/bench-build.json"), &rows)?;
    if keep {
        let kept = tmp.keep();
        eprintln!("kept {}", kept.display());
    }
    if write {
        let path = root.join("BENCHMARKS.md");
        write_section(&path, &table)?;
        eprintln!("wrote the build section of {}", path.display());
    }
    Ok(())
}

/// The figures as JSON for `bench-table` (`/variants/<name>/{debug_secs,release_secs,
/// binary_bytes,stripped_bytes}`), written atomically.
fn write_json(path: &Path, rows: &[Row]) -> Result<(), String> {
    let mut variants = serde_json::Map::new();
    for r in rows {
        variants.insert(
            r.name.to_owned(),
            serde_json::json!({
                "label": r.label,
                "debug_secs": r.debug.wall.as_secs_f64(),
                "release_secs": r.release.wall.as_secs_f64(),
                "debug_cpu_secs": r.debug.cpu.map(|d| d.as_secs_f64()),
                "release_cpu_secs": r.release.cpu.map(|d| d.as_secs_f64()),
                "binary_bytes": r.binary,
                "stripped_bytes": r.stripped,
            }),
        );
    }
    let doc = serde_json::json!({ "date": today(), "variants": variants });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, doc.to_string())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

fn write_project(dir: &Path, v: &Variant, root: &Path) -> Result<(), String> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |e: std::io::Error| format!("cannot write {}: {e}", p.display())
    };
    let src = dir.join("src");
    std::fs::create_dir_all(&src).map_err(io(&src))?;
    let manifest = format!(
        "[package]\nname = \"list-pods\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\n{}\n[workspace]\n",
        v.deps
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(io(dir))?;
    std::fs::write(src.join("main.rs"), v.main).map_err(io(&src))?;
    // Start from the workspace's lock file, so shared dependencies resolve to the versions the
    // workspace is tested with (cargo drops what the program does not use).
    let lock = root.join("Cargo.lock");
    if lock.exists() {
        std::fs::copy(&lock, dir.join("Cargo.lock")).map_err(io(&lock))?;
    }
    Ok(())
}

fn build(cargo: &str, dir: &Path, release: bool, time_v: bool) -> Result<Build, String> {
    let target = dir.join(if release {
        "target-release"
    } else {
        "target-debug"
    });
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .map_err(|e| format!("cannot clean {}: {e}", target.display()))?;
    }
    let mut cmd = if time_v {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(cargo);
        c
    } else {
        Command::new(cargo)
    };
    cmd.current_dir(dir)
        .args(["build", "--offline"])
        .args(release.then_some("--release"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env("CARGO_TERM_COLOR", "never");
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        return Err(format!(
            "build in {} failed ({}):\n{}",
            dir.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    let crates = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Compiling "))
        .count();
    let max_rss_kib = stderr.lines().find_map(|l| {
        l.trim()
            .strip_prefix("Maximum resident set size (kbytes):")
            .and_then(|v| v.trim().parse().ok())
    });
    let seconds = |key: &str| {
        stderr.lines().find_map(|l| {
            l.trim()
                .strip_prefix(key)
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
    };
    let cpu = match (
        seconds("User time (seconds):"),
        seconds("System time (seconds):"),
    ) {
        (Some(u), Some(s)) => Some(Duration::from_secs_f64(u + s)),
        _ => None,
    };
    Ok(Build {
        wall,
        cpu,
        max_rss_kib,
        crates,
    })
}

fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn file_size(p: &Path) -> Result<u64, String> {
    std::fs::metadata(p)
        .map(|m| m.len())
        .map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// `kube 5.0.0, k8s-openapi 0.29.0` from the lock file (for the kube variant), else the
/// workspace crates.
fn locked_versions(lock: &Path, variant: &str) -> String {
    let Ok(text) = std::fs::read_to_string(lock) else {
        return String::new();
    };
    let Ok(v) = text.parse::<toml::Table>() else {
        return String::new();
    };
    let wanted: &[&str] = if variant == "kube" {
        &["kube", "k8s-openapi", "tokio"]
    } else {
        &["k8s-api", "k8s-client", "tokio"]
    };
    let mut out = Vec::new();
    if let Some(pkgs) = v.get("package").and_then(|p| p.as_array()) {
        for w in wanted {
            for p in pkgs {
                if p.get("name").and_then(|n| n.as_str()) == Some(w) {
                    let ver = p.get("version").and_then(|n| n.as_str()).unwrap_or("?");
                    out.push(format!("{w} {ver}"));
                }
            }
        }
    }
    out.join(", ")
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// `wall / CPU`, CPU when known.
fn times(b: &Build) -> String {
    match b.cpu {
        Some(c) => format!("{} / {}", secs(b.wall), secs(c)),
        None => format!("{} / n/a", secs(b.wall)),
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}

fn size(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / (1024.0 * 1024.0))
}

fn render(rows: &[Row], load: &str) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "Measured {} with `cargo xtask bench-build` (rustc: {}; load average (1 min) {load}).\n\n",
        today(),
        rustc_version()
    ));
    t.push_str("| program | debug build (wall / CPU) | release build (wall / CPU) | peak rustc RSS (debug / release) | crates compiled | release binary | stripped |\n|---|---|---|---|---|---|---|\n");
    for r in rows {
        t.push_str(&format!(
            "| {} | {} | {} | {} / {} | {} | {} | {} |\n",
            r.label,
            times(&r.debug),
            times(&r.release),
            mib(r.debug.max_rss_kib),
            mib(r.release.max_rss_kib),
            r.release.crates,
            size(r.binary),
            r.stripped.map_or_else(|| "n/a".into(), size),
        ));
    }
    if let Some(kube) = rows.iter().find(|r| r.label.starts_with("kube")) {
        t.push_str("\nRatios to kube + k8s-openapi (lower is better; times as wall / CPU):\n\n| program | debug time | release time | peak RSS (release) | release binary | stripped |\n|---|---|---|---|---|---|\n");
        for r in rows.iter().filter(|r| !r.label.starts_with("kube")) {
            let ratio = |a: f64, b: f64| {
                if b > 0.0 {
                    format!("{:.2}×", a / b)
                } else {
                    "n/a".into()
                }
            };
            let rss = match (r.release.max_rss_kib, kube.release.max_rss_kib) {
                (Some(a), Some(b)) => ratio(a as f64, b as f64),
                _ => "n/a".into(),
            };
            let stripped = match (r.stripped, kube.stripped) {
                (Some(a), Some(b)) => ratio(a as f64, b as f64),
                _ => "n/a".into(),
            };
            let both = |a: &Build, b: &Build| {
                let cpu = match (a.cpu, b.cpu) {
                    (Some(x), Some(y)) => ratio(x.as_secs_f64(), y.as_secs_f64()),
                    _ => "n/a".into(),
                };
                format!(
                    "{} / {}",
                    ratio(a.wall.as_secs_f64(), b.wall.as_secs_f64()),
                    cpu
                )
            };
            t.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.label,
                both(&r.debug, &kube.debug),
                both(&r.release, &kube.release),
                rss,
                ratio(r.binary as f64, kube.binary as f64),
                stripped
            ));
        }
    }
    t.push_str("\nLocked versions: ");
    t.push_str(
        &rows
            .iter()
            .map(|r| format!("{}: {}", r.label, r.versions))
            .collect::<Vec<_>>()
            .join("; "),
    );
    t.push('\n');
    t
}

/// The 1-minute load average (`/proc/loadavg`), or `n/a`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "n/a".into())
}

fn rustc_version() -> String {
    Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Replaces the text between the markers of `path` with `table` (appends a section with the
/// markers when they are missing), writing atomically.
fn write_section(path: &Path, table: &str) -> Result<(), String> {
    write_between(path, (BEGIN, END), "Build cost", table)
}

/// Replaces the text between the `markers` of `path` with `table` (appends a section headed
/// `heading` with the markers when they are missing), writing atomically. `bench-table` uses it
/// with its own markers.
pub(crate) fn write_between(
    path: &Path,
    (begin, end): (&str, &str),
    heading: &str,
    table: &str,
) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::from("# Benchmarks\n"),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let new = match (text.find(begin), text.find(end)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{begin}\n{table}{}", &text[..b], &text[e..])
        }
        _ => format!("{text}\n## {heading}\n\n{begin}\n{table}{end}\n"),
    };
    let tmp: PathBuf = path.with_extension("md.tmp");
    std::fs::write(&tmp, new).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot replace {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn section_is_replaced_between_markers_and_appended_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("B.md");
        std::fs::write(&p, "# B\n\nintro\n").unwrap();
        write_section(&p, "T1\n").unwrap();
        let a = std::fs::read_to_string(&p).unwrap();
        assert!(a.starts_with("# B\n\nintro\n"));
        assert!(a.contains(&format!("{BEGIN}\nT1\n{END}")));
        std::fs::write(&p, format!("{a}\n## After\n")).unwrap();
        write_section(&p, "T2\n").unwrap();
        let b = std::fs::read_to_string(&p).unwrap();
        assert!(b.contains(&format!("{BEGIN}\nT2\n{END}")));
        assert!(!b.contains("T1"));
        assert!(b.ends_with("## After\n"));
    }
}
