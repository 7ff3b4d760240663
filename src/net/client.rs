//! Outgoing HTTP and HTTPS requests (fleet queries, notification webhooks such as Slack's,
//! `meterd report --url`, `meterd budgets`): one request per connection, HTTP/1, a body cap on the
//! answer and one deadline over the whole exchange (TLS handshake included), so no caller can be
//! stalled past its timeout by a slow or hostile server.
//!
//! HTTPS verifies the server against the platform's trust store (`/etc/ssl/certs`, or the
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` variables OpenSSL-based tools read), loaded once per process.

use crate::config::fleet::Target;
use bytes::Bytes;
use http::{Method, StatusCode};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

impl Target {
    /// The `Host` header value.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One request: `path` (with its query) is sent as is (callers add `target.prefix` where it
/// applies); the answer's body is read up to `max_body` bytes. Every failure (connect, handshake,
/// send, body, deadline) is an error string for the log and the API.
pub async fn request(
    target: &Target,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Bytes>,
    max_body: usize,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), String> {
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("connect {}:{}: {e}", target.host, target.port))?;
        if target.tls {
            let tls = tls_connect(target, tcp).await?;
            exchange(target, tls, method, path, headers, body, max_body).await
        } else {
            exchange(target, tcp, method, path, headers, body, max_body).await
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

/// The handshake, with the server name checked against its certificate (SNI for the host name;
/// an IP address is matched against the certificate's IP entries).
async fn tls_connect(
    target: &Target,
    tcp: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let config = client_config()?;
    let name = rustls_pki_types::ServerName::try_from(target.host.clone())
        .map_err(|e| format!("{}: not a TLS server name: {e}", target.host))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {}: {e}", target.authority()))
}

/// Built on first use: reading the trust store parses every root (milliseconds), and a process
/// that never speaks HTTPS never reads it. A store that yields no root is an error at each use
/// (every handshake would fail anyway), naming where roots are looked for.
fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                return Err(format!(
                    "no trusted root certificate found for HTTPS (install ca-certificates, or set                      SSL_CERT_FILE to a PEM bundle){}",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", why.join("; "))
                    }
                ));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS client: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
}

async fn exchange<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    target: &Target,
    io: IO,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Bytes>,
    max_body: usize,
) -> Result<(StatusCode, Bytes), String> {
    use http_body_util::{BodyExt, Full, Limited};
    {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
                .await
                .map_err(|e| format!("http handshake: {e}"))?;
        let conn = tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, target.authority());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("request: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), max_body)
            .collect()
            .await
            .map_err(|e| format!("reading response: {e}"))?
            .to_bytes();
        conn.abort();
        Ok((status, body))
    }
}
