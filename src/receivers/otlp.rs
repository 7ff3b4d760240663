//! OTLP receiver: metrics, traces and logs over gRPC (`:4317`) and HTTP (`:4318`), translated by
//! the pure `otlp::convert`.
//!
//! - [`ingest`]: the shared core both transports call: bounded concurrency, item caps, stream state,
//!   hand-off to the pipeline, and the `meterd_otlp_*` counters;
//! - [`grpc`]: tonic `MetricsService`, `TraceService`, `LogsService` (gzip accepted);
//! - [`http`]: `POST /v1/metrics`, `/v1/traces`, `/v1/logs` with protobuf or OTLP/JSON bodies.

pub mod grpc;
pub mod http;
pub mod ingest;

use crate::net::limits::http::accept_plain;
use crate::net::limits::{Gate, Which};

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
    let started = crate::clock::unix_nanos();
    let ingest = ingest::Ingest::new(pipeline.clone(), started);
    if let Some(listener) = grpc {
        let gate = Gate::for_pipeline(Which::OtlpGrpc, pipeline);
        let admitted = accept_plain(listener, gate.clone(), shutdown.clone());
        match tls.get(crate::tls::Which::OtlpGrpc) {
            Some(config) => {
                let owner = (gate.name(), gate.store().clone());
                let rx = crate::tls::serve::accept(admitted, config, owner, shutdown.clone());
                let incoming = crate::tls::serve::grpc_incoming(rx);
                tasks.spawn(grpc::serve(incoming, ingest.clone(), shutdown.clone()));
            }
            None => {
                let incoming = grpc::plain_incoming(admitted);
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
            Gate::for_pipeline(Which::OtlpHttp, pipeline),
            shutdown,
        );
    }
}
