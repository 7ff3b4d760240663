use super::*;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn point(kind: UsageMetric, attrs: &[KeyValue], start: u64, time: u64, value: f64) -> UsagePoint {
    UsagePoint::new(
        "gen_ai.client.token.usage",
        kind,
        &[kv("service.name", "bot")],
        None,
        attrs,
        &["team".to_owned()],
        true,
        start,
        time,
        value,
    )
}

fn attrs(token_type: &str) -> Vec<KeyValue> {
    vec![
        kv("gen_ai.token.type", token_type),
        kv("gen_ai.provider.name", "openai"),
        kv("gen_ai.response.model", "gpt-4o"),
        kv("gen_ai.operation.name", "chat"),
        kv("team", "search"),
    ]
}

#[test]
fn cumulative_points_become_deltas_with_reset_on_new_start() {
    let mut st = UsageStreams::new(10, 50);
    let a = attrs("input");
    let p1 = point(UsageMetric::TokenHistogram, &a, 100, 1000, 120.0);
    assert_eq!(
        st.delta(&p1),
        Ok(120.0),
        "stream started after meterd: all new"
    );
    let p2 = point(UsageMetric::TokenHistogram, &a, 100, 2000, 150.0);
    assert_eq!(st.delta(&p2), Ok(30.0));
    let restarted = point(UsageMetric::TokenHistogram, &a, 3000, 4000, 10.0);
    assert_eq!(st.delta(&restarted), Ok(10.0));
    let ev = p2.event(30.0).expect("event");
    assert_eq!(ev.usage.input_tokens, 30);
    assert_eq!(&*ev.model, "gpt-4o");
    assert_eq!(&*ev.operation, "chat");
    assert_eq!(ev.scope.get("team"), Some("search"));
    assert_eq!(ev.scope.get("service"), Some("bot"));
    assert_eq!(ev.usage.requests, 0);
    assert!(p2.event(0.0).is_none());
}

#[test]
fn streams_older_than_meterd_start_are_a_baseline() {
    let mut st = UsageStreams::new(10, 500);
    let p = point(
        UsageMetric::TokenHistogram,
        &attrs("output"),
        100,
        1000,
        9000.0,
    );
    assert_eq!(st.delta(&p), Ok(0.0));
    let p = point(
        UsageMetric::TokenHistogram,
        &attrs("output"),
        100,
        2000,
        9100.0,
    );
    assert_eq!(st.delta(&p), Ok(100.0));
}

#[test]
fn distinct_attributes_are_distinct_streams_and_table_is_bounded() {
    let mut st = UsageStreams::new(1, 0);
    let i = point(UsageMetric::TokenHistogram, &attrs("input"), 1, 10, 5.0);
    let o = point(UsageMetric::TokenHistogram, &attrs("output"), 1, 10, 7.0);
    assert_ne!(i.stream, o.stream);
    assert_eq!(st.delta(&i), Ok(5.0));
    assert_eq!(st.delta(&o), Err(StreamsFull));
    // Once the first stream idles for an hour (by sender time) its slot is reused.
    let late = point(
        UsageMetric::TokenHistogram,
        &attrs("output"),
        1,
        10 + 2 * IDLE_NANOS,
        7.0,
    );
    assert_eq!(st.delta(&late), Ok(7.0));
    assert_eq!(st.len(), 1);
}

#[test]
fn metric_names_and_requests_status() {
    assert_eq!(
        usage_metric("gen_ai.client.inference.usage.cache_read.input_tokens"),
        Some(UsageMetric::Tokens(TokenKind::CachedInput))
    );
    assert_eq!(usage_metric("http.server.duration"), None);
    let mut a = attrs("input");
    a.push(kv("error.type", "timeout"));
    let p = point(UsageMetric::Requests, &a, 1, 2, 3.0);
    let ev = p.event(3.0).expect("event");
    assert_eq!(ev.usage.requests, 3);
    assert_eq!(ev.status, Some(CallStatus::Error));
    assert_eq!(ev.error_type.as_deref(), Some("timeout"));
    let unknown = point(UsageMetric::TokenHistogram, &attrs("weird"), 1, 2, 3.0);
    assert!(unknown.event(3.0).is_none());
}

#[test]
fn delta_points_pass_through_and_garbage_is_zero() {
    let mut st = UsageStreams::new(10, 0);
    let mut p = point(UsageMetric::TokenHistogram, &attrs("input"), 1, 2, 4.0);
    p.cumulative = false;
    assert_eq!(st.delta(&p), Ok(4.0));
    assert_eq!(st.delta(&p), Ok(4.0));
    p.value = f64::NAN;
    assert_eq!(st.delta(&p), Ok(0.0));
    assert!(st.is_empty());
}

/// Exporters retry a batch that timed out; cumulative points make that harmless only if a point
/// seen before (or older than one seen) is not mistaken for a restart of its stream.
#[test]
fn a_retried_export_of_cumulative_points_adds_nothing() {
    let mut st = UsageStreams::new(10, 50);
    let a = attrs("input");
    let p1 = point(UsageMetric::TokenHistogram, &a, 100, 1000, 120.0);
    let p2 = point(UsageMetric::TokenHistogram, &a, 100, 2000, 150.0);
    assert_eq!(st.delta(&p1), Ok(120.0));
    assert_eq!(st.delta(&p1), Ok(0.0), "the same export again");
    assert_eq!(st.delta(&p2), Ok(30.0));
    // The retry of the older export lands after the newer one: not a restart.
    assert_eq!(st.delta(&p1), Ok(0.0), "an older point retried late");
    assert_eq!(st.delta(&p2), Ok(0.0));
    let p3 = point(UsageMetric::TokenHistogram, &a, 100, 3000, 180.0);
    assert_eq!(
        st.delta(&p3),
        Ok(30.0),
        "the stream goes on from its newest point"
    );
    // A restart (new start time) still counts from zero, and its retry adds nothing.
    let r = point(UsageMetric::TokenHistogram, &a, 3500, 4000, 10.0);
    assert_eq!(st.delta(&r), Ok(10.0));
    assert_eq!(st.delta(&r), Ok(0.0));
    // Several values (a histogram's count, sum, buckets) alike.
    let s = 77;
    assert_eq!(
        st.advance(s, 100, 1000, &[1.0, 5.0]),
        Ok(Some(vec![1.0, 5.0]))
    );
    assert_eq!(
        st.advance(s, 100, 2000, &[2.0, 9.0]),
        Ok(Some(vec![1.0, 4.0]))
    );
    assert_eq!(st.advance(s, 100, 1000, &[1.0, 5.0]), Ok(None));
    assert_eq!(
        st.advance(s, 100, 3000, &[3.0, 10.0]),
        Ok(Some(vec![1.0, 1.0]))
    );
}
