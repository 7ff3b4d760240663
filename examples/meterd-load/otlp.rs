//! OTLP load: pre-encoded ExportMetricsServiceRequest / ExportTraceServiceRequest batches sent over
//! gRPC (the generated tonic client) or HTTP/protobuf, several requests in flight.

use crate::probe::Run;
use crate::Common;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, value_enum, default_value = "metrics")]
    pub kind: Kind,
    #[arg(long, value_enum, default_value = "grpc")]
    pub transport: Transport,
    /// gRPC endpoint, or the HTTP base URL for HTTP/protobuf.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Points (metrics) or spans per request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Distinct series (metrics) or models (spans).
    #[arg(long, default_value_t = 10_000)]
    pub series: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq)]
pub enum Kind {
    Metrics,
    Spans,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq)]
pub enum Transport {
    Grpc,
    Http,
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", "load"),
            kv("service.instance.id", "load-1"),
        ],
        ..Default::default()
    })
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `batch` cumulative counter points spread over `series` streams, starting at stream `offset`.
pub fn metrics_request(batch: usize, series: usize, offset: usize) -> ExportMetricsServiceRequest {
    let start = now_nanos();
    let points = (0..batch)
        .map(|i| {
            let s = (offset + i) % series.max(1);
            NumberDataPoint {
                attributes: vec![
                    kv("series", &format!("s{s}")),
                    kv("route", &format!("r{}", s % 20)),
                ],
                start_time_unix_nano: start,
                time_unix_nano: start + 1,
                value: Some(number_data_point::Value::AsInt((offset + i) as i64)),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "meterd-load".into(),
                    ..Default::default()
                }),
                metrics: vec![Metric {
                    name: "load.requests".into(),
                    unit: "{request}".into(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: points,
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `batch` GenAI chat spans as an instrumentation library emits them; `round` goes into the trace
/// ids, so every request carries new calls (the same span again is a retry, which meterd
/// acknowledges without pricing it).
fn spans_request(
    batch: usize,
    models: usize,
    offset: usize,
    round: u64,
) -> ExportTraceServiceRequest {
    let end = now_nanos();
    let spans = (0..batch)
        .map(|i| {
            let n = offset + i;
            Span {
                trace_id: ((u128::from(round) << 64) | (n as u128 + 1))
                    .to_be_bytes()
                    .to_vec(),
                span_id: (n as u64 + 1).to_be_bytes().to_vec(),
                name: "chat gpt-4o".into(),
                kind: span::SpanKind::Client as i32,
                start_time_unix_nano: end - 800_000_000,
                end_time_unix_nano: end,
                attributes: vec![
                    kv("gen_ai.operation.name", "chat"),
                    kv("gen_ai.provider.name", "openai"),
                    kv(
                        "gen_ai.request.model",
                        &format!("gpt-4o-{}", n % models.max(1)),
                    ),
                    kv(
                        "gen_ai.response.model",
                        &format!("gpt-4o-{}", n % models.max(1)),
                    ),
                    kv_int("gen_ai.usage.input_tokens", 1200),
                    kv_int("gen_ai.usage.output_tokens", 300),
                    kv_int("gen_ai.usage.cache_read.input_tokens", 200),
                    kv("team", &format!("team{}", n % 8)),
                ],
                status: Some(Status {
                    code: 1,
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "meterd-load".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn run(a: Args) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let endpoint = a.endpoint.clone().unwrap_or_else(|| match a.transport {
        Transport::Grpc => "http://127.0.0.1:4317".into(),
        Transport::Http => "http://127.0.0.1:4318".into(),
    });
    // A handful of distinct pre-built requests cycle, so the load measures meterd, not the encoder.
    let variants = (a.series / a.batch.max(1)).clamp(1, 16);
    let run = Run::start(&a.common.metrics, a.common.pid)?;
    let sent = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + a.common.duration;
    let result: Result<(), String> = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for k in 0..a.common.senders.max(1) {
            let sent = sent.clone();
            let endpoint = endpoint.clone();
            let (kind, transport, batch, series) = (a.kind, a.transport, a.batch, a.series);
            tasks.spawn(async move {
                let mut client = Client::connect(transport, &endpoint).await?;
                let mut i = k;
                while Instant::now() < deadline {
                    let offset = (i % variants) * batch;
                    let req = match kind {
                        Kind::Metrics => Request::Metrics(metrics_request(batch, series, offset)),
                        Kind::Spans => {
                            // Unique per sender and request.
                            let round = ((k as u64) << 48) | i as u64;
                            Request::Spans(spans_request(batch, series, offset, round))
                        }
                    };
                    client.send(req).await?;
                    sent.fetch_add(batch as u64, Ordering::Relaxed);
                    i += 1;
                }
                Ok::<(), String>(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(|e| e.to_string())??;
        }
        Ok(())
    });
    result?;
    let unit = match a.kind {
        Kind::Metrics => "points",
        Kind::Spans => "spans",
    };
    run.finish(
        sent.load(Ordering::Relaxed),
        unit,
        &[
            "meterd_otlp_requests_total",
            "meterd_otlp_items_received_total",
            "meterd_otlp_items_rejected_total",
            "meterd_usage_events_total",
        ],
    )
}

enum Request {
    Metrics(ExportMetricsServiceRequest),
    Spans(ExportTraceServiceRequest),
}

struct GrpcClients {
    metrics: MetricsServiceClient<tonic::transport::Channel>,
    traces: TraceServiceClient<tonic::transport::Channel>,
}

enum Client {
    Grpc(Box<GrpcClients>),
    Http(reqwest::Client, String),
}

impl Client {
    async fn connect(t: Transport, endpoint: &str) -> Result<Client, String> {
        match t {
            Transport::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
                    .map_err(|e| e.to_string())?
                    .connect()
                    .await
                    .map_err(|e| format!("connect {endpoint}: {e}"))?;
                Ok(Client::Grpc(Box::new(GrpcClients {
                    metrics: MetricsServiceClient::new(channel.clone()),
                    traces: TraceServiceClient::new(channel),
                })))
            }
            Transport::Http => Ok(Client::Http(reqwest::Client::new(), endpoint.to_string())),
        }
    }

    async fn send(&mut self, req: Request) -> Result<(), String> {
        match (self, req) {
            (Client::Grpc(g), Request::Metrics(r)) => g
                .metrics
                .export(r)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (Client::Grpc(g), Request::Spans(r)) => g
                .traces
                .export(r)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (Client::Http(c, base), req) => {
                let (path, body) = match req {
                    Request::Metrics(r) => ("/v1/metrics", r.encode_to_vec()),
                    Request::Spans(r) => ("/v1/traces", r.encode_to_vec()),
                };
                let resp = c
                    .post(format!("{base}{path}"))
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("{path}: HTTP {}", resp.status()))
                }
            }
        }
    }
}
