//! Issue 23: failed calls told apart by type, from the StatsD `error_type` tag and the OTel
//! `error.type` attribute, canonicalised (429 and RateLimitError are one rate limit) and capped.

use crate::support::agent::Agent;
use crate::support::spans;
use std::time::Duration;

#[test]
fn statsd_and_otlp_errors_are_counted_by_type() {
    let agent = Agent::start("");
    agent.send_tcp(
        "llm.requests:2|c|#provider:openai,model:gpt-4o,status:error,error_type:429\n\
         llm.requests:1|c|#provider:openai,model:gpt-4o,status:error,error_type:timeout\n\
         llm.requests:1|c|#provider:openai,model:gpt-4o,status:error,error_type:content_filter\n\
         llm.requests:1|c|#provider:openai,model:gpt-4o,status:error\n\
         llm.requests:5|c|#provider:openai,model:gpt-4o,status:ok,error_type:timeout\n",
    );
    let resp = reqwest::blocking::Client::new()
        .post(format!(
            "http://{}/v1/traces",
            agent.addrs().otlp_http.expect("otlp http")
        ))
        .header("content-type", "application/x-protobuf")
        .body(spans::gpt4o_chat(
            0,
            &[("error.type", "openai.RateLimitError")],
        ))
        .timeout(Duration::from_secs(10))
        .send()
        .expect("export");
    assert!(resp.status().is_success(), "{}", resp.status());

    let err = |t: &str| {
        format!(
            "llm_requests_total{{error_type=\"{t}\",model=\"gpt-4o\",provider=\"openai\",status=\"error\"}}"
        )
    };
    agent.wait_metric(&err("rate_limit"), 2.0);
    agent.wait_metric(&err("timeout"), 1.0);
    agent.wait_metric(&err("content_filter"), 1.0);
    agent.wait_metric(
        "llm_requests_total{model=\"gpt-4o\",provider=\"openai\",status=\"error\"}",
        1.0,
    );
    agent.wait_metric(
        "llm_requests_total{model=\"gpt-4o\",provider=\"openai\",status=\"ok\"}",
        5.0,
    );
    agent.wait_metric("llm_requests_total{error_type=\"rate_limit\",model=\"gpt-4o\",operation=\"chat\",provider=\"openai\",status=\"error\"}",
        1.0,
    );
}

#[test]
fn error_types_past_the_cap_are_other_and_counted() {
    let agent = Agent::start("");
    let mut lines = String::new();
    for i in 0..25 {
        lines += &format!(
            "llm.requests:1|c|#provider:openai,model:gpt-4o,status:error,error_type:Err{i}\n"
        );
    }
    agent.send_tcp(&lines);
    agent.wait_metric("llm_requests_total{error_type=\"other\",model=\"gpt-4o\",provider=\"openai\",status=\"error\"}",
        5.0,
    );
    agent.wait_metric(
        "meterd_usage_values_capped_total{dimension=\"error_type\"}",
        5.0,
    );
    let body = agent.scrape(None);
    let typed = body
        .lines()
        .filter(|l| l.starts_with("llm_requests_total{") && l.contains("error_type=\"Err"))
        .count();
    assert_eq!(typed, 20, "{body}");
}
