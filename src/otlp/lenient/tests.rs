use super::*;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

/// A marker of the same length as the invalid bytes it is swapped for.
const MARK: &str = "@@BAD@@";
const INVALID: &[u8] = b"\xff\xfe\xfd\xfc\xfb\xfa\xf9";

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// `body` with every MARK replaced by invalid UTF-8.
fn corrupt(mut body: Vec<u8>) -> Vec<u8> {
    let mut i = 0;
    while i + MARK.len() <= body.len() {
        if &body[i..i + MARK.len()] == MARK.as_bytes() {
            body[i..i + MARK.len()].copy_from_slice(INVALID);
            i += MARK.len();
        } else {
            i += 1;
        }
    }
    body
}

fn span(name: &str, attr: &str) -> Span {
    Span {
        name: name.into(),
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        attributes: vec![kv("gen_ai.request.model", attr)],
        ..Default::default()
    }
}

fn traces(resource_attr: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", resource_attr)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn a_span_with_an_invalid_string_is_dropped_and_the_rest_kept() {
    let req = traces(
        "svc",
        vec![span("a", "gpt-4o"), span("b", MARK), span("c", "gpt-4o")],
    );
    let body = corrupt(req.encode_to_vec());
    assert!(ExportTraceServiceRequest::decode(&body[..]).is_err());
    let r = repair(Signal::Traces, &body).expect("repaired");
    assert_eq!(r.rejected, 1);
    let out = ExportTraceServiceRequest::decode(&r.body[..]).expect("decodes");
    let names: Vec<_> = out.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(
        out.resource_spans[0].resource,
        req.resource_spans[0].resource
    );
}

#[test]
fn a_bad_resource_attribute_drops_the_items_under_it_only() {
    let mut req = traces(MARK, vec![span("a", "x"), span("b", "y")]);
    req.resource_spans
        .extend(traces("ok", vec![span("c", "z")]).resource_spans);
    let r = repair(Signal::Traces, &corrupt(req.encode_to_vec())).expect("repaired");
    assert_eq!(r.rejected, 2);
    let out = ExportTraceServiceRequest::decode(&r.body[..]).expect("decodes");
    assert_eq!(out.resource_spans.len(), 1);
    assert_eq!(out.resource_spans[0].scope_spans[0].spans[0].name, "c");
}

#[test]
fn data_points_and_log_records_are_the_items_of_their_signals() {
    let point = |v: f64, attr: &str| NumberDataPoint {
        attributes: vec![kv("k", attr)],
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let metric = |name: &str, points| Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    metric("m1", vec![point(1.0, "a"), point(2.0, MARK)]),
                    // A bad metric name: all three of its points go.
                    metric(
                        MARK,
                        vec![point(3.0, "a"), point(4.0, "b"), point(5.0, "c")],
                    ),
                    metric("m3", vec![point(6.0, "a")]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let r = repair(Signal::Metrics, &corrupt(req.encode_to_vec())).expect("repaired");
    assert_eq!(r.rejected, 4);
    let out = ExportMetricsServiceRequest::decode(&r.body[..]).expect("decodes");
    let metrics = &out.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[0].name, "m1");
    assert_eq!(metrics[1].name, "m3");
    let Some(metric::Data::Gauge(g)) = &metrics[0].data else {
        panic!("gauge");
    };
    assert_eq!(g.data_points.len(), 1);

    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        event_name: MARK.into(),
                        ..Default::default()
                    },
                    LogRecord {
                        event_name: "ok".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let r = repair(Signal::Logs, &corrupt(logs.encode_to_vec())).expect("repaired");
    assert_eq!(r.rejected, 1);
    let out = ExportLogsServiceRequest::decode(&r.body[..]).expect("decodes");
    assert_eq!(
        out.resource_logs[0].scope_logs[0].log_records[0].event_name,
        "ok"
    );
}

#[test]
fn valid_or_structurally_broken_requests_are_not_repaired() {
    let good = traces("svc", vec![span("a", "x")]).encode_to_vec();
    assert_eq!(repair(Signal::Traces, &good), None);
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    assert_eq!(repair(Signal::Traces, &truncated), None);
    assert_eq!(repair(Signal::Metrics, &[0xff; 40]), None);
    assert_eq!(repair(Signal::Logs, &[0x0a, 0x80]), None);
    // A request whose only span is bad: repaired to an empty request, one rejection.
    let r = repair(
        Signal::Traces,
        &corrupt(traces("s", vec![span(MARK, "x")]).encode_to_vec()),
    )
    .expect("repaired");
    assert_eq!(r.rejected, 1);
}

#[test]
fn no_panic_on_arbitrary_bytes() {
    // A deterministic spread of mutations of a valid request: repair may refuse, never panic.
    let good = corrupt(traces("svc", vec![span("a", MARK), span("b", "y")]).encode_to_vec());
    let mut seed = 0x9e37_79b9_u32;
    for _ in 0..2000 {
        let mut b = good.clone();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let i = seed as usize % b.len();
            b[i] = (seed >> 8) as u8;
        }
        if let Some(r) = repair(Signal::Traces, &b) {
            assert!(ExportTraceServiceRequest::decode(&r.body[..]).is_ok());
        }
    }
}
