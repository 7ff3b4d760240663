//! Issue 17 item 4 through the running agent: with a 1 s `limits.series_ttl`, a generic StatsD
//! counter expires while the `llm_*` series of the same traffic stay, so a model that spends again
//! later continues its counters (2000 tokens, twice the cost) instead of restarting them, which
//! Prometheus would read as a reset and `increase()` as no spend at all.

use crate::support::agent::Agent;
use crate::support::wait_until;
use std::time::Duration;

const CALL: &str = "llm.tokens:1000|c|#provider:openai,model:gpt-4o,token_type:input\n\
                    llm.requests:1|c|#provider:openai,model:gpt-4o,status:error\n\
                    llm.outcome:1|c|#model:gpt-4o,outcome:accepted\n\
                    app.hits:1|c\n";

const TOKENS: &str = r#"llm_tokens_total{model="gpt-4o",provider="openai",token_type="input"}"#;
const COST: &str = r#"llm_cost_usd_total{cost_type="input",model="gpt-4o",provider="openai"}"#;
const ERRORS: &str = r#"llm_requests_total{model="gpt-4o",provider="openai",status="error"}"#;
const OUTCOMES: &str = r#"llm_outcomes_total{model="gpt-4o",outcome="accepted"}"#;

#[test]
fn derived_counters_outlive_the_series_ttl_and_keep_counting() {
    let agent = Agent::start(&format!(
        "limits:\n  series_ttl: 1s\npricing_file: {}/config/pricing.yaml\n",
        env!("CARGO_MANIFEST_DIR")
    ));
    agent.send_udp(CALL);
    wait_until("the call is counted", Duration::from_secs(10), || {
        agent.metric("app_hits_total").and(agent.metric(OUTCOMES))
    });
    // The sweep runs every 5 s: wait until it has removed the idle generic series.
    wait_until(
        "the generic series expires",
        Duration::from_secs(20),
        || {
            let body = agent.scrape(None);
            (!body.contains("app_hits_total")).then_some(())
        },
    );
    let body = agent.scrape(None);
    for series in [TOKENS, COST, ERRORS, OUTCOMES] {
        assert!(
            crate::support::agent::find_value(&body, series).is_some(),
            "{series} expired:\n{body}"
        );
    }
    agent.send_udp(CALL);
    wait_until(
        "the second call continues the counters",
        Duration::from_secs(10),
        || (agent.metric(TOKENS) == Some(2000.0)).then_some(()),
    );
    let body = agent.scrape(None);
    let v = |s: &str| crate::support::agent::find_value(&body, s);
    // 2 x 1000 x $2.50/1M.
    assert_eq!(v(COST), Some(0.005), "{body}");
    assert_eq!(v(ERRORS), Some(2.0));
    assert_eq!(v(OUTCOMES), Some(2.0));
    assert_eq!(
        v("app_hits_total"),
        Some(1.0),
        "the generic series restarted"
    );
}
