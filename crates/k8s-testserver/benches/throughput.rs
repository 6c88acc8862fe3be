//! Requests per second on loopback: a GET of one object, a list of 100, and watch events
//! delivered per second (for the runtime's comparison with kube-rs).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use k8s_testserver::TestServer;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

fn client(server: &TestServer) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (server, http) = rt.block_on(async {
        let server = TestServer::builder()
            .token("t", "admin", &["system:masters"])
            .watch_history(100_000)
            .start()
            .await
            .unwrap();
        let http = client(&server);
        for i in 0..100 {
            let body = format!(r#"{{"metadata":{{"name":"cm-{i}"}},"data":{{"k":"v"}}}}"#);
            http.post(format!(
                "{}/api/v1/namespaces/default/configmaps",
                server.url()
            ))
            .bearer_auth("t")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        }
        for i in 0..1000 {
            http.patch(format!(
                "{}/api/v1/namespaces/default/configmaps/cm-0",
                server.url()
            ))
            .bearer_auth("t")
            .header("content-type", "application/merge-patch+json")
            .body(format!(r#"{{"data":{{"k":"{i}"}}}}"#))
            .send()
            .await
            .unwrap();
        }
        (server, http)
    });
    let base = server.url().to_string();
    let mut g = c.benchmark_group("loopback");
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_configmap", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = http
                    .get(format!("{base}/api/v1/namespaces/default/configmaps/cm-1"))
                    .bearer_auth("t")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.bytes().await.unwrap()
            })
        })
    });
    g.bench_function("list_100_configmaps", |b| {
        b.iter(|| {
            rt.block_on(async {
                http.get(format!("{base}/api/v1/namespaces/default/configmaps"))
                    .bearer_auth("t")
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            })
        })
    });
    // Watch events: each iteration replays 1000 kept events from an old resource version.
    g.throughput(Throughput::Elements(1000));
    g.bench_function("watch_1000_events", |b| {
        b.iter(|| {
            rt.block_on(async {
                use futures_util::StreamExt;
                let r = http
                    .get(format!(
                        "{base}/api/v1/configmaps?watch=1&resourceVersion=200&timeoutSeconds=30"
                    ))
                    .bearer_auth("t")
                    .send()
                    .await
                    .unwrap();
                let mut stream = r.bytes_stream();
                let mut lines = 0usize;
                while lines < 1000 {
                    match stream.next().await {
                        Some(Ok(chunk)) => lines += chunk.iter().filter(|b| **b == b'\n').count(),
                        _ => break,
                    }
                }
                assert!(lines >= 1000, "only {lines} events");
            })
        })
    });
    g.finish();
    drop(server);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
