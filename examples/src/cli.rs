//! The command line shared by the example binaries: `--real-cluster`, the example's own
//! options, and running the example on a Tokio runtime with its transcript printed as it goes.

use std::collections::BTreeMap;
use std::future::Future;
use std::process::ExitCode;

use crate::support::{Error, Target, Transcript};

/// An option an example accepts besides `--real-cluster` and `--help`.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// `--name`
    pub name: &'static str,
    /// Takes a value (`--name VALUE`); otherwise a flag.
    pub takes_value: bool,
    /// One line of help.
    pub help: &'static str,
}

/// Parsed arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Args {
    /// Where to run.
    pub target: Target,
    /// Values of the example's options, in order given (an option may repeat); a flag has an
    /// empty value.
    pub options: BTreeMap<&'static str, Vec<String>>,
}

impl Args {
    /// The last value given for `--name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value given for `--name`.
    pub fn values(&self, name: &str) -> &[String] {
        self.options.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the flag `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }
}

/// The usage text of an example.
pub fn usage(name: &str, about: &str, specs: &[OptionSpec]) -> String {
    let mut s = format!(
        "{name}: {about}\n\nusage: {name} [--real-cluster]{}\n\n  --real-cluster  run against a real cluster (kubeconfig, else in-cluster) instead of the\n                  in-process test server\n",
        specs
            .iter()
            .map(|o| if o.takes_value {
                format!(" [{} VALUE]", o.name)
            } else {
                format!(" [{}]", o.name)
            })
            .collect::<String>()
    );
    for o in specs {
        s.push_str(&format!("  {:<15} {}\n", o.name, o.help));
    }
    s
}

/// Parses the arguments after the program name. `Err` holds the message to print (the usage
/// for `--help`).
pub fn parse(
    args: impl IntoIterator<Item = String>,
    specs: &[OptionSpec],
    usage: &str,
) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--real-cluster" {
            out.target = Target::RealCluster;
            continue;
        }
        if a == "--help" || a == "-h" {
            return Err(usage.to_owned());
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (a.clone(), None),
        };
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            return Err(format!("unknown argument {a:?}\n\n{usage}"));
        };
        let value = if spec.takes_value {
            match inline.or_else(|| it.next()) {
                Some(v) => v,
                None => return Err(format!("{} needs a value\n\n{usage}", spec.name)),
            }
        } else {
            String::new()
        };
        out.options.entry(spec.name).or_default().push(value);
    }
    Ok(out)
}

/// The body of an example binary: parses the arguments, runs `example` on a Tokio runtime
/// with a transcript that prints as it goes, and turns an error into exit status 1.
pub fn main<F, Fut>(name: &str, about: &str, specs: &[OptionSpec], example: F) -> ExitCode
where
    F: FnOnce(Args, Transcript) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let usage = usage(name, about, specs);
    let args = match parse(std::env::args().skip(1), specs, &usage) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let transcript = Transcript::echoing();
    match runtime.block_on(example(args, transcript)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
