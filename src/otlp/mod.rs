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

pub use crate::config::otlp::{OtlpConfig, UsageSource};

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
        crate::net::spawn_http(
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
