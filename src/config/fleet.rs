//! `fleet:`: where fleet-wide budget spend is queried (a Prometheus-compatible query API).

use super::{child, HumanDuration, Issues, Validate};
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
            .map(|k| (k.as_str(), super::auth::REDACTED))
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

/// `http[s]://host[:port][/prefix]`, split for a raw HTTP/1 request.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub prefix: String,
    /// `https://`: TLS, the server verified against the platform's trust store.
    pub tls: bool,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let (rest, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (rest, false),
            (_, Some(rest)) => (rest, true),
            _ => return Err(format!("{url:?}: not an http:// or https:// URL")),
        };
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
            if tls {
                443
            } else {
                80
            }
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
            tls,
        })
    }
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
                prefix: "".into(),
                tls: false,
            }
        );
        assert_eq!(
            Target::parse("http://mimir/prometheus/").unwrap(),
            Target {
                host: "mimir".into(),
                port: 80,
                prefix: "/prometheus".into(),
                tls: false,
            }
        );
        let hook = Target::parse("https://hooks.slack.com/services/T0/B0").unwrap();
        assert_eq!((hook.port, hook.tls), (443, true));
        assert_eq!(hook.prefix, "/services/T0/B0");
        assert_eq!(Target::parse("https://mimir:8443").unwrap().port, 8443);
        assert_eq!(Target::parse("http://[::1]:9090").unwrap().host, "::1");
        assert!(Target::parse("ftp://prom").is_err());
        assert!(Target::parse("http://prom:x").is_err());
        assert!(Target::parse("http://").is_err());
    }
}
