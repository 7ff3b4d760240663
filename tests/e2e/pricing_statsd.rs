//! StatsD usage lines (one dimension per line) are priced: each part once, media per unit, tiers
//! by the `request_input_tokens` tag, batch by `service_tier`, sampling by `@rate`; read back on
//! /metrics and through a real Prometheus.

use crate::support::agent::Agent;
use crate::support::prometheus::Prometheus;
use crate::support::wait_until;
use std::time::Duration;

const LINES: &str = "\
llm.tokens:1200|c|#provider:openai,model:gpt-4o,token_type:input,team:search
llm.tokens:300|c|#provider:openai,model:gpt-4o,token_type:output,team:search
llm.tokens:100|c|#provider:openai,model:gpt-4o,token_type:input,service_tier:batch,team:search
llm.requests:1|c|#provider:openai,model:gpt-4o,status:ok,team:search
llm.tokens:1000|c|#provider:anthropic,model:claude-sonnet-4-5,token_type:input,team:search
llm.tokens:400|c|#provider:anthropic,model:claude-sonnet-4-5,token_type:cache_write,team:search
llm.tokens:250000|c|#provider:gcp.gemini,model:gemini-2.5-pro,token_type:input,request_input_tokens:250000,team:search
llm.audio.seconds:90|c|#provider:openai,model:whisper-1,team:search
llm.images:1|c|@0.5|#provider:openai,model:dall-e-3,team:search
llm.characters:1000|c|#provider:openai,model:tts-1,team:search
llm.tokens:10|c|#provider:openai,model:gpt-99,token_type:input,team:search
";

fn series(ct: &str, provider: &str, model: &str) -> String {
    format!(
        "llm_cost_usd_total{{cost_type=\"{ct}\",model=\"{model}\",provider=\"{provider}\",team=\"search\"}}"
    )
}

#[test]
fn statsd_usage_lines_become_cost() {
    let agent = Agent::start(&format!(
        "scope_labels: [team]\npricing_file: {}/config/pricing.yaml\n",
        env!("CARGO_MANIFEST_DIR")
    ));
    let prom = Prometheus::start(&[agent.http()], &[], "");
    prom.wait_for_targets_up();
    agent.send_udp(LINES);
    wait_until("statsd lines priced", Duration::from_secs(10), || {
        agent
            .metric(&series("character", "openai", "tts-1"))
            .and(agent.metric(&series("input", "gcp.gemini", "gemini-2.5-pro")))
    });
    let body = agent.scrape(None);
    let v =
        |ct: &str, p: &str, m: &str| crate::support::agent::find_value(&body, &series(ct, p, m));
    // 1200 x $2.50/1M + 100 batch tokens x $1.25/1M; 300 x $10/1M.
    assert_eq!(v("input", "openai", "gpt-4o"), Some(0.003125), "{body}");
    assert_eq!(v("output", "openai", "gpt-4o"), Some(0.003));
    // The input and cache-write lines of one call, in one datagram, are priced together: 600
    // fresh tokens x $3 and 400 cache writes x $3.75 per 1M. (Apart, the input line would bill
    // all 1000 at $3 and the cache-write line its premium, 400 x $0.75: the same total.)
    assert_eq!(v("input", "anthropic", "claude-sonnet-4-5"), Some(0.0018));
    assert_eq!(
        v("cache_write", "anthropic", "claude-sonnet-4-5"),
        Some(0.0015)
    );
    // request_input_tokens above 200k: the long-context tier, 250000 x $2.50/1M.
    assert_eq!(v("input", "gcp.gemini", "gemini-2.5-pro"), Some(0.625));
    // 90 s = 1.5 min x $0.006; one image sampled at 0.5 stands for 2 x $0.04; 1000 chars x $15/1M.
    assert_eq!(v("audio", "openai", "whisper-1"), Some(0.009));
    assert_eq!(v("image", "openai", "dall-e-3"), Some(0.08));
    assert_eq!(v("character", "openai", "tts-1"), Some(0.015));
    assert_eq!(
        crate::support::agent::find_value(
            &body,
            "llm_unpriced_requests_total{model=\"gpt-99\",provider=\"openai\",reason=\"unknown_model\",team=\"search\"}"
        ),
        Some(1.0)
    );
    prom.wait_for_value("sum(llm_cost_usd_total)", 0.738425);
    prom.wait_for_value("sum(llm_cost_usd_total{provider=\"anthropic\"})", 0.0033);
}
