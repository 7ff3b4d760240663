//! OTLP receiver: metrics, traces and logs over gRPC (`:4317`) and HTTP (`:4318`).
//!
//! - [`convert`]: pure translation of export requests into samples (per the OTel "Prometheus and
//!   OpenMetrics compatibility" spec), usage events (GenAI spans or token metrics) and quality
//!   events (`gen_ai.evaluation.result` log events);
//! - [`ingest`]: the shared core both transports call: bounded concurrency, item caps, stream state,
//!   hand-off to the pipeline, and the `meterd_otlp_*` counters;
//! - [`grpc`]: tonic `MetricsService`, `TraceService`, `LogsService` (gzip accepted);
//! - [`http`]: `POST /v1/metrics`, `/v1/traces`, `/v1/logs` with protobuf or OTLP/JSON bodies.

pub mod convert;
pub mod grpc;
pub mod http;
pub mod ingest;
pub mod lenient;

use crate::config::{child, index, Issues, Validate};
use crate::model::UsageSemantics;
use serde::Deserialize;
use std::collections::BTreeMap;

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
    pub auth: crate::expose::auth::AuthConfig,
    /// How long and how many span and response keys are remembered so a call is priced once.
    pub dedup: crate::derive::dedup::DedupConfig,
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
            usage_scopes: crate::derive::dedup::config::default_usage_scopes(),
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
        crate::derive::dedup::config::validate_usage_scopes(
            &self.usage_scopes,
            &child(path, "usage_scopes"),
            issues,
        );
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

/// Starts the OTLP servers on already-bound listeners; both share one [`ingest::Ingest`] (so one
/// concurrency bound and one usage-stream table).
pub fn spawn(
    tasks: &mut tokio::task::JoinSet<()>,
    pipeline: &std::sync::Arc<crate::pipeline::Pipeline>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
    grpc: Option<tokio::net::TcpListener>,
    http: Option<tokio::net::TcpListener>,
    tls: &crate::tls::Live,
) {
    if grpc.is_none() && http.is_none() {
        return;
    }
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let ingest = ingest::Ingest::new(pipeline.clone(), started);
    if let Some(listener) = grpc {
        match tls.get(crate::tls::Which::OtlpGrpc) {
            Some(config) => {
                let rx = crate::tls::serve::accept(
                    listener,
                    config,
                    "otlp_grpc",
                    pipeline.store().clone(),
                    shutdown.clone(),
                );
                let incoming = crate::tls::serve::grpc_incoming(rx);
                tasks.spawn(grpc::serve(incoming, ingest.clone(), shutdown.clone()));
            }
            None => {
                let incoming = tonic::transport::server::TcpIncoming::from(listener);
                tasks.spawn(grpc::serve(incoming, ingest.clone(), shutdown.clone()));
            }
        }
    }
    if let Some(listener) = http {
        crate::app::spawn_http(
            tasks,
            listener,
            http::router(ingest),
            tls.get(crate::tls::Which::OtlpHttp),
            ("otlp_http", pipeline.store().clone()),
            shutdown,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{load_config, load_str};
    use crate::config::Config;

    #[test]
    fn shipped_config_documents_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meterd.yaml");
        let config = load_config(&path).expect("config/meterd.yaml loads");
        assert_eq!(config.otlp, OtlpConfig::default());
    }

    #[test]
    fn every_bad_value_is_reported_with_its_place() {
        let yaml = "otlp:\n  usage_source: logs\n";
        let err = load_str::<Config>(yaml, "t.yaml", &|_| None).expect_err("bad enum");
        assert!(err.to_string().contains("t.yaml:2"), "{err}");
        let yaml = "otlp:\n  max_items_per_request: 0\n  max_concurrent_requests: 0\n  \
                    resource_attributes_as_labels: ['']\n  stage_attribute: ' '\n  typo: 1\n";
        let err = load_str::<Config>(yaml, "t.yaml", &|_| None)
            .expect_err("invalid")
            .to_string();
        for want in [
            "otlp.max_items_per_request",
            "otlp.max_concurrent_requests",
            "otlp.resource_attributes_as_labels[0]",
            "otlp.stage_attribute",
            "unknown key `typo`",
        ] {
            assert!(err.contains(want), "{want} not in {err}");
        }
        let ok = load_str::<Config>("otlp:\n  usage_source: metrics\n", "t.yaml", &|_| None)
            .expect("valid");
        assert_eq!(ok.otlp.usage_source, UsageSource::Metrics);
        assert_eq!(ok.otlp.stage_attribute.as_deref(), Some("stage"));
        let off = load_str::<Config>("otlp:\n  stage_attribute: null\n", "t.yaml", &|_| None)
            .expect("valid");
        assert_eq!(off.otlp.stage_attribute, None);
        let renamed =
            load_str::<Config>("otlp:\n  stage_attribute: app.stage\n", "t.yaml", &|_| None)
                .expect("valid");
        assert_eq!(renamed.otlp.stage_attribute.as_deref(), Some("app.stage"));
    }
}
