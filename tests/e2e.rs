//! End-to-end tests of the foundation: real sockets, the real binary's CLI, a real Prometheus.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

mod support;

mod e2e {
    pub mod cli;
    pub mod http_auth;
    pub mod memory_guard;
    pub mod otlp_genai;
    pub mod otlp_sdk_metrics;
    pub mod prometheus_scrape;
    pub mod quality_pipeline;
    pub mod quality_statsd;
    pub mod reload;
    pub mod statsd_metrics;
}
