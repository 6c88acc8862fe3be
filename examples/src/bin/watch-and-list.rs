//! `watch-and-list`: see [`k8s_sdk_examples::watch_and_list`].

use std::process::ExitCode;

use k8s_sdk_examples::Error;
use k8s_sdk_examples::cli::{self, OptionSpec};
use k8s_sdk_examples::watch_and_list as example;

fn main() -> ExitCode {
    cli::main(
        "watch-and-list",
        "all Pods in pages of 100, then a watch that survives a dropped connection",
        &[OptionSpec {
            name: "--max-events",
            takes_value: true,
            help: "stop after this many events (default: until Ctrl-C with --real-cluster)",
        }],
        |args, out| async move {
            let mut options = example::Options::new(args.target);
            if let Some(n) = args.value("--max-events") {
                options.max_events = Some(
                    n.parse()
                        .map_err(|e| Error::Unexpected(format!("--max-events {n:?}: {e}")))?,
                );
            }
            example::run(&options, &out).await.map(|_| ())
        },
    )
}
