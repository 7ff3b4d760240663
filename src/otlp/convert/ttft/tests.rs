use super::*;
use crate::config::Config;
use crate::derive::Deriver;
use crate::model::{Labels, Sample, SampleValue};
use crate::otlp::convert::genai::{span_usage, UsageStreams};
use crate::statsd::convention::{convert, Event, Kind};
use crate::statsd::parse::parse_line;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};
use opentelemetry_proto::tonic::trace::v1::span::Event as SpanEvent;
use opentelemetry_proto::tonic::trace::v1::Span;

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

const START: u64 = 1_000_000_000;
const END: u64 = 3_000_000_000;

fn chat_attrs() -> Vec<KeyValue> {
    vec![
        kv("gen_ai.operation.name", s("chat")),
        kv("gen_ai.provider.name", s("openai")),
        kv("gen_ai.request.model", s("gpt-4o")),
        kv("team", s("a")),
    ]
}

fn span(extra: Vec<KeyValue>, events: &[(&str, u64)]) -> Span {
    let mut attributes = chat_attrs();
    attributes.extend(extra);
    Span {
        trace_id: vec![0x11; 16],
        start_time_unix_nano: START,
        end_time_unix_nano: END,
        attributes,
        events: events
            .iter()
            .map(|(name, t)| SpanEvent {
                name: (*name).into(),
                time_unix_nano: *t,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_conventions_attribute_gives_ttft_in_seconds() {
    let sp = span(
        vec![kv(
            "gen_ai.response.time_to_first_chunk",
            Value::DoubleValue(0.35),
        )],
        &[],
    );
    assert_eq!(span_ttft(&sp), Some(Ok(ms(350))));
    let openlit = span(
        vec![kv(
            "gen_ai.server.time_to_first_token",
            Value::DoubleValue(1.5),
        )],
        &[],
    );
    assert_eq!(span_ttft(&openlit), Some(Ok(ms(1500))));
}

#[test]
fn first_chunk_events_give_ttft_from_span_start() {
    let vercel = span(vec![], &[("ai.stream.firstChunk", START + 420_000_000)]);
    assert_eq!(span_ttft(&vercel), Some(Ok(ms(420))));
    // OpenLLMetry adds one event per chunk, in any order once exported: the earliest counts.
    let chunks = span(
        vec![],
        &[
            ("llm.content.completion.chunk", START + 900_000_000),
            ("llm.content.completion.chunk", START + 250_000_000),
            ("other.event", START + 1),
            ("llm.content.completion.chunk", START + 600_000_000),
        ],
    );
    assert_eq!(span_ttft(&chunks), Some(Ok(ms(250))));
}

#[test]
fn the_attribute_wins_over_an_event() {
    let both = span(
        vec![kv(
            "gen_ai.response.time_to_first_chunk",
            Value::DoubleValue(0.3),
        )],
        &[("ai.stream.firstChunk", START + 700_000_000)],
    );
    assert_eq!(span_ttft(&both), Some(Ok(ms(300))));
}

#[test]
fn spans_without_a_first_chunk_have_no_ttft() {
    assert_eq!(span_ttft(&span(vec![], &[("gen_ai.choice", START)])), None);
}

#[test]
fn implausible_values_are_dropped_with_a_reason() {
    let attr = |v: f64| {
        span_ttft(&span(
            vec![kv(
                "gen_ai.response.time_to_first_chunk",
                Value::DoubleValue(v),
            )],
            &[],
        ))
    };
    assert_eq!(attr(-0.1), Some(Err(TtftDrop::Negative)));
    // 350 "seconds" in a 2-second span: a value sent in milliseconds.
    assert_eq!(attr(350.0), Some(Err(TtftDrop::ExceedsSpan)));
    let event = |t: u64| span_ttft(&span(vec![], &[("ai.stream.firstChunk", t)]));
    assert_eq!(event(START - 1), Some(Err(TtftDrop::Negative)));
    assert_eq!(event(END + 5_000_000), Some(Err(TtftDrop::ExceedsSpan)));
    assert_eq!(
        event(END),
        Some(Ok(ms(2000))),
        "first chunk at the very end"
    );
    let mut no_start = span(vec![], &[("ai.stream.firstChunk", START)]);
    no_start.start_time_unix_nano = 0;
    assert_eq!(span_ttft(&no_start), Some(Err(TtftDrop::NoSpanStart)));
    // A span with broken timing cannot bound the value; the one-hour cap still does.
    let mut open = span(
        vec![kv(
            "gen_ai.response.time_to_first_chunk",
            Value::DoubleValue(7200.0),
        )],
        &[],
    );
    open.end_time_unix_nano = 0;
    assert_eq!(span_ttft(&open), Some(Err(TtftDrop::TooLarge)));
    let mut huge = span(vec![], &[("ai.stream.firstChunk", u64::MAX)]);
    huge.end_time_unix_nano = u64::MAX;
    assert_eq!(span_ttft(&huge), Some(Err(TtftDrop::TooLarge)));
}

#[test]
fn rebucketing_is_exact_on_shared_bounds_and_only_moves_up_otherwise() {
    let mut want = vec![0u64; TTFT_BUCKETS.len() + 1];
    want[4] = 2; // 0.1
    want[6] = 3; // 0.5
    want[7] = 4; // 1
    want[14] = 1; // +Inf
    assert_eq!(
        rebucket(&[0.1, 0.5, 1.0], &[2, 3, 4, 1], &TTFT_BUCKETS),
        want
    );
    // (0, 0.3] straddles 0.25: all of it goes to le=0.5, none below.
    let mut up = vec![0u64; TTFT_BUCKETS.len() + 1];
    up[6] = 5;
    up[14] = 1;
    assert_eq!(rebucket(&[0.3], &[5, 1], &TTFT_BUCKETS), up);
    // Beyond the last bound the +Inf bucket takes it; malformed extra counts are not lost.
    let mut tail = vec![0u64; TTFT_BUCKETS.len() + 1];
    tail[14] = 3;
    assert_eq!(rebucket(&[500.0], &[2, 1], &TTFT_BUCKETS), tail);
}

/// The conventions' advised bounds for `gen_ai.client.operation.time_to_first_chunk`.
const SPEC_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

fn point(counts: Vec<u64>, sum: f64, start: u64, time: u64) -> HistogramDataPoint {
    HistogramDataPoint {
        attributes: chat_attrs(),
        start_time_unix_nano: start,
        time_unix_nano: time,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts,
        explicit_bounds: SPEC_BOUNDS.to_vec(),
        ..Default::default()
    }
}

fn spec_counts(pairs: &[(usize, u64)]) -> Vec<u64> {
    let mut c = vec![0u64; SPEC_BOUNDS.len() + 1];
    for (i, n) in pairs {
        c[*i] = *n;
    }
    c
}

#[test]
fn every_ttft_metric_name_becomes_a_point_on_meterds_buckets() {
    // 2 in (0.16, 0.32], 1 in (0.64, 1.28]: sum 0.25 + 0.3 + 1.1.
    let p = point(spec_counts(&[(5, 2), (7, 1)]), 1.65, 10, 20);
    for name in TTFT_METRICS {
        assert!(is_ttft_metric(name));
        let tp = TtftPoint::new(name, "s", &[], None, &p, &["team".to_owned()], true)
            .expect("usable")
            .expect("a point");
        // 0.32 -> le=0.5 (index 6), 1.28 -> le=2.5 (index 8).
        let mut want = vec![3.0, 1.65];
        let mut buckets = vec![0.0; TTFT_BUCKETS.len() + 1];
        buckets[6] = 2.0;
        buckets[8] = 1.0;
        want.extend(buckets);
        assert_eq!(tp.values, want, "{name}");
        assert_eq!(&*tp.template.operation, "chat");
        assert_eq!(&*tp.template.model, "gpt-4o");
        assert_eq!(tp.template.scope.get("team"), Some("a"));
    }
    assert!(!is_ttft_metric("gen_ai.client.operation.duration"));
}

#[test]
fn milliseconds_are_scaled_and_other_units_refused() {
    let mut p = point(vec![4, 1], 900.0, 10, 20);
    p.explicit_bounds = vec![250.0];
    let tp = TtftPoint::new(TTFT_METRICS[2], "ms", &[], None, &p, &[], false)
        .expect("usable")
        .expect("a point");
    assert_eq!(tp.values[..2], [5.0, 0.9]);
    assert_eq!(tp.values[2 + 5], 4.0, "250 ms is le=0.25");
    assert_eq!(
        TtftPoint::new(TTFT_METRICS[0], "us", &[], None, &p, &[], false),
        Err(TtftDrop::Unit)
    );
    let mut count_only = point(vec![], 1.0, 10, 20);
    count_only.count = 2;
    count_only.explicit_bounds.clear();
    assert_eq!(
        TtftPoint::new(TTFT_METRICS[0], "s", &[], None, &count_only, &[], false),
        Err(TtftDrop::NoBuckets)
    );
    let negative = point(spec_counts(&[(0, 1)]), -1.0, 10, 20);
    assert_eq!(
        TtftPoint::new(TTFT_METRICS[0], "s", &[], None, &negative, &[], false),
        Err(TtftDrop::Negative)
    );
}

#[test]
fn cumulative_points_merge_as_increments() {
    let mut streams = UsageStreams::new(10, 5);
    let first = point(spec_counts(&[(5, 2)]), 0.5, 10, 20);
    let later = point(spec_counts(&[(5, 2), (7, 1)]), 1.6, 10, 30);
    let mut seen = Vec::new();
    for p in [&first, &later] {
        let tp = TtftPoint::new(TTFT_METRICS[0], "s", &[], None, p, &[], true)
            .expect("usable")
            .expect("a point");
        let d = streams
            .advance(
                tp.stream,
                tp.start_unix_nanos,
                tp.time_unix_nanos,
                &tp.values,
            )
            .expect("room");
        seen.push(
            d.as_deref()
                .and_then(TtftPoint::histogram)
                .expect("new data"),
        );
    }
    assert_eq!(seen[0].count, 2, "the stream began after meterd: all new");
    assert_eq!(seen[0].counts[6], 2);
    assert_eq!(
        (seen[1].count, seen[1].counts[6], seen[1].counts[8]),
        (1, 0, 1)
    );
    assert!((seen[1].sum - 1.1).abs() < 1e-9);
    assert_eq!(*seen[1].bounds, TTFT_BUCKETS);
    let unchanged = vec![0.0; TTFT_BUCKETS.len() + 3];
    assert!(TtftPoint::histogram(&unchanged).is_none(), "nothing new");
}

/// The usage event of a span with its TTFT, derived: what ingest does per span.
fn derived_ttft(ev: &UsageEvent, config: &Config) -> Sample {
    let mut out = Vec::new();
    let _cost = Deriver::new(config).usage(ev, &mut out);
    out.into_iter()
        .find(|s| &*s.name == "llm_time_to_first_token_seconds")
        .unwrap_or_else(|| panic!("no TTFT from {ev:?}"))
}

/// StatsD lines, spans and metrics must land in one series: same family, same labels.
#[test]
fn labels_match_the_statsd_path() {
    let config = Config {
        scope_labels: vec!["team".into()],
        ..Config::default()
    };
    let line = "llm.time_to_first_token:250|ms|#provider:openai,model:gpt-4o,operation:chat,team:a";
    let parsed = parse_line(line.as_bytes()).expect("parses");
    let kind = Kind::from_name(&parsed.name).expect("convention name");
    let sample = parsed.samples().next().expect("one sample");
    let Ok(Event::Usage(statsd)) = convert(kind, &parsed.tags, sample, 1, u64::MAX) else {
        panic!("a usage event");
    };
    let from_statsd = derived_ttft(&statsd, &config);

    let sp = span(vec![], &[("ai.stream.firstChunk", START + 250_000_000)]);
    let mut ev = span_usage(&[], &sp, &config.scope_labels).expect("a model call");
    ev.time_to_first_token = span_ttft(&sp).and_then(Result::ok);
    let from_span = derived_ttft(&ev, &config);

    let p = point(spec_counts(&[(5, 1)]), 0.25, 10, 20);
    let tp = TtftPoint::new(
        TTFT_METRICS[0],
        "s",
        &[],
        None,
        &p,
        &config.scope_labels,
        false,
    )
    .expect("usable")
    .expect("a point");
    let h = TtftPoint::histogram(&tp.values).expect("data");
    let mut out = Vec::new();
    Deriver::new(&config).ttft_histogram(&tp.template, h, &mut out);
    let from_metric = out.pop().expect("a sample");

    let want = Labels::new([
        ("model", "gpt-4o"),
        ("operation", "chat"),
        ("provider", "openai"),
        ("team", "a"),
    ]);
    for s in [&from_statsd, &from_span, &from_metric] {
        assert_eq!(&*s.name, "llm_time_to_first_token_seconds");
        assert_eq!(s.labels, want);
        assert_eq!(
            s.options, from_statsd.options,
            "one family, one bucket layout"
        );
    }
    assert_eq!(
        from_span.value,
        SampleValue::Observe {
            value: 0.25,
            weight: 1.0
        }
    );
    assert!(matches!(from_metric.value, SampleValue::HistogramAdd(ref d) if d.count == 1));
}
