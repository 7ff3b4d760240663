//! Request authentication: bearer tokens and/or basic credentials, checked in constant time, for
//! the scrape endpoint and API (`http_auth`, gated in `expose::server`) and OTLP/HTTP
//! (`otlp.auth`). Callers read the live config on every request, so a reload rotates credentials.

pub use crate::config::auth::{AuthConfig, BasicCredential, MIN_SECRET_LEN, REDACTED};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

impl AuthConfig {
    /// Whether an `Authorization` header value is accepted. Pure, for tests and every transport.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        if !self.enabled() {
            return true;
        }
        let Some(value) = authorization else {
            return false;
        };
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            // Check every token (no early exit) so timing does not tell which one nearly matched.
            return self.bearer_tokens.iter().fold(false, |ok, t| {
                ok | constant_time_eq(t.as_bytes(), credentials.as_bytes())
            });
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let Some(decoded) = base64_decode(credentials) else {
                return false;
            };
            return self.basic.iter().fold(false, |ok, b| {
                let expected = format!("{}:{}", b.username, b.password);
                ok | constant_time_eq(expected.as_bytes(), &decoded)
            });
        }
        false
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding, as HTTP basic auth uses. Small enough not to need a crate.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    if bytes.len() % 4 == 1 || text.len() > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c)? << (18 - 6 * i);
        }
        let n = chunk.len() - 1;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Some(out)
}

/// The `Authorization` header as text, if present and printable.
pub fn header_value(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// 401 with a challenge for each accepted scheme, one per header line: Chromium reads only the
/// first scheme of a line, so a combined `Bearer ..., Basic ...` never asked for a password.
pub fn unauthorized() -> Response {
    let mut resp = (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
    for challenge in ["Bearer realm=\"meterd\"", "Basic realm=\"meterd\""] {
        resp.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Issues, Validate};

    fn config() -> AuthConfig {
        AuthConfig {
            bearer_tokens: vec!["0123456789abcdef-token".into()],
            basic: vec![BasicCredential {
                username: "prometheus".into(),
                password: "correct horse battery".into(),
            }],
        }
    }

    #[test]
    fn each_scheme_is_challenged_on_its_own_line() {
        let resp = unauthorized();
        let challenges: Vec<&str> = resp
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            challenges,
            ["Bearer realm=\"meterd\"", "Basic realm=\"meterd\""]
        );
    }

    #[test]
    fn disabled_allows_everything() {
        assert!(AuthConfig::default().allows(None));
    }

    #[test]
    fn bearer_and_basic_are_checked_exactly() {
        let c = config();
        assert!(c.allows(Some("Bearer 0123456789abcdef-token")));
        assert!(c.allows(Some("bearer 0123456789abcdef-token")));
        assert!(!c.allows(Some("Bearer 0123456789abcdef-tokeN")));
        assert!(!c.allows(Some("Bearer 0123456789abcdef-token-longer")));
        assert!(!c.allows(None));
        assert!(!c.allows(Some("")));
        // "prometheus:correct horse battery"
        assert!(c.allows(Some("Basic cHJvbWV0aGV1czpjb3JyZWN0IGhvcnNlIGJhdHRlcnk=")));
        assert!(!c.allows(Some("Basic cHJvbWV0aGV1czp3cm9uZw==")));
        assert!(!c.allows(Some("Basic !!!notbase64")));
        assert!(!c.allows(Some("Digest abc")));
    }

    #[test]
    fn base64_round_trips_known_vectors() {
        assert_eq!(base64_decode("Zm9vYmFy").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base64_decode("Zm9vYg==").as_deref(), Some(&b"foob"[..]));
        assert_eq!(base64_decode("Zg==").as_deref(), Some(&b"f"[..]));
        assert_eq!(base64_decode("Z"), None);
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("0123456789abcdef-token"), "{shown}");
        assert!(!shown.contains("correct horse"), "{shown}");
        assert!(
            shown.contains("prometheus") && shown.contains(REDACTED),
            "{shown}"
        );
    }

    #[test]
    fn short_secrets_are_rejected_by_validation() {
        let c = AuthConfig {
            bearer_tokens: vec!["short".into()],
            basic: vec![BasicCredential {
                username: "a:b".into(),
                password: "x".into(),
            }],
        };
        let mut issues = Issues::default();
        c.validate("http_auth", &mut issues);
        let paths: Vec<_> = issues.0.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "http_auth.bearer_tokens[0]",
                "http_auth.basic[0].username",
                "http_auth.basic[0].password"
            ]
        );
    }
}
