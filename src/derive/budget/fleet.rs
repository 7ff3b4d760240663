//! Fleet-wide spend: each sidecar counts only its own app, so a budget shared by many replicas
//! asks a Prometheus-compatible query API (Prometheus, Thanos, Mimir) for the total with its
//! `fleet_query`, typically `sum(llm_budget_spend_usd{budget="search-monthly"})`: every sidecar's
//! own (local) spend gauge, summed.
//!
//! [`parse_response`] is pure; [`query`] is the edge (one HTTP/1 GET with a timeout and a body
//! cap). Results are cached in the engine with the time they were fetched and used only while
//! fresh and within the current period; when the API is down the budget falls back to local spend
//! and says so (`source: local`, `fleet_error`).

use crate::config::HumanDuration;
use crate::config::{child, Issues, Validate};
use crate::model::Labels;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct FleetConfig {
    /// Base URL of the query API, e.g. `http://prometheus:9090` or a Mimir/Thanos prefix
    /// (`http://mimir/prometheus`); plain HTTP. Unset: fleet queries are off.
    pub prometheus_url: Option<String>,
    pub refresh_interval: HumanDuration,
    pub timeout: HumanDuration,
    /// A fleet figure older than this is not used (local spend is, and the API says why).
    pub max_age: HumanDuration,
    /// Extra request headers (`X-Scope-OrgID` for Mimir, `Authorization`).
    pub headers: BTreeMap<String, String>,
}

/// Header values may be credentials (`Authorization`): printed configs show the names only.
impl std::fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: BTreeMap<&str, &str> = self
            .headers
            .keys()
            .map(|k| (k.as_str(), crate::expose::auth::REDACTED))
            .collect();
        f.debug_struct("FleetConfig")
            .field("prometheus_url", &self.prometheus_url)
            .field("refresh_interval", &self.refresh_interval)
            .field("timeout", &self.timeout)
            .field("max_age", &self.max_age)
            .field("headers", &headers)
            .finish()
    }
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            prometheus_url: None,
            refresh_interval: HumanDuration(Duration::from_secs(30)),
            timeout: HumanDuration(Duration::from_secs(5)),
            max_age: HumanDuration(Duration::from_secs(300)),
            headers: BTreeMap::new(),
        }
    }
}

impl Validate for FleetConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if let Some(url) = &self.prometheus_url {
            if let Err(e) = Target::parse(url) {
                issues.error(child(path, "prometheus_url"), e);
            }
        }
        for (key, d) in [
            ("refresh_interval", self.refresh_interval),
            ("timeout", self.timeout),
            ("max_age", self.max_age),
        ] {
            if d.0.is_zero() {
                issues.error(child(path, key), "must be greater than 0");
            }
        }
        for (k, v) in &self.headers {
            let ok = http::HeaderName::from_bytes(k.as_bytes()).is_ok()
                && http::HeaderValue::from_str(v).is_ok();
            if !ok {
                issues.error(child(path, format!("headers.{k}")), "invalid HTTP header");
            }
        }
    }
}

/// Largest query response accepted; a budget query returns a handful of series.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// `http://host[:port][/prefix]`, split for a raw HTTP/1 request.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub prefix: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("{url:?}: only http:// URLs are supported (use a local proxy for TLS)")
        })?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url:?}: unclosed [ in host"))?;
            match after.strip_prefix(':') {
                Some(p) => (h, p),
                None => (h, ""),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, p),
                None => (authority, ""),
            }
        };
        let port = if port.is_empty() {
            80
        } else {
            port.parse::<u16>()
                .map_err(|_| format!("{url:?}: bad port {port:?}"))?
        };
        if host.is_empty() {
            return Err(format!("{url:?}: no host"));
        }
        Ok(Target {
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
        })
    }
}

impl Target {
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// Parses an instant-query response (`vector` or `scalar`) into series and USD values.
pub fn parse_response(body: &[u8]) -> Result<Vec<(Labels, f64)>, String> {
    let r: Response =
        serde_json::from_slice(body).map_err(|e| format!("not a query API response: {e}"))?;
    if r.status != "success" {
        return Err(format!(
            "query failed: {}",
            r.error.unwrap_or_else(|| r.status.clone())
        ));
    }
    let data = r.data.ok_or("response has no data")?;
    let value = |s: &str| -> Result<f64, String> {
        let v: f64 = s.parse().map_err(|_| format!("bad sample value {s:?}"))?;
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(format!(
                "spend must be a finite non-negative number, got {s}"
            ))
        }
    };
    match data.result_type.as_str() {
        "vector" => {
            let samples: Vec<VectorSample> = serde_json::from_value(data.result)
                .map_err(|e| format!("bad vector result: {e}"))?;
            samples
                .into_iter()
                .map(|s| Ok((Labels::new(s.metric), value(&s.value.1)?)))
                .collect()
        }
        "scalar" => {
            let (_, v): (f64, String) = serde_json::from_value(data.result)
                .map_err(|e| format!("bad scalar result: {e}"))?;
            Ok(vec![(Labels::empty(), value(&v)?)])
        }
        other => Err(format!(
            "query returned a {other}; a fleet_query must return an instant vector or scalar"
        )),
    }
}

/// Runs one instant query. Every failure (connect, timeout, HTTP status, body) is an error string
/// for the API and the log; nothing here can stall the caller past `timeout`.
pub async fn query(
    target: &Target,
    headers: &BTreeMap<String, String>,
    promql: &str,
    timeout: Duration,
) -> Result<Vec<(Labels, f64)>, String> {
    use http_body_util::{BodyExt, Empty, Limited};
    let path = format!(
        "{}/api/v1/query?query={}",
        target.prefix,
        percent_encode(promql)
    );
    let fetch = async {
        let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("connect {}:{}: {e}", target.host, target.port))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("http handshake: {e}"))?;
        let conn = tokio::spawn(conn);
        let mut req = http::Request::get(path.as_str())
            .header(http::header::HOST, target.authority())
            .header(http::header::ACCEPT, "application/json");
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| format!("request: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading response: {e}"))?
            .to_bytes();
        conn.abort();
        if !status.is_success() && body.is_empty() {
            return Err(format!("HTTP {status}"));
        }
        parse_response(&body).map_err(|e| {
            if status.is_success() {
                e
            } else {
                format!("HTTP {status}: {e}")
            }
        })
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("http://prom:9090").unwrap(),
            Target {
                host: "prom".into(),
                port: 9090,
                prefix: "".into()
            }
        );
        assert_eq!(
            Target::parse("http://mimir/prometheus/").unwrap(),
            Target {
                host: "mimir".into(),
                port: 80,
                prefix: "/prometheus".into()
            }
        );
        assert_eq!(Target::parse("http://[::1]:9090").unwrap().host, "::1");
        assert!(Target::parse("https://prom").is_err());
        assert!(Target::parse("http://prom:x").is_err());
        assert!(Target::parse("http://").is_err());
    }

    #[test]
    fn vector_scalar_and_errors() {
        let v = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"user":"a"},"value":[1700000000.1,"12.5"]},{"metric":{},"value":[1,"0"]}]}}"#;
        let r = parse_response(v).unwrap();
        assert_eq!(r[0], (Labels::new([("user", "a")]), 12.5));
        assert_eq!(r[1], (Labels::empty(), 0.0));
        let s = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"3"]}}"#;
        assert_eq!(parse_response(s).unwrap(), vec![(Labels::empty(), 3.0)]);
        let e = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        assert!(parse_response(e).unwrap_err().contains("parse error"));
        let m = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(parse_response(m).unwrap_err().contains("matrix"));
        let neg = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"-1"]}}"#;
        assert!(parse_response(neg).is_err());
        let nan = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}"#;
        assert!(parse_response(nan).is_err());
        assert!(parse_response(b"<html>").is_err());
    }

    #[test]
    fn promql_is_percent_encoded() {
        assert_eq!(
            percent_encode("sum(x{a=\"b c\"})"),
            "sum%28x%7Ba%3D%22b%20c%22%7D%29"
        );
    }
}
