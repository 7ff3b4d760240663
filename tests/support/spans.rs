//! Raw OTLP GenAI span requests, for tests that drive the real binary over plain HTTP.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

fn attr(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// One chat call, encoded as an export request: 1,000 input and 500 output tokens of openai
/// gpt-4o ($0.0075 at $2.50/$10 per 1M), trace `i + 1`, plus `extra` string attributes.
pub fn gpt4o_chat(i: u64, extra: &[(&str, &str)]) -> Vec<u8> {
    let s = |v: &str| Value::StringValue(v.into());
    let mut attributes = vec![
        attr("gen_ai.operation.name", s("chat")),
        attr("gen_ai.provider.name", s("openai")),
        attr("gen_ai.request.model", s("gpt-4o")),
        attr("gen_ai.usage.input_tokens", Value::IntValue(1000)),
        attr("gen_ai.usage.output_tokens", Value::IntValue(500)),
    ];
    attributes.extend(extra.iter().map(|(k, v)| attr(k, s(v))));
    let span = Span {
        trace_id: (u128::from(i) + 1).to_be_bytes().to_vec(),
        span_id: (i + 1).to_be_bytes().to_vec(),
        name: "chat gpt-4o".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// One GenAI span of gpt-4o (openai) with `tokens` (attribute, value) pairs, in trace `trace`
/// with span id `span`, from instrumentation scope `scope`; `response_id` becomes
/// `gen_ai.response.id` when given.
pub fn chat_span(
    trace: u128,
    span: u64,
    scope: &str,
    response_id: Option<&str>,
    tokens: &[(&str, i64)],
) -> ExportTraceServiceRequest {
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    let s = |v: &str| Value::StringValue(v.into());
    let mut attributes = vec![
        attr("gen_ai.operation.name", s("chat")),
        attr("gen_ai.provider.name", s("openai")),
        attr("gen_ai.request.model", s("gpt-4o")),
    ];
    attributes.extend(tokens.iter().map(|(k, v)| attr(k, Value::IntValue(*v))));
    attributes.extend(response_id.map(|id| attr("gen_ai.response.id", s(id))));
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    ..Default::default()
                }),
                spans: vec![Span {
                    trace_id: trace.to_be_bytes().to_vec(),
                    span_id: span.to_be_bytes().to_vec(),
                    name: "chat gpt-4o".into(),
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_000_500_000_000,
                    attributes,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn str_kv(key: &str, value: &str) -> KeyValue {
    attr(key, Value::StringValue(value.into()))
}

pub fn int_kv(key: &str, value: i64) -> KeyValue {
    attr(key, Value::IntValue(value))
}

/// One span with `attributes` that ended now (after a second), trace and span ids derived from
/// `id`, from instrumentation scope `scope` ("" for none), as an encoded export request.
pub fn span_now(id: u64, scope: &str, attributes: Vec<KeyValue>) -> Vec<u8> {
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                scope: (!scope.is_empty()).then(|| InstrumentationScope {
                    name: scope.into(),
                    ..Default::default()
                }),
                spans: vec![Span {
                    trace_id: (u128::from(id) + 1).to_be_bytes().to_vec(),
                    span_id: (id + 1).to_be_bytes().to_vec(),
                    name: "chat".into(),
                    start_time_unix_nano: end - 1_000_000_000,
                    end_time_unix_nano: end,
                    attributes,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}
