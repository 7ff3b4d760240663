//! OTLP protocol behaviour on the wire: content types, gzip, size caps and decompression bombs,
//! malformed payloads, partial success, overload, over both HTTP and gRPC.

use crate::support::agent::Agent;
use crate::support::wait_until;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    metrics_service_client::MetricsServiceClient, ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use prost::Message;
use std::io::Write;
use std::time::Duration;

fn gauge(name: &str, v: f64, attr_len: usize) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes: vec![KeyValue {
                    key: "pad".into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("x".repeat(attr_len))),
                    }),
                    ..Default::default()
                }],
                value: Some(number_data_point::Value::AsDouble(v)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    }
}

fn no_temporality(name: &str) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                value: Some(number_data_point::Value::AsInt(1)),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Unspecified as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn post(
    agent: &Agent,
    path: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::blocking::Response {
    let mut req = reqwest::blocking::Client::new()
        .post(format!(
            "http://{}{path}",
            agent.addrs().otlp_http.expect("http")
        ))
        .header("Content-Type", content_type)
        .timeout(Duration::from_secs(10))
        .body(body);
    if let Some(e) = encoding {
        req = req.header("Content-Encoding", e);
    }
    req.send().expect("post")
}

const LIMITS: &str = "limits:\n  max_request_bytes: 2KiB\n  max_decompressed_bytes: 4KiB\n";

#[test]
fn http_protobuf_gzip_and_response_encoding() {
    let agent = Agent::start("");
    let body = request(vec![gauge("temp", 21.5, 1)]).encode_to_vec();
    let resp = post(
        &agent,
        "/v1/metrics",
        "application/x-protobuf",
        Some("gzip"),
        gz(&body),
    );
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    let decoded = ExportMetricsServiceResponse::decode(resp.bytes().expect("body")).expect("pb");
    assert_eq!(
        decoded.partial_success, None,
        "fully accepted: partial_success unset"
    );
    assert_eq!(agent.metric(r#"temp{pad="x"}"#), Some(21.5));
}

#[test]
fn http_json_partial_success_names_the_rejected_points() {
    let agent = Agent::start("");
    let json = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"ok.gauge","gauge":{"dataPoints":[{"asDouble":2}]}},
        {"name":"bad.sum","sum":{"isMonotonic":true,"dataPoints":[{"asInt":"1"}]}},
        {"name":"bad.hist","histogram":{"aggregationTemporality":2,"dataPoints":[
           {"count":"3","bucketCounts":["1","2"],"explicitBounds":[1,2]}]}}
    ]}]}]}"#;
    let resp = post(&agent, "/v1/metrics", "application/json", None, json.into());
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: serde_json::Value = resp.json().expect("json body");
    let ps = &v["partialSuccess"];
    let rejected = ps["rejectedDataPoints"].as_i64().or_else(|| {
        ps["rejectedDataPoints"]
            .as_str()
            .and_then(|s| s.parse().ok())
    });
    assert_eq!(rejected, Some(2), "{v}");
    let msg = ps["errorMessage"].as_str().expect("message");
    assert!(
        msg.contains("no_temporality") && msg.contains("bad_buckets"),
        "{msg}"
    );
    assert_eq!(agent.metric("ok_gauge"), Some(2.0));
    assert_eq!(
        agent.metric(r#"meterd_otlp_items_rejected_total{reason="bad_buckets",signal="metrics"}"#),
        Some(1.0)
    );
    assert_eq!(
        agent.metric(
            r#"meterd_otlp_requests_total{result="partial",signal="metrics",transport="http"}"#
        ),
        Some(1.0)
    );
}

#[test]
fn http_refusals_use_the_spec_status_codes() {
    let agent = Agent::start(LIMITS);
    let ok_body = request(vec![gauge("g", 1.0, 1)]).encode_to_vec();

    let r = post(&agent, "/v1/metrics", "text/plain", None, ok_body.clone());
    assert_eq!(r.status(), 415);
    let r = post(
        &agent,
        "/v1/metrics",
        "application/x-protobuf",
        Some("br"),
        ok_body,
    );
    assert_eq!(r.status(), 415);

    let r = post(
        &agent,
        "/v1/traces",
        "application/x-protobuf",
        None,
        vec![0xff, 0xff, 0xff],
    );
    assert_eq!(r.status(), 400);
    let r = post(
        &agent,
        "/v1/logs",
        "application/json",
        None,
        b"{\"resourceLogs\": [".to_vec(),
    );
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().expect("json error body");
    assert_eq!(
        body["code"], 3,
        "google.rpc.Status INVALID_ARGUMENT: {body}"
    );
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("malformed")));
    let r = post(&agent, "/v1/metrics", "application/json", None, br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"exemplars":[{"traceId":"not-hex"}]}]}}]}]}]}"#.to_vec());
    assert_eq!(r.status(), 400);
    let r = post(
        &agent,
        "/v1/metrics",
        "application/x-protobuf",
        Some("gzip"),
        b"not gzip".to_vec(),
    );
    assert_eq!(r.status(), 400);

    // Over the wire cap.
    let big = request(vec![gauge("g", 1.0, 8000)]).encode_to_vec();
    let r = post(
        &agent,
        "/v1/metrics",
        "application/x-protobuf",
        None,
        big.clone(),
    );
    assert_eq!(r.status(), 413);
    // Small on the wire, over the decompressed cap: a bomb stops at the cap.
    let compressed = gz(&big);
    assert!(compressed.len() < 2048);
    let r = post(
        &agent,
        "/v1/metrics",
        "application/x-protobuf",
        Some("gzip"),
        compressed,
    );
    assert_eq!(r.status(), 413);
    let bomb = gz(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 2048);
    let r = post(
        &agent,
        "/v1/metrics",
        "application/x-protobuf",
        Some("gzip"),
        bomb,
    );
    assert_eq!(r.status(), 413);

    let count = |result: &str| {
        agent.metric(&format!(
            "meterd_otlp_requests_total{{result=\"{result}\",signal=\"metrics\",transport=\"http\"}}"
        ))
    };
    assert_eq!(count("unsupported_media_type"), Some(1.0));
    assert_eq!(count("unsupported_encoding"), Some(1.0));
    assert_eq!(count("too_large"), Some(3.0));
    assert_eq!(count("invalid"), Some(2.0));
    assert_eq!(
        agent.metric(
            r#"meterd_otlp_requests_total{result="invalid",signal="traces",transport="http"}"#
        ),
        Some(1.0)
    );
}

#[test]
fn http_items_over_the_per_request_cap_are_rejected_visibly() {
    let agent = Agent::start("otlp:\n  max_items_per_request: 2\n");
    let body = request(vec![
        gauge("a", 1.0, 1),
        gauge("b", 1.0, 1),
        gauge("c", 1.0, 1),
    ]);
    let r = post(
        &agent,
        "/v1/metrics",
        "application/x-protobuf",
        None,
        body.encode_to_vec(),
    );
    assert_eq!(r.status(), 200);
    let resp = ExportMetricsServiceResponse::decode(r.bytes().expect("body")).expect("pb");
    let ps = resp.partial_success.expect("partial success");
    assert_eq!(ps.rejected_data_points, 3);
    assert!(
        ps.error_message.contains("max_items_per_request"),
        "{}",
        ps.error_message
    );
    assert_eq!(agent.metric("a"), None);
}

#[test]
fn http_overload_answers_503_with_retry_after() {
    // Bodies are received before a concurrency slot is taken; what bounds them is the byte budget
    // of bodies in flight. A sender stalled after 1,000 bytes holds nearly all of a 1 KiB one.
    let agent = Agent::start(
        "limits:\n  max_request_bytes: 1KiB\n  max_decompressed_bytes: 1KiB\n  \
         max_buffered_body_bytes: 1KiB\n",
    );
    let addr = agent.addrs().otlp_http.expect("http");
    let stall = || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.write_all(
            b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1024\r\n\r\n",
        )
        .expect("write");
        s.write_all(&[0u8; 1000]).expect("write");
        s
    };
    let mut stalled = vec![stall()];
    let body = request(vec![gauge("g", 1.0, 1)]).encode_to_vec();
    let resp = wait_until(
        "a 503 while the body budget is held",
        Duration::from_secs(20),
        || {
            let r = post(
                &agent,
                "/v1/metrics",
                "application/x-protobuf",
                None,
                body.clone(),
            );
            if r.status() == 503 {
                return Some(r);
            }
            stalled.push(stall());
            None
        },
    );
    assert_eq!(resp.headers()["retry-after"], "1");
    assert!(agent
        .metric(
            r#"meterd_otlp_requests_total{result="overloaded",signal="metrics",transport="http"}"#
        )
        .is_some_and(|n| n >= 1.0));
    drop(stalled);
    // The budget is released once the stalled request ends.
    wait_until("the budget to free up", Duration::from_secs(20), || {
        let r = post(
            &agent,
            "/v1/metrics",
            "application/x-protobuf",
            None,
            body.clone(),
        );
        (r.status() == 200).then_some(())
    });
}

fn grpc_client(
    rt: &tokio::runtime::Runtime,
    agent: &Agent,
) -> MetricsServiceClient<tonic::transport::Channel> {
    let url = format!("http://{}", agent.addrs().otlp_grpc.expect("grpc"));
    rt.block_on(MetricsServiceClient::connect(url))
        .expect("grpc connect")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn grpc_partial_success_gzip_and_oversize() {
    let agent = Agent::start(LIMITS);
    let rt = runtime();
    let client = grpc_client(&rt, &agent);
    let mut gzip = client
        .clone()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let resp = rt
        .block_on(gzip.export(request(vec![gauge("g", 3.0, 1), no_temporality("s")])))
        .expect("export")
        .into_inner();
    let ps = resp.partial_success.expect("partial success");
    assert_eq!(ps.rejected_data_points, 1);
    assert!(
        ps.error_message.contains("no_temporality"),
        "{}",
        ps.error_message
    );
    assert_eq!(agent.metric(r#"g{pad="x"}"#), Some(3.0));

    let mut plain = client.clone();
    let err = rt
        .block_on(plain.export(request(vec![gauge("big", 1.0, 4000)])))
        .expect_err("too large");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // Compressed small, decompressed over the cap.
    let err = rt
        .block_on(gzip.export(request(vec![gauge("big", 1.0, 4000)])))
        .expect_err("too large after gunzip");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert_eq!(
        agent.metric(
            r#"meterd_otlp_requests_total{result="too_large",signal="metrics",transport="grpc"}"#
        ),
        Some(2.0)
    );
}

/// Sends raw bytes as the request message, so a malformed protobuf reaches the server.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Junk {
    #[prost(bytes = "vec", tag = "1")]
    pub resource_metrics: Vec<u8>,
}

#[test]
fn grpc_malformed_payload_is_invalid_argument() {
    let agent = Agent::start("");
    let rt = runtime();
    let url = format!("http://{}", agent.addrs().otlp_grpc.expect("grpc"));
    let code = rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(url)
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let path = http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        );
        // Field 1 (resource_metrics) holding bytes that are not a ResourceMetrics message.
        let junk = Junk {
            resource_metrics: vec![0xff, 0xff, 0xff, 0xff],
        };
        let res: Result<tonic::Response<Junk>, tonic::Status> = grpc
            .unary(tonic::Request::new(junk), path, junk_codec::JunkCodec)
            .await;
        res.expect_err("malformed").code()
    });
    assert_eq!(code, tonic::Code::InvalidArgument);
    assert_eq!(
        agent.metric(
            r#"meterd_otlp_requests_total{result="invalid",signal="metrics",transport="grpc"}"#
        ),
        Some(1.0)
    );
}

mod junk_codec {
    //! A minimal prost codec (tonic's own lives in a crate meterd does not depend on directly).
    use super::Junk;
    use prost::Message;
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
    use tonic::Status;

    pub struct JunkCodec;
    pub struct Enc;
    pub struct Dec;

    impl Codec for JunkCodec {
        type Encode = Junk;
        type Decode = Junk;
        type Encoder = Enc;
        type Decoder = Dec;
        fn encoder(&mut self) -> Enc {
            Enc
        }
        fn decoder(&mut self) -> Dec {
            Dec
        }
    }

    impl Encoder for Enc {
        type Item = Junk;
        type Error = Status;
        fn encode(&mut self, item: Junk, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
            item.encode(buf)
                .map_err(|e| Status::internal(e.to_string()))
        }
    }

    impl Decoder for Dec {
        type Item = Junk;
        type Error = Status;
        fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Junk>, Status> {
            Junk::decode(buf)
                .map(Some)
                .map_err(|e| Status::internal(e.to_string()))
        }
    }
}

#[test]
fn store_caps_apply_to_otlp_series_and_show_in_partial_success() {
    let agent = Agent::start("limits:\n  max_series_per_metric: 2\n");
    let point = |v: &str| {
        format!(r#"{{"asDouble":1,"attributes":[{{"key":"k","value":{{"stringValue":"{v}"}}}}]}}"#)
    };
    let json = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"capped","gauge":{{"dataPoints":[{},{},{}]}}}}]}}]}}]}}"#,
        point("a"),
        point("b"),
        point("c")
    );
    let r = post(
        &agent,
        "/v1/metrics",
        "application/json",
        None,
        json.into_bytes(),
    );
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().expect("json");
    let msg = v["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.contains("1 store"), "{v}");
    assert_eq!(agent.metric(r#"capped{k="a"}"#), Some(1.0));
    assert_eq!(agent.metric(r#"capped{k="c"}"#), None);
    assert_eq!(
        agent.metric(r#"meterd_samples_rejected_total{protocol="otlp",reason="series_limit"}"#),
        Some(1.0)
    );
}

/// The gRPC listener lets a client send HTTP/2 frames of up to 256 KiB (SETTINGS_MAX_FRAME_SIZE;
/// the protocol's default is 16 KiB): an exporter's batch of hundreds of KB then arrives in a
/// few frames, each of which costs meterd a pass through the framing layer and a copy.
#[test]
fn grpc_listener_advertises_large_frames() {
    use std::io::{Read, Write};
    let agent = Agent::start("");
    let addr = agent.addrs().otlp_grpc.expect("grpc");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    // The client preface and an empty SETTINGS frame.
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .expect("preface");
    // The server's first frame is its SETTINGS: 9-byte header, then 6-byte (id, value) pairs.
    let mut header = [0u8; 9];
    s.read_exact(&mut header).expect("frame header");
    assert_eq!(header[3], 0x4, "first frame is SETTINGS: {header:?}");
    let len = usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).expect("settings payload");
    let settings: Vec<(u16, u32)> = payload
        .chunks_exact(6)
        .map(|p| {
            (
                u16::from_be_bytes([p[0], p[1]]),
                u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
            )
        })
        .collect();
    assert!(
        settings.contains(&(0x5, 256 * 1024)),
        "SETTINGS_MAX_FRAME_SIZE not 256 KiB: {settings:?}"
    );
}
