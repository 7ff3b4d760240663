//! The in-place trace reader against prost: every request prost encodes (spans in every usage
//! convention of the table, OpenInference, legacy and Vercel names, counts as strings and
//! doubles, response ids shared by several spans, resources and scopes) reads in place and
//! converts to exactly what prost's decode converts to, down to the dedup keys and the store
//! contents through `Ingest`; on damaged bytes, whatever the reader accepts prost decodes and
//! converts the same way.

use super::*;
use crate::derive::dedup::scopes::group as scope_group;
use crate::derive::dedup::{call_key, span_key};
use crate::otlp::convert::attrs::get_str;
use crate::otlp::convert::genai::conventions::{Field, TABLE};
use crate::otlp::convert::genai::{
    identity, is_genai, response_id, scope_labels, span_usage, SpanReader,
};
use crate::otlp::convert::spans::{SpanData, TraceRequest};
use crate::otlp::convert::{stage::span_stage, ttft::span_ttft};
use crate::otlp::view::tests::{apply, field, mangle};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;
use prost::Message;
use std::fmt::Write;

mod ingest;
mod reach;

const CONFIGURED: [&str; 2] = ["team", "stage"];
/// Labels that name what `service` and `env` already hold, and a repeat.
const ODD_CONFIGURED: [&str; 6] = [
    "env",
    "team",
    "service",
    "team",
    "deployment.environment",
    "stage",
];

/// Everything span conversion derives from a request (usage events, stage events, time to first
/// token, the dedup window's keys and groups), as text: NaN compares equal to itself there.
pub(super) fn translate<R: TraceRequest>(req: &R) -> String {
    let configured: Vec<String> = CONFIGURED.iter().map(|s| s.to_string()).collect();
    let odd: Vec<String> = ODD_CONFIGURED.iter().map(|s| s.to_string()).collect();
    let mut readers = [SpanReader::new(&configured), SpanReader::new(&odd)];
    // What the receiver does (one reader for the request) is what `span_usage` does per span,
    // also when a resource comes back after another one.
    let scopes: Vec<_> = req.scopes().collect();
    for (resource, _, spans) in scopes.iter().chain(scopes.iter().rev()) {
        for s in spans.iter() {
            for (reader, configured) in readers.iter_mut().zip([&configured, &odd]) {
                let want = span_usage(resource, s, configured);
                assert_eq!(reader.span_usage(resource, s), want, "SpanReader");
                assert_eq!(
                    reader.labels(resource, s.attributes()),
                    scope_labels(resource, s.attributes(), configured),
                    "SpanReader labels"
                );
            }
        }
    }
    let mut out = format!("{} spans\n", req.span_count());
    for (resource, scope, spans) in req.scopes() {
        let service = get_str(resource, "service.name");
        let instance = get_str(resource, "service.instance.id");
        let _ = writeln!(out, "scope {scope:?} {service:?} {instance:?}");
        for s in spans {
            let a = s.attributes();
            let usage = span_usage(resource, s, &configured);
            let id = get_str(a, "gen_ai.response.id");
            let call = usage
                .as_ref()
                .zip(id.as_ref())
                .map(|(ev, id)| call_key(&ev.provider, id));
            let group = usage.as_ref().map(|ev| {
                scope_group(
                    service.as_deref().unwrap_or(""),
                    instance.as_deref().unwrap_or(""),
                    &ev.provider,
                )
            });
            let _ = writeln!(
                out,
                "{:?} {:?} {call:?} {group:?} {usage:?} {:?} {:?} {:?} {:?}",
                is_genai(a),
                span_key(s.trace_id(), s.span_id()),
                span_stage(resource, s, "stage", &configured),
                span_ttft(s),
                response_id(a),
                identity(a),
            );
        }
    }
    out
}

pub(super) fn prost_path(body: &[u8]) -> Option<String> {
    Some(translate(&ExportTraceServiceRequest::decode(body).ok()?))
}

pub(super) fn view_path(body: &[u8]) -> Result<String, Bail> {
    Ok(translate(&decode_traces(body)?))
}

/// Every attribute name the conventions table knows, and the others span conversion reads.
fn keys() -> Vec<&'static str> {
    let mut k: Vec<&'static str> = TABLE
        .iter()
        .flat_map(|r| r.names.iter().map(|(n, _)| *n))
        .collect();
    k.extend([
        "service.name",
        "team",
        "stage",
        "error.type",
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.server.time_to_first_token",
        "deployment.environment.name",
        "deployment.environment",
        "env",
        "http.route",
    ]);
    k
}

fn text_value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "chat",
        "openai",
        "openai.chat",
        "anthropic",
        "gpt-4o",
        "o3",
        "LLM",
        "EMBEDDING",
        "CHAIN",
        "ai.generateText.doGenerate",
        "ai.generateText",
        "ai.embed.doEmbed",
        "completion",
        "embedding",
        "workflow",
        "invoke_agent",
        "12",
        " 7 ",
        "-3",
        "1.5",
        "0.25",
        "resp-1",
        "resp-2",
        "priority",
        "retrieval",
        "team-a",
        "é",
    ])
    .prop_map(str::to_owned)
}

fn value() -> impl Strategy<Value = Option<AnyValue>> {
    let v = prop_oneof![
        4 => text_value().prop_map(Value::StringValue),
        4 => prop_oneof![0i64..5000, any::<i64>()].prop_map(Value::IntValue),
        2 => prop_oneof![Just(f64::NAN), Just(-1.0), Just(3.7), Just(1e300), 0.0f64..10.0]
            .prop_map(Value::DoubleValue),
        1 => any::<bool>().prop_map(Value::BoolValue),
        1 => prop::collection::vec(text_value(), 0..3).prop_map(|v| Value::ArrayValue(ArrayValue {
            values: v.into_iter().map(|s| AnyValue { value: Some(Value::StringValue(s)) }).collect(),
        })),
        1 => prop::collection::vec(any::<u8>(), 0..3).prop_map(Value::BytesValue),
    ];
    prop_oneof![
        12 => v.prop_map(|v| Some(AnyValue { value: Some(v) })),
        1 => Just(Some(AnyValue { value: None })),
        1 => Just(None),
    ]
}

/// A value for a row of the table: mostly the kind the row holds, sometimes anything.
fn row_value(field: Field) -> BoxedStrategy<Option<AnyValue>> {
    let some = |v: Value| Some(AnyValue { value: Some(v) });
    match field {
        Field::ResponseId => prop_oneof![
            3 => prop::sample::select(vec!["resp-1", "resp-2"])
                .prop_map(move |id| some(Value::StringValue(id.into()))),
            1 => value(),
        ]
        .boxed(),
        Field::OpenInferenceKind | Field::VercelOperation => prop_oneof![
            3 => prop::sample::select(vec!["LLM", "EMBEDDING", "ai.streamText.doStream"])
                .prop_map(move |k| some(Value::StringValue(k.into()))),
            1 => value(),
        ]
        .boxed(),
        Field::Provider | Field::Model | Field::Operation | Field::ServiceTier => value().boxed(),
        _ => prop_oneof![
            4 => (0i64..5000).prop_map(move |n| some(Value::IntValue(n))),
            1 => value(),
        ]
        .boxed(),
    }
}

fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value,
        ..Default::default()
    }
}

/// A span's attributes: for each row of the table maybe one of its names (so several
/// conventions meet on one span), plus a few arbitrary ones, repeats included.
fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    let rows: Vec<_> = TABLE
        .iter()
        .map(|r| {
            let names: Vec<&'static str> = r.names.iter().map(|(n, _)| *n).collect();
            let p = match r.field {
                Field::TraceloopKind => 0.05,
                Field::OpenInferenceKind | Field::VercelOperation => 0.2,
                _ => 0.5,
            };
            prop::option::weighted(p, (prop::sample::select(names), row_value(r.field)))
        })
        .collect();
    let extra = prop::collection::vec((prop::sample::select(keys()), value()), 0..5);
    (rows, extra, any::<u64>()).prop_map(|(rows, extra, order)| {
        let mut out: Vec<KeyValue> = rows
            .into_iter()
            .flatten()
            .chain(extra)
            .map(|(k, v)| kv(k, v))
            .collect();
        // Attribute order decides which of two same names is read: vary it.
        if !out.is_empty() {
            let n = out.len();
            out.rotate_left((order as usize) % n);
        }
        out
    })
}

prop_compose! {
    fn a_span()(
        attributes in attrs(),
        ids in (0u8..4, 0u8..3),
        start in prop_oneof![Just(0u64), 1_000_000_000u64..1_000_100_000, any::<u64>()],
        len in prop_oneof![0u64..5_000_000_000, Just(u64::MAX)],
        events in prop::collection::vec(
            (prop::sample::select(vec!["ai.stream.firstChunk", "llm.content.completion.chunk", "x"]),
             0u64..3_000_000_000),
            0..3,
        ),
        status in prop_oneof![Just(None), (0i32..3).prop_map(Some), any::<i32>().prop_map(Some)],
        trace_state in prop::sample::select(vec!["", "ot=th:8", "ot=th:c;rv:1", "a=b,ot=th:0"]),
        kind in 0i32..6,
    ) -> Span {
        let trace_id = match ids.0 { 0 => vec![], 1 => vec![0; 16], n => vec![n; 16] };
        Span {
            trace_id,
            span_id: if ids.1 == 0 { vec![] } else { vec![ids.1; 8] },
            trace_state: trace_state.to_owned(),
            name: "chat".into(),
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(len),
            attributes,
            events: events
                .into_iter()
                .map(|(name, at)| span::Event {
                    name: name.into(),
                    time_unix_nano: start.saturating_add(at).saturating_sub(500_000_000),
                    attributes: vec![kv("k", Some(AnyValue { value: Some(Value::IntValue(1)) }))],
                    dropped_attributes_count: 0,
                })
                .collect(),
            status: status.map(|code| Status { code, message: "m".into() }),
            links: vec![span::Link { trace_id: vec![1; 16], ..Default::default() }],
            flags: 0x100,
            ..Default::default()
        }
    }
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    let attr = (
        prop::sample::select(vec![
            "service.name",
            "service.instance.id",
            "deployment.environment",
            "deployment.environment.name",
            "team",
            "stage",
            "service",
        ]),
        value(),
    );
    prop::option::weighted(
        0.8,
        prop::collection::vec(attr, 0..4).prop_map(|a| Resource {
            attributes: a.into_iter().map(|(k, v)| kv(k, v)).collect(),
            ..Default::default()
        }),
    )
}

prop_compose! {
    pub(super) fn request()(
        resources in prop::collection::vec(
            (
                resource(),
                prop::collection::vec(
                    (
                        prop::option::of(prop::sample::select(vec![
                            "", "anthropic", "opentelemetry.instrumentation.anthropic",
                            "openinference.instrumentation.openai",
                        ])),
                        prop::collection::vec(a_span(), 0..5),
                    ),
                    0..3,
                ),
            ),
            0..3,
        ),
    ) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: resources
                .into_iter()
                .map(|(resource, scopes)| ResourceSpans {
                    resource,
                    scope_spans: scopes
                        .into_iter()
                        .map(|(scope, spans)| ScopeSpans {
                            scope: scope.map(|name| InstrumentationScope {
                                name: name.into(),
                                version: "1".into(),
                                ..Default::default()
                            }),
                            spans,
                            schema_url: "s".into(),
                        })
                        .collect(),
                    schema_url: String::new(),
                })
                .collect(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_encoded_request_reads_in_place_as_prost_reads_it(req in request()) {
        let body = req.encode_to_vec();
        let want = prost_path(&body).expect("prost decodes what it encoded");
        let got = view_path(&body).expect("an encoded request reads in place");
        prop_assert_eq!(got, want);
    }

    #[test]
    fn damaged_bytes_read_in_place_only_as_prost_reads_them(
        req in request(),
        damage in prop::collection::vec(mangle(), 1..4),
    ) {
        let mut body = req.encode_to_vec();
        for m in &damage {
            apply(&mut body, m);
        }
        if let Ok(got) = view_path(&body) {
            prop_assert_eq!(Some(got), prost_path(&body));
        }
    }
}

/// A request with one span whose encoding is `span`.
fn one_span(span: &[u8]) -> Vec<u8> {
    field(1, &field(2, &field(2, span)))
}

fn str_attr(key: &[u8], value: &[u8]) -> Vec<u8> {
    field(9, &[field(1, key), field(2, &field(1, value))].concat())
}

#[test]
fn invalid_utf8_anywhere_is_left_to_prost() {
    for span in [
        str_attr(b"gen_ai.request.model", b"\xff"),
        str_attr(b"\xc3", b"x"),
        field(3, b"\xfe"),
        field(5, b"\xfe"),
        field(11, &field(2, b"\xff")),
        field(11, &field(3, &field(1, b"\xff"))),
        field(13, &field(3, b"\xff")),
        field(15, &field(2, b"\xff")),
    ] {
        let body = one_span(&span);
        assert!(prost_path(&body).is_none(), "prost refuses {span:?}");
        assert_eq!(decode_traces(&body).err(), Some(Bail), "{span:?}");
    }
}

#[test]
fn what_prost_would_merge_or_refuse_is_left_to_prost() {
    use prost::encoding::{encode_key, WireType};
    let status = field(15, &[0x18, 0x02]);
    let mut wrong_flags = Vec::new();
    encode_key(16, WireType::Varint, &mut wrong_flags);
    wrong_flags.push(1);
    let mut wrong_time = Vec::new();
    encode_key(7, WireType::Varint, &mut wrong_time);
    wrong_time.push(1);
    for span in [
        [status.clone(), status.clone()].concat(),
        wrong_flags,
        wrong_time,
        field(6, b""),
    ] {
        assert_eq!(
            decode_traces(&one_span(&span)).err(),
            Some(Bail),
            "{span:?}"
        );
    }
    let rs = [field(1, b""), field(1, b"")].concat();
    assert_eq!(decode_traces(&field(1, &rs)).err(), Some(Bail));
    let ss = [field(1, b""), field(1, b"")].concat();
    assert_eq!(decode_traces(&field(1, &field(2, &ss))).err(), Some(Bail));
}

#[test]
fn unknown_fields_and_repeated_singular_scalars_read_as_prost_reads_them() {
    use prost::encoding::{encode_key, encode_varint, WireType};
    let mut span = [
        field(5, b"first"),
        field(5, b"second"),
        str_attr(b"gen_ai.provider.name", b"openai"),
        str_attr(b"gen_ai.request.model", b"gpt-4o"),
        str_attr(b"gen_ai.operation.name", b"chat"),
        field(1, &[1; 16]),
        field(1, &[2; 16]),
        field(2, &[3; 8]),
        field(99, b"\xff unknown, not read"),
        field(15, &[0x18, 0x02]),
    ]
    .concat();
    encode_key(98, WireType::Varint, &mut span);
    encode_varint(u64::MAX, &mut span);
    encode_key(7, WireType::SixtyFourBit, &mut span);
    span.extend_from_slice(&5u64.to_le_bytes());
    encode_key(8, WireType::SixtyFourBit, &mut span);
    span.extend_from_slice(&9u64.to_le_bytes());
    let body = one_span(&span);
    let got = view_path(&body).expect("reads in place");
    assert_eq!(Some(got.clone()), prost_path(&body));
    assert!(got.contains("0202020202"), "the last trace id wins: {got}");
    assert!(got.contains("Error"), "status ERROR: {got}");
}

#[test]
fn an_attribute_whose_value_prost_merges_reads_as_prost_reads_it() {
    // An `AnyValue` with an array, then a string: prost keeps the string (a oneof's last field).
    let any = [field(5, &field(1, &field(1, b"x"))), field(1, b" 42 ")].concat();
    let attr = field(
        9,
        &[field(1, b"gen_ai.usage.input_tokens"), field(2, &any)].concat(),
    );
    let body = one_span(&[str_attr(b"gen_ai.provider.name", b"openai"), attr].concat());
    let got = view_path(&body).expect("reads in place");
    assert_eq!(Some(got.clone()), prost_path(&body));
    assert!(got.contains("input_tokens: 42"), "{got}");
}
