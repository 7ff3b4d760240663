//! The OpenTelemetry *Python* SDK (tests/python/send_otlp.py) sends metrics over OTLP/HTTP and a
//! GenAI span over OTLP/gRPC. The interpreter comes from `METERD_TEST_PYTHON` (scripts/test.sh
//! creates a venv from tests/python/requirements.txt and exports it); the test fails without it.

use crate::support::agent::Agent;
use std::path::Path;
use std::process::Command;

#[test]
fn python_sdk_metrics_and_genai_span() {
    let python = std::env::var("METERD_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "METERD_TEST_PYTHON is not set: run scripts/test.sh, or create a venv with \
             `python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt` \
             and export METERD_TEST_PYTHON=$PWD/.venv/bin/python"
        )
    });
    let agent = Agent::start("");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/send_otlp.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(agent.addrs().otlp_http.expect("http").to_string())
        .arg(agent.addrs().otlp_grpc.expect("grpc").to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "send_otlp.py failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let body = agent.scrape(None);
    let common =
        r#"instance="py-1",job="pybot",otel_scope_name="py.app",otel_scope_version="0.1.0""#;
    let v = |s: &str| crate::support::agent::find_value(&body, s);
    assert_eq!(
        v(&format!("jobs_done_total{{{common},queue=\"fast\"}}")),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        v(&format!("payload_size_bytes_count{{{common}}}")),
        Some(2.0),
        "{body}"
    );
    assert_eq!(
        v(&format!("payload_size_bytes_sum{{{common}}}")),
        Some(3100.0),
        "{body}"
    );
    let call = r#"env="staging",model="gpt-4o-mini-2024-07-18",operation="chat",provider="openai",service="pybot""#;
    assert_eq!(
        v(&format!("llm_requests_total{{{call},status=\"ok\"}}")),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        v(&format!(
            "llm_request_duration_seconds_sum{{{call},status=\"ok\"}}"
        )),
        Some(1.5)
    );
    let tokens =
        r#"env="staging",model="gpt-4o-mini-2024-07-18",provider="openai",service="pybot""#;
    assert_eq!(
        v(&format!(
            "llm_tokens_total{{{tokens},token_type=\"input\"}}"
        )),
        Some(321.0)
    );
    assert_eq!(
        v(&format!(
            "llm_tokens_total{{{tokens},token_type=\"output\"}}"
        )),
        Some(45.0)
    );
}
