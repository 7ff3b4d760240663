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
