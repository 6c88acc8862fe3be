//! Runs a test server for a while and prints kubeconfig paths, for trying kubectl by hand:
//!
//! ```text
//! cargo run -p k8s-testserver --example serve -- 120 /path/to/spec/v1.36.0
//! KUBECONFIG=<printed path> kubectl get pods
//! ```

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let mut builder = k8s_testserver::TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .token("bob-token", "bob", &[]);
    if let Some(spec) = args.next() {
        builder = builder.spec_dir(spec);
    }
    let server = builder.start().await?;
    println!("url {}", server.url());
    println!("admin {}", server.kubeconfig_for("admin-token").display());
    println!("bob {}", server.kubeconfig_for("bob-token").display());
    println!(
        "cert {}",
        server.kubeconfig_for_cert("alice", &["devs"]).display()
    );
    println!("anonymous {}", server.kubeconfig_anonymous().display());
    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
    server.shutdown().await;
    Ok(())
}
