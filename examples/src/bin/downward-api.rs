//! `downward-api`: see [`k8s_sdk_examples::downward_api`].

use std::process::ExitCode;

use k8s_sdk_examples::cli::{self, OptionSpec};
use k8s_sdk_examples::downward_api as example;

fn main() -> ExitCode {
    cli::main(
        "downward-api",
        "what a Pod knows about itself from environment variables and a downwardAPI volume",
        &[OptionSpec {
            name: "--volume",
            takes_value: true,
            help: "with --real-cluster: the downwardAPI volume directory (default /etc/podinfo)",
        }],
        |args, out| async move {
            let mut options = example::Options::new(args.target);
            options.volume = args.value("--volume").map(Into::into);
            example::run(&options, &out).await.map(|_| ())
        },
    )
}
