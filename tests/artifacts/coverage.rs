//! Every metric family meterd exports has a dashboard panel or a documented reason not to.
//! The families are the `llm_*`, `meterd_*` and `process_*` names in the non-test sources: a new
//! family makes this fail until it is shown (dashboards/*.json) or explained (dashboards/README.md).

use super::alerts::rules;
use crate::support::artifacts::{dashboard_queries, read, repo};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn is_test_source(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name == "tests.rs" || name.ends_with("_tests.rs")
}

fn scan(dir: &Path, re: &regex::Regex, out: &mut BTreeMap<String, String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                scan(&path, re, out);
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") || is_test_source(&path) {
            continue;
        }
        let text = read(&path);
        // Test modules sit at the end of a file; their names are fixtures, not families.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for m in re.captures_iter(code) {
            let rel = path.strip_prefix(repo()).unwrap_or(&path);
            out.entry(m[1].to_string())
                .or_insert_with(|| rel.display().to_string());
        }
    }
}

/// Family name (as written in the source, before `_total`) -> the file that names it.
pub fn exported_families() -> BTreeMap<String, String> {
    let re = regex::Regex::new(r#""((?:llm|meterd|process)_[a-z0-9_]+)""#).expect("regex");
    let mut out = BTreeMap::new();
    scan(&repo().join("src"), &re, &mut out);
    assert!(out.len() > 50, "only {} families found in src/", out.len());
    out
}

/// `family` as a whole name in `text`, bare or with a counter/histogram suffix.
fn mentions(text: &str, family: &str) -> bool {
    let re = regex::Regex::new(&format!(
        r"(^|[^a-zA-Z0-9_:]){}(_total|_bucket|_count|_sum)?($|[^a-zA-Z0-9_:])",
        regex::escape(family.trim_end_matches("_total"))
    ))
    .expect("regex");
    re.is_match(text)
}

/// The families dashboards/README.md explains away, with their reasons.
fn documented_without_panel() -> BTreeMap<String, String> {
    let doc = read(&repo().join("dashboards/README.md"));
    let section = doc
        .split("## Families without a panel")
        .nth(1)
        .expect("dashboards/README.md: no \"## Families without a panel\" section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let reason = cells.get(2)?;
            Some((name.to_string(), reason.to_string()))
        })
        .collect()
}

/// Panel queries with each recording rule they use replaced by the rule's own expression.
fn expanded_queries() -> String {
    let records: BTreeMap<String, String> = rules()
        .iter()
        .filter_map(|r| {
            Some((
                r["record"].as_str()?.to_string(),
                r["expr"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut out = String::new();
    for q in dashboard_queries() {
        out.push_str(&q.expr);
        out.push('\n');
        for (name, expr) in &records {
            if q.expr.contains(name.as_str()) {
                out.push_str(expr);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn every_exported_family_has_a_panel_or_a_documented_reason() {
    let queries = expanded_queries();
    let documented = documented_without_panel();
    let mut missing = Vec::new();
    let mut explained = BTreeSet::new();
    for (family, file) in exported_families() {
        let listed = documented
            .keys()
            .find(|d| d.trim_end_matches("_total") == family.trim_end_matches("_total"));
        match (mentions(&queries, &family), listed) {
            (true, Some(d)) => panic!("{d} has a panel: drop it from dashboards/README.md"),
            (true, None) => {}
            (false, Some(d)) => {
                assert!(documented[d].len() > 20, "{d}: give a reason");
                explained.insert(d.clone());
            }
            (false, None) => missing.push(format!("{family} ({file})")),
        }
    }
    assert!(
        missing.is_empty(),
        "families with no dashboard panel and no reason in dashboards/README.md:\n  {}",
        missing.join("\n  ")
    );
    let stale: Vec<&String> = documented
        .keys()
        .filter(|d| !explained.contains(*d))
        .collect();
    assert!(
        stale.is_empty(),
        "dashboards/README.md explains families meterd does not export: {stale:?}"
    );
}

#[test]
fn the_family_matcher_tells_names_apart() {
    assert!(mentions(
        "rate(llm_confidence_bucket[5m])",
        "llm_confidence"
    ));
    assert!(mentions("sum(meterd_series{a=\"b\"})", "meterd_series"));
    assert!(!mentions("meterd_series_limit", "meterd_series"));
    assert!(!mentions("llm_low_confidence_total", "llm_confidence"));
    assert!(!mentions(
        "provider_model:llm_confidence:p50",
        "llm_confidence"
    ));
}
