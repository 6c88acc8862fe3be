//! `proxy-discovery`: see [`k8s_sdk_examples::proxy_discovery`].

use std::process::ExitCode;

use k8s_sdk_examples::cli::{self, OptionSpec};
use k8s_sdk_examples::proxy_discovery as example;

fn main() -> ExitCode {
    cli::main(
        "proxy-discovery",
        "discovery (groups, versions, resources and verbs) and Jobs through kubectl proxy",
        &[OptionSpec {
            name: "--url",
            takes_value: true,
            help: "with --real-cluster: the proxy's URL (default http://127.0.0.1:8001)",
        }],
        |args, out| async move {
            let mut options = example::Options::new(args.target);
            options.url = args.value("--url").map(str::to_owned);
            example::run(&options, &out).await.map(|_| ())
        },
    )
}
