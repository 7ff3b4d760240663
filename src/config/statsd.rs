//! `statsd:`: the StatsD receiver's settings and its mapping rules (compiled by
//! `statsd::Mapper`).

use super::{child, ByteSize, HumanDuration, Issues, Validate};
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
    /// at net.core.rmem_max; the effective size is logged at start. The default is large because
    /// the cap decides on an untuned host, and where rmem_max was raised for a high rate, this
    /// should follow without a second setting; it costs kernel memory only while datagrams queue.
    pub udp_receive_buffer: ByteSize,
    /// Parser threads; 0 picks the number of CPUs (at most 4). Applies at start.
    pub workers: usize,
    /// UDP receive threads that parse what they receive, each on its own socket (bound to
    /// `listeners.statsd_udp` with SO_REUSEPORT when more than one). 0: one receive thread hands
    /// datagrams to the `workers`. Applies at start.
    pub udp_receive_threads: usize,
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
            udp_receive_buffer: ByteSize(32 * 1024 * 1024),
            workers: 0,
            udp_receive_threads: 0,
            mapping_cache_size: 10_000,
            series_cache_size: 100_000,
            raw_usage_providers: BTreeMap::new(),
            container_id_label: false,
        }
    }
}

impl Validate for StatsdConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        // `mappings` are checked where they are compiled (`statsd::Mapper::try_new`).
        if self.mapping_cache_size == 0 {
            issues.error(child(path, "mapping_cache_size"), "must be greater than 0");
        }
        if self.series_cache_size == 0 {
            issues.error(child(path, "series_cache_size"), "must be greater than 0");
        }
        if self.workers > 64 {
            issues.error(child(path, "workers"), "must be at most 64");
        }
        if self.udp_receive_threads > 64 {
            issues.error(child(path, "udp_receive_threads"), "must be at most 64");
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

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MatchType {
    #[default]
    Glob,
    Regex,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[default]
    Map,
    Drop,
}

/// Restricts a rule to one StatsD type; `observer` means any of ms, h and d.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TypeFilter {
    Counter,
    Gauge,
    Timer,
    Histogram,
    Distribution,
    Set,
    Observer,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MappingConfig {
    #[serde(rename = "match")]
    pub pattern: String,
    pub match_type: MatchType,
    /// Prometheus family name (required unless `action: drop`); may use `$1`..`$9`.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub action: Action,
    /// Histogram bucket upper bounds for timers (in seconds), histograms and distributions.
    pub buckets: Option<Vec<f64>>,
    /// Idle expiry of this family's series (default `limits.series_ttl`; `0` never expires).
    pub ttl: Option<HumanDuration>,
    #[serde(rename = "type")]
    pub metric_type: Option<TypeFilter>,
    pub help: Option<String>,
    /// Timers, histograms and distributions as a histogram (`buckets`) or a summary
    /// (`summary_options`), as statsd_exporter's key of the same name.
    pub observer_type: super::summary::ObserverType,
    pub summary_options: Option<super::summary::SummaryOptionsConfig>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_config_documents_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meterd.yaml");
        let config = crate::config::load::load_config(&path).expect("config/meterd.yaml loads");
        assert_eq!(config.statsd, super::StatsdConfig::default());
    }
}
