//! StatsD receiver: UDP and newline-delimited TCP in, samples and `llm.*` convention events out.
//!
//! - [`parse`]: the line grammar (pure, zero-copy);
//! - [`mapping`]: config rules from StatsD names to Prometheus names and labels;
//! - [`convention`]: the `llm.*` names that become usage and quality events;
//! - [`ingest`]: one worker's per-line path (parse, map, limit, hand to the pipeline, count);
//! - [`listener`]: sockets, the bounded queue and the worker threads.
//!
//! Self-metrics: `meterd_statsd_packets_received_total{transport}`,
//! `meterd_statsd_lines_received_total{transport}`, `meterd_statsd_errors_total{reason}`,
//! `meterd_statsd_packets_dropped_total{reason}`, `meterd_statsd_samples_dropped_total{reason}`,
//! `meterd_statsd_tcp_connections_closed_total{reason}`, `meterd_statsd_tcp_connections_open`.

pub mod convention;
pub mod ingest;
pub mod listener;
pub mod mapping;
pub mod parse;
mod udp;

pub use listener::spawn;
pub use crate::config::statsd::{MappingConfig, StatsdConfig};
pub use mapping::Mapper;
