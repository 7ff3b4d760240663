//! GenAI spans from the real OpenTelemetry SDK are priced from the shipped table, on every OTLP
//! transport, and the cost reads back exactly through a real Prometheus.

use crate::support::agent::{find_value, Agent};
use crate::support::otel::{resource, Client, Transport, ALL};
use crate::support::prometheus::Prometheus;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use std::time::{Duration, SystemTime};

fn config() -> String {
    format!(
        "scope_labels: [team]\npricing_file: {}/config/pricing.yaml\n",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn span(
    tracer: &opentelemetry_sdk::trace::SdkTracer,
    provider: &'static str,
    model: &'static str,
    usage: &[(&'static str, i64)],
) {
    let start = SystemTime::now();
    let mut attrs = vec![
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", provider),
        KeyValue::new("gen_ai.response.model", model),
    ];
    attrs.extend(usage.iter().map(|(k, v)| KeyValue::new(*k, *v)));
    let mut s = tracer
        .span_builder("chat")
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attrs)
        .start(tracer);
    s.end_with_timestamp(start + Duration::from_millis(500));
}

fn send_calls(agent: &Agent, t: Transport) {
    let client = Client::default();
    let provider = client.tracer_provider(agent, t, resource("chatbot", &[("team", "search")]));
    let tracer = provider.tracer("opentelemetry-instrumentation-openai");
    // 1000 uncached x $2.50/1M + 200 cached x $1.25/1M + 300 x $10/1M = $0.00575.
    span(
        &tracer,
        "openai",
        "gpt-4o-2024-08-06",
        &[
            ("gen_ai.usage.input_tokens", 1200),
            ("gen_ai.usage.cache_read.input_tokens", 200),
            ("gen_ai.usage.output_tokens", 300),
        ],
    );
    // 7000 x $3 + 2000 cache reads x $0.30 + 1000 cache writes x $3.75 + 500 x $15, per 1M.
    span(
        &tracer,
        "anthropic",
        "claude-sonnet-4-5-20250929",
        &[
            ("gen_ai.usage.input_tokens", 10_000),
            ("gen_ai.usage.cache_read.input_tokens", 2000),
            ("gen_ai.usage.cache_creation.input_tokens", 1000),
            ("gen_ai.usage.output_tokens", 500),
        ],
    );
    // Gemini 2.5 Pro above 200k input tokens: every token at the long-context tier.
    span(
        &tracer,
        "gcp.gemini",
        "gemini-2.5-pro",
        &[
            ("gen_ai.usage.input_tokens", 300_000),
            ("gen_ai.usage.output_tokens", 1000),
        ],
    );
    span(
        &tracer,
        "openai",
        "gpt-77",
        &[("gen_ai.usage.input_tokens", 5)],
    );
    provider.force_flush().expect("flush");
    provider.shutdown().expect("shutdown");
}

fn cost(body: &str, cost_type: &str, provider: &str, model: &str) -> Option<f64> {
    find_value(
        body,
        &format!("llm_cost_usd_total{{cost_type=\"{cost_type}\",model=\"{model}\",provider=\"{provider}\",team=\"search\"}}"),
    )
}

#[test]
fn sdk_spans_are_priced_on_every_transport() {
    for t in ALL {
        let agent = Agent::start(&config());
        send_calls(&agent, t);
        let body = agent.scrape(None);
        let gpt = |ct| cost(&body, ct, "openai", "gpt-4o-2024-08-06");
        assert_eq!(gpt("input"), Some(0.0025), "{t:?}\n{body}");
        assert_eq!(gpt("cached_input"), Some(0.00025), "{t:?}");
        assert_eq!(gpt("output"), Some(0.003), "{t:?}");
        let claude = |ct| cost(&body, ct, "anthropic", "claude-sonnet-4-5-20250929");
        assert_eq!(claude("input"), Some(0.021), "{t:?}");
        assert_eq!(claude("cached_input"), Some(0.0006), "{t:?}");
        assert_eq!(claude("cache_write"), Some(0.00375), "{t:?}");
        assert_eq!(claude("output"), Some(0.0075), "{t:?}");
        let gemini = |ct| cost(&body, ct, "gcp.gemini", "gemini-2.5-pro");
        assert_eq!(gemini("input"), Some(0.75), "{t:?}");
        assert_eq!(gemini("output"), Some(0.015), "{t:?}");
        assert_eq!(
            find_value(
                &body,
                "llm_unpriced_requests_total{model=\"gpt-77\",provider=\"openai\",reason=\"unknown_model\",team=\"search\"}"
            ),
            Some(1.0),
            "{t:?}"
        );
    }
}

#[test]
fn span_cost_reads_back_through_prometheus() {
    let agent = Agent::start(&config());
    let prom = Prometheus::start(&[agent.http()], &[], "");
    prom.wait_for_targets_up();
    send_calls(&agent, Transport::Grpc);
    prom.wait_for_value(
        "sum(llm_cost_usd_total{model=\"gpt-4o-2024-08-06\"})",
        0.00575,
    );
    prom.wait_for_value("sum(llm_cost_usd_total{provider=\"anthropic\"})", 0.03285);
    prom.wait_for_value(
        "sum by (cost_type) (llm_cost_usd_total{cost_type=\"cache_write\"})",
        0.00375,
    );
    prom.wait_for_value("sum(llm_unpriced_requests_total)", 1.0);
}
