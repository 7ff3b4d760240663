use super::*;
use std::io::Write;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn gunzip_within_cap_and_bomb_refused() {
    assert_eq!(gunzip(&gz(b"hello"), 5).expect("fits").as_slice(), b"hello");
    let bomb = gz(&vec![0u8; 1_000_000]);
    assert!(bomb.len() < 10_000);
    let r = gunzip(&bomb, 1000).expect_err("bomb");
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = gunzip(b"not gzip", 1000).expect_err("garbage");
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[test]
fn content_types() {
    let mut h = HeaderMap::new();
    assert_eq!(media_type(&h), None);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    assert_eq!(media_type(&h), Some(Encoding::Json));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("Application/X-Protobuf"),
    );
    assert_eq!(media_type(&h), Some(Encoding::Protobuf));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    assert_eq!(media_type(&h), None);
}

#[test]
fn otlp_json_edge_cases_decode() {
    // Hex ids, int64 as strings and as numbers, unknown fields ignored, doubles given as integers.
    let body = br#"{
      "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]},
        "futureField": {"x": 1},
        "scopeSpans": [{"spans": [{
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "eee19b7ec3c1b174",
          "name": "chat gpt-4o",
          "startTimeUnixNano": "1544712660000000000",
          "endTimeUnixNano": 1544712661000000000,
          "kind": 3,
          "attributes": [
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 7}},
            {"key": "ratio", "value": {"doubleValue": 1}}
          ],
          "status": {"code": 2}
        }]}]
      }]
    }"#;
    let req: ExportTraceServiceRequest = decode(Encoding::Json, body).expect("decodes");
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id[0], 0x5b);
    assert_eq!(span.span_id.len(), 8);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(
        crate::otlp::convert::attrs::get_u64(&span.attributes, "gen_ai.usage.input_tokens"),
        Some(12)
    );
    assert_eq!(
        crate::otlp::convert::attrs::get_u64(&span.attributes, "gen_ai.usage.output_tokens"),
        Some(7)
    );

    let metrics = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{
      "aggregationTemporality":2,"isMonotonic":true,
      "dataPoints":[{"asInt":"9007199254740993","timeUnixNano":"1"},{"asDouble":"NaN"}]}}]}]}]}"#;
    let req: ExportMetricsServiceRequest = decode(Encoding::Json, metrics).expect("decodes");
    let pts = match &req.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(s)) => &s.data_points,
        d => panic!("unexpected {d:?}"),
    };
    assert_eq!(
        pts[0].value,
        Some(
            opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(
                9_007_199_254_740_993
            )
        )
    );

    assert_eq!(
        decode::<ExportTraceServiceRequest>(Encoding::Json, b" \n").expect("empty request"),
        ExportTraceServiceRequest::default()
    );
    for bad in [
        &br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}"#[..],
        b"{",
        b"[]",
    ] {
        let r = decode::<ExportTraceServiceRequest>(Encoding::Json, bad).expect_err("malformed");
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = decode::<ExportTraceServiceRequest>(Encoding::Protobuf, &[0xff, 0xff, 0xff])
        .expect_err("bad pb");
    assert_eq!(r.code, tonic::Code::InvalidArgument);
}

#[test]
fn json_errors_hidden_by_flattened_oneofs_are_still_malformed() {
    // serde turns a failed `#[serde(flatten)] Option<oneof>` into `None`; a metric or point whose
    // data key is present but did not decode must be a 400, not a silently empty item.
    for bad in [
        &br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"exemplars":[{"traceId":"not-hex"}]}]}}]}]}]}"#[..],
        br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asInt":"abc"}]}}]}]}]}"#,
        br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"dataPoints":[{"asDouble":{}}]}}]}]}]}"#,
    ] {
        let r = decode_metrics(Encoding::Json, bad).expect_err("malformed");
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(bad));
    }
    // A metric that really has no data, or a point without a value, is an item-level rejection.
    let ok = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x"},{"name":"y","gauge":{"dataPoints":[{}]}}]}]}]}"#;
    assert!(decode_metrics(Encoding::Json, ok).is_ok());
}
