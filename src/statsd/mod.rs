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
//! `meterd_statsd_warnings_total{reason}` (lines kept despite a malformed part),
//! `meterd_statsd_packets_dropped_total{reason}`, `meterd_statsd_samples_dropped_total{reason}`,
//! `meterd_statsd_tcp_connections_closed_total{reason}`, `meterd_statsd_tcp_connections_open`.

pub mod convention;
pub mod ingest;
pub mod listener;
pub mod mapping;
pub mod parse;
mod udp;

pub use listener::spawn;
pub use mapping::{Mapper, MappingConfig};

use crate::config::{child, index, ByteSize, Issues, Validate};
use crate::model::UsageSemantics;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct StatsdConfig {
    /// Rules from StatsD names to Prometheus names and labels; the first match wins.
    pub mappings: Vec<MappingConfig>,
    /// Turn the `llm.*` names (llm.tokens, llm.requests, ...) into usage and quality events when no
    /// mapping matched them.
    pub llm_convention: bool,
    /// SO_RCVBUF for the UDP socket: absorbs bursts while the parsers catch up. The kernel caps it
    /// at net.core.rmem_max; the effective size is logged at start.
    pub udp_receive_buffer: ByteSize,
    /// Parser threads; 0 picks the number of CPUs (at most 4). Applies at start.
    pub workers: usize,
    /// Distinct StatsD names whose mapping result each worker remembers, so rules (regexes
    /// included) run once per name rather than once per line.
    pub mapping_cache_size: usize,
    /// Distinct series (type, name and tags as sent) each worker pre-aggregates between store
    /// updates, with their labels built once; past it the worker flushes and starts over.
    pub series_cache_size: usize,
    /// Providers (the `provider` tag, case-insensitive) whose usage lines are raw figures:
    /// `raw_input` (input excludes cache reads/writes: Anthropic, Bedrock Converse), `raw_output`
    /// (output excludes reasoning: Gemini), `raw` (both). Others are inclusive (see README).
    pub raw_usage_providers: BTreeMap<String, UsageSemantics>,
    /// Turn DogStatsD's `|c:<container id>` into a `container_id` label (as statsd_exporter does).
    /// Off by default: every container restart mints a new id, so each series multiplies by the
    /// number of containers ever seen until their series expire.
    pub container_id_label: bool,
}

impl Default for StatsdConfig {
    fn default() -> Self {
        StatsdConfig {
            mappings: Vec::new(),
            llm_convention: true,
            udp_receive_buffer: ByteSize(4 * 1024 * 1024),
            workers: 0,
            mapping_cache_size: 10_000,
            series_cache_size: 100_000,
            raw_usage_providers: BTreeMap::new(),
            container_id_label: false,
        }
    }
}

impl Validate for StatsdConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        for (i, m) in self.mappings.iter().enumerate() {
            m.validate(&index(&child(path, "mappings"), i), issues);
        }
        if self.mapping_cache_size == 0 {
            issues.error(child(path, "mapping_cache_size"), "must be greater than 0");
        }
        if self.series_cache_size == 0 {
            issues.error(child(path, "series_cache_size"), "must be greater than 0");
        }
        if self.workers > 64 {
            issues.error(child(path, "workers"), "must be at most 64");
        }
        for key in self.raw_usage_providers.keys() {
            if key.trim().is_empty() {
                issues.error(
                    child(path, "raw_usage_providers"),
                    "a provider name must not be empty",
                );
            }
        }
    }
}

impl StatsdConfig {
    /// How usage lines of `provider` count their parts (inclusive unless declared raw).
    pub fn usage_semantics(&self, provider: &str) -> UsageSemantics {
        self.raw_usage_providers
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(provider))
            .map_or(UsageSemantics::Inclusive, |(_, s)| *s)
    }
}
