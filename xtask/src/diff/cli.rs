//! The command line of `cargo xtask diff`: versions, models, arguments, `docs/api-changes/`.

use super::*;

/// Root of the workspace (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent().map_or_else(|| dir.to_owned(), Path::to_owned)
}

/// The versions with a committed model (`spec/v<version>.api`), oldest first.
pub fn committed_versions(root: &Path) -> Result<Vec<String>, String> {
    let dir = root.join("spec");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            Some(name.strip_prefix('v')?.strip_suffix(".api")?.to_owned())
        })
        .collect();
    out.sort_by_key(|v| version_key(v));
    Ok(out)
}

/// `1.36.0` -> `(1, 36, 0)`; unparsable parts count as 0.
pub fn version_key(v: &str) -> (u32, u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// Resolves `1.36.0`, `v1.36.0` or `1.36` against the committed models.
pub fn resolve_version(root: &Path, given: &str) -> Result<String, String> {
    let v = given.strip_prefix('v').unwrap_or(given);
    let known = committed_versions(root)?;
    if known.iter().any(|k| k == v) {
        return Ok(v.to_owned());
    }
    let prefix = format!("{v}.");
    let matches: Vec<&String> = known.iter().filter(|k| k.starts_with(&prefix)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(format!(
            "no API model for version {given:?}: {} does not exist (known versions: {})",
            root.join(format!("spec/v{v}.api")).display(),
            known.join(", ")
        )),
    }
}

/// Loads a version's model: from `$K8S_SPEC_DIR/v<version>/swagger.json` (and `v3/`) when
/// `spec_dir` is given and holds it, else from the committed `spec/v<version>.api`.
/// Returns the model and a description of where it came from.
pub fn load_model(
    root: &Path,
    version: &str,
    spec_dir: Option<&Path>,
) -> Result<(ApiModel, String), String> {
    if let Some(dir) = spec_dir {
        let swagger = dir.join(format!("v{version}")).join("swagger.json");
        if swagger.is_file() {
            let job = VersionJob {
                version: version.to_owned(),
                input: Input::Spec(swagger.clone()),
            };
            let m = generate::load(&job).map_err(|e| e.to_string())?;
            return Ok((m, swagger.display().to_string()));
        }
    }
    let path = root.join(format!("spec/v{version}.api"));
    let m = model_text::read_file(&path).map_err(|e| e.to_string())?;
    Ok((m, path.display().to_string()))
}

/// The supported versions, oldest first: those of `spec/versions.toml` not marked
/// `regression_only`.
pub fn supported_versions(root: &Path) -> Result<Vec<String>, String> {
    let path = root.join("spec/versions.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("cannot parse {}: {e}", path.display()))?;
    let entries = doc
        .get("version")
        .and_then(toml::Value::as_array)
        .ok_or_else(|| format!("{}: no [[version]] tables", path.display()))?;
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let v = e
            .get("version")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| format!("{}: version[{i}]: no `version` string", path.display()))?;
        let regression = e
            .get("regression_only")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        if !regression {
            out.push(v.to_owned());
        }
    }
    out.sort_by_key(|v| version_key(v));
    Ok(out)
}

/// The file name of a pair's changelog: `1.35.0-to-1.36.0.md`.
pub fn doc_file_name(old: &str, new: &str) -> String {
    format!("{old}-to-{new}.md")
}

/// Every file of `docs/api-changes/` as the command writes it: one markdown changelog per
/// adjacent pair of supported versions (from the committed models) and the `README.md` index.
pub fn docs_files(root: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let versions = supported_versions(root)?;
    let dir = root.join(DOCS_DIR);
    let mut files = Vec::new();
    let mut index = String::from(
        "# Changes of the Kubernetes API between supported versions\n\n\
         One changelog per adjacent pair of supported versions (`spec/versions.toml`), written by\n\
         `cargo xtask diff --write-docs` from the committed API models (`spec/v<version>.api`).\n\
         `cargo xtask diff OLD NEW` prints the same in colour on a terminal; a test checks that\n\
         these files are up to date.\n\n\
         | from | to | changes |\n|---|---|---|\n",
    );
    for pair in versions.windows(2) {
        let [old, new] = pair else { continue };
        let (om, _) = load_model(root, old, None)?;
        let (nm, _) = load_model(root, new, None)?;
        let d = diff_models(&om, &nm);
        let name = doc_file_name(old, new);
        let _ = writeln!(index, "| {old} | [{new}]({name}) | {} |", summary(&d));
        files.push((dir.join(&name), render_markdown(&d)));
    }
    files.push((dir.join("README.md"), index));
    Ok(files)
}

struct Args {
    versions: Vec<String>,
    markdown: bool,
    out: Option<PathBuf>,
    write_docs: bool,
    check: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        versions: Vec::new(),
        markdown: false,
        out: None,
        write_docs: false,
        check: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--format" => match it.next().map(String::as_str) {
                Some("markdown" | "md") => a.markdown = true,
                Some("text") => a.markdown = false,
                other => {
                    return Err(format!(
                        "--format takes `text` or `markdown`, got {other:?}\n{USAGE}"
                    ));
                }
            },
            "--out" => {
                a.out = Some(PathBuf::from(
                    it.next()
                        .ok_or_else(|| format!("--out needs a file\n{USAGE}"))?,
                ));
            }
            "--write-docs" => a.write_docs = true,
            "--check" => a.check = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}\n{USAGE}")),
            v => a.versions.push(v.to_owned()),
        }
    }
    Ok(a)
}

/// Runs the command with the arguments after its name.
pub fn run(args: &[String]) -> Result<(), String> {
    let a = parse_args(args)?;
    let root = workspace_root();
    if a.write_docs {
        if !a.versions.is_empty() || a.out.is_some() {
            return Err(format!(
                "--write-docs takes no versions and no --out\n{USAGE}"
            ));
        }
        let mut stale = Vec::new();
        for (path, text) in docs_files(&root)? {
            let current = std::fs::read_to_string(&path).ok();
            if current.as_deref() == Some(text.as_str()) {
                println!("up to date: {}", path.display());
                continue;
            }
            if a.check {
                stale.push(path.display().to_string());
                continue;
            }
            generate::write_atomic(&path, text.as_bytes()).map_err(|e| e.to_string())?;
            println!("wrote {}", path.display());
        }
        if !stale.is_empty() {
            return Err(format!(
                "out of date (run `cargo xtask diff --write-docs`): {}",
                stale.join(", ")
            ));
        }
        return Ok(());
    }
    let [old, new] = a.versions.as_slice() else {
        return Err(format!("diff needs two versions\n{USAGE}"));
    };
    let old = resolve_version(&root, old)?;
    let new = resolve_version(&root, new)?;
    let spec_dir = std::env::var_os("K8S_SPEC_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let (om, osrc) = load_model(&root, &old, spec_dir.as_deref())?;
    let (nm, nsrc) = load_model(&root, &new, spec_dir.as_deref())?;
    eprintln!("comparing {osrc} with {nsrc}");
    let d = diff_models(&om, &nm);
    let format = if a.markdown {
        Format::Markdown
    } else {
        let color = a.out.is_none()
            && use_color(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            );
        Format::Text { color }
    };
    let text = render(&d, format);
    match a.out {
        Some(path) => {
            generate::write_atomic(&path, text.as_bytes()).map_err(|e| e.to_string())?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
