//! Rule files, their promtool unit tests, runbooks and the Alertmanager example.

use super::tools::{rel, run_ok};
use crate::support::artifacts::{files, read, repo, yaml};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Runbook links point into this repository, or under the base URL a Prometheus sets as its
/// `runbook_base_url` external label: never a host the project does not own.
pub const RUNBOOK_BASE: &str = r#"{{ or $externalLabels.runbook_base_url "docs/runbooks.md" }}#"#;
const SEVERITIES: [&str; 4] = ["info", "warning", "critical", "page"];

fn rule_files() -> Vec<String> {
    let f: Vec<String> = files("alerts", ".rules.yml")
        .iter()
        .map(|p| rel(p))
        .collect();
    assert!(!f.is_empty(), "no alerts/*.rules.yml");
    f
}

/// Every rule of every rule file.
pub fn rules() -> Vec<Value> {
    files("alerts", ".rules.yml")
        .iter()
        .flat_map(|p| {
            let doc = yaml(p);
            doc["groups"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no groups", p.display()))
                .iter()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn names(kind: &str) -> BTreeSet<String> {
    rules()
        .iter()
        .filter_map(|r| r[kind].as_str().map(str::to_string))
        .collect()
}

#[test]
fn promtool_checks_every_rule_file() {
    let mut args = vec!["check", "rules"];
    let f = rule_files();
    args.extend(f.iter().map(String::as_str));
    run_ok("promtool", &args);
}

#[test]
fn promtool_unit_tests_pass() {
    let tests: Vec<String> = files("alerts/tests", ".yml")
        .iter()
        .map(|p| rel(p))
        .collect();
    assert!(!tests.is_empty(), "no alerts/tests/*.yml");
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    run_ok("promtool", &args);
}

#[test]
fn every_alert_has_severity_summary_description_and_runbook() {
    let alerts: Vec<Value> = rules()
        .into_iter()
        .filter(|r| r["alert"].is_string())
        .collect();
    assert!(alerts.len() >= 15, "only {} alerts", alerts.len());
    for r in &alerts {
        let name = r["alert"].as_str().unwrap_or_default();
        let sev = r["labels"]["severity"].as_str().unwrap_or_default();
        assert!(SEVERITIES.contains(&sev), "{name}: severity {sev:?}");
        for key in ["summary", "description", "runbook_url"] {
            let v = r["annotations"][key].as_str().unwrap_or_default();
            assert!(!v.trim().is_empty(), "{name}: no {key}");
        }
        let desc = r["annotations"]["description"].as_str().unwrap_or_default();
        assert!(
            desc.contains("$value") || desc.chars().any(|c| c.is_ascii_digit()),
            "{name}: the description should carry the numbers: {desc}"
        );
        let url = r["annotations"]["runbook_url"].as_str().unwrap_or_default();
        assert_eq!(
            url,
            format!("{RUNBOOK_BASE}{}", name.to_lowercase()),
            "{name}: runbook_url"
        );
    }
    // The budget ladder the issue asks for, with its severities.
    let by_name: BTreeMap<&str, &Value> = alerts
        .iter()
        .filter_map(|r| Some((r["alert"].as_str()?, r)))
        .collect();
    for (name, sev) in [
        ("LLMBudgetHalfSpent", "info"),
        ("LLMBudgetWarning", "warning"),
        ("LLMBudgetCritical", "critical"),
        ("LLMBudgetExceeded", "page"),
    ] {
        let r = by_name
            .get(name)
            .unwrap_or_else(|| panic!("missing {name}"));
        assert_eq!(r["labels"]["severity"], sev, "{name}");
        assert_eq!(
            r["labels"]["category"], "budget",
            "{name}: inhibition needs it"
        );
    }
}

/// GitHub's heading anchors: lowercase, spaces to '-', other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_runbook_url_has_a_section_and_every_section_an_alert() {
    let doc = read(&repo().join("docs/runbooks.md"));
    let sections: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect();
    let alerts = names("alert");
    for name in &alerts {
        let a = name.to_lowercase();
        assert!(
            sections.contains(&a),
            "docs/runbooks.md has no section for {name} (#{a})"
        );
    }
    let wanted: BTreeSet<String> = alerts.iter().map(|a| a.to_lowercase()).collect();
    let orphans: Vec<&String> = sections.difference(&wanted).collect();
    assert!(
        orphans.is_empty(),
        "runbook sections without an alert: {orphans:?}"
    );
}

#[test]
fn every_rule_is_unit_tested_firing_and_silent() {
    let mut fired = BTreeSet::new();
    let mut silent = BTreeSet::new();
    let mut exprs = String::new();
    for p in files("alerts/tests", ".yml") {
        let doc = yaml(&p);
        for t in doc["tests"].as_array().into_iter().flatten() {
            for a in t["alert_rule_test"].as_array().into_iter().flatten() {
                let name = a["alertname"].as_str().unwrap_or_default().to_string();
                let n = a["exp_alerts"].as_array().map_or(0, Vec::len);
                if n > 0 {
                    fired.insert(name)
                } else {
                    silent.insert(name)
                };
            }
            for e in t["promql_expr_test"].as_array().into_iter().flatten() {
                exprs.push_str(e["expr"].as_str().unwrap_or_default());
                exprs.push('\n');
            }
        }
    }
    for alert in names("alert") {
        assert!(
            fired.contains(&alert),
            "no promtool test where {alert} fires"
        );
        assert!(
            silent.contains(&alert),
            "no promtool test where {alert} stays silent"
        );
    }
    for record in names("record") {
        assert!(
            exprs.contains(&record),
            "no promql_expr_test checks recording rule {record}"
        );
    }
}

#[test]
fn alertmanager_example_is_valid_and_routes_by_severity() {
    run_ok("amtool", &["check-config", "alerts/alertmanager.yml"]);
    run_ok(
        "amtool",
        &["check-config", "deploy/compose/alertmanager.yml"],
    );
    // Every category an alert carries has its own grouping under the severity that routes it.
    let am = yaml(&repo().join("alerts/alertmanager.yml"));
    for r in rules().iter().filter(|r| r["alert"].is_string()) {
        let (Some(sev), Some(category)) = (
            r["labels"]["severity"].as_str(),
            r["labels"]["category"].as_str(),
        ) else {
            continue;
        };
        let parent = am["route"]["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|route| route["matchers"].to_string().contains(sev))
            .unwrap_or_else(|| panic!("no route for severity {sev}"));
        let wanted = format!("category=\\\"{category}\\\"");
        assert!(
            parent["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|sub| sub["matchers"].to_string().contains(&wanted)),
            "{}: no sub-route for category {category} under severity {sev}",
            r["alert"]
        );
    }
    for (sev, receiver) in [
        ("info", "chat"),
        ("warning", "chat"),
        ("critical", "pager"),
        ("page", "pager"),
    ] {
        for extra in ["category=budget", "alertname=MeterdDown"] {
            let out = run_ok(
                "amtool",
                &[
                    "config",
                    "routes",
                    "test",
                    "--config.file=alerts/alertmanager.yml",
                    &format!("severity={sev}"),
                    extra,
                ],
            );
            assert_eq!(
                out.lines().next().map(str::trim),
                Some(receiver),
                "{sev} {extra}: {out}"
            );
        }
    }
}

#[test]
fn alertmanager_example_groups_by_budget_and_inhibits_lower_thresholds() {
    let am = yaml(&repo().join("alerts/alertmanager.yml"));
    for route in am["route"]["routes"].as_array().into_iter().flatten() {
        let budget = route["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                r["matchers"]
                    .to_string()
                    .contains("category=\\\"budget\\\"")
            })
            .unwrap_or_else(|| panic!("no budget sub-route under {route}"));
        assert_eq!(budget["group_by"], serde_json::json!(["budget", "period"]));
    }
    let inhibit = am["inhibit_rules"].as_array().cloned().unwrap_or_default();
    // Each higher budget severity silences every lower one for the same budget and period.
    for (i, higher) in SEVERITIES.iter().enumerate().skip(1) {
        let rule = inhibit
            .iter()
            .find(|r| {
                r["source_matchers"]
                    .to_string()
                    .contains(&format!("severity=\\\"{higher}\\\""))
            })
            .unwrap_or_else(|| panic!("no inhibit rule with source severity {higher}"));
        let target = rule["target_matchers"].to_string();
        for lower in &SEVERITIES[..i] {
            assert!(
                target.contains(lower),
                "{higher} must inhibit {lower}: {target}"
            );
        }
        assert_eq!(rule["equal"], serde_json::json!(["budget", "period"]));
    }
    // The compose demo's copy differs only in receivers' URLs and waits.
    let demo = yaml(&repo().join("deploy/compose/alertmanager.yml"));
    assert_eq!(demo["inhibit_rules"], am["inhibit_rules"]);
    assert_eq!(route_shape(&demo["route"]), route_shape(&am["route"]));
}

/// What a route tree decides (who gets what, grouped how), without its timings.
fn route_shape(r: &Value) -> Value {
    serde_json::json!({
        "receiver": r["receiver"],
        "matchers": r["matchers"],
        "group_by": r["group_by"],
        "routes": r["routes"].as_array().map(|rs| rs.iter().map(route_shape).collect::<Vec<_>>()),
    })
}
