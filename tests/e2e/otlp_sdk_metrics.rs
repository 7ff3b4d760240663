//! The real OpenTelemetry Rust SDK sends metrics over gRPC, HTTP/protobuf and HTTP/JSON; /metrics
//! shows them under the names and labels the Prometheus compatibility spec gives.

use crate::support::agent::Agent;
use crate::support::otel::{lines_with_prefix, resource, Client, Transport, ALL};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::metrics::Temporality;

const RESOURCE: &[(&str, &str)] = &[
    ("service.namespace", "shop"),
    ("service.instance.id", "pod-7"),
    ("deployment.environment.name", "prod"),
    ("cloud.region", "eu-west-1"),
];

fn send_all_instruments(agent: &Agent, t: Transport, temporality: Temporality) {
    let client = Client::default();
    let provider = client.meter_provider(agent, t, resource("checkout", RESOURCE), temporality);
    let meter = provider.meter_with_scope(
        InstrumentationScope::builder("shop.metrics")
            .with_version("1.0.0")
            .build(),
    );
    let orders = meter
        .u64_counter("shop.orders")
        .with_unit("{order}")
        .with_description("Orders placed.")
        .build();
    let fill = meter.f64_gauge("queue.fill").with_unit("1").build();
    let latency = meter
        .f64_histogram("http.server.request.duration")
        .with_unit("s")
        .with_boundaries(vec![0.1, 0.5, 1.0])
        .build();
    let sessions = meter
        .i64_up_down_counter("active.sessions")
        .with_unit("{session}")
        .build();
    let sent = meter.u64_counter("net.sent").with_unit("By").build();

    orders.add(5, &[KeyValue::new("region", "eu")]);
    orders.add(2, &[KeyValue::new("region", "us")]);
    fill.record(0.25, &[]);
    latency.record(0.3, &[KeyValue::new("http.route", "/pay")]);
    latency.record(0.7, &[KeyValue::new("http.route", "/pay")]);
    sessions.add(3, &[]);
    sessions.add(-1, &[]);
    sent.add(1024, &[]);
    provider.force_flush().expect("first export");
    // A second export: cumulative points replace, delta points add; both must give these totals.
    orders.add(1, &[KeyValue::new("region", "eu")]);
    sessions.add(1, &[]);
    provider.force_flush().expect("second export");
    provider.shutdown().expect("shutdown");
}

const COMMON: &str = r#"instance="pod-7",job="shop/checkout",otel_scope_name="shop.metrics",otel_scope_version="1.0.0""#;

fn assert_exact_lines(agent: &Agent, t: Transport) {
    let body = agent.scrape(None);
    let want = |prefix: &str, lines: &[String]| {
        assert_eq!(
            lines_with_prefix(&body, prefix),
            lines,
            "{t:?}: lines for {prefix}\n{body}"
        );
    };
    want(
        "shop_orders",
        &[
            format!("shop_orders_total{{{COMMON},region=\"eu\"}} 6"),
            format!("shop_orders_total{{{COMMON},region=\"us\"}} 2"),
        ],
    );
    want(
        "queue_fill",
        &[format!("queue_fill_ratio{{{COMMON}}} 0.25")],
    );
    want(
        "active_sessions",
        &[format!("active_sessions{{{COMMON}}} 3")],
    );
    want(
        "net_sent",
        &[format!("net_sent_bytes_total{{{COMMON}}} 1024")],
    );
    let route = r#"http_route="/pay","#;
    let l = |suffix: &str, extra: &str, v: &str| {
        format!("http_server_request_duration_seconds_{suffix}{{{route}{COMMON}{extra}}} {v}")
    };
    want(
        "http_server_request_duration_seconds",
        &[
            l("bucket", ",le=\"0.1\"", "0"),
            l("bucket", ",le=\"0.5\"", "1"),
            l("bucket", ",le=\"1\"", "2"),
            l("bucket", ",le=\"+Inf\"", "2"),
            l("sum", "", "1"),
            l("count", "", "2"),
        ],
    );
    let info = lines_with_prefix(&body, "target_info{");
    assert_eq!(info.len(), 1, "{body}");
    for part in [
        r#"cloud_region="eu-west-1""#,
        r#"deployment_environment_name="prod""#,
        r#"instance="pod-7""#,
        r#"job="shop/checkout""#,
    ] {
        assert!(info[0].contains(part), "{part} missing in {}", info[0]);
    }
    assert!(info[0].ends_with(" 1"), "{}", info[0]);
    assert!(
        body.contains("# HELP shop_orders_total Orders placed.\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE shop_orders_total counter\n"),
        "{body}"
    );
    assert!(body.contains("# TYPE active_sessions gauge\n"), "{body}");
}

#[test]
fn sdk_metrics_over_every_transport_give_exact_prometheus_lines() {
    for t in ALL {
        let agent = Agent::start("");
        send_all_instruments(&agent, t, Temporality::Cumulative);
        assert_exact_lines(&agent, t);
        // Two flushes and the final export at shutdown, all accepted.
        let ok = agent.metric(&format!(
            "meterd_otlp_requests_total{{result=\"success\",signal=\"metrics\",transport=\"{}\"}}",
            if t == Transport::Grpc { "grpc" } else { "http" }
        ));
        assert!(ok.is_some_and(|n| n >= 2.0), "{t:?}: {ok:?}");
        let body = agent.scrape(None);
        assert!(!body.contains("result=\"partial\""), "{body}");
        assert!(!body.contains("meterd_otlp_items_rejected"), "{body}");
    }
}

#[test]
fn sdk_delta_temporality_is_accumulated_into_the_same_totals() {
    let agent = Agent::start("");
    send_all_instruments(&agent, Transport::HttpProto, Temporality::Delta);
    assert_exact_lines(&agent, Transport::HttpProto);
}

#[test]
fn promoted_resource_attributes_become_labels() {
    let agent = Agent::start("otlp:\n  resource_attributes_as_labels: [cloud.region]\n");
    let client = Client::default();
    let provider = client.meter_provider(
        &agent,
        Transport::HttpJson,
        resource("checkout", RESOURCE),
        Temporality::Cumulative,
    );
    let c = provider.meter("m").u64_counter("hits").build();
    c.add(4, &[]);
    provider.force_flush().expect("export");
    provider.shutdown().expect("shutdown");
    assert_eq!(
        agent.metric(r#"hits_total{cloud_region="eu-west-1",instance="pod-7",job="shop/checkout",otel_scope_name="m"}"#),
        Some(4.0),
        "{}",
        agent.scrape(None)
    );
}

#[test]
fn sdk_exponential_histogram_becomes_power_of_two_buckets() {
    use opentelemetry_sdk::metrics::{Aggregation, Instrument, SdkMeterProvider, Stream};
    for temporality in [Temporality::Cumulative, Temporality::Delta] {
        let agent = Agent::start("");
        let client = Client::default();
        let provider = SdkMeterProvider::builder()
            .with_resource(resource("checkout", &[]))
            .with_reader(client.manual_reader(&agent, Transport::Grpc, temporality))
            .with_view(|i: &Instrument| {
                Stream::builder()
                    .with_aggregation(Aggregation::Base2ExponentialHistogram {
                        max_size: 160,
                        max_scale: 20,
                        record_min_max: true,
                    })
                    .build()
                    .ok()
                    .filter(|_| i.name() == "llm.latency")
            })
            .build();
        let h = provider
            .meter("m")
            .f64_histogram("llm.latency")
            .with_unit("s")
            .build();
        h.record(0.3, &[]);
        h.record(3.0, &[]);
        provider.force_flush().expect("export");
        h.record(3.5, &[]);
        provider.force_flush().expect("export");
        provider.shutdown().expect("shutdown");
        let l = |le: &str| {
            agent.metric(&format!(
                "llm_latency_seconds_bucket{{job=\"checkout\",otel_scope_name=\"m\",le=\"{le}\"}}"
            ))
        };
        // 0.3 <= 0.5; 3.0 and 3.5 <= 4 (and > 2).
        assert_eq!(
            l("0.25"),
            Some(0.0),
            "{temporality:?}\n{}",
            agent.scrape(None)
        );
        assert_eq!(l("0.5"), Some(1.0), "{temporality:?}");
        assert_eq!(l("2"), Some(1.0), "{temporality:?}");
        assert_eq!(l("4"), Some(3.0), "{temporality:?}");
        assert_eq!(l("+Inf"), Some(3.0), "{temporality:?}");
        assert_eq!(
            agent.metric(r#"llm_latency_seconds_sum{job="checkout",otel_scope_name="m"}"#),
            Some(6.8),
            "{temporality:?}"
        );
    }
}
