//! Many series at once for tests of memory and scrape load: OTLP gauge batches, one series per
//! point, posted to the real binary over HTTP protobuf; and the kernel's view of its memory.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use prost::Message;
use std::net::SocketAddr;
use std::time::Duration;

/// The label value of series `i`: long-ish, as a request path would be.
pub fn path(i: usize) -> String {
    format!("/api/v1/tenants/{i:08}/conversations/summaries")
}

/// Points `from..to` of gauge `metric`, each its own series (`request_path` = [`path`]`(i)`),
/// with value `i + offset`.
pub fn gauge_batch(metric: &str, from: usize, to: usize, offset: f64) -> Vec<u8> {
    let points = (from..to)
        .map(|i| NumberDataPoint {
            attributes: vec![KeyValue {
                key: "request_path".into(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(path(i))),
                }),
                ..Default::default()
            }],
            value: Some(number_data_point::Value::AsDouble(i as f64 + offset)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: metric.into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: points,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// POSTs an OTLP protobuf body to `path` (`/v1/metrics`, `/v1/traces`); the HTTP status.
pub fn post(otlp_http: SocketAddr, path: &str, body: Vec<u8>) -> u16 {
    reqwest::blocking::Client::new()
        .post(format!("http://{otlp_http}{path}"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
        .status()
        .as_u16()
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
