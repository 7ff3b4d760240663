//! Issue 17 item 2 with the real binary: one hostile StatsD packet (a sample rate of 1e-300, a
//! value of 1e300, a count past `limits.max_usage_per_line`) or one OTLP span claiming 1e18 tokens
//! must not reach cost, tokens or budgets. Each is rejected and counted by reason; the budget
//! stays at zero and keeps allowing calls, and honest usage after them is priced exactly.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::binary::{self, Meterd};
use crate::support::wait_until;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::process::Command;
use std::time::Duration;

const MODEL: &str = "#provider:openai,model:gpt-4o,token_type:input";

fn start() -> (tempfile::TempDir, Meterd) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n  flush_interval: 100ms\n\
             pricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
             budgets:\n  - {{name: everything, period: total, limit_usd: 1000}}\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(&config));
    (dir, Meterd::spawn(cmd))
}

fn int_attr(key: &str, v: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn str_attr(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// One gpt-4o chat span claiming `input` input tokens.
fn span_request(input: i64) -> Vec<u8> {
    let span = Span {
        trace_id: 7u128.to_be_bytes().to_vec(),
        span_id: 7u64.to_be_bytes().to_vec(),
        name: "chat gpt-4o".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes: vec![
            str_attr("gen_ai.operation.name", "chat"),
            str_attr("gen_ai.provider.name", "openai"),
            str_attr("gen_ai.request.model", "gpt-4o"),
            int_attr("gen_ai.usage.input_tokens", input),
        ],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn statsd_errors(m: &Meterd, reason: &str) -> f64 {
    m.metric(&format!(
        "meterd_statsd_errors_total{{reason=\"{reason}\"}}"
    ))
    .unwrap_or(0.0)
}

#[test]
fn hostile_statsd_and_otlp_values_never_reach_money() {
    let (_dir, m) = start();
    // Each line alone used to saturate the budget at ~18.4 billion USD.
    m.send_udp(&format!(
        "llm.tokens:1|c|@1e-300|{MODEL}\n\
         llm.tokens:1e300|c|{MODEL}\n\
         llm.tokens:2000000000|c|{MODEL}\n\
         llm.tokens:1000|c|@0.0000001|{MODEL}\n\
         app.hits:1|c|@1e-300\n"
    ));
    wait_until("hostile lines counted", Duration::from_secs(20), || {
        (statsd_errors(&m, "sample_rate_too_low") == 3.0
            && statsd_errors(&m, "usage_value_too_large") == 2.0)
            .then_some(())
    });
    let resp = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/traces", m.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(span_request(1_000_000_000_000_000_000))
        .timeout(Duration::from_secs(10))
        .send()
        .expect("post spans");
    assert!(resp.status().is_success(), "{}", resp.status());
    wait_until("hostile span counted", Duration::from_secs(20), || {
        m.metric(r#"meterd_usage_rejected_total{protocol="otlp",reason="usage_value_too_large"}"#)
            .filter(|n| *n == 1.0)
    });

    let (_, body) = m.get("/metrics");
    assert!(!body.contains("llm_cost_usd_total{"), "{body}");
    assert!(!body.contains("llm_tokens_total{"), "{body}");
    assert!(!body.contains("app_hits_total"), "{body}");
    assert_eq!(m.spend_nanos("everything"), 0);
    let (status, check) = m.get("/api/v1/budgets/check?provider=openai&model=gpt-4o");
    assert_eq!(status, 200, "{check}");
    let check: serde_json::Value = serde_json::from_str(&check).expect("check json");
    assert_eq!(check["allowed"], true, "{check}");

    // Honest usage afterwards is priced to the nano-dollar: 1000 x $2.50/1M (and the largest
    // line allowed, 1e9 tokens, is still accepted: $2,500).
    m.send_udp(&format!("llm.tokens:1000|c|{MODEL}\n"));
    wait_until("honest line priced", Duration::from_secs(20), || {
        (m.spend_nanos("everything") == 2_500_000).then_some(())
    });
    m.send_udp(&format!("llm.tokens:1000000000|c|{MODEL}\n"));
    wait_until("largest line priced", Duration::from_secs(20), || {
        (m.spend_nanos("everything") == 2_500_002_500_000).then_some(())
    });
}
