//! Rendering an [`ApiDiff`]: the one-line summary, text (optionally coloured) and markdown.

use super::*;

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One-paragraph summary: `3 API versions added, …` (or `no changes`).
pub fn summary(d: &ApiDiff) -> String {
    let t = d.totals();
    let mut parts = Vec::new();
    let mut push = |n: usize, one: &str, many: &str, how: &str| {
        if n > 0 {
            parts.push(format!("{} {how}", plural(n, one, many)));
        }
    };
    push(t.versions_added, "API version", "API versions", "added");
    push(t.versions_removed, "API version", "API versions", "removed");
    push(t.kinds_added, "kind", "kinds", "added");
    push(t.kinds_removed, "kind", "kinds", "removed");
    push(t.defs_added, "definition", "definitions", "added");
    push(t.defs_removed, "definition", "definitions", "removed");
    push(t.fields_added, "field", "fields", "added");
    push(t.fields_removed, "field", "fields", "removed");
    push(t.fields_changed, "field", "fields", "changed");
    push(t.ops_added, "operation", "operations", "added");
    push(t.ops_removed, "operation", "operations", "removed");
    push(t.ops_changed, "operation", "operations", "changed");

    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join(", ")
    }
}

struct Text {
    out: String,
    color: bool,
}

impl Text {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("{code}{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn heading(&mut self, s: &str) {
        let h = self.paint("\x1b[1m", s);
        let _ = writeln!(self.out, "\n{h}");
    }
    fn section(&mut self, s: &str) {
        let h = self.paint("\x1b[36m", s);
        let _ = writeln!(self.out, "  {h}");
    }
    fn item(&mut self, indent: usize, sign: Sign, s: &str) {
        let line = self.paint(sign.ansi(), &format!("{} {s}", sign.symbol()));
        let _ = writeln!(self.out, "{:indent$}{line}", "");
    }
}

/// The text report; ANSI colours when `color`.
pub fn render_text(d: &ApiDiff, color: bool) -> String {
    let mut t = Text {
        out: String::new(),
        color,
    };
    let title = format!("API changes: Kubernetes {} -> {}", d.old, d.new);
    let title = t.paint("\x1b[1m", &title);
    let _ = writeln!(t.out, "{title}\n{}", summary(d));
    if !d.common.is_empty() {
        t.heading("changes common to many operations");
        for c in &d.common {
            let ch = &c.change;
            t.item(
                2,
                ch.sign,
                &format!("{}: {} ({})", ch.subject, ch.detail, common_where(c)),
            );
        }
    }
    for (key, g) in &d.groups {
        t.heading(&group_title(key));
        if !g.versions_added.is_empty() || !g.versions_removed.is_empty() {
            t.section("API versions");
            for v in &g.versions_added {
                t.item(4, Sign::Added, v);
            }
            for v in &g.versions_removed {
                t.item(4, Sign::Removed, v);
            }
        }
        if !g.kinds_added.is_empty() || !g.kinds_removed.is_empty() {
            t.section("kinds");
            for k in &g.kinds_added {
                t.item(4, Sign::Added, k);
            }
            for k in &g.kinds_removed {
                t.item(4, Sign::Removed, k);
            }
        }
        if !g.defs_added.is_empty() || !g.defs_removed.is_empty() {
            t.section("definitions");
            for k in &g.defs_added {
                t.item(4, Sign::Added, k);
            }
            for k in &g.defs_removed {
                t.item(4, Sign::Removed, k);
            }
        }
        if !g.defs_changed.is_empty() {
            t.section("fields");
            for c in &g.defs_changed {
                t.item(4, Sign::Changed, &c.name);
                for ch in &c.changes {
                    t.item(8, ch.sign, &format!("{}: {}", ch.subject, ch.detail));
                }
            }
        }
        if !g.ops_added.is_empty() || !g.ops_removed.is_empty() || !g.ops_changed.is_empty() {
            t.section("operations");
            for o in &g.ops_added {
                t.item(
                    4,
                    Sign::Added,
                    &format!("{} {} ({})", o.method, o.path, o.id),
                );
            }
            for o in &g.ops_removed {
                t.item(
                    4,
                    Sign::Removed,
                    &format!("{} {} ({})", o.method, o.path, o.id),
                );
            }
            for c in &g.ops_changed {
                t.item(4, Sign::Changed, &format!("{} ({})", c.name, c.label));
                for ch in &c.changes {
                    t.item(8, ch.sign, &format!("{}: {}", ch.subject, ch.detail));
                }
            }
        }
    }
    t.out
}

/// The markdown report (the form checked into `docs/api-changes/`).
pub fn render_markdown(d: &ApiDiff) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# API changes: Kubernetes {} → {}\n", d.old, d.new);
    let _ = writeln!(
        o,
        "Generated by `cargo xtask diff {} {} --format markdown` from the committed API models \
         (`spec/v{}.api`, `spec/v{}.api`); do not edit.\n",
        d.old, d.new, d.old, d.new
    );
    let _ = writeln!(o, "Summary: {}.", summary(d));
    if d.groups.is_empty() {
        return o;
    }
    let _ = writeln!(
        o,
        "\nLegend: **+** added, **−** removed, **~** changed. Types are written as in the model: \
         `[T]` an array, `{{T}}` a map with string keys, `a.v1.Kind` a definition.\n"
    );
    if !d.common.is_empty() {
        let _ = writeln!(
            o,
            "## Changes common to many operations\n\nReported here once, not under each operation.\n"
        );
        for c in &d.common {
            let ch = &c.change;
            let _ = writeln!(
                o,
                "- {} {}: `{}` ({})",
                md_sign(ch.sign),
                md_subject(&ch.subject),
                ch.detail,
                common_where(c)
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "Groups:");
    for (key, _) in &d.groups {
        let _ = writeln!(
            o,
            "- [{}](#{})",
            group_title(key),
            anchor(&group_title(key))
        );
    }
    let sym = md_sign;
    for (key, g) in &d.groups {
        let _ = writeln!(o, "\n## {}", group_title(key));
        let list = |o: &mut String, title: &str, added: &[String], removed: &[String]| {
            if added.is_empty() && removed.is_empty() {
                return;
            }
            let _ = writeln!(o, "\n### {title}\n");
            for a in added {
                let _ = writeln!(o, "- {} `{a}`", sym(Sign::Added));
            }
            for r in removed {
                let _ = writeln!(o, "- {} `{r}`", sym(Sign::Removed));
            }
        };
        list(
            &mut o,
            "API versions",
            &g.versions_added,
            &g.versions_removed,
        );
        list(&mut o, "Kinds", &g.kinds_added, &g.kinds_removed);
        list(&mut o, "Definitions", &g.defs_added, &g.defs_removed);
        if !g.defs_changed.is_empty() {
            let _ = writeln!(o, "\n### Fields\n");
            for c in &g.defs_changed {
                let _ = writeln!(o, "- `{}`", c.name);
                for ch in &c.changes {
                    let _ = writeln!(
                        o,
                        "  - {} {}: `{}`",
                        sym(ch.sign),
                        md_subject(&ch.subject),
                        ch.detail
                    );
                }
            }
        }
        if !g.ops_added.is_empty() || !g.ops_removed.is_empty() || !g.ops_changed.is_empty() {
            let _ = writeln!(o, "\n### Operations\n");
            for (sign, ops) in [(Sign::Added, &g.ops_added), (Sign::Removed, &g.ops_removed)] {
                for op in ops {
                    let _ = writeln!(o, "- {} `{} {}` ({})", sym(sign), op.method, op.path, op.id);
                }
            }
            for c in &g.ops_changed {
                let _ = writeln!(o, "- {} `{}` ({})", sym(Sign::Changed), c.name, c.label);
                for ch in &c.changes {
                    let _ = writeln!(
                        o,
                        "  - {} {}: `{}`",
                        sym(ch.sign),
                        md_subject(&ch.subject),
                        ch.detail
                    );
                }
            }
        }
    }
    o
}

fn md_sign(s: Sign) -> &'static str {
    match s {
        Sign::Added => "**+**",
        Sign::Removed => "**−**",
        Sign::Changed => "**~**",
    }
}

/// `field spec` -> ``field `spec` ``: the name part in code style.
fn md_subject(s: &str) -> String {
    for p in ["field ", "query parameter ", "path parameter "] {
        if let Some(name) = s.strip_prefix(p) {
            return format!("{p}`{name}`");
        }
    }
    s.to_owned()
}

/// GitHub's heading anchor: lower case, spaces to `-`, punctuation other than `-`/`_` dropped.
pub fn anchor(title: &str) -> String {
    title
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Renders in `format`.
pub fn render(d: &ApiDiff, format: Format) -> String {
    match format {
        Format::Text { color } => render_text(d, color),
        Format::Markdown => render_markdown(d),
    }
}

/// Whether to colour: only on a terminal, and only when `NO_COLOR` is unset or empty.
pub fn use_color(stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Loading
