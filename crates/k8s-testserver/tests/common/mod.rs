//! Helpers shared by the integration tests: HTTP clients that trust the server's CA.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use k8s_testserver::TestServer;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

fn tls_config(server: &TestServer, cert: Option<(String, String)>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    match cert {
        None => builder.with_no_client_auth(),
        Some((c, k)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(c.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(k.as_bytes()).unwrap(),
            )
            .unwrap(),
    }
}

/// A client for the server, optionally with a client certificate.
pub fn client(server: &TestServer, cert: Option<(String, String)>) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(server, cert))
        .build()
        .unwrap()
}

/// A client for plain-HTTP servers.
pub fn plain_client() -> reqwest::Client {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .build()
        .unwrap()
}

/// A request helper: method, path, token, body -> (status, headers, body text).
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub token: Option<String>,
}

impl Api {
    pub fn new(server: &TestServer, token: Option<&str>) -> Api {
        Api {
            base: server.url().to_string(),
            client: client(server, None),
            token: token.map(str::to_string),
        }
    }

    pub fn with_cert(server: &TestServer, user: &str, groups: &[&str]) -> Api {
        Api {
            base: server.url().to_string(),
            client: client(server, Some(server.client_cert(user, groups))),
            token: None,
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut rb = self
            .client
            .request(method.parse().unwrap(), format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        if let Some(b) = body {
            rb = rb.body(b.to_string());
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap())
    }

    pub async fn json(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        let ct = body.as_ref().map(|_| "application/json");
        let (s, _, text) = self.send(method, path, ct, body.as_deref()).await;
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.json("GET", path, None).await
    }
}

pub async fn admin_server() -> TestServer {
    TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .token("bob-token", "bob", &[])
        .start()
        .await
        .unwrap()
}

/// Reads watch events from a streaming response until `n` events arrived, the stream ended, or
/// `secs` passed.
pub async fn read_events(resp: reqwest::Response, n: usize, secs: u64) -> (Vec<Value>, bool) {
    use futures_util::StreamExt;
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut ended_with_error = false;
    while events.len() < n {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        match next {
            Err(_) | Ok(None) => break,
            Ok(Some(Err(_))) => {
                ended_with_error = true;
                break;
            }
            Ok(Some(Ok(chunk))) => {
                buf.extend_from_slice(&chunk);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                        events.push(v);
                    }
                }
            }
        }
    }
    (events, ended_with_error)
}
