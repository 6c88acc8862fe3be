//! The fidelity table: per scenario the requests, how many answers are identical and how many
//! differ, and each remaining difference with its reason. Written into
//! `crates/k8s-testserver/README.md` between two markers with `UPDATE_FIDELITY=1`, otherwise
//! compared with it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::known_differences::{KNOWN, Known, SKIPPED};
use crate::runner::StepResult;

const START: &str = "<!-- fidelity:start (written by `UPDATE_FIDELITY=1 cargo test -p k8s-envtest --test conformance`) -->";
const END: &str = "<!-- fidelity:end -->";

#[derive(Default)]
struct Row {
    requests: usize,
    identical: usize,
    differing: usize,
    skipped: usize,
    recorded: usize,
    real_as_recorded: usize,
}

pub struct Outcome {
    rows: BTreeMap<String, Row>,
    order: Vec<String>,
    /// Known differences that occurred, with the steps where they did.
    used: Vec<(usize, Vec<String>)>,
    pub unexplained: Vec<String>,
    pub unused: Vec<String>,
}

fn key(k: &Known) -> String {
    format!(
        "{} {:?} {} {}",
        k.scenario,
        k.steps,
        k.aspect,
        if k.at.is_empty() { "-" } else { k.at }
    )
}

impl Outcome {
    pub fn new(results: &[StepResult]) -> Outcome {
        let mut rows: BTreeMap<String, Row> = BTreeMap::new();
        let mut order = Vec::new();
        let mut used: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut unexplained = Vec::new();
        for r in results {
            if !rows.contains_key(&r.scenario) {
                order.push(r.scenario.clone());
            }
            let row = rows.entry(r.scenario.clone()).or_default();
            let Some(diffs) = &r.diffs else {
                row.skipped += 1;
                continue;
            };
            row.requests += 1;
            // A step that a timing-dependent entry names counts as differing whether or not it
            // differed this time, so the table does not change from run to run.
            let sometimes = KNOWN
                .iter()
                .any(|k| k.sometimes && k.scenario == r.scenario && k.steps.contains(&r.step));
            if diffs.is_empty() && !sometimes {
                row.identical += 1;
            } else {
                row.differing += 1;
            }
            if let Some(same) = r.real_as_recorded {
                row.recorded += 1;
                row.real_as_recorded += usize::from(same);
            }
            for (d, k) in diffs {
                match k {
                    Some(k) => {
                        let index = KNOWN
                            .iter()
                            .position(|x| std::ptr::eq(x, *k))
                            .unwrap_or_default();
                        let steps = used.entry(index).or_default();
                        let s = format!("{}#{}", r.scenario, r.step);
                        if !steps.contains(&s) {
                            steps.push(s);
                        }
                    }
                    None => unexplained.push(format!(
                        "{}#{} {}: {d}\n    known!(\"{}\", [{}], {:?}, \"{}\", \"…\"),",
                        r.scenario, r.step, r.label, r.scenario, r.step, d.aspect, d.at
                    )),
                }
            }
        }
        let unused = KNOWN
            .iter()
            .enumerate()
            .filter(|(i, k)| !k.sometimes && !used.contains_key(i))
            .map(|(_, k)| key(k))
            .collect();
        Outcome {
            rows,
            order,
            used: {
                // A timing-dependent entry is shown at its listed steps, so the table does not
                // change from run to run.
                for (i, k) in KNOWN.iter().enumerate().filter(|(_, k)| k.sometimes) {
                    used.insert(
                        i,
                        k.steps
                            .iter()
                            .map(|s| format!("{}#{s}", k.scenario))
                            .collect(),
                    );
                }
                used.into_iter().collect()
            },
            unexplained,
            unused,
        }
    }

    pub fn summary(&self) -> String {
        let t = self.totals();
        format!(
            "conformance: {} scenarios, {} requests, {} identical, {} differing ({} skipped); \
             the real server answered {} of {} recorded requests as recorded",
            self.order.len(),
            t.requests,
            t.identical,
            t.differing,
            t.skipped,
            t.real_as_recorded,
            t.recorded
        )
    }

    fn totals(&self) -> Row {
        let mut t = Row::default();
        for r in self.rows.values() {
            t.requests += r.requests;
            t.identical += r.identical;
            t.differing += r.differing;
            t.skipped += r.skipped;
            t.recorded += r.recorded;
            t.real_as_recorded += r.real_as_recorded;
        }
        t
    }

    /// The README section.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "| scenario | requests | identical | differing | not sent |\n\
             |---|---:|---:|---:|---:|\n",
        );
        let line = |s: &mut String, name: &str, r: &Row| {
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} | {} |",
                r.requests, r.identical, r.differing, r.skipped
            );
        };
        for name in &self.order {
            line(&mut s, name, &self.rows[name]);
        }
        line(&mut s, "**total**", &self.totals());
        s.push_str(
            "\nRemaining differences (the test server's answer differs from the real server's; \
             each is listed in `known_differences.rs` and a new one fails the test):\n\n\
             | where | aspect | at | reason |\n|---|---|---|---|\n",
        );
        for (index, steps) in &self.used {
            let k = &KNOWN[*index];
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                steps.join(", "),
                k.aspect,
                if k.at.is_empty() {
                    String::new()
                } else {
                    format!("`{}`", k.at)
                },
                k.reason
            );
        }
        if !SKIPPED.is_empty() {
            s.push_str("\nNot sent:\n\n");
            for k in SKIPPED {
                let steps: Vec<String> = k
                    .steps
                    .iter()
                    .map(|i| format!("{}#{i}", k.scenario))
                    .collect();
                let _ = writeln!(s, "* {}: {}", steps.join(", "), k.reason);
            }
        }
        s
    }

    /// Rewrites the README's section with `UPDATE_FIDELITY=1`, else checks it is current.
    pub fn check_readme(&self) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../k8s-testserver/README.md");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let section = format!("{START}\n{}{END}", self.markdown());
        let new_text = match (text.find(START), text.find(END)) {
            (Some(a), Some(b)) if a < b => {
                format!("{}{section}{}", &text[..a], &text[b + END.len()..])
            }
            _ => format!("{text}\n{section}\n"),
        };
        if std::env::var("UPDATE_FIDELITY").is_ok_and(|v| v == "1") {
            let tmp = path.with_extension("md.tmp");
            std::fs::write(&tmp, &new_text).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
            eprintln!(
                "conformance: wrote the fidelity table to {}",
                path.display()
            );
        } else {
            assert!(
                new_text == text,
                "the fidelity table in {} is not current; run with UPDATE_FIDELITY=1:\n{}",
                path.display(),
                self.markdown()
            );
        }
    }
}
