//! Static checks of the shipped artifacts: Grafana dashboards, Prometheus rules and their
//! promtool tests, the Alertmanager example, runbooks, the generated PrometheusRule, and the deploy
//! examples. promtool and amtool are the real Debian binaries (scripts/test.sh installs them);
//! these tests fail when they are missing.
//!
//! After editing alerts/*.rules.yml, regenerate deploy/kubernetes/prometheusrule.yaml with
//!   METERD_REGENERATE=1 cargo test --test artifacts

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

mod support;

mod artifacts {
    pub mod alerts;
    pub mod coverage;
    pub mod dashboards;
    pub mod deploy;
    pub mod prometheus_rule;
    pub mod tools;
}
