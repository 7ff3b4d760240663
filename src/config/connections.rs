//! Checks of the connection limits in `limits` (caps, header, idle and body timeouts per TCP
//! listener). At a listener's cap the connection idle longest makes room, one that never finished
//! its request headers first; when every connection is busy the new one is closed at once. Both
//! are counted (`meterd_connections_closed_total`, `meterd_connections_rejected_total`).

use super::{child, Issues, Limits};
use std::time::Duration;

/// Longer than any client would wait for an answer: a larger value only keeps attackers' sockets.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn validate(l: &Limits, path: &str, issues: &mut Issues) {
    for (key, v) in [
        ("http_max_connections", l.http_max_connections),
        ("otlp_http_max_connections", l.otlp_http_max_connections),
        ("otlp_grpc_max_connections", l.otlp_grpc_max_connections),
    ] {
        if v == 0 {
            issues.error(child(path, key), "must be greater than 0");
        }
    }
    for (key, d) in [
        ("header_read_timeout", l.header_read_timeout.0),
        ("otlp_body_timeout", l.otlp_body_timeout.0),
    ] {
        if d.is_zero() || d > MAX_TIMEOUT {
            issues.error(
                child(path, key),
                format!(
                    "must be greater than 0 and at most {}s",
                    MAX_TIMEOUT.as_secs()
                ),
            );
        }
    }
    if l.max_buffered_body_bytes.0 == 0 {
        issues.error(
            child(path, "max_buffered_body_bytes"),
            "must be greater than 0",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::load_str;
    use crate::config::Config;

    #[test]
    fn zero_caps_and_unbounded_timeouts_are_reported_with_their_place() {
        let yaml = "limits:\n  http_max_connections: 0\n  otlp_grpc_max_connections: 0\n  \
                    header_read_timeout: 0s\n  otlp_body_timeout: 1h\n  \
                    max_buffered_body_bytes: 0\n";
        let err = load_str::<Config>(yaml, "t.yaml", &|_| None)
            .expect_err("invalid")
            .to_string();
        for want in [
            "limits.http_max_connections",
            "limits.otlp_grpc_max_connections",
            "limits.header_read_timeout",
            "limits.otlp_body_timeout",
            "limits.max_buffered_body_bytes",
        ] {
            assert!(err.contains(want), "{want} not in {err}");
        }
        assert!(!err.contains("otlp_http_max_connections"), "{err}");
    }

    #[test]
    fn shipped_config_documents_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meterd.yaml");
        let config = crate::config::load::load_config(&path).expect("config/meterd.yaml loads");
        assert_eq!(config.limits, crate::config::Limits::default());
    }

    #[test]
    fn idle_timeout_zero_turns_it_off() {
        let ok = load_str::<Config>("limits:\n  idle_timeout: 0s\n", "t.yaml", &|_| None)
            .expect("valid");
        assert!(ok.limits.idle_timeout.0.is_zero());
    }
}
