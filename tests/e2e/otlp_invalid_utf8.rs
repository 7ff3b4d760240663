//! Issue 20: one span with a string that is not UTF-8 used to refuse its whole request (prost
//! refuses the message), spend of every other span included. Now that span alone is rejected and
//! reported in `partial_success`; the rest is priced. Over OTLP/HTTP protobuf and OTLP/gRPC, with
//! the real binary.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::binary::{self, Meterd};
use crate::support::spans;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Swapped for the same number of invalid UTF-8 bytes after encoding.
const MARK: &str = "@@NOT-UTF8@@";

/// Three gpt-4o chat spans (traces `first..first + 3`), the middle one with a non-UTF-8 attribute.
fn request(first: u64) -> Vec<u8> {
    let mut req = ExportTraceServiceRequest::default();
    for i in first..first + 3 {
        let extra: &[(&str, &str)] = if i == first + 1 {
            &[("app.note", MARK)]
        } else {
            &[]
        };
        let one = ExportTraceServiceRequest::decode(&spans::gpt4o_chat(i, extra)[..])
            .expect("span request");
        req.resource_spans.extend(one.resource_spans);
    }
    let mut body = req.encode_to_vec();
    let at = body
        .windows(MARK.len())
        .position(|w| w == MARK.as_bytes())
        .expect("marker");
    body[at..at + MARK.len()].fill(0xff);
    assert!(ExportTraceServiceRequest::decode(&body[..]).is_err());
    body
}

fn start() -> (tempfile::TempDir, Meterd) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n\
             pricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
             budgets:\n  - {{name: everything, period: total, limit_usd: 1000}}\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = std::process::Command::new(binary::exe());
    cmd.args(binary::args(&config));
    (dir, Meterd::spawn(cmd))
}

/// Sends pre-encoded protobuf bytes as the request message: the tonic client would refuse to
/// build a message with an invalid string.
#[derive(Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

fn grpc_export(m: &Meterd, body: Vec<u8>) -> Result<ExportTraceServiceResponse, tonic::Status> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", m.otlp_grpc))
            .expect("url")
            .connect()
            .await
            .expect("grpc connect");
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let path = http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        );
        let mut req = tonic::Request::new(body);
        req.set_timeout(Duration::from_secs(10));
        grpc.unary(req, path, RawCodec)
            .await
            .map(tonic::Response::into_inner)
    })
}

/// 1,000 input and 500 output tokens of gpt-4o at $2.50/$10 per 1M.
const ONE_CALL_NANOS: u64 = 7_500_000;

#[test]
fn a_span_with_invalid_utf8_is_rejected_alone_over_http_and_grpc() {
    let (_dir, m) = start();

    let resp = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/traces", m.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(request(0))
        .timeout(Duration::from_secs(30))
        .send()
        .expect("export");
    assert_eq!(resp.status(), 200, "the whole request refused");
    let answer = ExportTraceServiceResponse::decode(resp.bytes().expect("body")).expect("response");
    let partial = answer.partial_success.expect("partial_success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("UTF-8"),
        "{}",
        partial.error_message
    );
    assert_eq!(m.spend_nanos("everything"), 2 * ONE_CALL_NANOS);

    let answer = grpc_export(&m, request(10)).expect("gRPC export refused whole");
    let partial = answer.partial_success.expect("partial_success");
    assert_eq!(partial.rejected_spans, 1);
    assert_eq!(m.spend_nanos("everything"), 4 * ONE_CALL_NANOS);

    assert_eq!(
        m.metric(r#"meterd_otlp_items_rejected_total{reason="invalid_encoding",signal="traces"}"#),
        Some(2.0)
    );
    // A body broken in its structure is still a malformed request, not a repair.
    let status = grpc_export(&m, vec![0x0a, 0xff, 0xff]).expect_err("garbage accepted");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
}
