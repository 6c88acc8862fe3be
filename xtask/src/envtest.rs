//! `cargo xtask envtest install [--kubernetes VERSION]` and `cargo xtask envtest where`: the real
//! control plane of the `k8s-envtest` crate's tests, built from source.
//!
//! `install` builds `kube-apiserver` and `kube-controller-manager` (module `k8s.io/kubernetes`
//! at the release tag) and `etcd` (the small `main` in `envtest/etcd/` around the embed server)
//! with `go build` from the Go module `envtest/` of this repository, into the per-user directory
//! [`install_dir`] (`$K8S_ENVTEST_DIR/<version>/`, else
//! `$XDG_CACHE_HOME/k8s-sdk/envtest/<version>/`, else `~/.cache/k8s-sdk/envtest/<version>/`).
//! Go's own build cache makes a rebuild cheap; on top of that a stamp (the sha256 of the
//! module's `go.mod`, `go.sum` and `etcd/main.go`, the Kubernetes version and Go's version) is
//! written last, so a second call with everything built returns without running `go build`.
//!
//! The committed `go.mod` pins one version ([`pinned_version`]); `--kubernetes` with another
//! version copies the module into `<dir>/src/`, moves `k8s.io/kubernetes` and every staging
//! module `replace` to the matching versions and runs `go mod tidy` there (its `go.sum` is then
//! Go's, not a reviewed one).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::spec_fetch::workspace_root;

const USAGE: &str = "usage: cargo xtask envtest install [--kubernetes VERSION] | envtest where [--kubernetes VERSION]";

/// The binaries, in build order: file name and the package `go build` builds.
pub const BINARIES: [(&str, &str); 3] = [
    ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
    (
        "kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
    ),
    ("etcd", "./etcd"),
];

/// The files of the Go module whose content decides what is built (the stamp hashes them).
const MODULE_FILES: [&str; 3] = ["go.mod", "go.sum", "etcd/main.go"];

/// Name of the stamp file in the install directory.
pub const STAMP: &str = ".stamp";

/// Where the binaries of Kubernetes `version` go (same rule as `k8s_envtest::install_dir`; the
/// xtask test `install_dir_matches_the_crate` keeps the two equal).
pub fn install_dir(version: &str, env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let root = set("K8S_ENVTEST_DIR")
        .or_else(|| set("XDG_CACHE_HOME").map(|d| d.join("k8s-sdk/envtest")))
        .or_else(|| set("HOME").map(|d| d.join(".cache/k8s-sdk/envtest")))?;
    Some(root.join(version))
}

/// The Kubernetes version the committed `envtest/go.mod` requires (`k8s.io/kubernetes vX.Y.Z`).
pub fn pinned_version(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        (words.next() == Some("k8s.io/kubernetes"))
            .then(|| words.next())
            .flatten()
            .and_then(|v| v.strip_prefix('v'))
            .map(str::to_owned)
    })
}

/// `1.36.3` -> `(1, 36, 3)`.
fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// `go.mod` of the committed module moved to Kubernetes `version`: the `k8s.io/kubernetes`
/// requirement and every staging `replace` (`k8s.io/x => k8s.io/x v0.MINOR.PATCH`).
pub fn retarget_go_mod(go_mod: &str, version: &str) -> Option<String> {
    let (_, minor, patch) = parse_version(version)?;
    let staging = format!("v0.{minor}.{patch}");
    let mut out = String::with_capacity(go_mod.len());
    for line in go_mod.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let new = match words.as_slice() {
            ["k8s.io/kubernetes", _, rest @ ..] => {
                let mut l = format!("\tk8s.io/kubernetes v{version}");
                for w in rest {
                    l.push(' ');
                    l.push_str(w);
                }
                l
            }
            [from, "=>", to, _] if from.starts_with("k8s.io/") && from == to => {
                format!("\t{from} => {to} {staging}")
            }
            _ => line.to_owned(),
        };
        out.push_str(&new);
        out.push('\n');
    }
    Some(out)
}

/// The stamp of what an install from `module` at `version` with Go `go_version` produces.
pub fn stamp(module: &Path, version: &str, go_version: &str) -> Result<String, String> {
    let mut h = Sha256::new();
    for f in MODULE_FILES {
        let path = module.join(f);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        h.update(f.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    h.update(format!("kubernetes {version}\ngo {go_version}\n").as_bytes());
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The `go` to run: `$GO`, else `go` on `PATH`, else `/usr/local/go/bin/go`.
pub fn find_go() -> Result<PathBuf, String> {
    if let Some(go) = std::env::var_os("GO").filter(|g| !g.is_empty()) {
        let go = PathBuf::from(go);
        if !go.is_file() {
            return Err(format!(
                "GO={} is not a file: point GO at a Go >= 1.26 `go` binary, or unset it to use `go` from PATH",
                go.display()
            ));
        }
        return Ok(go);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("go"))
        .find(|p| p.is_file());
    on_path
        .or_else(|| Some(PathBuf::from("/usr/local/go/bin/go")).filter(|p| p.is_file()))
        .ok_or_else(|| {
            "Go is not installed: no `go` on PATH nor at /usr/local/go/bin/go (set GO=/path/to/go). \
             The envtest binaries are built from source with Go >= 1.26 (https://go.dev/dl/)."
                .to_owned()
        })
}

fn go_version(go: &Path) -> Result<String, String> {
    let out = Command::new(go)
        .args(["env", "GOVERSION"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", go.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`{} env GOVERSION` failed: {}",
            go.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

struct Args {
    command: String,
    version: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    let command = match it.next().map(String::as_str) {
        Some(c @ ("install" | "where")) => c.to_owned(),
        Some(other) => return Err(format!("unknown envtest command {other:?}\n{USAGE}")),
        None => return Err(USAGE.to_owned()),
    };
    let mut version = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kubernetes" => {
                let v = it
                    .next()
                    .ok_or_else(|| format!("--kubernetes needs a value\n{USAGE}"))?;
                let v = v.strip_prefix('v').unwrap_or(v);
                if parse_version(v).is_none() {
                    return Err(format!(
                        "--kubernetes needs a release version like 1.36.3, not {v:?}"
                    ));
                }
                version = Some(v.to_owned());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args { command, version })
}

/// Entry point of `cargo xtask envtest ...` (`args` are the arguments after `envtest`).
pub fn run(args: &[String]) -> Result<(), String> {
    let args = parse_args(args)?;
    let module = workspace_root().join("envtest");
    let go_mod_path = module.join("go.mod");
    let go_mod = std::fs::read_to_string(&go_mod_path)
        .map_err(|e| format!("cannot read {}: {e}", go_mod_path.display()))?;
    let pinned = pinned_version(&go_mod)
        .ok_or_else(|| format!("{} requires no k8s.io/kubernetes", go_mod_path.display()))?;
    let version = args.version.unwrap_or_else(|| pinned.clone());
    let dir = install_dir(&version, |k| std::env::var(k).ok()).ok_or(
        "no install directory: set K8S_ENVTEST_DIR (or XDG_CACHE_HOME or HOME)".to_owned(),
    )?;
    if args.command == "where" {
        println!("{}", dir.display());
        return Ok(());
    }
    install(&module, &go_mod, &pinned, &version, &dir)
}

/// Builds (or finds up to date) the binaries of Kubernetes `version` and returns their
/// directory: `cargo xtask envtest install --kubernetes <version>`, for `spec fetch` of a built
/// version. Errors say what is missing (Go, the install directory) and how to get it.
pub fn ensure_installed(version: &str) -> Result<PathBuf, String> {
    let module = workspace_root().join("envtest");
    let go_mod_path = module.join("go.mod");
    let go_mod = std::fs::read_to_string(&go_mod_path)
        .map_err(|e| format!("cannot read {}: {e}", go_mod_path.display()))?;
    let pinned = pinned_version(&go_mod)
        .ok_or_else(|| format!("{} requires no k8s.io/kubernetes", go_mod_path.display()))?;
    let dir = install_dir(version, |k| std::env::var(k).ok()).ok_or(
        "no install directory: set K8S_ENVTEST_DIR (or XDG_CACHE_HOME or HOME)".to_owned(),
    )?;
    install(&module, &go_mod, &pinned, version, &dir)?;
    Ok(dir)
}

fn install(
    module: &Path,
    go_mod: &str,
    pinned: &str,
    version: &str,
    dir: &Path,
) -> Result<(), String> {
    let start = Instant::now();
    let go = find_go()?;
    let go_version = go_version(&go)?;
    let want = stamp(module, version, &go_version)?;
    let stamp_path = dir.join(STAMP);
    let all_built = BINARIES.iter().all(|(name, _)| dir.join(name).is_file());
    if all_built && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s.trim() == want) {
        println!(
            "envtest: Kubernetes {version} (etcd, kube-apiserver, kube-controller-manager) is up to date in {} ({:.2?})",
            dir.display(),
            start.elapsed()
        );
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // A stale stamp must not survive a half-done rebuild.
    match std::fs::remove_file(&stamp_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove {}: {e}", stamp_path.display())),
    }
    println!(
        "envtest: building Kubernetes {version} with {go_version} into {} (a cold build takes many minutes; Go's build cache makes the next one fast)",
        dir.display()
    );
    let build_module = if version == pinned {
        module.to_owned()
    } else {
        retargeted_module(&go, module, go_mod, version, dir)?
    };
    let ldflags = version_ldflags(version);
    for (i, (name, package)) in BINARIES.iter().enumerate() {
        let t = Instant::now();
        let tmp = dir.join(format!(".{name}.tmp"));
        let total = count_packages(&go, &build_module, package);
        println!(
            "[{}/{}] {name} ({package}{})",
            i + 1,
            BINARIES.len(),
            total.map_or_else(String::new, |n| format!(", {n} packages"))
        );
        let mut cmd = Command::new(&go);
        cmd.current_dir(&build_module)
            .args(["build", "-v", "-buildvcs=false", "-ldflags", &ldflags, "-o"])
            .arg(&tmp)
            .arg(package);
        go_build_with_progress(cmd, name, total)?;
        let dest = dir.join(name);
        std::fs::rename(&tmp, &dest)
            .map_err(|e| format!("cannot move {} to {}: {e}", tmp.display(), dest.display()))?;
        println!("      {name}: built in {:.1?}", t.elapsed());
    }
    crate_write_atomic(&stamp_path, format!("{want}\n").as_bytes())?;
    println!(
        "envtest: Kubernetes {version} installed in {} in {:.1?}; run the tests with `cargo test -p k8s-envtest`",
        dir.display(),
        start.elapsed()
    );
    Ok(())
}

/// `-X` flags that make the binaries report `version` (as Kubernetes' `hack/lib/version.sh`
/// does), instead of `v0.0.0-master`.
fn version_ldflags(version: &str) -> String {
    let (major, minor, _) = parse_version(version).unwrap_or_default();
    ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]
        .iter()
        .map(|p| {
            format!(
                "-X {p}.gitVersion=v{version} -X {p}.gitMajor={major} -X {p}.gitMinor={minor} -X {p}.gitTreeState=clean"
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A copy of the module at another Kubernetes version in `dir/src`, tidied by Go.
fn retargeted_module(
    go: &Path,
    module: &Path,
    go_mod: &str,
    version: &str,
    dir: &Path,
) -> Result<PathBuf, String> {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("etcd"))
        .map_err(|e| format!("cannot create {}: {e}", src.display()))?;
    let new_mod = retarget_go_mod(go_mod, version)
        .ok_or_else(|| format!("not a release version: {version}"))?;
    crate_write_atomic(&src.join("go.mod"), new_mod.as_bytes())?;
    for f in ["go.sum", "etcd/main.go"] {
        let bytes = std::fs::read(module.join(f))
            .map_err(|e| format!("cannot read {}: {e}", module.join(f).display()))?;
        crate_write_atomic(&src.join(f), &bytes)?;
    }
    println!(
        "      go mod tidy for k8s.io/kubernetes v{version} in {}",
        src.display()
    );
    let out = Command::new(go)
        .current_dir(&src)
        .args(["mod", "tidy"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", go.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`go mod tidy` for Kubernetes {version} failed (is v{version} a release the Go module proxy serves?):\n{}",
            tail(&String::from_utf8_lossy(&out.stderr), 20)
        ));
    }
    Ok(src)
}

/// How many packages `package` depends on (for the progress lines); `None` if Go cannot say.
fn count_packages(go: &Path, module: &Path, package: &str) -> Option<usize> {
    let out = Command::new(go)
        .current_dir(module)
        .args(["list", "-deps", package])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| {
        out.stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    })
}

/// Runs `go build -v`, printing every 10 s how many packages were compiled; on failure the
/// error holds the last lines Go printed.
fn go_build_with_progress(
    mut cmd: Command,
    name: &str,
    total: Option<usize>,
) -> Result<(), String> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| format!("no stderr from {cmd:?}"))?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut compiled = 0usize;
    let mut last_lines: Vec<String> = Vec::new();
    let mut last_report = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                // `-v` prints one import path per compiled package; anything else is a message.
                if !line.contains(' ') && !line.starts_with('#') {
                    compiled += 1;
                }
                last_lines.push(line);
                if last_lines.len() > 40 {
                    last_lines.remove(0);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let of = total.map_or_else(String::new, |t| format!(" of at most {t}"));
            println!(
                "      {name}: {compiled}{of} packages compiled, {:.0?}",
                start.elapsed()
            );
            let _ = std::io::stdout().flush();
        }
    }
    let _ = reader.join();
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "building {name} failed ({status}); the last lines of `go build`:\n{}",
            last_lines.join("\n")
        ))
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Writes `path` through a temporary file and a rename, so a reader never sees half of it.
fn crate_write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn install_dir_prefers_the_override_then_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            install_dir("1.36.3", env(&[("K8S_ENVTEST_DIR", "/e"), ("HOME", "/h")])),
            Some(PathBuf::from("/e/1.36.3"))
        );
        assert_eq!(
            install_dir("1.36.3", env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/k8s-sdk/envtest/1.36.3"))
        );
        assert_eq!(
            install_dir("1.36.3", env(&[("K8S_ENVTEST_DIR", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/k8s-sdk/envtest/1.36.3"))
        );
        assert_eq!(install_dir("1.36.3", env(&[])), None);
    }

    #[test]
    fn install_dir_matches_the_crate() {
        for vars in [
            &[
                ("K8S_ENVTEST_DIR", "/e"),
                ("XDG_CACHE_HOME", "/x"),
                ("HOME", "/h"),
            ][..],
            &[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")],
            &[("XDG_CACHE_HOME", ""), ("HOME", "/h")],
            &[],
        ] {
            let env = |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            };
            assert_eq!(
                install_dir("1.36.3", env),
                k8s_envtest::install_dir("1.36.3", env),
                "{vars:?}"
            );
        }
        let go_mod = std::fs::read_to_string(workspace_root().join("envtest/go.mod")).unwrap();
        assert_eq!(
            pinned_version(&go_mod).as_deref(),
            Some(k8s_envtest::DEFAULT_KUBERNETES_VERSION)
        );
        let names: Vec<&str> = BINARIES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, k8s_envtest::BINARIES);
    }

    #[test]
    fn the_committed_module_pins_a_version_and_retargets() {
        let go_mod = std::fs::read_to_string(workspace_root().join("envtest/go.mod")).unwrap();
        let pinned = pinned_version(&go_mod).unwrap();
        assert!(parse_version(&pinned).is_some(), "{pinned}");
        let moved = retarget_go_mod(&go_mod, "1.36.9").unwrap();
        assert_eq!(pinned_version(&moved).as_deref(), Some("1.36.9"));
        assert!(
            moved.contains("\tk8s.io/api => k8s.io/api v0.36.9\n"),
            "{moved}"
        );
        let (_, minor, patch) = parse_version(&pinned).unwrap();
        assert!(
            !moved.contains(&format!(" v0.{minor}.{patch}\n")),
            "{moved}"
        );
        // Every staging module of the committed file is replaced by the published version.
        let replaces = go_mod.lines().filter(|l| l.contains(" => k8s.io/")).count();
        assert!(replaces >= 30, "{replaces}");
    }

    #[test]
    fn stamp_changes_with_each_input() {
        let module = workspace_root().join("envtest");
        let a = stamp(&module, "1.36.3", "go1.26.8").unwrap();
        assert_eq!(a, stamp(&module, "1.36.3", "go1.26.8").unwrap());
        assert_ne!(a, stamp(&module, "1.36.2", "go1.26.8").unwrap());
        assert_ne!(a, stamp(&module, "1.36.3", "go1.26.9").unwrap());
    }

    #[test]
    fn arguments() {
        let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let a = args(&["install", "--kubernetes", "v1.36.2"]).unwrap();
        assert_eq!(
            (a.command.as_str(), a.version.as_deref()),
            ("install", Some("1.36.2"))
        );
        assert!(args(&["install", "--kubernetes", "1.36"]).is_err());
        assert!(args(&["build"]).is_err());
        assert!(args(&[]).is_err());
    }
}
