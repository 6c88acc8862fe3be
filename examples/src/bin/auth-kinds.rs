//! `auth-kinds`: see [`k8s_sdk_examples::auth_kinds`].

use std::process::ExitCode;

use k8s_sdk_examples::auth_kinds as example;
use k8s_sdk_examples::cli::{self, OptionSpec};

fn main() -> ExitCode {
    cli::main(
        "auth-kinds",
        "the same GET anonymously (403), with a wrong client certificate (401), a good one and a token (200)",
        &[OptionSpec {
            name: "--kubeconfig",
            takes_value: true,
            help: "with --real-cluster: a kubeconfig file to try (repeatable)",
        }],
        |args, out| async move {
            let mut options = example::Options::new(args.target);
            options.kubeconfigs = args.values("--kubeconfig").iter().map(Into::into).collect();
            example::run(&options, &out).await.map(|_| ())
        },
    )
}
