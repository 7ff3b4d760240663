//! OTLP/HTTP: `POST /v1/metrics`, `/v1/traces`, `/v1/logs`.
//!
//! Bodies are `application/x-protobuf` or `application/json` (OTLP/JSON: hex trace and span ids,
//! 64-bit integers as strings or numbers, lowerCamelCase keys, unknown fields ignored), optionally
//! `Content-Encoding: gzip`. The response is encoded like the request. Answers: 200 (with
//! `partial_success` when items were rejected), 400 malformed, 413 over `limits.max_request_bytes`
//! on the wire or `limits.max_decompressed_bytes` after gunzip (a decompression bomb stops at the
//! cap), 415 unknown content type or encoding, 408 when the body does not arrive within
//! `limits.otlp_body_timeout`, 503 with `Retry-After` when at `otlp.max_concurrent_requests` or
//! `limits.max_buffered_body_bytes`. The body is received before a concurrency slot is taken.

mod body;
mod decode;
mod repair;

pub use body::Budget;
pub use decode::{decode, decode_metrics, gunzip, media_type, Encoding, Refusal};

use super::ingest::{Ingest, Outcome, Signal, Transport};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::sync::Arc;

use decode::{JSON, PROTOBUF};
/// Seconds a client should wait after a 503 before retrying.
const RETRY_AFTER_SECS: &str = "1";

/// `google.rpc.Status`, the body of every OTLP/HTTP error response.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

fn encode<T: prost::Message + serde::Serialize>(enc: Encoding, msg: &T) -> (&'static str, Vec<u8>) {
    match enc {
        Encoding::Protobuf => (PROTOBUF, msg.encode_to_vec()),
        Encoding::Json => (
            JSON,
            serde_json::to_vec(msg).unwrap_or_else(|_| b"{}".to_vec()),
        ),
    }
}

fn refusal_response(enc: Encoding, r: &Refusal) -> Response {
    let (ct, body) = encode(
        enc,
        &RpcStatus {
            code: r.code as i32,
            message: r.message.clone(),
        },
    );
    let mut resp = (r.status, [(header::CONTENT_TYPE, ct)], body).into_response();
    if r.status == StatusCode::SERVICE_UNAVAILABLE || r.status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    resp
}

/// Handles a protobuf body without decoding it with prost, or says it cannot (`None`).
type InPlace = fn(&Ingest, &[u8]) -> Option<Outcome>;

#[allow(clippy::too_many_arguments)]
async fn handle<Req, Resp>(
    ingest: Arc<Ingest>,
    budget: Budget,
    signal: Signal,
    headers: HeaderMap,
    body: Body,
    decoder: fn(Encoding, &[u8]) -> Result<Req, Refusal>,
    in_place: Option<InPlace>,
    work: fn(&Ingest, &Req) -> Outcome,
    respond: fn(Outcome) -> Resp,
) -> Response
where
    Req: prost::Message + Default + serde::de::DeserializeOwned + Send + 'static,
    Resp: prost::Message + serde::Serialize,
{
    let Some(enc) = media_type(&headers) else {
        ingest.request(Transport::Http, signal, "unsupported_media_type");
        let r = Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            tonic::Code::InvalidArgument,
            "unsupported_media_type",
            format!("Content-Type must be {PROTOBUF} or {JSON}"),
        );
        return refusal_response(Encoding::Json, &r);
    };
    // The body first, without a slot (see `body`): a stalled sender must not hold one.
    let limit = ingest.body_timeout();
    let read = tokio::time::timeout(
        limit,
        body::receive(&budget, ingest.max_request_bytes(), &headers, body),
    )
    .await;
    let read = read.unwrap_or_else(|_| {
        Err(Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            tonic::Code::DeadlineExceeded,
            "timeout",
            format!(
                "request body not received within limits.otlp_body_timeout ({}s)",
                limit.as_secs_f64()
            ),
        ))
    });
    let received = match read {
        Ok(b) => b,
        Err(r) => {
            ingest.request(Transport::Http, signal, r.result);
            return refusal_response(enc, &r);
        }
    };
    let Some(permit) = ingest.try_permit() else {
        ingest.request(Transport::Http, signal, "overloaded");
        let r = Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            tonic::Code::Unavailable,
            "overloaded",
            "meterd is overloaded (otlp.max_concurrent_requests); retry after the Retry-After delay".into(),
        );
        return refusal_response(enc, &r);
    };
    let max_decompressed = ingest.max_decompressed_bytes();
    let worker = ingest.clone();
    let mark = ingest.spend_mark();
    let done = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let inflated = match received.gzip {
            true => Some(gunzip(&received.raw, max_decompressed)?),
            false => None,
        };
        let raw: &[u8] = inflated.as_deref().unwrap_or(&received.raw);
        if let (Encoding::Protobuf, Some(in_place)) = (enc, in_place) {
            if let Some(outcome) = in_place(&worker, raw) {
                return Ok(outcome);
            }
        }
        let (req, dropped) = repair::decode(decoder, enc, signal, raw)?;
        drop(inflated);
        drop(received);
        let mut outcome = work(&worker, &req);
        worker.dropped_undecodable(signal, &mut outcome, dropped);
        Ok::<Outcome, Refusal>(outcome)
    })
    .await;
    match done {
        Ok(Ok(outcome)) => {
            if let Err(e) = ingest.durable(mark).await {
                ingest.request(Transport::Http, signal, "not_durable");
                let r = Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    tonic::Code::Unavailable,
                    "not_durable",
                    format!("budget spend could not be made durable ({}); retry", e.0),
                );
                return refusal_response(enc, &r);
            }
            let result = if outcome.rejected > 0 {
                "partial"
            } else {
                "success"
            };
            ingest.request(Transport::Http, signal, result);
            let (ct, body) = encode(enc, &respond(outcome));
            (StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response()
        }
        Ok(Err(r)) => {
            ingest.request(Transport::Http, signal, r.result);
            refusal_response(enc, &r)
        }
        Err(_) => {
            ingest.request(Transport::Http, signal, "overloaded");
            let r = Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                tonic::Code::Unavailable,
                "overloaded",
                "request processing was interrupted; retry".into(),
            );
            refusal_response(enc, &r)
        }
    }
}

fn partial(o: &Outcome) -> bool {
    o.rejected > 0 || !o.message.is_empty()
}

async fn metrics(
    State(ingest): State<Arc<Ingest>>,
    Extension(budget): Extension<Budget>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle::<ExportMetricsServiceRequest, _>(
        ingest,
        budget,
        Signal::Metrics,
        headers,
        body,
        decode_metrics,
        Some(Ingest::metrics_in_place),
        Ingest::metrics,
        |o| ExportMetricsServiceResponse {
            partial_success: partial(&o).then_some(ExportMetricsPartialSuccess {
                rejected_data_points: o.rejected,
                error_message: o.message,
            }),
        },
    )
    .await
}

async fn traces(
    State(ingest): State<Arc<Ingest>>,
    Extension(budget): Extension<Budget>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle::<ExportTraceServiceRequest, _>(
        ingest,
        budget,
        Signal::Traces,
        headers,
        body,
        decode,
        Some(Ingest::traces_in_place),
        Ingest::traces,
        |o| ExportTraceServiceResponse {
            partial_success: partial(&o).then_some(ExportTracePartialSuccess {
                rejected_spans: o.rejected,
                error_message: o.message,
            }),
        },
    )
    .await
}

async fn logs(
    State(ingest): State<Arc<Ingest>>,
    Extension(budget): Extension<Budget>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle::<ExportLogsServiceRequest, _>(
        ingest,
        budget,
        Signal::Logs,
        headers,
        body,
        decode,
        None,
        Ingest::logs,
        |o| ExportLogsServiceResponse {
            partial_success: partial(&o).then_some(ExportLogsPartialSuccess {
                rejected_log_records: o.rejected,
                error_message: o.message,
            }),
        },
    )
    .await
}

/// Checks `otlp.auth` before the body is read: an unauthenticated sender must not make meterd
/// buffer or decompress anything.
async fn require_auth(
    State(ingest): State<Arc<Ingest>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if ingest.allows(crate::net::auth::header_value(req.headers())) {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let signal = if path.ends_with("/traces") {
        Signal::Traces
    } else if path.ends_with("/logs") {
        Signal::Logs
    } else {
        Signal::Metrics
    };
    ingest.request(Transport::Http, signal, "unauthorized");
    crate::net::auth::unauthorized()
}

/// An exporter pointed at a wrong path (a missing `/v1/...`, a typo) learns which ones exist.
async fn unknown_path(uri: axum::http::Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        format!(
            "no OTLP endpoint at {}: POST to /v1/traces, /v1/metrics or /v1/logs \
             (an OTEL_EXPORTER_OTLP_ENDPOINT without a path gets them appended)\n",
            uri.path()
        ),
    )
        .into_response()
}

pub fn router(ingest: Arc<Ingest>) -> Router {
    let budget = Budget::new(ingest.max_buffered_body_bytes(), ingest.max_request_bytes());
    Router::new()
        .route("/v1/metrics", post(metrics))
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        .fallback(unknown_path)
        .layer(Extension(budget))
        .layer(axum::middleware::from_fn_with_state(
            ingest.clone(),
            require_auth,
        ))
        .with_state(ingest)
}

#[cfg(test)]
mod tests;
