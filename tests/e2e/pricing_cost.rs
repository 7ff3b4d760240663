//! Usage -> `llm_cost_usd_total` on /metrics and through a real Prometheus; pricing hot reload.
//!
//! Events enter through `Pipeline::usage`, the same call the StatsD and OTLP receivers make.

use crate::support::agent::Agent;
use crate::support::prometheus::Prometheus;
use crate::support::wait_until;
use meterd::model::{Labels, UsageEvent};
use std::time::Duration;

fn shipped_pricing() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/config/pricing.yaml").to_string()
}

fn call(provider: &str, model: &str, f: impl FnOnce(&mut UsageEvent)) -> UsageEvent {
    let mut e = UsageEvent::new(provider, model);
    e.unix_nanos = 1_756_684_800_000_000_000; // 2025-09-01
    e.scope = Labels::new([("team", "search")]);
    e.usage.requests = 1;
    f(&mut e);
    e
}

#[test]
fn usage_is_priced_on_metrics_and_in_prometheus() {
    let agent = Agent::start(&format!(
        "pricing_file: {}\npricing:\n  models:\n    - {{provider: internal, model: summarizer, prices: {{input: 0.10, output: 0.20, request: 0.0001}}}}\n",
        shipped_pricing()
    ));
    let prom = Prometheus::start(&[agent.http()], &[], "");
    prom.wait_for_targets_up();
    let pipeline = &agent.running().pipeline;
    // gpt-4o: 1000 uncached x $2.50/1M + 200 cached x $1.25/1M + 300 x $10/1M = $0.00575.
    pipeline.usage(
        "otlp",
        &call("openai", "gpt-4o-2024-08-06", |e| {
            e.usage.input_tokens = 1200;
            e.usage.cached_input_tokens = 200;
            e.usage.output_tokens = 300;
        }),
    );
    // Ten tiny calls of $0.0000003 each: a float accumulator would not land on $0.000003 exactly.
    for _ in 0..10 {
        pipeline.usage(
            "otlp",
            &call("internal", "summarizer", |e| {
                e.usage.requests = 0;
                e.usage.input_tokens = 1;
                e.usage.output_tokens = 1;
            }),
        );
    }
    // Sonnet 4.5 above 200k input: long-context rates, 250000 x $6/1M + 1000 x $22.50/1M.
    pipeline.usage(
        "otlp",
        &call("anthropic", "claude-sonnet-4-5-20250929", |e| {
            e.usage.input_tokens = 250_000;
            e.usage.output_tokens = 1000;
        }),
    );
    // Unknown model: counted, never $0.
    pipeline.usage(
        "statsd",
        &call("openai", "gpt-99", |e| e.usage.input_tokens = 10),
    );

    let series = |ct: &str, provider: &str, model: &str| {
        format!("llm_cost_usd_total{{cost_type=\"{ct}\",model=\"{model}\",provider=\"{provider}\",team=\"search\"}}")
    };
    assert_eq!(
        agent.metric(&series("input", "openai", "gpt-4o-2024-08-06")),
        Some(0.0025)
    );
    assert_eq!(
        agent.metric(&series("cached_input", "openai", "gpt-4o-2024-08-06")),
        Some(0.00025)
    );
    assert_eq!(
        agent.metric(&series("output", "openai", "gpt-4o-2024-08-06")),
        Some(0.003)
    );
    assert_eq!(
        agent.metric(&series("input", "internal", "summarizer")),
        Some(0.000001)
    );
    assert_eq!(
        agent.metric(&series("output", "internal", "summarizer")),
        Some(0.000002)
    );
    assert_eq!(
        agent.metric(&series("input", "anthropic", "claude-sonnet-4-5-20250929")),
        Some(1.5)
    );
    assert_eq!(
        agent.metric(&series("output", "anthropic", "claude-sonnet-4-5-20250929")),
        Some(0.0225)
    );
    assert_eq!(
        agent.metric("llm_unpriced_requests_total{model=\"gpt-99\",provider=\"openai\",reason=\"unknown_model\",team=\"search\"}"),
        Some(1.0)
    );
    assert_eq!(
        agent.metric("llm_tokens_total{model=\"gpt-99\",provider=\"openai\",team=\"search\",token_type=\"input\"}"),
        Some(10.0)
    );
    let body = agent.scrape(None);
    assert!(body.contains("meterd_pricing_info{hash=\""), "{body}");
    assert!(agent
        .metric("meterd_pricing_entries")
        .is_some_and(|n| n > 40.0));

    prom.wait_for_value(
        "sum(llm_cost_usd_total{model=\"gpt-4o-2024-08-06\"})",
        0.00575,
    );
    prom.wait_for_value(
        "sum by (provider) (llm_cost_usd_total{provider=\"anthropic\"})",
        1.5225,
    );
    prom.wait_for_value("sum(llm_unpriced_requests_total)", 1.0);
}

#[test]
fn spans_carry_trace_exemplars_on_cost() {
    let agent = Agent::start(&format!("pricing_file: {}\n", shipped_pricing()));
    agent.running().pipeline.usage(
        "otlp",
        &call("openai", "gpt-4o", |e| {
            e.usage.input_tokens = 1000;
            e.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
        }),
    );
    let om = agent.scrape(Some("application/openmetrics-text; version=1.0.0"));
    let line = om
        .lines()
        .find(|l| l.starts_with("llm_cost_usd_total{cost_type=\"input\""))
        .unwrap_or_else(|| panic!("no cost line in\n{om}"));
    assert!(
        line.contains("# {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.0025"),
        "{line}"
    );
}

#[test]
fn pricing_file_reload_applies_and_a_bad_table_keeps_the_old_one() {
    let prices = tempfile::tempdir().expect("tempdir");
    let file = prices.path().join("pricing.yaml");
    let v1 = "models:\n  - {provider: openai, model: gpt-4o, prices: {input: 2.50, output: 10}}\n";
    std::fs::write(&file, v1).expect("write");
    let agent = Agent::start(&format!("pricing_file: {}\n", file.display()));
    let running = agent.running();
    let old_hash = running
        .pipeline
        .snapshot()
        .deriver
        .pricing()
        .expect("table")
        .hash
        .clone();
    let cost = "llm_cost_usd_total{cost_type=\"input\",model=\"gpt-4o\",provider=\"openai\",team=\"search\"}";
    let one_k = || call("openai", "gpt-4o", |e| e.usage.input_tokens = 1000);
    running.pipeline.usage("otlp", &one_k());
    assert_eq!(agent.metric(cost), Some(0.0025));
    let before = running.watched_hash();

    std::fs::write(&file, v1.replace("2.50", "1.00")).expect("write");
    assert_ne!(
        running.watched_hash(),
        before,
        "editing the pricing file must be noticed"
    );
    running.reload().expect("good table reloads");
    running.pipeline.usage("otlp", &one_k());
    assert_eq!(agent.metric(cost), Some(0.0035));
    let new_hash = running
        .pipeline
        .snapshot()
        .deriver
        .pricing()
        .expect("table")
        .hash
        .clone();
    assert_ne!(new_hash, old_hash);
    let source = file.display().to_string();
    assert_eq!(
        agent.metric(&format!(
            "meterd_pricing_info{{hash=\"{new_hash}\",source=\"{source}\"}}"
        )),
        Some(1.0)
    );
    assert_eq!(
        agent.metric(&format!(
            "meterd_pricing_info{{hash=\"{old_hash}\",source=\"{source}\"}}"
        )),
        None,
        "one agent reports one table: the replaced hash is removed, not left at 0"
    );

    std::fs::write(&file, v1.replace("2.50", "-1")).expect("write");
    let err = running.reload().expect_err("negative price is rejected");
    assert!(err.to_string().contains("pricing.yaml:2:"), "{err}");
    running.pipeline.usage("otlp", &one_k());
    wait_until("old table still prices", Duration::from_secs(5), || {
        (agent.metric(cost) == Some(0.0045)).then_some(())
    });
    assert_eq!(
        agent.metric("meterd_config_reloads_total{result=\"failure\"}"),
        Some(1.0)
    );
}
