//! meterd: a sidecar that turns an AI app's telemetry into cost, quality and budget metrics.
//!
//! The tree follows the data, in one direction:
//! - [`statsd`], [`otlp`]: receivers (sockets at the edge, pure decoders inside) producing
//!   [`model::Sample`]s, [`model::UsageEvent`]s and [`model::QualityEvent`]s;
//! - [`pipeline`]: the hand-off; holds the current config snapshot and applies derived samples;
//! - [`derive`]: pure derivation of the `llm_*` families (usage, pricing, budgets, quality);
//! - [`store`]: the bounded, concurrent series registry;
//! - [`expose`]: `/metrics` (Prometheus text and OpenMetrics), health and the JSON API;
//! - [`config`]: schema, loading, validation; [`telemetry`]: meterd's own `meterd_*` metrics;
//! - [`report`]: `meterd report` (spend, forecast, what-if repricing) over the usage ledger;
//! - [`tls`]: optional TLS and mTLS on the TCP listeners, with certificates reloaded in place.

pub mod app;
pub mod config;
pub mod derive;
pub mod expose;
pub mod memory;
pub mod model;
pub mod names;
pub mod notify;
pub mod otlp;
pub mod pipeline;
pub mod receivers;
pub mod report;
pub mod state;
pub mod statsd;
pub mod store;
pub mod telemetry;
pub mod tls;
