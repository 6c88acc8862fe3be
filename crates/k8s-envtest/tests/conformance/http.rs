//! Raw HTTP/1.1 over TLS, one connection per request (as the recorder of the fixtures did):
//! the request line is sent exactly as written, so paths with `..` or `%2e%2e` reach the
//! server unchanged (a URL-normalising client resolves them before sending).

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The user agent of the recorder, so that `managedFields` name the same manager.
pub const USER_AGENT: &str = "record-apiserver/1.0 (linux/amd64) python-http.client";

/// One request as sent on the wire.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub method: String,
    /// Path and query, sent as written.
    pub path: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// A response; `status` 0 means the server closed the connection without one.
#[derive(Clone, Debug, Default)]
pub struct RawResponse {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// How a request authenticates: a bearer token, a client certificate, or nothing.
#[derive(Clone)]
pub struct Identity {
    pub token: Option<String>,
    pub tls: Arc<rustls::ClientConfig>,
}

/// A TLS configuration trusting `ca_pem`, optionally with a client certificate.
pub fn tls_config(ca_pem: &str, cert: Option<(String, String)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM"))
        .expect("CA certificate");
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots);
    let mut config = match cert {
        None => builder.with_no_client_auth(),
        Some((c, k)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(c.as_bytes()).expect("client cert")],
                PrivateKeyDer::from_pem_slice(k.as_bytes()).expect("client key"),
            )
            .expect("client auth"),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Sends `req` to `addr` (`127.0.0.1:port`) and reads the response until the server closes
/// the connection or `timeout` passes.
pub async fn send(
    addr: &str,
    who: &Identity,
    req: &RawRequest,
    timeout: Duration,
) -> Result<RawResponse, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(who.tls.clone());
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\n",
        req.method, req.path
    );
    if let Some(t) = &who.token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(a) = &req.accept {
        head.push_str(&format!("Accept: {a}\r\n"));
    }
    if let Some(ct) = &req.content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    let body = req.body.as_deref().unwrap_or_default();
    if req.body.is_some() || matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let io = async {
        tls.write_all(head.as_bytes()).await?;
        // A server may answer (413) and close before reading a large body.
        if let Err(e) = tls.write_all(body).await {
            if e.kind() != std::io::ErrorKind::BrokenPipe
                && e.kind() != std::io::ErrorKind::ConnectionReset
            {
                return Err(e);
            }
        }
        let _ = tls.flush().await;
        let mut out = Vec::new();
        // A close without TLS close_notify (or a reset) still ends the response.
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) if !out.is_empty() => break,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    };
    let bytes = tokio::time::timeout(timeout, io)
        .await
        .map_err(|_| {
            format!(
                "{} {}: no end of response after {timeout:?}",
                req.method, req.path
            )
        })?
        .map_err(|e| format!("{} {}: {e}", req.method, req.path))?;
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Result<RawResponse, String> {
    if bytes.is_empty() {
        return Ok(RawResponse::default());
    }
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("response without end of headers")?;
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let raw = &bytes[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// Chunked transfer coding; a stream cut short keeps what arrived.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        raw = &raw[eol + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(raw.len());
        out.extend_from_slice(&raw[..take]);
        raw = &raw[take..];
        if raw.len() >= 2 {
            raw = &raw[2..];
        }
    }
    out
}
