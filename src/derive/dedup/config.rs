//! `otlp.dedup` and `otlp.usage_scopes`.

use crate::config::{child, index, HumanDuration, Issues};
use serde::Deserialize;
use std::time::Duration;

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
