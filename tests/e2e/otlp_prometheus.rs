//! A real Prometheus scrapes OTLP-derived series: translated metrics keep their OTLP `job` and
//! `instance` (with `honor_labels: true`, as meterd's docs recommend) and GenAI usage is queryable.

use crate::support::agent::Agent;
use crate::support::otel::{resource, Client, Transport};
use crate::support::prometheus::Prometheus;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::Temporality;

#[test]
fn prometheus_queries_otlp_metrics_and_genai_usage() {
    let agent = Agent::start("");
    let prom = Prometheus::start(&[agent.http()], &[], "    honor_labels: true\n");
    prom.wait_for_targets_up();
    let client = Client::default();
    let res = resource(
        "checkout",
        &[("service.instance.id", "pod-3"), ("host.name", "node-a")],
    );
    let mp = client.meter_provider(
        &agent,
        Transport::Grpc,
        res.clone(),
        Temporality::Cumulative,
    );
    let orders = mp.meter("shop").u64_counter("shop.orders").build();
    orders.add(9, &[KeyValue::new("region", "eu")]);
    mp.force_flush().expect("flush");
    mp.shutdown().expect("shutdown");
    let tp = client.tracer_provider(&agent, Transport::HttpJson, res);
    let tracer = tp.tracer("genai");
    let mut span = tracer
        .span_builder("chat")
        .with_attributes(vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "anthropic"),
            KeyValue::new("gen_ai.response.model", "claude-sonnet-4"),
            KeyValue::new("gen_ai.usage.input_tokens", 640i64),
            KeyValue::new("gen_ai.usage.output_tokens", 64i64),
        ])
        .start(&tracer);
    span.end();
    tp.force_flush().expect("flush");
    tp.shutdown().expect("shutdown");

    prom.wait_for_value(
        r#"shop_orders_total{job="checkout",instance="pod-3",region="eu",otel_scope_name="shop"}"#,
        9.0,
    );
    prom.wait_for_value(
        r#"sum(llm_tokens_total{provider="anthropic",model="claude-sonnet-4",service="checkout",token_type="input"})"#,
        640.0,
    );
    prom.wait_for_value(
        r#"sum(llm_requests_total{model="claude-sonnet-4",status="ok"})"#,
        1.0,
    );
    prom.wait_for_value(
        r#"target_info{job="checkout",instance="pod-3",host_name="node-a"}"#,
        1.0,
    );
}
