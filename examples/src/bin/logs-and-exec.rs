//! `logs-and-exec`: see [`k8s_sdk_examples::logs_and_exec`].

use std::process::ExitCode;

use k8s_sdk_examples::Error;
use k8s_sdk_examples::cli::{self, OptionSpec};
use k8s_sdk_examples::logs_and_exec as example;

fn main() -> ExitCode {
    cli::main(
        "logs-and-exec",
        "a container's log as it is written, and commands run in the container",
        &[
            OptionSpec {
                name: "--pod",
                takes_value: true,
                help: "with --real-cluster: the Pod to follow and run commands in",
            },
            OptionSpec {
                name: "--port",
                takes_value: true,
                help: "the Pod's port to forward to (default 80 against the test server)",
            },
            OptionSpec {
                name: "--lines",
                takes_value: true,
                help: "how many log lines to follow (default 5)",
            },
        ],
        |args, out| async move {
            let mut options = example::Options::new(args.target);
            options.pod = args.value("--pod").map(str::to_owned);
            if let Some(n) = args.value("--lines") {
                options.lines = Some(
                    n.parse()
                        .map_err(|e| Error::Unexpected(format!("--lines {n:?}: {e}")))?,
                );
            }
            if let Some(p) = args.value("--port") {
                options.port = Some(
                    p.parse()
                        .map_err(|e| Error::Unexpected(format!("--port {p:?}: {e}")))?,
                );
            }
            example::run(&options, &out).await.map(|_| ())
        },
    )
}
