//! Budgets end to end: the JSON API over real HTTP, gauges in /metrics and in a real Prometheus,
//! state across restarts, corrupt state files, reloads.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

mod support;

use meterd::model::{Labels, UsageEvent};
use std::path::Path;
use std::time::Duration;
use support::agent::{find_value, Agent, EPHEMERAL_LISTENERS};
use support::prometheus::Prometheus;
use support::wait_until;

const USD: u64 = 1_000_000_000;

const BUDGETS: &str = "scope_labels: [team, project, user]
budgets:
  - name: search-monthly
    match: {team: search}
    period: monthly
    limit_usd: 100
  - name: gpt4-daily
    match: {model: \"=~gpt-4.*\", team: \"!=ads\"}
    period: daily
    timezone: Europe/Berlin
    limit_usd: 10
    thresholds: [0.75]
  - name: per-user
    period: rolling_24h
    limit_usd: 1
    group_by: [user]
";

fn event(team: &str, model: &str, user: &str) -> UsageEvent {
    let mut ev = UsageEvent::new("openai", model);
    ev.scope = Labels::new([("team", team), ("user", user), ("host", "h1")]);
    ev
}

fn get_json(http: std::net::SocketAddr, path: &str) -> serde_json::Value {
    let resp = reqwest::blocking::Client::new()
        .get(format!("http://{http}{path}"))
        .timeout(Duration::from_secs(10))
        .send()
        .expect("http get");
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().expect("json body")
}

fn find<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list["budgets"]
        .as_array()
        .expect("budgets array")
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("no budget {name} in {list}"))
}

#[test]
fn api_reports_budgets_and_check_denies_at_the_limit() {
    let agent = Agent::start(BUDGETS);
    let p = &agent.running().pipeline;
    let http = agent.http();

    let list = get_json(http, "/api/v1/budgets");
    let sm = find(&list, "search-monthly");
    assert_eq!(sm["spend_usd"], 0.0);
    assert_eq!(sm["status"], "ok");
    assert_eq!(sm["source"], "local");
    assert_eq!(sm["thresholds"], serde_json::json!([0.5, 0.8, 0.9, 1.0]));
    assert!(sm["period_start"]
        .as_str()
        .unwrap()
        .ends_with("-01T00:00:00Z"));
    // The grouped budget is listed before any group spent.
    assert!(find(&list, "per-user")["group"].is_null());

    p.record_spend("test", &event("search", "gpt-4o", "alice"), 80 * USD + 1);
    let list = get_json(http, "/api/v1/budgets");
    let sm = find(&list, "search-monthly");
    assert_eq!(sm["spend_nanos"], 80 * USD + 1);
    assert_eq!(sm["status"], "warning");
    assert_eq!(sm["threshold_reached"], 0.8);
    // The gpt4 budget ($10) is far over: exceeded, negative remaining.
    let g = find(&list, "gpt4-daily");
    assert_eq!(g["status"], "exceeded");
    assert!(g["remaining_usd"].as_f64().unwrap() < -69.0);
    assert_eq!(g["timezone"], "Europe/Berlin");

    // A call for team search on a cheap model only hits search-monthly (at 80%): allowed.
    let c = get_json(http, "/api/v1/budgets/check?team=search&model=o3-mini");
    assert_eq!(c["allowed"], true, "{c}");
    let names: Vec<&str> = c["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["search-monthly", "per-user"]);
    // On gpt-4o the daily budget is exceeded: denied, with the reason.
    let c = get_json(http, "/api/v1/budgets/check?team=search&model=gpt-4o");
    assert_eq!(c["allowed"], false, "{c}");
    let reasons = c["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{c}");
    assert!(reasons[0].as_str().unwrap().contains("gpt4-daily"), "{c}");
    // Team ads is excluded by `!=ads`; per-user alice is at $80 of $1.
    let c = get_json(http, "/api/v1/budgets/check?team=ads&model=gpt-4o&user=bob");
    assert_eq!(c["allowed"], true, "{c}");
    let c = get_json(
        http,
        "/api/v1/budgets/check?team=ads&model=gpt-4o&user=alice",
    );
    assert_eq!(c["allowed"], false, "{c}");

    // Exactly at the limit denies.
    p.record_spend("test", &event("search", "o3-mini", "carol"), 20 * USD - 1);
    let c = get_json(http, "/api/v1/budgets/check?team=search&model=o3-mini");
    assert_eq!(c["allowed"], false, "{c}");
    assert_eq!(find(&c, "search-monthly")["status"], "exceeded");

    // Gauges: budget and period labels, group labels for grouped budgets.
    let body = agent.scrape(None);
    let series = "{budget=\"search-monthly\",period=\"monthly\"}";
    assert_eq!(
        find_value(&body, &format!("llm_budget_spend_usd{series}")),
        Some(100.0)
    );
    assert_eq!(
        find_value(&body, &format!("llm_budget_limit_usd{series}")),
        Some(100.0)
    );
    assert_eq!(
        find_value(&body, &format!("llm_budget_remaining_usd{series}")),
        Some(0.0)
    );
    assert_eq!(
        find_value(&body, &format!("llm_budget_utilization_ratio{series}")),
        Some(1.0)
    );
    assert!(find_value(&body, &format!("llm_budget_forecast_usd{series}")).unwrap() >= 100.0);
    assert!(find_value(&body, &format!("llm_budget_period_end_seconds{series}")).is_some());
    assert_eq!(
        find_value(
            &body,
            "llm_budget_spend_usd{budget=\"per-user\",period=\"rolling_24h\",user=\"alice\"}"
        ),
        Some(80.000000001)
    );
}

#[test]
fn reload_keeps_spend_of_budgets_that_stay() {
    let agent = Agent::start(BUDGETS);
    let p = &agent.running().pipeline;
    p.record_spend("test", &event("search", "gpt-4o", "alice"), 3 * USD);
    // Raise a limit, drop one budget, add another.
    agent.write_config(
        "scope_labels: [team, project, user]
budgets:
  - name: search-monthly
    match: {team: search}
    period: monthly
    limit_usd: 1000
  - name: everything
    period: total
    limit_usd: 5
",
    );
    agent.running().reload().expect("reload");
    let list = get_json(agent.http(), "/api/v1/budgets");
    assert_eq!(list["budgets"].as_array().unwrap().len(), 2, "{list}");
    let sm = find(&list, "search-monthly");
    assert_eq!(sm["spend_nanos"], 3 * USD);
    assert_eq!(sm["limit_usd"], 1000.0);
    assert_eq!(find(&list, "everything")["spend_nanos"], 0);
    assert!(find(&list, "everything")["period_end"].is_null());
}

fn config(dir: &Path, budgets: &str) -> std::path::PathBuf {
    let path = dir.join("meterd.yaml");
    std::fs::write(
        &path,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n  flush_interval: 100ms\n{budgets}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn spend_survives_restart_and_is_durable_when_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), BUDGETS);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let running = rt.block_on(meterd::app::start(&path)).expect("start");
    let p = running.pipeline.clone();
    // Many concurrent "requests", each waiting for durability before it would acknowledge.
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..64u64 {
            let p = p.clone();
            set.spawn(async move {
                p.record_spend("otlp", &event("search", "o3", "u"), 1_000_000_007 + i);
                p.durable().await
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().expect("durable");
        }
    });
    let want: u64 = (0..64u64).map(|i| 1_000_000_007 + i).sum();
    let flushes = meterd_metric(&running, "meterd_state_flushes_total{result=\"success\"}");
    assert!(flushes >= 1.0);
    rt.block_on(running.shutdown());

    let running = rt.block_on(meterd::app::start(&path)).expect("restart");
    let sm = running
        .pipeline
        .budgets()
        .statuses(jiff::Timestamp::now().as_second())
        .into_iter()
        .find(|(d, _)| &*d.name == "search-monthly")
        .unwrap();
    assert_eq!(sm.1[0].spend, want);
    rt.block_on(running.shutdown());
}

fn meterd_metric(running: &meterd::app::Running, series: &str) -> f64 {
    let body = reqwest::blocking::get(format!(
        "http://{}/metrics",
        running.addrs.http.expect("http")
    ))
    .and_then(|r| r.text())
    .expect("scrape");
    find_value(&body, series).unwrap_or(0.0)
}

#[test]
fn corrupt_state_file_stops_start_with_its_name_and_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), BUDGETS);
    let state = dir.path().join("data").join(meterd::state::FILE_NAME);
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, vec![0x5Au8; 8192]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(meterd::app::start(&path))
        .err()
        .expect("start must fail")
        .to_string();
    assert!(err.contains(&state.display().to_string()), "{err}");
    assert!(err.contains("corrupt"), "{err}");
    let copies: Vec<_> = std::fs::read_dir(state.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(copies.len(), 1, "{err}");
    assert_eq!(std::fs::read(&state).unwrap(), vec![0x5Au8; 8192]);

    // A valid database holding a record meterd cannot decode is refused the same way.
    std::fs::remove_file(&state).unwrap();
    {
        let (f, _) = meterd::state::StateFile::open(state.parent().unwrap()).unwrap();
        f.commit(
            &[("[\"search-monthly\",[]]".into(), b"{oops".to_vec())],
            &[],
        )
        .unwrap();
    }
    let err = rt
        .block_on(meterd::app::start(&path))
        .err()
        .expect("start must fail")
        .to_string();
    assert!(err.contains("undecodable record"), "{err}");
    assert!(err.contains(".corrupt-"), "{err}");
}

#[test]
fn prometheus_queries_budget_gauges() {
    let agent = Agent::start(BUDGETS);
    let prom = Prometheus::start(&[agent.http()], &[], "");
    prom.wait_for_targets_up();
    // The gauges exist (at zero) before any spend, from the periodic refresh.
    prom.wait_for_value("llm_budget_limit_usd{budget=\"search-monthly\"}", 100.0);
    agent.running().pipeline.record_spend(
        "test",
        &event("search", "gpt-4o", "alice"),
        42_500_000_000,
    );
    prom.wait_for_value(
        "llm_budget_spend_usd{budget=\"search-monthly\",period=\"monthly\"}",
        42.5,
    );
    prom.wait_for_value(
        "llm_budget_utilization_ratio{budget=\"search-monthly\"}",
        0.425,
    );
    prom.wait_for_value("llm_budget_remaining_usd{budget=\"search-monthly\"}", 57.5);
    prom.wait_for_value(
        "llm_budget_spend_usd{budget=\"per-user\",user=\"alice\"}",
        42.5,
    );
    // An alert-style expression: budgets past 90% of their limit.
    prom.wait_for_value("count(llm_budget_utilization_ratio >= 0.9)", 2.0);
    wait_until("check reflects spend", Duration::from_secs(5), || {
        let c = get_json(
            agent.http(),
            "/api/v1/budgets/check?team=search&model=gpt-4o",
        );
        (c["allowed"] == false).then_some(())
    });
}

const SHARED: &str = "scope_labels: [team]
budgets:
  - name: shared
    period: monthly
    limit_usd: 5
    fleet_query: 'sum(llm_budget_spend_usd{budget=\"shared\"})'
";

#[test]
fn fleet_spend_is_the_sum_over_agents_and_degrades_when_the_api_is_down() {
    let a = Agent::start(SHARED);
    let b = Agent::start(SHARED);
    let prom = Prometheus::start(&[a.http(), b.http()], &[], "");
    prom.wait_for_targets_up();
    a.write_config(&format!(
        "{SHARED}fleet:\n  prometheus_url: http://{}\n  refresh_interval: 200ms\n  timeout: 2s\n  max_age: 3s\n",
        prom.addr
    ));
    a.running().reload().expect("reload with fleet");

    a.running()
        .pipeline
        .record_spend("test", &event("search", "m", "u"), 3 * USD);
    b.running()
        .pipeline
        .record_spend("test", &event("search", "m", "u"), 4 * USD);
    prom.wait_for_value("sum(llm_budget_spend_usd{budget=\"shared\"})", 7.0);

    // Agent a alone is at $3 of $5, but the fleet is at $7: its check denies.
    let sum = wait_until("fleet figure on agent a", Duration::from_secs(20), || {
        let list = get_json(a.http(), "/api/v1/budgets");
        let s = find(&list, "shared").clone();
        (s["source"] == "fleet" && s["fleet_spend_usd"] == 7.0).then_some(s)
    });
    assert_eq!(sum["local_spend_usd"], 3.0);
    assert_eq!(sum["spend_usd"], 7.0);
    assert_eq!(sum["status"], "exceeded");
    let c = get_json(a.http(), "/api/v1/budgets/check?team=search");
    assert_eq!(c["allowed"], false, "{c}");
    // Agent b has no fleet config: its own $4 only.
    let c = get_json(b.http(), "/api/v1/budgets/check?team=search");
    assert_eq!(c["allowed"], true, "{c}");
    assert_eq!(find(&c, "shared")["source"], "local");
    // The fleet figure is exported too (and the local spend gauge stays local).
    let body = a.scrape(None);
    assert_eq!(
        find_value(
            &body,
            "llm_budget_fleet_spend_usd{budget=\"shared\",period=\"monthly\"}"
        ),
        Some(7.0)
    );
    assert_eq!(
        find_value(
            &body,
            "llm_budget_spend_usd{budget=\"shared\",period=\"monthly\"}"
        ),
        Some(3.0)
    );

    // The query API goes away: the error shows at once, and after max_age the budget falls back
    // to local spend rather than trusting an old figure or failing.
    drop(prom);
    let s = wait_until("fallback to local", Duration::from_secs(20), || {
        let list = get_json(a.http(), "/api/v1/budgets");
        let s = find(&list, "shared").clone();
        (s["source"] == "local").then_some(s)
    });
    assert!(s["fleet_error"].as_str().is_some(), "{s}");
    assert_eq!(s["spend_usd"], 3.0);
    let c = get_json(a.http(), "/api/v1/budgets/check?team=search");
    assert_eq!(c["allowed"], true, "{c}");
    assert!(
        a.metric("meterd_fleet_queries_total{result=\"failure\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
}

#[test]
fn group_cap_overflow_is_counted_and_spend_kept() {
    let agent = Agent::start(
        "scope_labels: [user]
budgets:
  - name: per-user
    period: daily
    limit_usd: 1
    group_by: [user]
    max_groups: 2
",
    );
    let p = &agent.running().pipeline;
    for user in ["a", "b", "c", "d", "a"] {
        p.record_spend("test", &event("t", "m", user), USD / 10);
    }
    let body = agent.scrape(None);
    let spend = |user: &str| {
        find_value(
            &body,
            &format!(
                "llm_budget_spend_usd{{budget=\"per-user\",period=\"daily\",user=\"{user}\"}}"
            ),
        )
    };
    assert_eq!(spend("a"), Some(0.2));
    assert_eq!(spend("b"), Some(0.1));
    assert_eq!(spend("_overflow"), Some(0.2));
    assert_eq!(spend("c"), None);
    assert_eq!(
        find_value(
            &body,
            "meterd_budget_groups_overflowed_total{budget=\"per-user\"}"
        ),
        Some(2.0)
    );
}

/// One GenAI client span as an instrumentation library reports it.
fn genai_span(tracer: &opentelemetry_sdk::trace::SdkTracer, input: i64, output: i64) {
    use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
    use opentelemetry::KeyValue;
    let start = std::time::SystemTime::now();
    let mut span = tracer
        .span_builder("chat m1")
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "test"),
            KeyValue::new("gen_ai.request.model", "m1"),
            KeyValue::new("gen_ai.usage.input_tokens", input),
            KeyValue::new("gen_ai.usage.output_tokens", output),
        ])
        .start(tracer);
    span.end_with_timestamp(start + Duration::from_millis(100));
}

#[test]
fn prometheus_sees_budget_spend_from_statsd_and_otlp_usage() {
    use opentelemetry::trace::TracerProvider as _;
    use support::otel::{resource, Client, Transport};
    // $2.50 per 1M input tokens, $10 per 1M output tokens.
    let agent = Agent::start(
        "scope_labels: [team]
pricing:
  models:
    - {provider: test, model: m1, prices: {input: 2.50, output: 10.00}}
budgets:
  - name: search
    match: {team: search, model: m1}
    period: daily
    limit_usd: 0.05
",
    );
    let prom = Prometheus::start(&[agent.http()], &[], "");
    prom.wait_for_targets_up();
    // StatsD: 4 x 1000 input tokens = 4 x $0.0025.
    for _ in 0..4 {
        agent.send_udp("llm.tokens:1000|c|#provider:test,model:m1,token_type:input,team:search\n");
    }
    // OTLP: 5 spans of 2000 input + 100 output tokens = 5 x $0.006.
    let client = Client::default();
    let provider = client.tracer_provider(
        &agent,
        Transport::HttpProto,
        resource("chatbot", &[("team", "search")]),
    );
    let tracer = provider.tracer("opentelemetry-instrumentation-test");
    for _ in 0..5 {
        genai_span(&tracer, 2000, 100);
    }
    provider.force_flush().expect("flush");
    provider.shutdown().expect("shutdown");

    let b = "budget=\"search\",period=\"daily\"";
    prom.wait_for_value(&format!("llm_budget_spend_usd{{{b}}}"), 0.04);
    prom.wait_for_value(&format!("llm_budget_utilization_ratio{{{b}}}"), 0.8);
    prom.wait_for_value(
        &format!("round(llm_budget_remaining_usd{{{b}}}, 0.000001)"),
        0.01,
    );
    prom.wait_for_value(&format!("llm_budget_limit_usd{{{b}}}"), 0.05);
    // Budget spend agrees with the cost counters pricing exported for the same calls.
    prom.wait_for_value(
        "round(sum(llm_cost_usd_total{team=\"search\"}), 0.000001)",
        0.04,
    );
    let list = get_json(agent.http(), "/api/v1/budgets");
    let s = find(&list, "search");
    assert_eq!(s["spend_nanos"], 40_000_000u64, "{s}");
    assert_eq!(s["status"], "warning", "{s}");
}
