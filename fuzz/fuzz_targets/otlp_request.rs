//! OTLP request bodies (protobuf or JSON, metrics, traces or logs, chosen by the first byte) through
//! decoding and the shared ingest core: malformed input must be refused, valid input converted,
//! and nothing may panic. A protobuf body that fails to decode also goes through the lenient
//! repair, whose output must then decode. A protobuf metrics or traces body the in-place reader
//! (`meterd::otlp::view`, `meterd::otlp::view::traces`) accepts must decode with prost and
//! translate exactly as prost's decode does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterd::config::Config;
use meterd::otlp::convert::metrics::{
    convert_points, convert_points_view, count_points, count_points_view, target_infos,
    target_infos_view, MetricsOut, Translation,
};
use meterd::otlp::convert::genai::{response_id, span_usage};
use meterd::otlp::convert::spans::{SpanData, TraceRequest};
use meterd::otlp::convert::{stage::span_stage, ttft::span_ttft};
use meterd::otlp::lenient::{repair, Signal};
use meterd::receivers::otlp::http::{decode, Encoding};
use meterd::receivers::otlp::ingest::Ingest;
use meterd::pipeline::{Pipeline, Snapshot};
use meterd::store::Store;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use std::sync::{Arc, OnceLock};

fn ingest() -> &'static Arc<Ingest> {
    static I: OnceLock<Arc<Ingest>> = OnceLock::new();
    I.get_or_init(|| {
        let pipeline = Pipeline::new(Arc::new(Store::default()), Snapshot::try_new(Arc::new(Config::default())).expect("valid config"));
        Ingest::new(Arc::new(pipeline), 0)
    })
}

fn translated(req: &ExportMetricsServiceRequest) -> String {
    let t = Translation { promote: &[], usage: false, scope_labels: &[] };
    let mut out = MetricsOut::default();
    target_infos(req, &mut out.info);
    let mut samples = Vec::new();
    convert_points(req, &t, &mut out, &mut samples);
    out.samples = samples;
    format!("{} {out:?}", count_points(req))
}

fn in_place_agrees_with_prost(body: &[u8]) {
    let prost = decode::<ExportMetricsServiceRequest>(Encoding::Protobuf, body);
    let Ok(view) = meterd::otlp::view::decode(body) else { return };
    let Ok(req) = prost else { panic!("prost decodes what the in-place reader accepts") };
    let mut out = MetricsOut::default();
    target_infos_view(&view, &mut out.info);
    let mut samples = Vec::new();
    convert_points_view(&view, &[], &mut out, &mut samples);
    out.samples = samples;
    assert_eq!(format!("{} {out:?}", count_points_view(&view)), translated(&req));
}

/// What span conversion makes of a trace request, as text.
fn spans_translated<R: TraceRequest>(req: &R) -> String {
    let configured = ["team".to_owned(), "stage".to_owned()];
    let mut out = format!("{}\n", req.span_count());
    for (resource, scope, spans) in req.scopes() {
        out.push_str(&format!("{scope:?}\n"));
        for s in spans {
            out.push_str(&format!(
                "{:?} {:?} {:?} {:?} {:?} {:?}\n",
                span_usage(resource, s, &configured),
                span_stage(resource, s, "stage", &configured),
                span_ttft(s),
                response_id(s.attributes()),
                s.trace_id(),
                s.span_id(),
            ));
        }
    }
    out
}

fn traces_in_place_agree_with_prost(body: &[u8]) {
    let prost = decode::<ExportTraceServiceRequest>(Encoding::Protobuf, body);
    let Ok(view) = meterd::otlp::view::traces::decode_traces(body) else { return };
    let Ok(req) = prost else { panic!("prost decodes what the in-place reader accepts") };
    assert_eq!(spans_translated(&view), spans_translated(&req));
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let enc = if selector & 1 == 0 { Encoding::Protobuf } else { Encoding::Json };
    let ingest = ingest();
    // What the servers do on a decode failure: repair, then decode the repaired body.
    let fallback = |signal| (enc == Encoding::Protobuf).then(|| repair(signal, body)).flatten();
    if (selector >> 1) % 3 == 0 && enc == Encoding::Protobuf {
        in_place_agrees_with_prost(body);
        let _ = ingest.metrics_in_place(body);
    }
    if (selector >> 1) % 3 == 1 && enc == Encoding::Protobuf {
        traces_in_place_agree_with_prost(body);
        let _ = ingest.traces_in_place(body);
    }
    match (selector >> 1) % 3 {
        0 => match decode::<ExportMetricsServiceRequest>(enc, body) {
            Ok(req) => {
                let _ = ingest.metrics(&req);
            }
            Err(_) => {
                if let Some(r) = fallback(Signal::Metrics) {
                    let req = decode::<ExportMetricsServiceRequest>(enc, &r.body)
                        .expect("a repaired body decodes");
                    let _ = ingest.metrics(&req);
                }
            }
        },
        1 => match decode::<ExportTraceServiceRequest>(enc, body) {
            Ok(req) => {
                let _ = ingest.traces(&req);
            }
            Err(_) => {
                if let Some(r) = fallback(Signal::Traces) {
                    let req = decode::<ExportTraceServiceRequest>(enc, &r.body)
                        .expect("a repaired body decodes");
                    let _ = ingest.traces(&req);
                }
            }
        },
        _ => match decode::<ExportLogsServiceRequest>(enc, body) {
            Ok(req) => {
                let _ = ingest.logs(&req);
            }
            Err(_) => {
                if let Some(r) = fallback(Signal::Logs) {
                    let req = decode::<ExportLogsServiceRequest>(enc, &r.body)
                        .expect("a repaired body decodes");
                    let _ = ingest.logs(&req);
                }
            }
        },
    }
});
