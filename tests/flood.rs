//! Cardinality flood: far more unique series than the caps allow arrive over StatsD (unique names
//! and unique label values) and OTLP. meterd stays up, keeps memory bounded, counts every dropped
//! sample, and series that existed before the flood keep updating.
//!
//! CI runs 200,000 unique series; the full issue-sized run is
//! `METERD_FLOOD_SERIES=1000000 cargo test --release --test flood -- --nocapture`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

mod support;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use prost::Message;
use std::io::Write;
use std::time::Duration;
use support::agent::Agent;
use support::wait_until;

const PER_METRIC: usize = 5_000;
const TOTAL: usize = 20_000;
/// Documented bound (README, "Limits and overload") on memory growth for these caps.
const RSS_GROWTH_BOUND: u64 = 256 << 20;

fn flood_size() -> usize {
    std::env::var("METERD_FLOOD_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

fn otlp_gauges(from: usize, count: usize) -> Vec<u8> {
    let points = (from..from + count)
        .map(|i| NumberDataPoint {
            attributes: vec![KeyValue {
                key: "id".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!("o{i}"))),
                }),
                ..Default::default()
            }],
            time_unix_nano: 1,
            value: Some(number_data_point::Value::AsDouble(1.0)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "flood.otlp".into(),
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

#[test]
fn a_cardinality_flood_is_bounded_counted_and_survivable() {
    let agent = Agent::start(&format!(
        "limits:\n  max_series_per_metric: {PER_METRIC}\n  max_series_total: {TOTAL}\n"
    ));
    let n = flood_size();
    agent.send_tcp("known.requests:1|c\n");
    wait_until("known series", Duration::from_secs(10), || {
        agent.metric("known_requests_total").map(|_| ())
    });
    let rss_before = rss_bytes();

    // StatsD over TCP (lossless, so every count below is exact): half unique names, half unique
    // label values of one name.
    let tcp = agent.addrs().statsd_tcp.expect("statsd tcp");
    let mut stream = std::io::BufWriter::new(std::net::TcpStream::connect(tcp).expect("connect"));
    for i in 0..n {
        if i % 2 == 0 {
            writeln!(stream, "flood.name{i}:1|c").expect("write");
        } else {
            writeln!(stream, "flood.labels:1|c|#id:{i}").expect("write");
        }
    }
    writeln!(stream, "known.requests:1|c").expect("write");
    stream.flush().expect("flush");
    drop(stream);
    let lines = (n + 2) as f64;
    wait_until(
        "every flood line ingested",
        Duration::from_secs(120),
        || {
            (agent.metric("meterd_statsd_lines_received_total{transport=\"tcp\"}") == Some(lines))
                .then_some(())
        },
    );

    // OTLP/HTTP protobuf: unique attribute values on one gauge, in requests of 5,000 points.
    let otlp_points = n / 4;
    let client = reqwest::blocking::Client::new();
    let url = format!(
        "http://{}/v1/metrics",
        agent.addrs().otlp_http.expect("otlp http")
    );
    for from in (0..otlp_points).step_by(5_000) {
        let resp = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(otlp_gauges(from, 5_000.min(otlp_points - from)))
            .send()
            .expect("otlp post");
        assert!(
            resp.status().is_success(),
            "OTLP answered {}",
            resp.status()
        );
    }

    let body = agent.scrape(None);
    let value = |series: &str| support::agent::find_value(&body, series).unwrap_or(0.0);
    assert_eq!(
        value("known_requests_total"),
        2.0,
        "existing series keep updating"
    );
    let stored_labels = body
        .lines()
        .filter(|l| l.starts_with("flood_labels_total{"))
        .count();
    assert_eq!(stored_labels, PER_METRIC, "per-metric cap holds");
    let stored_otlp = body
        .lines()
        .filter(|l| l.starts_with("flood_otlp{"))
        .count();
    assert!(stored_otlp <= PER_METRIC);
    let stored_names = body.lines().filter(|l| l.starts_with("flood_name")).count();
    let series = value("meterd_series");
    assert!(
        series <= TOTAL as f64 + 2_000.0,
        "total cap holds (plus meterd's own): {series}"
    );

    // Every StatsD flood line was stored or counted as dropped.
    let statsd_rejected: f64 = ["series_limit", "total_series_limit"]
        .iter()
        .map(|r| {
            value(&format!(
                "meterd_samples_rejected_total{{protocol=\"statsd\",reason=\"{r}\"}}"
            ))
        })
        .sum();
    assert_eq!(
        statsd_rejected + (stored_labels + stored_names) as f64,
        n as f64,
        "stored + dropped = sent"
    );
    assert!(
        value("meterd_samples_rejected_total{protocol=\"otlp\",reason=\"series_limit\"}") > 0.0
            || value(
                "meterd_samples_rejected_total{protocol=\"otlp\",reason=\"total_series_limit\"}"
            ) > 0.0
    );

    let growth = rss_bytes().saturating_sub(rss_before);
    println!("flood of {n} series: RSS grew {} MiB", growth >> 20);
    assert!(growth < RSS_GROWTH_BOUND, "RSS grew {} MiB", growth >> 20);
}
