//! End-to-end tests of the foundation: real sockets, the real binary's CLI, a real Prometheus.

mod support;

mod e2e {
    pub mod cli;
    pub mod prometheus_scrape;
    pub mod reload;
    pub mod statsd_metrics;
}
