//! One control-plane process: started in its own process group with stdout and stderr in a log
//! file, and killed (the whole group) when dropped, so a failing or panicking test leaves no
//! process behind.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// Signals go to the process group with rustix (safe, already in the dependency tree through
// tempfile): `std::process::Child::kill` reaches only the leader, and running the `kill`
// command from `Drop` would depend on what is on `PATH` while a test unwinds.
use rustix::process::{Pid, Signal, kill_process_group};

use crate::Error;

/// How many lines of a log an error quotes.
const TAIL_LINES: usize = 25;

/// A running control-plane process.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    child: Option<Child>,
    pub(crate) log: PathBuf,
}

impl Proc {
    /// Starts `binary` with `args`, appending its output to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        binary: &Path,
        args: &[String],
        log: PathBuf,
    ) -> Result<Proc, Error> {
        let io_err = |source| Error::Io {
            what: format!("cannot open the log file {}", log.display()),
            source,
        };
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io_err)?;
        let err = out.try_clone().map_err(io_err)?;
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own group: the whole group is signalled, and a Ctrl-C in the terminal of
            // `cargo test` does not reach it before the test's own cleanup.
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                process: name,
                binary: binary.to_owned(),
                source,
            })?;
        Ok(Proc {
            name,
            child: Some(child),
            log,
        })
    }

    /// `Err` (naming the process, its exit status and the tail of its log) when it has exited.
    pub(crate) fn check_running(&mut self) -> Result<(), Error> {
        let status = match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => return Ok(()),
            Some(Ok(Some(status))) => status.to_string(),
            Some(Err(e)) => format!("unknown ({e})"),
            None => "stopped".to_owned(),
        };
        Err(Error::Exited {
            process: self.name,
            status,
            log: self.log.clone(),
            tail: tail(&self.log),
        })
    }

    /// SIGTERM to the group, then SIGKILL after `grace`; waits for the exit.
    pub(crate) fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = Pid::from_child(&child);
        if matches!(child.try_wait(), Ok(None)) {
            let _ = kill_process_group(group, Signal::TERM);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // The leader may be gone while others of its group are not: always kill the group.
        let _ = kill_process_group(group, Signal::KILL);
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

/// The last lines of a log file (empty when it cannot be read).
pub(crate) fn tail(log: &Path) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}
