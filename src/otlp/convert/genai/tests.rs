use super::*;
use crate::model::CallStatus;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span, Status};

/// Spans as the real emitters send them (surveyed with tests/python/emitters.py).
mod emitters;

pub(super) fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

pub(super) fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

pub(super) fn i(v: i64) -> Value {
    Value::IntValue(v)
}

pub(super) fn span(attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![0x11; 16],
        span_id: vec![0x22; 8],
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_834_000_000,
        attributes: attrs,
        ..Default::default()
    }
}

#[test]
fn new_convention_span() {
    let sp = span(vec![
        kv("gen_ai.operation.name", s("chat")),
        kv("gen_ai.provider.name", s("openai")),
        kv("gen_ai.request.model", s("gpt-4o")),
        kv("gen_ai.response.model", s("gpt-4o-2024-08-06")),
        kv("gen_ai.usage.input_tokens", i(1200)),
        kv("gen_ai.usage.output_tokens", i(300)),
        kv("gen_ai.usage.cache_read.input_tokens", i(200)),
        kv("gen_ai.usage.cache_creation.input_tokens", i(50)),
        kv("gen_ai.usage.reasoning.output_tokens", i(100)),
        kv("team", s("search")),
        kv("stage", s("synthesis")),
        kv("user.id", s("u1")),
    ]);
    let resource = [
        kv("service.name", s("chatbot")),
        kv("deployment.environment.name", s("prod")),
        kv("project", s("apollo")),
    ];
    let configured: Vec<String> = ["service", "env", "team", "project", "stage"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let ev = span_usage(&resource, &sp, &configured).expect("usage");
    assert_eq!(&*ev.provider, "openai");
    assert_eq!(&*ev.model, "gpt-4o-2024-08-06");
    assert_eq!(&*ev.operation, "chat");
    assert_eq!(ev.usage.requests, 1);
    assert_eq!(ev.usage.input_tokens, 1200);
    assert_eq!(ev.usage.output_tokens, 300);
    assert_eq!(ev.usage.cached_input_tokens, 200);
    assert_eq!(ev.usage.cache_write_5m_tokens, 50);
    assert_eq!(ev.usage.reasoning_tokens, 100);
    assert_eq!(ev.status, Some(CallStatus::Ok));
    assert_eq!(ev.duration, Some(Duration::from_millis(834)));
    assert_eq!(ev.unix_nanos, 1_834_000_000);
    assert_eq!(ev.weight, 1.0);
    assert_eq!(
        ev.trace_id.as_deref(),
        Some("11111111111111111111111111111111")
    );
    let scope: Vec<(&str, &str)> = ev.scope.iter().collect();
    assert_eq!(
        scope,
        vec![
            ("env", "prod"),
            ("project", "apollo"),
            ("service", "chatbot"),
            ("stage", "synthesis"),
            ("team", "search")
        ]
    );
}

#[test]
fn old_convention_span_with_error_and_request_model_fallback() {
    let mut sp = span(vec![
        kv("gen_ai.system", s("anthropic")),
        kv("gen_ai.request.model", s("claude-3-5-sonnet")),
        kv("gen_ai.usage.prompt_tokens", i(10)),
        kv("gen_ai.usage.completion_tokens", Value::DoubleValue(5.0)),
    ]);
    sp.status = Some(Status {
        code: StatusCode::Error as i32,
        message: "boom".into(),
    });
    let ev = span_usage(&[kv("deployment.environment", s("dev"))], &sp, &[]).expect("usage");
    assert_eq!(&*ev.provider, "anthropic");
    assert_eq!(&*ev.model, "claude-3-5-sonnet");
    assert_eq!(ev.usage.input_tokens, 10);
    assert_eq!(ev.usage.output_tokens, 5);
    assert_eq!(ev.status, Some(CallStatus::Error));
    assert_eq!(ev.scope.get("env"), Some("dev"));

    // A failed call has no usage; its operation and model make it a call.
    let sp = span(vec![
        kv("gen_ai.operation.name", s("chat")),
        kv("gen_ai.request.model", s("m")),
        kv("error.type", s("timeout")),
    ]);
    let ev = span_usage(&[], &sp, &[]).expect("usage");
    assert_eq!(ev.status, Some(CallStatus::Error));
    // Issue 23: the error's type is kept for the error_type label.
    assert_eq!(ev.error_type.as_deref(), Some("timeout"));
}

#[test]
fn non_model_spans_are_skipped() {
    assert!(span_usage(&[], &span(vec![kv("http.method", s("GET"))]), &[]).is_none());
    let agent = span(vec![
        kv("gen_ai.operation.name", s("invoke_agent")),
        kv("gen_ai.request.model", s("gpt-4o")),
        kv("gen_ai.usage.input_tokens", i(5000)),
    ]);
    assert!(span_usage(&[], &agent, &[]).is_none());
    let tool = span(vec![kv("gen_ai.tool.name", s("search"))]);
    assert!(span_usage(&[], &tool, &[]).is_none());
}

#[test]
fn sampling_threshold_gives_adjusted_count() {
    // th:8 = 50% rejection -> each sampled span stands for 2.
    assert_eq!(sampling_weight("ot=th:8"), 2.0);
    assert_eq!(sampling_weight("vendor=x,ot=rv:abc;th:c"), 4.0);
    assert_eq!(sampling_weight("ot=th:0"), 1.0);
    assert_eq!(sampling_weight(""), 1.0);
    assert_eq!(sampling_weight("ot=th:zz"), 1.0);
    assert_eq!(sampling_weight("ot=th:123456789abcdef0"), 1.0);
    let mut sp = span(vec![
        kv("gen_ai.operation.name", s("chat")),
        kv("gen_ai.request.model", s("m")),
    ]);
    sp.trace_state = "ot=th:c".into();
    assert_eq!(span_usage(&[], &sp, &[]).expect("usage").weight, 4.0);
}

/// One reader over many spans: past its bounds (distinct label sets, names, a long label list)
/// every event is still the one `span_usage` makes, and equal names share one string.
#[test]
fn reader_matches_span_usage_past_its_bounds() {
    let resource = [kv("service.name", s("svc")), kv("team", s("r"))];
    let other = [kv("deployment.environment", s("prod"))];
    let long: Vec<String> = (0..20).map(|n| format!("l{n}")).collect();
    for configured in [vec!["team".to_owned(), "env".to_owned()], long] {
        let mut reader = SpanReader::new(&configured);
        for n in 0..80 {
            let res: &[KeyValue] = if n % 3 == 0 { &other } else { &resource };
            let sp = span(vec![
                kv("gen_ai.provider.name", s(&format!("p{}", n % 40))),
                kv("gen_ai.request.model", s(&format!("m{n}"))),
                kv("gen_ai.usage.input_tokens", i(n)),
                kv("team", s(if n % 5 == 0 { "" } else { "t" })),
                kv(&format!("l{}", n % 20), s(&format!("v{n}"))),
                kv("team", s(&format!("late{n}"))),
            ]);
            let ev = reader.span_usage(res, &sp);
            assert_eq!(ev, span_usage(res, &sp, &configured), "{n}");
        }
    }
}

/// A request's events share one string per distinct provider, model and operation.
#[test]
fn reader_shares_names_between_events() {
    let configured = vec!["team".to_owned()];
    let mut reader = SpanReader::new(&configured);
    let events: Vec<UsageEvent> = (0..12)
        .filter_map(|n| {
            let sp = span(vec![
                kv("gen_ai.operation.name", s("chat")),
                kv("gen_ai.provider.name", s(["openai", "anthropic"][n % 2])),
                kv("gen_ai.request.model", s(["a", "b", "c"][n % 3])),
                kv("gen_ai.usage.input_tokens", i(1)),
            ]);
            reader.span_usage(&[], &sp)
        })
        .collect();
    assert_eq!(events.len(), 12);
    for (n, ev) in events.iter().enumerate().skip(6) {
        let twin = &events[n - 6];
        assert!(Arc::ptr_eq(&ev.provider, &twin.provider), "{n}");
        assert!(Arc::ptr_eq(&ev.model, &twin.model), "{n}");
        assert!(Arc::ptr_eq(&ev.operation, &twin.operation), "{n}");
    }
}
