//! OTLP/gRPC: `MetricsService`, `TraceService` and `LogsService` on one tonic server.
//!
//! Status codes follow the OTLP spec: malformed payloads are `INVALID_ARGUMENT` and oversized
//! ones `RESOURCE_EXHAUSTED` (both not retried), overload is `UNAVAILABLE` (retried). tonic
//! itself reports a protobuf decode failure as `INTERNAL` and an oversized message as
//! `OUT_OF_RANGE`; [`StatusFix`] rewrites those trailers-only answers before they leave.
//! The request size cap is `limits.max_request_bytes`, applied by tonic to the message and, for
//! gzip, to its decompressed size. Metrics and traces are read in place where they can be
//! ([`crate::otlp::view`]); otherwise messages are decoded leniently ([`lenient_server`]): items
//! that do not decode are dropped and reported in `partial_success`, the rest is accepted.

mod lenient_server;

use super::ingest::{Ingest, Outcome, Signal, Transport};
use lenient_server::{decode_lenient, Decoded, Dropped, LenientServer, Method};
use opentelemetry_proto::tonic::collector::logs::v1::{
    logs_service_server::LogsService, ExportLogsPartialSuccess, ExportLogsServiceRequest,
    ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// The largest HTTP/2 frame a client may send (SETTINGS_MAX_FRAME_SIZE; 16 KiB by default).
const MAX_FRAME: u32 = 256 * 1024;

#[derive(Clone)]
struct Svc {
    ingest: Arc<Ingest>,
}

impl Svc {
    /// Runs `work` off the async threads (conversion of a large batch is CPU-bound), holding a
    /// concurrency permit for its whole duration.
    async fn run<R: Send + 'static>(
        &self,
        signal: Signal,
        req: Request<R>,
        work: fn(&Ingest, &R) -> Result<Outcome, Status>,
    ) -> Result<Outcome, Status> {
        let dropped = req.extensions().get::<Dropped>().map_or(0, |d| d.0);
        let req = req.into_inner();
        let Some(permit) = self.ingest.try_permit() else {
            self.ingest.request(Transport::Grpc, signal, "overloaded");
            return Err(Status::unavailable(
                "meterd is overloaded (otlp.max_concurrent_requests); retry with backoff",
            ));
        };
        let ingest = self.ingest.clone();
        let mark = self.ingest.spend_mark();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut outcome = work(&ingest, &req)?;
            ingest.dropped_undecodable(signal, &mut outcome, dropped);
            Ok::<Outcome, Status>(outcome)
        })
        .await
        .map_err(|_| Status::unavailable("request processing was interrupted; retry"))??;
        if let Err(e) = self.ingest.durable(mark).await {
            self.ingest.request(Transport::Grpc, signal, "not_durable");
            return Err(Status::unavailable(format!(
                "budget spend could not be made durable ({}); retry",
                e.0
            )));
        }
        let result = if outcome.rejected > 0 {
            "partial"
        } else {
            "success"
        };
        self.ingest.request(Transport::Grpc, signal, result);
        Ok(outcome)
    }
}

fn partial(o: &Outcome) -> bool {
    o.rejected > 0 || !o.message.is_empty()
}

/// A metrics export as received: read in place when it can be ([`Ingest::metrics_in_place`]),
/// else decoded with prost (leniently) off the async threads.
pub struct MetricsRequest(bytes::Bytes);

fn metrics(ingest: &Ingest, req: &MetricsRequest) -> Result<Outcome, Status> {
    if let Some(outcome) = ingest.metrics_in_place(&req.0) {
        return Ok(outcome);
    }
    let signal = crate::otlp::lenient::Signal::Metrics;
    let decoded = decode_lenient::<ExportMetricsServiceRequest>(signal, &req.0)?;
    let mut outcome = ingest.metrics(&decoded.req);
    ingest.dropped_undecodable(Signal::Metrics, &mut outcome, decoded.dropped);
    Ok(outcome)
}

/// A trace export as received: read in place when it can be ([`Ingest::traces_in_place`]),
/// else decoded with prost (leniently) off the async threads.
pub struct TracesRequest(bytes::Bytes);

fn traces(ingest: &Ingest, req: &TracesRequest) -> Result<Outcome, Status> {
    if let Some(outcome) = ingest.traces_in_place(&req.0) {
        return Ok(outcome);
    }
    let signal = crate::otlp::lenient::Signal::Traces;
    let decoded = decode_lenient::<ExportTraceServiceRequest>(signal, &req.0)?;
    let mut outcome = ingest.traces(&decoded.req);
    ingest.dropped_undecodable(Signal::Traces, &mut outcome, decoded.dropped);
    Ok(outcome)
}

/// The generated `MetricsService` trait wants prost's request type; the server calls this.
#[tonic::async_trait]
trait MetricsExportHandler {
    async fn export(
        &self,
        request: Request<MetricsRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status>;
}

#[tonic::async_trait]
impl MetricsExportHandler for Svc {
    async fn export(
        &self,
        request: Request<MetricsRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let o = self.run(Signal::Metrics, request, metrics).await?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: partial(&o).then_some(ExportMetricsPartialSuccess {
                rejected_data_points: o.rejected,
                error_message: o.message,
            }),
        }))
    }
}

/// As [`MetricsExportHandler`], for traces.
#[tonic::async_trait]
trait TracesExportHandler {
    async fn export(
        &self,
        request: Request<TracesRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status>;
}

#[tonic::async_trait]
impl TracesExportHandler for Svc {
    async fn export(
        &self,
        request: Request<TracesRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let o = self.run(Signal::Traces, request, traces).await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: partial(&o).then_some(ExportTracePartialSuccess {
                rejected_spans: o.rejected,
                error_message: o.message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Svc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let o = self
            .run(Signal::Logs, request, |i, r| Ok(i.logs(r)))
            .await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: partial(&o).then_some(ExportLogsPartialSuccess {
                rejected_log_records: o.rejected,
                error_message: o.message,
            }),
        }))
    }
}

macro_rules! export_method {
    ($marker:ident, $name:literal, $req:ty, $resp:ty, $service:ident, $decode:expr) => {
        struct $marker;
        impl Method for $marker {
            const NAME: &'static str = $name;
            type Req = $req;
            type Resp = $resp;
            type Handler = Svc;
            fn decode(bytes: bytes::Bytes) -> Result<Decoded<$req>, Status> {
                $decode(bytes)
            }
            fn call(
                handler: Arc<Svc>,
                req: Request<$req>,
            ) -> Pin<Box<dyn Future<Output = Result<Response<$resp>, Status>> + Send>> {
                Box::pin(async move { <Svc as $service>::export(&handler, req).await })
            }
        }
    };
}

export_method!(
    MetricsExport,
    "opentelemetry.proto.collector.metrics.v1.MetricsService",
    MetricsRequest,
    ExportMetricsServiceResponse,
    MetricsExportHandler,
    |bytes| Ok(Decoded {
        req: MetricsRequest(bytes),
        dropped: 0
    })
);
export_method!(
    TraceExport,
    "opentelemetry.proto.collector.trace.v1.TraceService",
    TracesRequest,
    ExportTraceServiceResponse,
    TracesExportHandler,
    |bytes| Ok(Decoded {
        req: TracesRequest(bytes),
        dropped: 0
    })
);
export_method!(
    LogsExport,
    "opentelemetry.proto.collector.logs.v1.LogsService",
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
    LogsService,
    |bytes: bytes::Bytes| decode_lenient(crate::otlp::lenient::Signal::Logs, &bytes)
);

fn signal_of(path: &str) -> Signal {
    if path.contains(".trace.") {
        Signal::Traces
    } else if path.contains(".logs.") {
        Signal::Logs
    } else {
        Signal::Metrics
    }
}

/// Rewrites tonic's decode-failure codes to the ones OTLP clients act on, and counts them along
/// with the authentication refusals.
#[derive(Clone)]
pub struct StatusFix<S> {
    inner: S,
    ingest: Arc<Ingest>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for StatusFix<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let signal = signal_of(req.uri().path());
        let ingest = self.ingest.clone();
        // A connection with a request in progress is never evicted to make room for another.
        let busy = req
            .extensions()
            .get::<Arc<crate::net::limits::ConnState>>()
            .map(|s| s.begin_request());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await;
            drop(busy);
            let mut resp = resp?;
            let code = resp
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok());
            let (rewrite, result) = match code {
                // INTERNAL from decoding (our handlers never answer INTERNAL).
                Some(13) | Some(3) => (Some(tonic::Code::InvalidArgument), "invalid"),
                Some(11) | Some(8) => (Some(tonic::Code::ResourceExhausted), "too_large"),
                // The `AuthCheck` interceptor's refusal: counted here because it cannot see
                // the path (and so the signal); the code itself is already right.
                Some(16) => (None, "unauthorized"),
                _ => return Ok(resp),
            };
            if let Some(code) = rewrite {
                resp.headers_mut()
                    .insert("grpc-status", http::HeaderValue::from(code as i32));
            }
            ingest.request(Transport::Grpc, signal, result);
            Ok(resp)
        })
    }
}

#[derive(Clone)]
struct StatusFixLayer(Arc<Ingest>);

impl<S> tower::Layer<S> for StatusFixLayer {
    type Service = StatusFix<S>;
    fn layer(&self, inner: S) -> StatusFix<S> {
        StatusFix {
            inner,
            ingest: self.0.clone(),
        }
    }
}

/// Checks `otlp.auth` against the `authorization` metadata from the request headers alone, before
/// tonic reads or decompresses the message.
#[derive(Clone)]
struct AuthCheck(Arc<Ingest>);

impl tonic::service::Interceptor for AuthCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let value = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if self.0.allows(value) {
            return Ok(req);
        }
        Err(Status::unauthenticated(
            "missing or wrong credentials (authorization metadata: Bearer or Basic)",
        ))
    }
}

/// Admitted plain-TCP connections as a tonic incoming stream.
pub fn plain_incoming(
    rx: tokio::sync::mpsc::Receiver<
        crate::net::limits::http::Conn<crate::net::limits::Guarded<tokio::net::TcpStream>>,
    >,
) -> impl tokio_stream::Stream<
    Item = Result<crate::net::limits::Guarded<tokio::net::TcpStream>, std::io::Error>,
> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::ReceiverStream::new(rx).map(|(io, _, _)| Ok(io))
}

/// Serves until `shutdown` turns true, then drains in-flight requests.
pub async fn serve<I, IO, IE>(incoming: I, ingest: Arc<Ingest>, mut shutdown: watch::Receiver<bool>)
where
    I: tokio_stream::Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: tonic::transport::server::Connected
        + tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let max = ingest.max_request_bytes();
    let svc = Svc {
        ingest: ingest.clone(),
    };
    let svc = Arc::new(svc);
    let metrics = LenientServer::<MetricsExport>::new(svc.clone(), max);
    let traces = LenientServer::<TraceExport>::new(svc.clone(), max);
    let logs = LenientServer::<LogsExport>::new(svc, max);
    let per_connection = ingest.max_concurrent_requests();
    let result = tonic::transport::Server::builder()
        // Requests are decoded before a permit is taken: this bounds how many one connection
        // can have decoded and waiting at once.
        .concurrency_limit_per_connection(per_connection)
        // Exporters send batches of hundreds of KB: in 16 KB frames (HTTP/2's default) each
        // costs a pass through the framing layer and a copy into the message buffer per frame.
        // A larger maximum lets a client send fewer, larger frames; a request is buffered
        // whole before it is decoded either way, so this adds no memory a request did not take.
        .max_frame_size(MAX_FRAME)
        .layer(StatusFixLayer(ingest.clone()))
        .layer(tonic::service::InterceptorLayer::new(AuthCheck(ingest)))
        .add_service(metrics)
        .add_service(traces)
        .add_service(logs)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "OTLP gRPC server failed");
    }
}
