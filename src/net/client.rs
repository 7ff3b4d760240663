//! Outgoing plain-HTTP requests (fleet queries, notification webhooks, `meterd report --url`): one
//! request per connection, HTTP/1, a body cap on the answer and one deadline over the whole
//! exchange, so no caller can be stalled past its timeout by a slow or hostile server.

use crate::config::fleet::Target;
use bytes::Bytes;
use http::{Method, StatusCode};
use std::time::Duration;

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
    use http_body_util::{BodyExt, Full, Limited};
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("connect {}:{}: {e}", target.host, target.port))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
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
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}
