//! deploy/kubernetes/prometheusrule.yaml is the Prometheus Operator rendering of alerts/*.rules.yml,
//! generated here and compared on every run. Regenerate after editing the rule files:
//!   METERD_REGENERATE=1 cargo test --test artifacts

use super::tools::rel;
use crate::support::artifacts::{files, read, repo, yaml};
use serde_json::Value;

const TARGET: &str = "deploy/kubernetes/prometheusrule.yaml";

/// The rule files' `groups:` lists, concatenated under `spec.groups`, comments kept. Text, not a
/// re-serialization, so the output reads like the sources (block scalars, comments, key order).
fn render() -> String {
    let mut out = String::from(
        "# GENERATED from alerts/*.rules.yml: do not edit. Regenerate with\n\
         #   METERD_REGENERATE=1 cargo test --test artifacts\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: meterd\n  labels:\n    app.kubernetes.io/name: meterd\n\
         spec:\n  groups:\n",
    );
    for path in files("alerts", ".rules.yml") {
        let text = read(&path);
        let mut lines = text.lines().skip_while(|l| *l != "groups:");
        assert_eq!(
            lines.next(),
            Some("groups:"),
            "{}: no top-level groups:",
            path.display()
        );
        out.push_str(&format!("    # ---- {} ----\n", rel(&path)));
        for line in lines {
            assert!(
                line.is_empty() || line.starts_with(' ') || line.starts_with('#'),
                "{}: only `groups:` may be top-level, found {line:?}",
                path.display()
            );
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn prometheus_rule_is_in_sync_with_alerts() {
    let want = render();
    let path = repo().join(TARGET);
    if std::env::var_os("METERD_REGENERATE").is_some() {
        std::fs::write(&path, &want).expect("write prometheusrule.yaml");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{TARGET} is out of date with alerts/*.rules.yml: run `METERD_REGENERATE=1 cargo test --test artifacts`"
    );
    // The text transform must mean the same rules: compare parsed documents.
    let doc = yaml(&path);
    assert_eq!(doc["kind"], "PrometheusRule");
    assert_eq!(doc["apiVersion"], "monitoring.coreos.com/v1");
    let groups: Vec<Value> = files("alerts", ".rules.yml")
        .iter()
        .flat_map(|p| yaml(p)["groups"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(doc["spec"]["groups"], Value::Array(groups));
}
