//! End-to-end tests of the foundation: real sockets, the real binary's CLI, a real Prometheus.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

mod support;

mod e2e {
    pub mod admin;
    pub mod budget_integrity;
    pub mod budget_notifications;
    pub mod budgets_api;
    pub mod budgets_api_edges;
    pub mod cli;
    pub mod corrupt_state;
    pub mod default_caps;
    pub mod disk_full;
    pub mod emitters_js;
    pub mod emitters_python;
    pub mod error_types;
    pub mod first_run;
    pub mod hostile_connections;
    pub mod hostile_values;
    pub mod http_auth;
    pub mod idle_memory;
    pub mod kill9_durability;
    pub mod memory_guard;
    pub mod otlp_auth;
    pub mod otlp_dedup;
    pub mod otlp_genai;
    pub mod otlp_grpc_overload;
    pub mod otlp_invalid_utf8;
    pub mod otlp_prometheus;
    pub mod otlp_protocol;
    pub mod otlp_python;
    pub mod otlp_sdk_metrics;
    pub mod otlp_ttft_stage;
    pub mod pricing_cli;
    pub mod pricing_cost;
    pub mod pricing_import;
    pub mod pricing_otlp;
    pub mod pricing_reference;
    pub mod pricing_reference_paths;
    pub mod pricing_statsd;
    pub mod prometheus_scrape;
    pub mod quality_otlp;
    pub mod quality_pipeline;
    pub mod quality_rules;
    pub mod quality_statsd;
    pub mod recommendations;
    pub mod redact_everywhere;
    pub mod reload;
    pub mod scrape_memory;
    pub mod secrets;
    pub mod slack_notifications;
    pub mod sparse_series;
    pub mod statsd_clients;
    pub mod statsd_mapping;
    pub mod statsd_metrics;
    pub mod statsd_parity;
    pub mod statsd_tcp;
    pub mod tls;
    pub mod ui_browser;
    pub mod ui_page;
    pub mod usage_ledger;
    pub mod usage_report;
    pub mod usage_semantics;
}
