//! OTLP load: ExportMetricsServiceRequest / ExportTraceServiceRequest batches encoded once and sent
//! as bytes over gRPC (a raw-bytes codec on tonic's client) or HTTP/protobuf, one connection per
//! sender with several requests in flight on each, so one load process can saturate meterd.

use crate::probe::Run;
use crate::Common;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
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
    /// Requests in flight at once on each sender's connection.
    #[arg(long, default_value_t = 4)]
    pub inflight: usize,
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
                        &model_name(n % models.max(1), models),
                    ),
                    kv(
                        "gen_ai.response.model",
                        &model_name(n % models.max(1), models),
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
    // A handful of distinct requests, encoded once before the clock starts: the load measures
    // meterd, not the encoder (spans only get their trace ids patched per request).
    let variants = (a.series / a.batch.max(1)).clamp(1, 16);
    let bodies = Arc::new(Bodies::new(a.kind, a.batch, a.series, variants));
    let run = Run::start(&a.common.metrics, a.common.pid)?;
    let sent = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + a.common.duration;
    let result: Result<(), String> = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for k in 0..a.common.senders.max(1) {
            // One connection per sender, `inflight` requests on it at once.
            let client = Client::connect(a.transport, &endpoint).await?;
            for j in 0..a.inflight.max(1) {
                let (sent, bodies, mut client) = (sent.clone(), bodies.clone(), client.clone());
                let (kind, batch) = (a.kind, a.batch);
                tasks.spawn(async move {
                    let task = ((k as u64) << 8) | j as u64;
                    let mut i = task as usize;
                    while Instant::now() < deadline {
                        // Unique per task and request: the same span again is a retry.
                        let round = (task << 40) | i as u64;
                        client.send(kind, bodies.body(i, round)).await?;
                        sent.fetch_add(batch as u64, Ordering::Relaxed);
                        i += 1;
                    }
                    Ok::<(), String>(())
                });
            }
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
            "meterd_otlp_items_received_total",
            "meterd_otlp_requests_total",
            "meterd_otlp_items_rejected_total",
            "meterd_usage_events_total",
        ],
    )
}

/// Pre-encoded request bodies, and where each span's trace id holds its round.
struct Bodies {
    templates: Vec<Bytes>,
    /// Per template: offsets of the 8 round bytes of every trace id (spans only).
    rounds: Vec<Vec<usize>>,
}

/// What the round bytes of a template hold until a request patches them.
const ROUND_MARK: u64 = 0x6d65_7465_7264_4c44;

impl Bodies {
    fn new(kind: Kind, batch: usize, series: usize, variants: usize) -> Bodies {
        let mut templates = Vec::with_capacity(variants);
        let mut rounds = Vec::with_capacity(variants);
        for v in 0..variants {
            let offset = v * batch;
            let body = match kind {
                Kind::Metrics => metrics_request(batch, series, offset).encode_to_vec(),
                Kind::Spans => spans_request(batch, series, offset, ROUND_MARK).encode_to_vec(),
            };
            // A trace id is field 1, 16 bytes: `0a 10`, then the round (big-endian).
            let mut mark = vec![0x0a, 0x10];
            mark.extend_from_slice(&ROUND_MARK.to_be_bytes());
            let at = match kind {
                Kind::Metrics => Vec::new(),
                Kind::Spans => body
                    .windows(mark.len())
                    .enumerate()
                    .filter(|(_, w)| *w == &mark[..])
                    .map(|(i, _)| i + 2)
                    .collect(),
            };
            templates.push(Bytes::from(body));
            rounds.push(at);
        }
        Bodies { templates, rounds }
    }

    /// Request `i`'s body; spans get `round` in their trace ids (one copy of the template).
    fn body(&self, i: usize, round: u64) -> Bytes {
        let v = i % self.templates.len();
        let at = &self.rounds[v];
        if at.is_empty() {
            return self.templates[v].clone();
        }
        let mut body = self.templates[v].to_vec();
        for &o in at {
            body[o..o + 8].copy_from_slice(&round.to_be_bytes());
        }
        Bytes::from(body)
    }
}

/// Sends an already encoded request as the message of a gRPC call, and ignores the answer's
/// content (a failure arrives as the call's status).
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct SkipDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = RawEncoder;
    type Decoder = SkipDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> SkipDecoder {
        SkipDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put(item);
        Ok(())
    }
}

impl tonic::codec::Decoder for SkipDecoder {
    type Item = ();
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<()>, tonic::Status> {
        use bytes::Buf;
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

#[derive(Clone)]
enum Client {
    Grpc(tonic::client::Grpc<tonic::transport::Channel>),
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
                Ok(Client::Grpc(tonic::client::Grpc::new(channel)))
            }
            Transport::Http => Ok(Client::Http(reqwest::Client::new(), endpoint.to_string())),
        }
    }

    async fn send(&mut self, kind: Kind, body: Bytes) -> Result<(), String> {
        match self {
            Client::Grpc(g) => {
                let path = match kind {
                    Kind::Metrics => {
                        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
                    }
                    Kind::Spans => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                };
                g.ready().await.map_err(|e| e.to_string())?;
                g.unary(
                    tonic::Request::new(body),
                    http::uri::PathAndQuery::from_static(path),
                    RawCodec,
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
            Client::Http(c, base) => {
                let path = match kind {
                    Kind::Metrics => "/v1/metrics",
                    Kind::Spans => "/v1/traces",
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

/// Models the shipped price table knows, so spans are priced as an app's are: with `--series`
/// up to their number, spans use them; past it, every name is new (`gpt-4o-<n>`, unpriced: the
/// cardinality case, whose cost includes looking for a price that is not there).
const PRICED_MODELS: [&str; 4] = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3"];

fn model_name(n: usize, models: usize) -> String {
    match PRICED_MODELS.get(n) {
        Some(m) if models <= PRICED_MODELS.len() => (*m).to_string(),
        _ => format!("gpt-4o-{n}"),
    }
}
