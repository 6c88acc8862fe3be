//! Upgraded connections: a WebSocket over an HTTP/1.1 request sent by reqwest (the client's
//! rustls configuration, proxy and credentials), framed by `tokio-tungstenite`.

use http::header::{AUTHORIZATION, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY};
use http::header::{SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE};
use k8s_core::Request;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::client::{Client, transport_error};
use crate::error::Error;

/// An open WebSocket to the API server.
pub(crate) type Socket = WebSocketStream<reqwest::Upgraded>;

impl Client {
    /// Opens a WebSocket for `req` offering `protocols` (best first); returns the socket and
    /// the protocol the server chose. A 401 with a rotating credential is retried once with a
    /// fresh one; any other answer than 101 becomes the server's error.
    pub(crate) async fn websocket(
        &self,
        req: &Request,
        protocols: &[&str],
    ) -> Result<(Socket, String), Error> {
        let http = self.upgrade_http()?;
        // A WebSocket upgrade is a GET (the API server serves these subresources on both).
        let url = format!("{}{}", self.inner.base, req.path_and_query());
        let offered = protocols.join(", ");
        let mut reauthenticated = false;
        loop {
            let key = generate_key();
            let mut rb = http
                .get(&url)
                .header(CONNECTION, "Upgrade")
                .header(UPGRADE, "websocket")
                .header(SEC_WEBSOCKET_VERSION, "13")
                .header(SEC_WEBSOCKET_KEY, &key)
                .header(SEC_WEBSOCKET_PROTOCOL, &offered);
            if let Some(a) = self.inner.credentials.header().await? {
                rb = rb.header(AUTHORIZATION, a);
            }
            if let Some(t) = self.inner.config.request_timeout {
                // Bounds the handshake only: the upgraded connection has no timeout.
                rb = rb.timeout(t);
            }
            let resp = rb
                .send()
                .await
                .map_err(|e| transport_error(req, "WebSocket upgrade request failed", e))?;
            let code = resp.status().as_u16();
            tracing::debug!(
                target: "k8s_client::request",
                "GET {} (WebSocket {offered}) -> {code} (Authorization: {})",
                req.path_and_query(),
                self.inner.credentials.describe(),
            );
            if code == 101 {
                let header = |n| {
                    resp.headers()
                        .get(n)
                        .and_then(|v: &http::HeaderValue| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                if header(SEC_WEBSOCKET_ACCEPT) != derive_accept_key(key.as_bytes()) {
                    return Err(Error::Stream {
                        path: req.path.clone(),
                        message:
                            "the server's WebSocket handshake has a wrong Sec-WebSocket-Accept"
                                .into(),
                    });
                }
                let protocol = header(SEC_WEBSOCKET_PROTOCOL);
                if !protocols.contains(&protocol.as_str()) {
                    return Err(Error::Stream {
                        path: req.path.clone(),
                        message: format!(
                            "the server chose WebSocket subprotocol {protocol:?}, none of the offered {offered}"
                        ),
                    });
                }
                let upgraded = resp
                    .upgrade()
                    .await
                    .map_err(|e| transport_error(req, "the WebSocket upgrade failed", e))?;
                let socket = WebSocketStream::from_raw_socket(upgraded, Role::Client, None).await;
                return Ok((socket, protocol));
            }
            if code == 401 && !reauthenticated {
                reauthenticated = true;
                if self.inner.credentials.refresh().await {
                    continue;
                }
            }
            return Err(self.error_from_response(req, resp).await);
        }
    }
}
