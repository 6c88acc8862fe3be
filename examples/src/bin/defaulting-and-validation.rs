//! `defaulting-and-validation`: see [`k8s_sdk_examples::defaulting_and_validation`].

use std::process::ExitCode;

use k8s_sdk_examples::{cli, defaulting_and_validation as example};

fn main() -> ExitCode {
    cli::main(
        "defaulting-and-validation",
        "dryRun=All and the fields the server fills in; 422 for an immutable field; a Deployment",
        &[],
        |args, out| async move {
            example::run(&example::Options::new(args.target), &out)
                .await
                .map(|_| ())
        },
    )
}
