//! OTLP decode + convert + derive + store: what one exported batch costs meterd, per data point and
//! per GenAI span, on the shipped default config (its pricing table and budgets).
//!
//! `cargo bench --bench otlp`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meterd::pipeline::Pipeline;
use meterd::receivers::otlp::ingest::Ingest;
use meterd::store::{Store, StoreLimits};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

const BATCH: usize = 1_000;
const START: u64 = 1_790_000_000_000_000_000;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            s("service.name", "chat-api"),
            s("service.instance.id", "bench"),
        ],
        ..Default::default()
    })
}

/// `BATCH` chat spans over 4 models and 8 teams, the shape instrumented apps export.
fn spans(batch: usize) -> Vec<u8> {
    let spans = (0..batch)
        .map(|n| Span {
            trace_id: (n as u128 + 1).to_be_bytes().to_vec(),
            span_id: (n as u64 + 1).to_be_bytes().to_vec(),
            name: "chat gpt-4o".into(),
            kind: span::SpanKind::Client as i32,
            start_time_unix_nano: START,
            end_time_unix_nano: START + 800_000_000,
            attributes: vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.provider.name", "openai"),
                s(
                    "gen_ai.request.model",
                    ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3"][n % 4],
                ),
                kv(
                    "gen_ai.usage.input_tokens",
                    any_value::Value::IntValue(1200),
                ),
                kv(
                    "gen_ai.usage.output_tokens",
                    any_value::Value::IntValue(300),
                ),
                s("team", &format!("team{}", n % 8)),
                // The provider's response id, as instrumentations report it; the 16 zeros are
                // replaced per round (see `otlp`).
                s(
                    "gen_ai.response.id",
                    &format!("chatcmpl-0000000000000000-{n:06}"),
                ),
            ],
            status: Some(Status {
                code: 1,
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// A copy of the encoded `spans` request and where in it each span's trace id head (8 bytes)
/// and response id round (16 hex digits) are, to be rewritten per round.
fn patchable(body: &[u8]) -> (Vec<u8>, Vec<usize>, Vec<usize>) {
    // Spans are encoded in order: each search starts where the previous span's ended.
    let mut from = 0;
    let mut find = |needle: &[u8]| {
        let at = body[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| from + i)
            .unwrap_or_else(|| panic!("{needle:?} not in the request"));
        from = at;
        at
    };
    let (mut trace_ids, mut response_ids) = (Vec::new(), Vec::new());
    for n in 0..BATCH {
        // Field 1, 16 bytes: the tag and length, then the id.
        let id = [&[0x0a, 0x10][..], &(n as u128 + 1).to_be_bytes()].concat();
        trace_ids.push(find(&id) + 2);
        response_ids.push(find(format!("chatcmpl-0000000000000000-{n:06}").as_bytes()) + 9);
    }
    (body.to_vec(), trace_ids, response_ids)
}

/// `BATCH` cumulative counter points over 10,000 series.
fn points(batch: usize, offset: usize) -> Vec<u8> {
    let data_points = (0..batch)
        .map(|i| {
            let series = (offset + i) % 10_000;
            NumberDataPoint {
                attributes: vec![
                    s("series", &format!("s{series}")),
                    s("route", &format!("r{}", series % 20)),
                ],
                start_time_unix_nano: START,
                time_unix_nano: START + 1,
                value: Some(number_data_point::Value::AsInt((offset + i) as i64)),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "app.requests".into(),
                    unit: "{request}".into(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points,
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
    .encode_to_vec()
}

fn ingest() -> Arc<Ingest> {
    ingest_and_pipeline().0
}

fn ingest_and_pipeline() -> (Arc<Ingest>, Arc<Pipeline>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meterd.yaml");
    let snapshot = match meterd::pipeline::load(&path) {
        Ok(s) => s,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let store = Arc::new(Store::new(StoreLimits {
        max_series_total: 1_000_000,
        ..StoreLimits::default()
    }));
    let pipeline = Arc::new(Pipeline::new(store, snapshot));
    (Ingest::new(pipeline.clone(), START - 1), pipeline)
}

fn otlp(c: &mut Criterion) {
    let mut g = c.benchmark_group("otlp");
    g.throughput(Throughput::Elements(BATCH as u64));
    let ingest = ingest();
    let body = spans(BATCH);
    // Every round gets new trace ids: the same spans again would be retries, never priced twice.
    let mut round = 0u64;
    // What the receivers do: read the request in place, the ids patched in its bytes.
    let (mut patched, trace_ids, response_ids) = patchable(&body);
    g.bench_function("decode_and_ingest_1000_genai_spans", |b| {
        b.iter(|| {
            round += 1;
            let hex = format!("{round:016x}");
            for &at in &trace_ids {
                patched[at..at + 8].copy_from_slice(&round.to_be_bytes());
            }
            for &at in &response_ids {
                patched[at..at + 16].copy_from_slice(hex.as_bytes());
            }
            let outcome = ingest.traces_in_place(black_box(&patched)).or_else(|| {
                let req = ExportTraceServiceRequest::decode(&patched[..]).ok()?;
                Some(ingest.traces(&req))
            });
            black_box(outcome.is_some())
        })
    });
    // The same with the dedup window at its bound (`max_entries` keys, as in a busy agent: every
    // new span evicts the oldest key), and the state flusher taking the window's changes after
    // every request (one commit per request, the journal encoded, the whole-table rewrite when
    // stored entries pass twice the bound), the file write itself aside.
    let (full, full_pipeline) = ingest_and_pipeline();
    let (mut full_body, full_trace_ids, full_response_ids) = patchable(&body);
    let mut full_round = 0u64;
    let full_request = |body: &mut Vec<u8>, round: u64| {
        let hex = format!("{round:016x}");
        for &at in &full_trace_ids {
            body[at..at + 8].copy_from_slice(&round.to_be_bytes());
        }
        for &at in &full_response_ids {
            body[at..at + 16].copy_from_slice(hex.as_bytes());
        }
        let outcome = full.traces_in_place(black_box(body));
        let dirty = full_pipeline.dedup().take_dirty();
        black_box((outcome.is_some(), dirty.puts.len()))
    };
    let bound = full_pipeline.snapshot().config.otlp.dedup.max_entries;
    while full_pipeline.dedup().len() < bound {
        full_round += 1;
        full_request(&mut full_body, full_round);
    }
    g.bench_function("decode_and_ingest_1000_genai_spans_full_window", |b| {
        b.iter(|| {
            full_round += 1;
            full_request(&mut full_body, full_round)
        })
    });
    // The same through prost's decode (the path before the in-place reader, and the fallback).
    g.bench_function("decode_and_ingest_1000_genai_spans_prost", |b| {
        b.iter(|| {
            round += 1;
            let hex = format!("{round:016x}");
            let req = ExportTraceServiceRequest::decode(black_box(&body[..])).map(|mut r| {
                for span in r.resource_spans.iter_mut().flat_map(|r| &mut r.scope_spans) {
                    for s in &mut span.spans {
                        if let Some(head) = s.trace_id.get_mut(..8) {
                            head.copy_from_slice(&round.to_be_bytes());
                        }
                        if let Some(any_value::Value::StringValue(id)) = s
                            .attributes
                            .last_mut()
                            .and_then(|kv| kv.value.as_mut())
                            .and_then(|v| v.value.as_mut())
                        {
                            id.replace_range(9..25, &hex);
                        }
                    }
                }
                r
            });
            black_box(req.map(|r| ingest.traces(&r)).is_ok())
        })
    });
    let batches: Vec<Vec<u8>> = (0..10).map(|k| points(BATCH, k * BATCH)).collect();
    // The series exist before either is measured (the steady state of a sender), whichever runs
    // first, so the two below compare alike.
    for body in &batches {
        let _ = ingest.metrics_in_place(body);
    }
    let mut next = 0;
    // What the receivers do: read the request in place (prost only for what that leaves).
    g.bench_function("decode_and_ingest_1000_metric_points", |b| {
        b.iter(|| {
            next = (next + 1) % batches.len();
            let body = black_box(&batches[next][..]);
            let outcome = ingest.metrics_in_place(body).or_else(|| {
                let req = ExportMetricsServiceRequest::decode(body).ok()?;
                Some(ingest.metrics(&req))
            });
            black_box(outcome.is_some())
        })
    });
    // The same through prost's decode (the path before the in-place reader, and the one
    // `usage_source: metrics` still takes).
    g.bench_function("decode_and_ingest_1000_metric_points_prost", |b| {
        b.iter(|| {
            next = (next + 1) % batches.len();
            let req = ExportMetricsServiceRequest::decode(black_box(&batches[next][..]));
            black_box(req.map(|r| ingest.metrics(&r)).is_ok())
        })
    });
    g.finish();
}

criterion_group!(benches, otlp);
criterion_main!(benches);
