//! `otlp:`: the OTLP receiver's settings, including how long span and response keys are kept so
//! a call is priced once (`otlp.dedup`) and which instrumentation scope prices a call when two
//! report it (`otlp.usage_scopes`).

use super::auth::AuthConfig;
use super::{child, index, HumanDuration, Issues, Validate};
use crate::model::UsageSemantics;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Which OTLP signal prices GenAI usage. The other one still passes through as ordinary metrics
/// (or is ignored, for spans) but is never counted as usage, so a call reported both ways is
/// counted once.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// GenAI spans (the default): one event per call with its response model, status, latency,
    /// time to first token, stage and trace id (for exemplars). Head-sampled traces are weighted
    /// by the `ot=th` threshold in `tracestate`; apps that sample without it should choose
    /// `metrics`.
    #[default]
    Spans,
    /// `gen_ai.client.token.usage`, `gen_ai.client.inference.usage.*`,
    /// `gen_ai.client.operation.duration` (request counts) and the time-to-first-token histograms:
    /// never sampled, so exact, but without per-call latency or trace links.
    Metrics,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct OtlpConfig {
    pub usage_source: UsageSource,
    /// Resource attributes copied onto every translated metric as labels (besides `job` and
    /// `instance`, which are always derived); the rest only appear on `target_info`.
    pub resource_attributes_as_labels: Vec<String>,
    /// Data points, spans or log records accepted per request; the excess is rejected through
    /// `partial_success` so the sender sees it.
    pub max_items_per_request: usize,
    /// Requests decoded and applied at once across both transports; more are answered with the
    /// protocol's retryable overload code (gRPC `UNAVAILABLE`, HTTP 503 with `Retry-After`).
    /// Fixed when the listeners start: a reload does not change it, a restart does.
    pub max_concurrent_requests: usize,
    /// Cumulative GenAI metric streams (tokens, requests, time to first token) remembered to turn
    /// totals into deltas.
    pub max_usage_streams: usize,
    /// The span attribute naming a pipeline stage: every span carrying it observes its wall time
    /// in `llm_stage_duration_seconds{stage}`, whatever the usage source. `None` (YAML `null`)
    /// turns this off.
    pub stage_attribute: Option<String>,
    /// Credentials required of senders on both transports (off when empty). Separate from
    /// `http_auth`, so a scrape credential never allows ingest.
    pub auth: AuthConfig,
    /// How long and how many span and response keys are remembered so a call is priced once.
    pub dedup: DedupConfig,
    /// Precedence between instrumentation scopes reporting one service instance's calls to one
    /// provider without a response id (first wins; `prefix*` patterns; unlisted scopes last).
    pub usage_scopes: Vec<String>,
    /// Instrumentation scope names (the tracer's name, exactly) whose GenAI spans carry a
    /// provider's raw usage: `raw_input` (input excludes cache reads/writes: Anthropic, Bedrock
    /// Converse), `raw_output` (output excludes reasoning: Gemini), `raw` (both). Other scopes
    /// are inclusive, as the GenAI conventions count (see README).
    pub raw_usage_scopes: BTreeMap<String, UsageSemantics>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            usage_source: UsageSource::Spans,
            resource_attributes_as_labels: Vec::new(),
            max_items_per_request: 100_000,
            max_concurrent_requests: 16,
            max_usage_streams: 10_000,
            stage_attribute: Some("stage".to_owned()),
            auth: Default::default(),
            dedup: Default::default(),
            usage_scopes: default_usage_scopes(),
            raw_usage_scopes: BTreeMap::new(),
        }
    }
}

impl Validate for OtlpConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        for (key, v) in [
            ("max_items_per_request", self.max_items_per_request),
            ("max_concurrent_requests", self.max_concurrent_requests),
            ("max_usage_streams", self.max_usage_streams),
        ] {
            if v == 0 {
                issues.error(child(path, key), "must be greater than 0");
            }
        }
        if self
            .stage_attribute
            .as_deref()
            .is_some_and(|a| a.trim().is_empty())
        {
            issues.error(
                child(path, "stage_attribute"),
                "must not be empty (use null to read no stage from spans)",
            );
        }
        self.auth.validate(&child(path, "auth"), issues);
        self.dedup.validate(&child(path, "dedup"), issues);
        validate_usage_scopes(&self.usage_scopes, &child(path, "usage_scopes"), issues);
        if self.raw_usage_scopes.keys().any(|k| k.trim().is_empty()) {
            issues.error(
                child(path, "raw_usage_scopes"),
                "a scope name must not be empty",
            );
        }
        for (i, a) in self.resource_attributes_as_labels.iter().enumerate() {
            if a.is_empty() {
                issues.error(
                    index(&child(path, "resource_attributes_as_labels"), i),
                    "must not be empty",
                );
            }
        }
    }
}

/// How long, and how many, span and response keys are remembered.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct DedupConfig {
    /// A retry or a second emitter's span arriving later than this after the first is priced
    /// again. OTLP exporters give up retrying after minutes; 15 m covers them with room to spare.
    pub window: HumanDuration,
    /// Keys held at most (a priced span holds one, two with a response id); the oldest go first,
    /// counted in `meterd_otlp_dedup_evicted_total`. About 170 bytes each (BENCHMARKS.md).
    pub max_entries: usize,
}

/// Far beyond any sidecar's 15 minutes of calls; keeps a typo from reserving gigabytes.
pub const MAX_ENTRIES: usize = 10_000_000;
const MAX_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            window: HumanDuration(Duration::from_secs(15 * 60)),
            max_entries: 100_000,
        }
    }
}

impl DedupConfig {
    pub fn validate(&self, path: &str, issues: &mut Issues) {
        if self.window.0 < Duration::from_secs(1) || self.window.0 > MAX_WINDOW {
            issues.error(child(path, "window"), "must be between 1s and 7d");
        }
        if self.max_entries == 0 || self.max_entries > MAX_ENTRIES {
            issues.error(
                child(path, "max_entries"),
                format!("must be between 1 and {MAX_ENTRIES}"),
            );
        }
    }
}

/// The default precedence between instrumentation scopes reporting one service instance's calls
/// to one provider (first wins): the provider SDKs' own spans, then the OpenTelemetry
/// instrumentations (contrib and OpenLLMetry), then OpenInference.
pub fn default_usage_scopes() -> Vec<String> {
    [
        // The Python Anthropic SDK's own tracer is `com.anthropic.sdk.python`.
        "com.anthropic*",
        "anthropic*",
        "openai*",
        "google.genai*",
        "opentelemetry.instrumentation.*",
        // The GenAI util handler that opentelemetry-instrumentation-openai-v2 and -google-genai
        // report through.
        "opentelemetry.util.genai*",
        "openinference.instrumentation.*",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

pub fn validate_usage_scopes(scopes: &[String], path: &str, issues: &mut Issues) {
    for (i, s) in scopes.iter().enumerate() {
        let p = s.trim_end_matches('*');
        if p.is_empty() || p.contains('*') {
            issues.error(
                index(path, i),
                "must be a scope name, or a prefix ending in `*` (e.g. opentelemetry.instrumentation.*)",
            );
        }
    }
}
