//! GenAI spans built with the real SDK (attributes as an instrumentation library sets them) become
//! llm_requests_total / llm_tokens_total / llm_request_duration_seconds; a call reported both as
//! a span and as a token metric is counted once, from the configured usage source.

use crate::support::agent::Agent;
use crate::support::otel::{resource, Client, Transport, ALL};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::Temporality;
use std::time::{Duration, SystemTime};

const RES: &[(&str, &str)] = &[("deployment.environment.name", "prod"), ("team", "search")];

fn chat_span(tracer: &opentelemetry_sdk::trace::SdkTracer, input: i64, output: i64, error: bool) {
    let start = SystemTime::now();
    let mut attrs = vec![
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new("gen_ai.response.model", "gpt-4o-2024-08-06"),
        KeyValue::new("gen_ai.usage.input_tokens", input),
        KeyValue::new("gen_ai.usage.output_tokens", output),
        KeyValue::new("gen_ai.usage.cache_read.input_tokens", 200i64),
        KeyValue::new("stage", "synthesis"),
    ];
    if error {
        attrs.push(KeyValue::new("error.type", "rate_limit_exceeded"));
    }
    let mut span = tracer
        .span_builder("chat gpt-4o")
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attrs)
        .start(tracer);
    if error {
        span.set_status(Status::error("429 Too Many Requests"));
    }
    span.end_with_timestamp(start + Duration::from_millis(834));
}

/// `{a="1",b="2"}` with names sorted, as exposition writes them.
fn series(name: &str, pairs: &[(&str, &str)]) -> String {
    let mut p = pairs.to_vec();
    p.sort();
    let inner: Vec<String> = p.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

const BASE: &[(&str, &str)] = &[
    ("env", "prod"),
    ("model", "gpt-4o-2024-08-06"),
    ("provider", "openai"),
    ("service", "chatbot"),
    ("stage", "synthesis"),
    ("team", "search"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    BASE.iter().chain(extra).copied().collect()
}

#[test]
fn sdk_genai_spans_become_llm_usage_on_every_transport() {
    for t in ALL {
        let agent = Agent::start("scope_labels: [service, env, team, stage]\n");
        let client = Client::default();
        let provider = client.tracer_provider(&agent, t, resource("chatbot", RES));
        let tracer = provider.tracer("opentelemetry-instrumentation-openai");
        chat_span(&tracer, 1200, 300, false);
        chat_span(&tracer, 800, 0, true);
        // A plain HTTP span: received, not usage.
        tracer.in_span("GET /health", |_| {});
        provider.force_flush().expect("flush");
        provider.shutdown().expect("shutdown");
        let body = agent.scrape(None);
        let v = |name: &str, extra: &[(&'static str, &'static str)]| {
            crate::support::agent::find_value(&body, &series(name, &with(extra)))
        };
        let ok = [("operation", "chat"), ("status", "ok")];
        // The SDK's error.type `rate_limit_exceeded` becomes error_type `rate_limit` (issue 23).
        let err = [
            ("error_type", "rate_limit"),
            ("operation", "chat"),
            ("status", "error"),
        ];
        assert_eq!(v("llm_requests_total", &ok), Some(1.0), "{t:?}\n{body}");
        assert_eq!(v("llm_requests_total", &err), Some(1.0), "{t:?}");
        assert_eq!(
            v("llm_tokens_total", &[("token_type", "input")]),
            Some(2000.0),
            "{t:?}"
        );
        assert_eq!(
            v("llm_tokens_total", &[("token_type", "output")]),
            Some(300.0),
            "{t:?}"
        );
        assert_eq!(
            v("llm_tokens_total", &[("token_type", "cached_input")]),
            Some(400.0),
            "{t:?}"
        );
        assert_eq!(
            v("llm_request_duration_seconds_count", &ok),
            Some(1.0),
            "{t:?}"
        );
        assert_eq!(
            v("llm_request_duration_seconds_sum", &ok),
            Some(0.834),
            "{t:?}"
        );
        assert_eq!(
            v("llm_request_duration_seconds_count", &err),
            Some(1.0),
            "{t:?}"
        );
        // `le` comes last in exposition, after the sorted series labels.
        let bucket = |le: &str| {
            let s = series("llm_request_duration_seconds_bucket", &with(&ok));
            let s = format!("{},le=\"{le}\"}}", s.trim_end_matches('}'));
            crate::support::agent::find_value(&body, &s)
        };
        assert_eq!(bucket("0.5"), Some(0.0), "{t:?}\n{body}");
        assert_eq!(bucket("1"), Some(1.0), "{t:?}");
        assert_eq!(
            crate::support::agent::find_value(
                &body,
                "meterd_otlp_items_received_total{signal=\"traces\"}"
            ),
            Some(3.0),
            "{t:?}"
        );
    }
}

#[test]
fn spans_carry_trace_id_exemplars_in_openmetrics() {
    let agent = Agent::start("");
    let client = Client::default();
    let provider = client.tracer_provider(&agent, Transport::HttpProto, resource("chatbot", RES));
    let tracer = provider.tracer("genai");
    chat_span(&tracer, 10, 5, false);
    provider.force_flush().expect("flush");
    provider.shutdown().expect("shutdown");
    let om = agent.scrape(Some("application/openmetrics-text; version=1.0.0"));
    let line = om
        .lines()
        .find(|l| l.starts_with("llm_requests_total{"))
        .unwrap_or_else(|| panic!("no llm_requests_total in\n{om}"));
    assert!(line.contains(" # {trace_id=\""), "{line}");
}

/// One call, reported as a span and as `gen_ai.client.token.usage` + `gen_ai.client.operation.duration`.
fn send_both(agent: &Agent) {
    let client = Client::default();
    let tp = client.tracer_provider(agent, Transport::HttpProto, resource("chatbot", RES));
    chat_span(&tp.tracer("genai"), 1200, 300, false);
    tp.force_flush().expect("flush spans");
    tp.shutdown().expect("shutdown");
    let mp = client.meter_provider(
        agent,
        Transport::HttpProto,
        resource("chatbot", RES),
        Temporality::Cumulative,
    );
    let meter = mp.meter("genai");
    let tokens = meter
        .u64_histogram("gen_ai.client.token.usage")
        .with_unit("{token}")
        .build();
    let duration = meter
        .f64_histogram("gen_ai.client.operation.duration")
        .with_unit("s")
        .build();
    let attrs = |ty: Option<&'static str>| {
        let mut a = vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "openai"),
            KeyValue::new("gen_ai.request.model", "gpt-4o"),
            KeyValue::new("gen_ai.response.model", "gpt-4o-2024-08-06"),
        ];
        if let Some(ty) = ty {
            a.push(KeyValue::new("gen_ai.token.type", ty));
        }
        a
    };
    tokens.record(1200, &attrs(Some("input")));
    tokens.record(300, &attrs(Some("output")));
    duration.record(0.834, &attrs(None));
    mp.force_flush().expect("flush metrics");
    // Exported again unchanged: cumulative totals must not be counted twice.
    mp.force_flush().expect("flush metrics again");
    mp.shutdown().expect("shutdown");
}

fn input_tokens(agent: &Agent) -> f64 {
    let body = agent.scrape(None);
    body.lines()
        .filter(|l| l.starts_with("llm_tokens_total{") && l.contains("token_type=\"input\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn requests(agent: &Agent) -> f64 {
    let body = agent.scrape(None);
    body.lines()
        .filter(|l| l.starts_with("llm_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn same_call_as_span_and_token_metric_is_counted_once_from_spans_by_default() {
    let agent = Agent::start("");
    send_both(&agent);
    assert_eq!(input_tokens(&agent), 1200.0, "{}", agent.scrape(None));
    assert_eq!(requests(&agent), 1.0);
    // The token metric still passes through as an ordinary histogram.
    assert!(agent
        .scrape(None)
        .contains("gen_ai_client_token_usage_count{"));
}

#[test]
fn same_call_is_counted_once_from_metrics_when_configured() {
    let agent = Agent::start("otlp:\n  usage_source: metrics\n");
    send_both(&agent);
    assert_eq!(input_tokens(&agent), 1200.0, "{}", agent.scrape(None));
    assert_eq!(requests(&agent), 1.0);
    let body = agent.scrape(None);
    assert!(
        body.contains(&format!(
            "{} 300\n",
            series(
                "llm_tokens_total",
                &[
                    ("env", "prod"),
                    ("model", "gpt-4o-2024-08-06"),
                    ("provider", "openai"),
                    ("service", "chatbot"),
                    ("team", "search"),
                    ("token_type", "output")
                ]
            )
        )),
        "{body}"
    );
    // Spans are not usage here: no latency from them.
    assert!(
        !body.contains("llm_request_duration_seconds_count{"),
        "{body}"
    );
}

#[test]
fn evaluation_log_events_become_quality_events() {
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    let agent = Agent::start("");
    let client = Client::default();
    let lp = client.logger_provider(&agent, Transport::HttpJson, resource("chatbot", RES));
    let logger = lp.logger("evals");
    let mut rec = logger.create_log_record();
    rec.set_event_name("gen_ai.evaluation.result");
    rec.add_attribute("gen_ai.evaluation.name", "relevance");
    rec.add_attribute("gen_ai.evaluation.score.value", 0.9);
    rec.add_attribute("gen_ai.evaluation.score.label", "relevant");
    rec.add_attribute("gen_ai.response.model", "gpt-4o");
    logger.emit(rec);
    let mut plain = logger.create_log_record();
    plain.set_body("just a log line".into());
    logger.emit(plain);
    lp.force_flush().expect("flush");
    lp.shutdown().expect("shutdown");
    assert_eq!(
        agent.metric(r#"meterd_quality_events_total{protocol="otlp"}"#),
        Some(1.0),
        "{}",
        agent.scrape(None)
    );
    assert_eq!(
        agent.metric(r#"meterd_otlp_items_received_total{signal="logs"}"#),
        Some(2.0)
    );
}
