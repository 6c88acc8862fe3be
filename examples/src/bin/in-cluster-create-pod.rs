//! `in-cluster-create-pod`: see [`k8s_sdk_examples::in_cluster_create_pod`].

use std::process::ExitCode;

use k8s_sdk_examples::{cli, in_cluster_create_pod as example};

fn main() -> ExitCode {
    cli::main(
        "in-cluster-create-pod",
        "create a Pod from inside a Pod: 403 until RBAC allows it, then 201",
        &[],
        |args, out| async move {
            example::run(&example::Options::new(args.target), &out)
                .await
                .map(|_| ())
        },
    )
}
