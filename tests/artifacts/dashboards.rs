//! Grafana dashboards: importable anywhere (datasource variable, no hard-coded uid), every panel
//! described and with a unit, every query valid PromQL referring to metrics that exist.

use super::alerts::rules;
use super::tools::run_ok;
use crate::support::artifacts::{dashboard_queries, files, json, panels, substitute};
use serde_json::Value;
use std::collections::BTreeSet;

fn dashboards() -> Vec<(String, Value)> {
    let d: Vec<(String, Value)> = files("dashboards", ".json")
        .iter()
        .map(|p| (p.display().to_string(), json(p)))
        .collect();
    let names: Vec<&str> = d
        .iter()
        .map(|(n, _)| n.rsplit('/').next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["meterd-agent.json", "meterd-overview.json"]);
    d
}

/// Every `datasource` reference anywhere in the document.
fn datasource_refs<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            for (k, inner) in m {
                if k == "datasource" {
                    out.push(inner);
                }
                datasource_refs(inner, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| datasource_refs(x, out)),
        _ => {}
    }
}

#[test]
fn dashboards_use_a_datasource_variable_and_no_fixed_uid() {
    for (name, d) in dashboards() {
        assert!(d["uid"].is_string() && d["title"].is_string(), "{name}");
        assert!(
            d.get("__inputs").is_none(),
            "{name}: import-time inputs are not needed"
        );
        let vars = d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ds = vars
            .iter()
            .find(|v| v["type"] == "datasource")
            .unwrap_or_else(|| panic!("{name}: no datasource variable"));
        assert_eq!(ds["name"], "datasource", "{name}");
        assert_eq!(ds["query"], "prometheus", "{name}");
        let mut refs = Vec::new();
        datasource_refs(&d, &mut refs);
        assert!(refs.len() > 10, "{name}: panels must name their datasource");
        for r in refs {
            let uid = r["uid"].as_str().or(r.as_str()).unwrap_or_default();
            assert!(
                uid == "${datasource}" || uid == "-- Grafana --",
                "{name}: hard-coded datasource {r}"
            );
        }
        for v in vars.iter().filter(|v| v["type"] == "query") {
            assert_eq!(
                v["datasource"]["uid"], "${datasource}",
                "{name}: variable {}",
                v["name"]
            );
            assert_eq!(v["includeAll"], true, "{name}: variable {}", v["name"]);
            assert_eq!(v["allValue"], ".*", "{name}: variable {}", v["name"]);
        }
        let var_names: BTreeSet<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
        let want: &[&str] = if name.ends_with("meterd-overview.json") {
            &["datasource", "team", "service", "model"]
        } else {
            &["datasource", "instance"]
        };
        for w in want {
            assert!(var_names.contains(w), "{name}: no ${w} variable");
        }
    }
}

/// Each dashboard links to the agent's status page through the `meterd_url` text variable, whose
/// default is the agent's default HTTP address.
#[test]
fn dashboards_link_to_the_status_page() {
    for (name, d) in dashboards() {
        let links = d["links"].as_array().cloned().unwrap_or_default();
        assert!(
            links
                .iter()
                .any(|l| l["type"] == "link" && l["url"] == "${meterd_url}/ui"),
            "{name}: no link to ${{meterd_url}}/ui in {links:?}"
        );
        let vars = d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let var = vars
            .iter()
            .find(|v| v["name"] == "meterd_url")
            .unwrap_or_else(|| panic!("{name}: no meterd_url variable"));
        assert_eq!(var["type"], "textbox", "{name}");
        assert_eq!(var["query"], "http://localhost:9464", "{name}");
        assert_eq!(var["current"]["value"], var["query"], "{name}");
    }
}

#[test]
fn every_panel_has_a_description_a_unit_and_queries() {
    for (name, d) in dashboards() {
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or("?");
            assert!(
                ids.insert(p["id"].as_u64().unwrap_or(0)),
                "{name}: duplicate id at {title}"
            );
            let grid = &p["gridPos"];
            let (x, w) = (
                grid["x"].as_u64().unwrap_or(99),
                grid["w"].as_u64().unwrap_or(99),
            );
            assert!(x + w <= 24, "{name}: {title} overflows the grid");
            if p["type"] == "row" {
                continue;
            }
            let desc = p["description"].as_str().unwrap_or_default();
            assert!(desc.len() > 20, "{name}: {title}: no description");
            let unit = p["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or_default();
            assert!(!unit.is_empty(), "{name}: {title}: no unit");
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            assert!(!targets.is_empty(), "{name}: {title}: no query");
            for t in targets {
                assert!(
                    !t["expr"].as_str().unwrap_or_default().is_empty(),
                    "{name}: {title}"
                );
            }
        }
    }
}

#[test]
fn units_match_what_panels_show() {
    for (name, d) in dashboards() {
        for p in panels(&d).into_iter().filter(|p| p["type"] != "row") {
            let title = p["title"].as_str().unwrap_or("?").to_lowercase();
            let unit = p["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or_default();
            let exprs = p["targets"].to_string();
            if title.contains("spend") || title.contains("cost") || title.contains("budgets:") {
                assert_eq!(unit, "currencyUSD", "{name}: {title}");
            }
            if title.contains("latency") || exprs.contains("_seconds_bucket") {
                assert_eq!(unit, "s", "{name}: {title}");
            }
            if title.contains("rate by model")
                || title.contains("hit rate")
                || title.contains("utilization")
            {
                assert_eq!(unit, "percentunit", "{name}: {title}");
            }
        }
    }
}

#[test]
fn every_query_is_valid_promql() {
    // promtool has no expression checker, but it parses rules: wrap each query in one.
    let queries = dashboard_queries();
    assert!(queries.len() > 40, "only {} queries", queries.len());
    let mut file = String::from("groups:\n  - name: dashboard-queries\n    rules:\n");
    for (i, q) in queries.iter().enumerate() {
        let expr = substitute(&q.expr, "1m", "1h");
        file.push_str(&format!(
            "      - record: dashboard_query_{i}\n        expr: {}\n",
            serde_json::to_string(&expr).unwrap_or_default()
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dashboard-queries.yml");
    std::fs::write(&path, file).expect("write");
    run_ok("promtool", &["check", "rules", &path.to_string_lossy()]);
}

#[test]
fn recording_rules_used_by_dashboards_exist() {
    let records: BTreeSet<String> = rules()
        .iter()
        .filter_map(|r| r["record"].as_str().map(str::to_string))
        .collect();
    let re = regex::Regex::new(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+").expect("regex");
    for q in dashboard_queries() {
        for m in re.find_iter(&q.expr) {
            assert!(
                records.contains(m.as_str()),
                "{} / {}: no recording rule {}",
                q.dashboard,
                q.panel,
                m.as_str()
            );
        }
    }
}

#[test]
fn dashboards_cover_the_contract() {
    let all: String = dashboard_queries()
        .iter()
        .map(|q| q.expr.clone() + "\n")
        .collect();
    for metric in [
        "llm_cost_usd_total",
        "llm_tokens_total",
        "llm_requests_total",
        "llm_request_duration_seconds_bucket",
        "llm_unpriced_requests_total",
        "budget:llm_budget_utilization:ratio",
        "llm_budget_remaining_usd",
        "llm_budget_forecast_usd",
        "llm_budget_limit_usd",
        "llm_quality_grade_total",
        "llm_quality_score_bucket",
        "provider_model:llm_outcomes_accepted:ratio_rate1h",
        "provider_model:llm_outcomes_edited:ratio_rate1h",
        "provider_model:llm_outcomes_regenerated:ratio_rate1h",
        "provider_model:llm_outcomes_abandoned:ratio_rate1h",
        "llm_cache_requests_total",
        "llm_stage_duration_seconds_bucket",
        "llm_time_to_first_token_seconds_bucket",
        "llm_events_total",
        "meterd_usage_events_total",
        "meterd_statsd_packets_dropped_total",
        "meterd_otlp_items_rejected_total",
        "meterd_samples_rejected_total",
        "meterd_series_dropped_total",
        "meterd_series_limit",
        "meterd_scrape_duration_seconds",
        "meterd_config_last_reload_successful",
        "meterd_pricing_info",
        "meterd_state_flushes_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(all.contains(metric), "no dashboard panel shows {metric}");
    }
}
