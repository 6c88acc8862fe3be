//! `widget-operator`: see [`k8s_sdk_examples::widget_operator`]. Runs against the cluster of
//! the current kubeconfig (or in-cluster configuration), in its namespace, until Ctrl-C.

use std::process::ExitCode;

use futures::StreamExt;
use k8s_client::Client;
use k8s_sdk_examples::widget_operator as op;

#[tokio::main]
async fn main() -> ExitCode {
    let client = match Client::infer().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("widget-operator: no cluster configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = op::install_crd(&client).await {
        eprintln!("widget-operator: {e}");
        return ExitCode::FAILURE;
    }
    let namespace = client.namespace().to_owned();
    println!("widget-operator: reconciling Widgets in namespace {namespace} (Ctrl-C stops)");
    op::run(client, &namespace, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .for_each(|result| async move {
        match result {
            Ok((object, action)) => println!("reconciled {object}: {action:?}"),
            Err(e) => eprintln!("widget-operator: {e}"),
        }
    })
    .await;
    println!("widget-operator: stopped");
    ExitCode::SUCCESS
}
