//! The user's whole path, end to end: an app's usage reaches meterd over StatsD; a real Prometheus
//! scrapes meterd and evaluates the shipped rules (alerts/*.rules.yml); a real Alertmanager routes
//! with the shipped example config (alerts/alertmanager.yml) to webhook receivers owned by this
//! test; and every PromQL query of every shipped dashboard returns data.
//!
//! Test-only changes to the shipped files, and why:
//! - rule files are loaded with every `for:` set to `0s` and every group `interval:` to `1s`, so an
//!   alert fires on the first evaluation that sees its condition instead of minutes later;
//! - Prometheus scrapes and evaluates every second (tests/support/prometheus.rs);
//! - the Alertmanager config gets the webhook's loopback URLs in place of the example's chat and
//!   pager URLs, and 1s group waits/intervals in place of the example's 10s/30s/5m.
//!
//! Routing, grouping and inhibition are the shipped ones.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use support::agent::Agent;
use support::alertmanager::{Alertmanager, Notification, Webhook};
use support::artifacts::{dashboard_queries, files, read, repo, substitute};
use support::prometheus::Prometheus;
use support::wait_until;

const BUDGET: &str = "e2e-search";

/// meterd for this test: a price table, one budget of 1 USD over all time (a `total` period cannot
/// roll over mid-test) for team `search`, `user` as a scope label for the per-user panel, and
/// small caps (series per metric, OTLP items per request) so the drop panels have something to show.
fn config() -> String {
    format!(
        "scope_labels: [service, env, team, project, stage, user]
limits:
  max_series_per_metric: 50
otlp:
  max_items_per_request: 1
pricing:
  models:
    - provider: openai
      model: gpt-4o
      prices: {{input: 2.50, cached_input: 1.25, output: 10.00}}
    - provider: openai
      model: gpt-4o-mini
      prices: {{input: 0.15, cached_input: 0.075, output: 0.60}}
    - provider: openai
      model: whisper-1
      prices: {{audio_minute: 0.006}}
    - provider: openai
      model: tts-1
      prices: {{character: 15.00}}
    - provider: openai
      model: dall-e-3
      prices: {{image: 0.040}}
budgets:
  - name: {BUDGET}
    match: {{team: search}}
    period: total
    limit_usd: 1
  # A calendar period, so the dashboard's period-elapsed line has an end to measure against.
  - name: research-monthly
    match: {{team: research}}
    period: monthly
    limit_usd: 100000
"
    )
}

/// The shipped rule files with `for:` 0s and group intervals 1s (see the module docs).
fn test_rule_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let for_re = regex::Regex::new(r"(?m)^(\s+)for: \S+$").expect("regex");
    let interval_re = regex::Regex::new(r"(?m)^(\s+)interval: \S+$").expect("regex");
    files("alerts", ".rules.yml")
        .into_iter()
        .map(|src| {
            let text = read(&src);
            let text = for_re.replace_all(&text, "${1}for: 0s");
            let text = interval_re.replace_all(&text, "${1}interval: 1s");
            let dst = dir.join(src.file_name().expect("file name"));
            std::fs::write(&dst, text.as_ref()).expect("write rules");
            dst
        })
        .collect()
}

/// alerts/alertmanager.yml with the webhook's URLs and 1s waits (see the module docs).
fn alertmanager_config(webhook: &Webhook) -> String {
    let mut text = read(&repo().join("alerts/alertmanager.yml"));
    for (from, to) in [
        (
            "http://chat-bridge.example.internal/hooks/llm-alerts",
            webhook.url("/chat"),
        ),
        (
            "http://pager.example.internal/v1/alerts",
            webhook.url("/pager"),
        ),
        ("group_wait: 30s", "group_wait: 1s".into()),
        ("group_wait: 10s", "group_wait: 1s".into()),
        ("group_interval: 5m", "group_interval: 1s".into()),
    ] {
        assert!(
            text.contains(from),
            "alerts/alertmanager.yml no longer has {from:?}"
        );
        text = text.replace(from, &to);
    }
    text
}

/// Input tokens of gpt-4o at 2.50 USD per 1M: 40_000 tokens = 0.10 USD = 10% of the budget.
fn spend_tenths(agent: &Agent, tenths: u32) {
    // TCP, not UDP: budget figures are asserted exactly, so no datagram may be lost.
    agent.send_tcp(&format!(
        "llm.tokens:{}|c|#provider:openai,model:gpt-4o,token_type:input,team:search,service:search-api\n\
         llm.requests:{tenths}|c|#provider:openai,model:gpt-4o,status:ok,team:search,service:search-api\n",
        40_000 * tenths
    ));
}

fn budget_alert<'a>(n: &'a Notification, name: &str) -> Option<&'a serde_json::Value> {
    n.firing()
        .into_iter()
        .find(|l| l["alertname"] == name && l["budget"] == BUDGET)
}

#[test]
fn budget_alerts_page_through_alertmanager_and_every_dashboard_query_has_data() {
    let webhook = Webhook::start();
    let am = Alertmanager::start(&alertmanager_config(&webhook));
    let agent = Agent::start(&config());
    let rules_dir = tempfile::tempdir().expect("tempdir");
    let rules = test_rule_files(rules_dir.path());
    let prom = Prometheus::start(
        &[agent.http()],
        &rules,
        &format!(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n",
            am.addr
        ),
    );
    prom.wait_for_targets_up();

    budget_alerts(&agent, &prom, &webhook, &am);
    dashboards_have_data(&agent, &prom);
    app_and_agent_alerts(&agent, &webhook);
}

/// Two more paths through the same chain: usage of a model missing from the price table (sent by
/// `app_traffic`), and a config edit meterd rejects.
fn app_and_agent_alerts(agent: &Agent, webhook: &Webhook) {
    let unpriced = webhook.wait_for("LLMUnpricedUsage for gpt-4o-mystery", "/chat", |n| {
        n.firing()
            .iter()
            .any(|l| l["alertname"] == "LLMUnpricedUsage" && l["model"] == "gpt-4o-mystery")
    });
    let labels = unpriced
        .firing()
        .into_iter()
        .find(|l| l["alertname"] == "LLMUnpricedUsage")
        .cloned()
        .expect("unpriced");
    assert_eq!(labels["severity"], "warning", "{labels}");
    assert_eq!(labels["provider"], "openai", "{labels}");
    assert_eq!(labels["reason"], "unknown_model", "{labels}");

    agent.write_config("no_such_setting: true\n");
    assert!(
        agent.running().reload().is_err(),
        "a bad config must be rejected"
    );
    let instance = agent.http().to_string();
    let failed = webhook.wait_for("MeterdConfigReloadFailed", "/chat", |n| {
        n.firing().iter().any(|l| {
            l["alertname"] == "MeterdConfigReloadFailed" && l["instance"] == instance.as_str()
        })
    });
    let alert = failed.body["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["labels"]["alertname"] == "MeterdConfigReloadFailed")
        .expect("reload alert");
    let desc = alert["annotations"]["description"]
        .as_str()
        .unwrap_or_default();
    // The count comes from a query in the annotation template: at least this one failure.
    let count: u32 = desc
        .split("(failed reloads since it started: ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 1, "{desc}");
    assert_eq!(alert["labels"]["severity"], "warning");
}

fn budget_alerts(agent: &Agent, prom: &Prometheus, webhook: &Webhook, am: &Alertmanager) {
    let util = format!("budget:llm_budget_utilization:ratio{{budget=\"{BUDGET}\"}}");

    // 60%: only the 50% threshold holds: info, to chat.
    spend_tenths(agent, 6);
    prom.wait_for_value(&util, 0.6);
    let info = webhook.wait_for("LLMBudgetHalfSpent at 60%", "/chat", |n| {
        budget_alert(n, "LLMBudgetHalfSpent").is_some()
    });
    assert_eq!(info.body["receiver"], "chat");

    // 85%: the warning arrives at chat, with the labels routing and inhibition depend on and the
    // numbers in its description; the 50% info it supersedes is inhibited.
    spend_tenths(agent, 2);
    agent.send_tcp(
        "llm.tokens:20000|c|#provider:openai,model:gpt-4o,token_type:input,team:search,service:search-api\n",
    );
    prom.wait_for_value(&util, 0.85);
    let warning = webhook.wait_for("LLMBudgetWarning at 85%", "/chat", |n| {
        budget_alert(n, "LLMBudgetWarning").is_some()
    });
    let labels = budget_alert(&warning, "LLMBudgetWarning").expect("warning");
    assert_eq!(labels["severity"], "warning", "{labels}");
    assert_eq!(labels["category"], "budget", "{labels}");
    assert_eq!(labels["period"], "total", "{labels}");
    assert_eq!(labels["job"], "meterd", "{labels}");
    assert_eq!(warning.body["receiver"], "chat");
    assert_eq!(
        warning.body["groupLabels"],
        serde_json::json!({"budget": BUDGET, "period": "total"})
    );
    let alert = warning.body["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["labels"]["alertname"] == "LLMBudgetWarning")
        .expect("warning alert");
    let desc = alert["annotations"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        desc.starts_with(&format!(
            "Budget {BUDGET} (total) has spent 0.85 USD of its 1.00 USD limit (85%)"
        )),
        "{desc}"
    );
    assert!(
        alert["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with("docs/runbooks.md#llmbudgetwarning"),
        "{alert}"
    );
    assert!(
        budget_alert(&warning, "LLMBudgetHalfSpent").is_none(),
        "the 50% info should be inhibited while the 80% warning fires: {:?}",
        warning.firing_names()
    );
    assert!(
        !webhook.received().iter().any(|n| n.path == "/pager"),
        "nothing should page at 85%: {:?}\n{}",
        webhook.received(),
        am.log()
    );

    // 105%: the page arrives at the pager; the 90% critical it supersedes is inhibited.
    spend_tenths(agent, 2);
    prom.wait_for_value(&format!("round({util} * 100)"), 105.0);
    let page = webhook.wait_for("LLMBudgetExceeded past 100%", "/pager", |n| {
        budget_alert(n, "LLMBudgetExceeded").is_some()
    });
    let labels = budget_alert(&page, "LLMBudgetExceeded").expect("page");
    assert_eq!(labels["severity"], "page", "{labels}");
    assert_eq!(labels["category"], "budget", "{labels}");
    assert_eq!(page.body["receiver"], "pager");
    assert!(
        budget_alert(&page, "LLMBudgetCritical").is_none(),
        "the 90% critical should be inhibited while the budget is exceeded: {:?}",
        page.firing_names()
    );
}

/// Realistic app traffic over StatsD (outside the budget's team): several teams, priced and unpriced models, errors, quality,
/// outcomes, ratings, stages, caches, events, streaming; `round` varies the numbers.
fn app_traffic(agent: &Agent, round: u32) {
    let mut lines = String::new();
    for (team, user) in [("support", "u1"), ("support", "u2"), ("research", "u3")] {
        for model in ["gpt-4o", "gpt-4o-mini"] {
            let t = format!(
                "provider:openai,model:{model},team:{team},service:chat,env:e2e,user:{user}"
            );
            lines += &format!(
                "llm.tokens:{}|c|#{t},token_type:input\n\
                 llm.tokens:{}|c|#{t},token_type:output\n\
                 llm.tokens:200|c|#{t},token_type:cached_input\n\
                 llm.requests:3|c|#{t},status:ok,operation:chat\n\
                 llm.requests:1|c|#{t},status:error,operation:chat,error_type:rate_limit\n\
                 llm.request.duration:{}|ms|#{t},status:ok,operation:chat\n\
                 llm.request.duration:{}|ms|#{t},status:ok,operation:chat\n\
                 llm.time_to_first_token:{}|ms|#{t},operation:chat\n",
                1000 + round * 10,
                300 + round,
                400 + round * 50,
                2500 + round * 100,
                150 + round * 5,
            );
        }
    }
    let q = "provider:openai,model:gpt-4o,team:support,service:chat";
    lines += &format!(
        "llm.tokens:700|c|#provider:openai,model:gpt-4o-mystery,team:support,service:chat,token_type:input\n\
         llm.requests:1|c|#provider:openai,model:gpt-4o-mystery,team:support,service:chat,status:ok\n\
         llm.quality.score:{}|h|#{q},evaluation:relevance\n\
         llm.quality.score:95|h|#{q},evaluation:relevance\n\
         llm.quality.score:55|h|#{q},evaluation:faithfulness\n\
         llm.outcome:2|c|#{q},outcome:accepted\n\
         llm.outcome:1|c|#{q},outcome:edited\n\
         llm.outcome:1|c|#{q},outcome:regenerated\n\
         llm.outcome:1|c|#{q},outcome:abandoned\n\
         llm.rating:5|g|#{q}\n\
         llm.rating:2|g|#{q}\n\
         llm.rating:4|g|#{q}\n\
         llm.stage.duration:{}|ms|#{q},stage:retrieval\n\
         llm.stage.duration:{}|ms|#{q},stage:synthesis\n\
         llm.cache:3|c|#{q},cache:semantic,result:hit\n\
         llm.cache:1|c|#{q},cache:semantic,result:miss\n\
         llm.event:1|c|#{q},event:retry_attempted\n\
         llm.event:2|c|#{q},event:generation_completed\n\
         llm.quality.score:{}|h|#{q},evaluation:relevance,label:relevant\n\
         llm.confidence:0.{}|h|#{q}\n\
         llm.confidence:0.2|h|#{q}\n\
         llm.edits:{}|h|#{q}\n\
         llm.approval.duration:{}|ms|#{q}\n\
         llm.model.upgrade:1|c|#provider:openai,model:gpt-4o-mini,to_model:gpt-4o,team:support,service:chat\n\
         llm.audio.seconds:{}|c|#provider:openai,model:whisper-1,team:support,service:chat\n\
         llm.characters:5400|c|#provider:openai,model:tts-1,team:support,service:chat\n\
         llm.images:2|c|#provider:openai,model:dall-e-3,team:support,service:chat\n",
        70 + round,
        80 + round,
        900 + round * 10,
        85 + round,
        60 + round,
        round,
        40_000 + round * 1000,
        60 + round,
    );
    agent.send_tcp(&lines);
}

/// Metrics a dashboard may legitimately lack after this test's traffic, each with the reason; their
/// panels fall back to `or vector(0)`, so they still show 0 rather than nothing.
const MAY_BE_ABSENT: &[(&str, &str)] = &[
    (
        "meterd_statsd_warnings_total",
        "needs a StatsD line kept despite a malformed part",
    ),
    (
        "meterd_notifications_total",
        "needs a notification webhook configured",
    ),
    (
        "meterd_usage_rows_folded_total",
        "needs more usage rows in a bucket than usage.max_rows_per_bucket",
    ),
    (
        "meterd_statsd_packets_dropped_total",
        "drops need an overloaded receiver",
    ),
    (
        "meterd_usage_rejected_total",
        "needs a usage line past limits",
    ),
    (
        "meterd_usage_inconsistent_total",
        "needs usage whose parts exceed its whole",
    ),
    (
        "meterd_quality_rejected_total",
        "needs an invalid quality line",
    ),
    (
        "meterd_quality_values_capped_total",
        "needs more values than a cap",
    ),
    (
        "meterd_connections_closed_total",
        "needs a connection evicted or timed out",
    ),
    (
        "meterd_connections_rejected_total",
        "needs a listener at its connection cap",
    ),
    (
        "meterd_usage_values_capped_total",
        "needs more error types than the cap",
    ),
    (
        "meterd_statsd_samples_dropped_total",
        "needs the memory guard or a queue to shed",
    ),
    (
        "meterd_money_overflow_total",
        "needs spend past the money counters",
    ),
    (
        "meterd_otlp_duplicate_spans_total",
        "needs a span sent twice",
    ),
    (
        "meterd_otlp_dedup_evicted_total",
        "needs a full dedup window",
    ),
    (
        "meterd_otlp_dedup_scopes_untracked_total",
        "needs more scopes than tracked",
    ),
    (
        "meterd_otlp_ttft_dropped_total",
        "needs an invalid first-token time",
    ),
    (
        "meterd_http_unauthorized_total",
        "needs HTTP auth configured",
    ),
    (
        "meterd_admin_unauthorized_total",
        "needs the admin API enabled",
    ),
    ("meterd_admin_actions_total", "needs the admin API enabled"),
    (
        "meterd_tls_handshake_failures_total",
        "needs TLS configured",
    ),
    ("meterd_fleet_queries_total", "needs a fleet budget"),
    (
        "meterd_budget_groups_overflowed_total",
        "needs a grouped budget past its cap",
    ),
    (
        "meterd_budget_orphaned_records",
        "needs a budget removed from the config",
    ),
    (
        "meterd_series_expired_total",
        "needs an idle series past its TTL",
    ),
    (
        "meterd_memory_shedding",
        "set only once the memory guard has acted",
    ),
    (
        "meterd_otlp_dedup_keys",
        "set once OTLP spans arrive; this test sends metrics",
    ),
];

fn dashboards_have_data(agent: &Agent, prom: &Prometheus) {
    // Failure paths the agent dashboard shows: a line that does not parse, a metric past its
    // series cap (50), a type conflict, an OTLP request over its item cap; and a config reload.
    agent.send_tcp("this is not statsd\nshop.mixed:1|c\n");
    agent.send_tcp("shop.mixed:1|g\n");
    let over_cap: String = (0..60)
        .map(|i| format!("shop.items:1|c|#sku:s{i}\n"))
        .collect();
    agent.send_tcp(&over_cap);
    // Two data points where the config allows one per request: rejected, and counted.
    let otlp = reqwest::blocking::Client::new()
        .post(format!(
            "http://{}/v1/metrics",
            agent.addrs().otlp_http.expect("otlp http")
        ))
        .header("Content-Type", "application/json")
        .body(
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"e2e.gauge","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"1"},{"asDouble":2,"timeUnixNano":"1"}]}}]}]}]}"#,
        )
        .timeout(Duration::from_secs(10))
        .send()
        .expect("otlp request");
    assert!(!otlp.status().is_server_error(), "{}", otlp.status());
    agent.write_config(&config());
    agent.running().reload().expect("reload");

    // Two rounds, each confirmed scraped, so every rate over the window is positive.
    for round in 1..=2 {
        app_traffic(agent, round);
        prom.wait_for_value(
            "sum(llm_requests_total{team=\"support\",model=\"gpt-4o-mystery\"})",
            f64::from(round),
        );
    }

    // Every metric a panel names must exist (a typo returns nothing, or hides behind `or`).
    let ident = regex::Regex::new(r"[a-zA-Z_:][a-zA-Z0-9_:]*").expect("regex");
    let queries = dashboard_queries();
    let wanted: BTreeSet<String> = queries
        .iter()
        .flat_map(|q| ident.find_iter(&q.expr).map(|m| m.as_str().to_string()))
        .filter(|m| {
            m.starts_with("llm_")
                || m.starts_with("meterd_")
                || m.starts_with("process_")
                || m.contains(':')
        })
        .filter(|m| !MAY_BE_ABSENT.iter().any(|(n, _)| n == m))
        .collect();
    let mut missing = Vec::new();
    let all_there = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("every dashboard metric", Duration::from_secs(30), || {
            let names = prom_names(prom);
            missing = wanted.difference(&names).cloned().collect();
            missing.is_empty().then_some(())
        })
    }));
    assert!(
        all_there.is_ok(),
        "metrics used by dashboards that Prometheus never saw: {missing:?}"
    );
    // Grafana's defaults with "All" selected; 2m covers both traffic rounds. Recording rules and
    // scrapes lag a little, so poll until every query has a finite value or time is up.
    let exprs: Vec<(String, String)> = queries
        .iter()
        .map(|q| {
            (
                format!("{} / {}", q.dashboard, q.panel),
                substitute(&q.expr, "2m", "1h"),
            )
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    let empty = loop {
        let empty: Vec<String> = exprs
            .iter()
            .filter(|(_, e)| !prom.query(e).iter().any(|(_, v)| v.is_finite()))
            .map(|(what, e)| format!("{what}: {e}"))
            .collect();
        if empty.is_empty() || std::time::Instant::now() > deadline {
            break empty;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        empty.is_empty(),
        "dashboard queries without data:\n{}\nprometheus log:\n{}",
        empty.join("\n"),
        prom.log()
    );
}

/// Every metric name Prometheus has stored.
fn prom_names(prom: &Prometheus) -> BTreeSet<String> {
    let resp: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("http://{}/api/v1/label/__name__/values", prom.addr))
        .timeout(Duration::from_secs(10))
        .send()
        .and_then(|r| r.json())
        .expect("label values");
    resp["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}
