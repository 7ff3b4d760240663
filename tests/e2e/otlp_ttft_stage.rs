//! Time to first token and pipeline stage durations from the real OpenTelemetry Rust SDK: streaming
//! GenAI spans (first-chunk events, the conventions' TTFT attribute), spans naming a stage, and
//! the TTFT histograms, each counted from the configured usage source only.

use crate::support::agent::{find_value, Agent};
use crate::support::otel::{resource, Client, Transport, ALL};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::SdkTracer;
use std::time::{Duration, SystemTime};

fn chat_attrs() -> Vec<KeyValue> {
    vec![
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new("gen_ai.request.stream", true),
    ]
}

/// A streaming chat call: `first_chunk_ms` after its start the first chunk event (if any),
/// `extra` attributes, ending after `total_ms`.
fn streaming_call(
    tracer: &SdkTracer,
    first_chunk_ms: Option<i64>,
    extra: Vec<KeyValue>,
    total_ms: u64,
) {
    let start = SystemTime::now();
    let mut attrs = chat_attrs();
    attrs.extend(extra);
    let mut span = tracer
        .span_builder("chat gpt-4o")
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attrs)
        .start(tracer);
    if let Some(ms) = first_chunk_ms {
        let at = if ms >= 0 {
            start + Duration::from_millis(ms.unsigned_abs())
        } else {
            start - Duration::from_millis(ms.unsigned_abs())
        };
        span.add_event_with_timestamp("ai.stream.firstChunk", at, vec![]);
    }
    span.end_with_timestamp(start + Duration::from_millis(total_ms));
}

/// A plain (non-GenAI) span naming a pipeline stage.
fn stage_span(tracer: &SdkTracer, stage: &'static str, ms: u64) {
    let start = SystemTime::now();
    let mut span = tracer
        .span_builder(format!("stage {stage}"))
        .with_start_time(start)
        .with_attributes([KeyValue::new("stage", stage)])
        .start(tracer);
    span.end_with_timestamp(start + Duration::from_millis(ms));
}

fn value(body: &str, series: &str) -> f64 {
    find_value(body, series).unwrap_or_else(|| panic!("no {series} in\n{body}"))
}

const TTFT: &str = "llm_time_to_first_token_seconds";
const CHAT: &str = "model=\"gpt-4o\",operation=\"chat\",provider=\"openai\",service=\"chatbot\"";

fn ttft(body: &str, suffix: &str, le: Option<&str>) -> f64 {
    let le = le.map_or(String::new(), |le| format!(",le=\"{le}\""));
    value(body, &format!("{TTFT}_{suffix}{{{CHAT}{le}}}"))
}

#[test]
fn spans_give_ttft_and_stage_durations_on_every_transport() {
    let agent = Agent::start("scope_labels: [service]\n");
    let client = Client::default();
    for t in ALL {
        let tp = client.tracer_provider(&agent, t, resource("chatbot", &[]));
        let tracer = tp.tracer("genai");
        // First chunk after 300 ms; the call is also the app's synthesis stage, 2 s long.
        streaming_call(
            &tracer,
            Some(300),
            vec![KeyValue::new("stage", "synthesis")],
            2000,
        );
        // The conventions' attribute: 0.7 s (an event would also have been there).
        streaming_call(
            &tracer,
            Some(900),
            vec![KeyValue::new("gen_ai.response.time_to_first_chunk", 0.7)],
            1500,
        );
        // A first chunk before the span started: clock trouble, dropped and counted.
        streaming_call(&tracer, Some(-1000), vec![], 1000);
        // Not streamed: a call, but no TTFT.
        streaming_call(&tracer, None, vec![], 800);
        stage_span(&tracer, "retrieval", 412);
        stage_span(&tracer, "retrieval", 88);
        tp.force_flush().expect("flush");
        tp.shutdown().expect("shutdown");
        // The same calls' TTFT metric: spans are the usage source, so it only passes through.
        let mp = client.meter_provider(&agent, t, resource("chatbot", &[]), Temporality::Delta);
        let h = mp
            .meter("genai")
            .f64_histogram("gen_ai.client.operation.time_to_first_chunk")
            .with_unit("s")
            .build();
        h.record(0.3, &chat_attrs());
        h.record(0.7, &chat_attrs());
        mp.force_flush().expect("flush metrics");
        mp.shutdown().expect("shutdown metrics");
    }
    let body = agent.scrape(None);
    let n = ALL.len() as f64;
    // Per transport: 0.3 and 0.7 s observed, once.
    assert_eq!(ttft(&body, "count", None), 2.0 * n);
    assert!(
        body.contains("gen_ai_client_operation_time_to_first_chunk_seconds_count{"),
        "{body}"
    );
    assert!((ttft(&body, "sum", None) - 1.0 * n).abs() < 1e-9, "{body}");
    assert_eq!(ttft(&body, "bucket", Some("0.25")), 0.0);
    assert_eq!(ttft(&body, "bucket", Some("0.5")), n);
    assert_eq!(ttft(&body, "bucket", Some("1")), 2.0 * n);
    assert_eq!(ttft(&body, "bucket", Some("+Inf")), 2.0 * n);
    assert_eq!(
        value(&body, "llm_requests_total{model=\"gpt-4o\",operation=\"chat\",provider=\"openai\",service=\"chatbot\",status=\"ok\"}"),
        4.0 * n,
        "a dropped TTFT still leaves its call counted"
    );
    assert_eq!(
        value(&body, "meterd_otlp_ttft_dropped_total{reason=\"negative\"}"),
        n
    );
    let retrieval = "{service=\"chatbot\",stage=\"retrieval\"}";
    assert_eq!(
        value(
            &body,
            &format!("llm_stage_duration_seconds_count{retrieval}")
        ),
        2.0 * n
    );
    let sum = value(&body, &format!("llm_stage_duration_seconds_sum{retrieval}"));
    assert!((sum - 0.5 * n).abs() < 1e-9, "{sum}");
    let synthesis =
        "{model=\"gpt-4o\",provider=\"openai\",service=\"chatbot\",stage=\"synthesis\"}";
    assert_eq!(
        value(
            &body,
            &format!("llm_stage_duration_seconds_count{synthesis}")
        ),
        n
    );
    assert_eq!(
        value(&body, &format!("llm_stage_duration_seconds_sum{synthesis}")),
        2.0 * n
    );
}

#[test]
fn a_span_ending_before_it_starts_is_no_stage_duration() {
    let agent = Agent::start("scope_labels: [service]\n");
    let client = Client::default();
    let tp = client.tracer_provider(&agent, Transport::HttpProto, resource("chatbot", &[]));
    let tracer = tp.tracer("app");
    let start = SystemTime::now();
    let mut span = tracer
        .span_builder("stage rerank")
        .with_start_time(start)
        .with_attributes([KeyValue::new("stage", "rerank")])
        .start(&tracer);
    span.end_with_timestamp(start - Duration::from_millis(5));
    stage_span(&tracer, "rerank", 20);
    tp.force_flush().expect("flush");
    tp.shutdown().expect("shutdown");
    let body = agent.scrape(None);
    let rerank = "{service=\"chatbot\",stage=\"rerank\"}";
    assert_eq!(
        value(&body, &format!("llm_stage_duration_seconds_count{rerank}")),
        1.0
    );
    assert_eq!(
        value(
            &body,
            "meterd_quality_rejected_total{protocol=\"otlp\",reason=\"duration_invalid\"}"
        ),
        1.0
    );
}

/// The conventions' advised TTFT bounds.
const SPEC_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

#[test]
fn ttft_histograms_merge_when_metrics_are_the_usage_source_and_spans_then_do_not_count() {
    let agent = Agent::start("scope_labels: [service]\notlp:\n  usage_source: metrics\n");
    let client = Client::default();
    let mp = client.meter_provider(
        &agent,
        Transport::Grpc,
        resource("chatbot", &[]),
        Temporality::Cumulative,
    );
    let meter = mp.meter("genai");
    let chunk = meter
        .f64_histogram("gen_ai.client.operation.time_to_first_chunk")
        .with_unit("s")
        .with_boundaries(SPEC_BOUNDS.to_vec())
        .build();
    let server = meter
        .f64_histogram("gen_ai.server.time_to_first_token")
        .with_unit("ms")
        .with_boundaries(vec![100.0, 250.0, 500.0])
        .build();
    let attrs = [
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
    ];
    for v in [0.3, 0.7, 1.1] {
        chunk.record(v, &attrs);
    }
    server.record(250.0, &attrs);
    mp.force_flush().expect("first export");
    // Cumulative again: only the new observation may be added on this export.
    chunk.record(0.05, &attrs);
    mp.force_flush().expect("second export");
    // A streaming span in metrics mode: its TTFT must not be counted a second time.
    let tp = client.tracer_provider(&agent, Transport::Grpc, resource("chatbot", &[]));
    let tracer = tp.tracer("genai");
    streaming_call(&tracer, Some(300), vec![], 1000);
    stage_span(&tracer, "retrieval", 412);
    tp.force_flush().expect("flush spans");
    tp.shutdown().expect("shutdown spans");
    mp.shutdown().expect("shutdown metrics");

    let body = agent.scrape(None);
    // 0.3, 0.7, 1.1, 0.05 s and 250 ms.
    assert_eq!(ttft(&body, "count", None), 5.0);
    assert!((ttft(&body, "sum", None) - 2.4).abs() < 1e-9, "{body}");
    // 0.05 is in (0.04, 0.08]: le=0.1. 250 ms is le=0.25 exactly. 0.3 is in (0.16, 0.32]: le=0.5.
    // 0.7 and 1.1 are in (0.64, 1.28]: le=2.5.
    for (le, want) in [
        ("0.05", 0.0),
        ("0.1", 1.0),
        ("0.25", 2.0),
        ("0.5", 3.0),
        ("1", 3.0),
        ("2.5", 5.0),
        ("+Inf", 5.0),
    ] {
        assert_eq!(ttft(&body, "bucket", Some(le)), want, "le={le}\n{body}");
    }
    // The original histogram still passes through under its own name.
    assert!(
        body.contains("gen_ai_client_operation_time_to_first_chunk_seconds_count{"),
        "{body}"
    );
    // Stage durations do not depend on the usage source.
    assert_eq!(
        value(
            &body,
            "llm_stage_duration_seconds_count{service=\"chatbot\",stage=\"retrieval\"}"
        ),
        1.0
    );
}
