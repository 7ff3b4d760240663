//! StatsD receiver: UDP and newline-delimited TCP in, through the pure `statsd` parser, mapper
//! and convention, to the pipeline.
//!
//! - [`ingest`]: one worker's per-line path (parse, map, limit, hand to the pipeline, count);
//! - [`listener`]: sockets, the bounded queue and the worker threads.
//!
//! Self-metrics: `meterd_statsd_packets_received_total{transport}`,
//! `meterd_statsd_lines_received_total{transport}`, `meterd_statsd_errors_total{reason}`,
//! `meterd_statsd_packets_dropped_total{reason}`, `meterd_statsd_samples_dropped_total{reason}`,
//! `meterd_statsd_tcp_connections_closed_total{reason}`, `meterd_statsd_tcp_connections_open`.

pub mod ingest;
pub mod listener;
mod udp;

pub use listener::spawn;
