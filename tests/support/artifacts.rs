//! Reading the shipped artifacts (dashboards, rule files) for tests: shared by the static checks in
//! tests/artifacts.rs and the end-to-end run in tests/alerting_e2e.rs.

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files in `dir` (relative to the repo) whose names end with `suffix`, sorted.
pub fn files(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    out.sort();
    out
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn yaml(path: &Path) -> serde_json::Value {
    serde_saphyr::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// One PromQL query of one dashboard panel.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub dashboard: String,
    pub panel: String,
    pub expr: String,
}

/// Every panel query of every dashboard in dashboards/.
pub fn dashboard_queries() -> Vec<PanelQuery> {
    let mut out = Vec::new();
    for path in files("dashboards", ".json") {
        let dash = json(&path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for panel in panels(&dash) {
            for t in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    out.push(PanelQuery {
                        dashboard: name.clone(),
                        panel: panel["title"].as_str().unwrap_or("?").to_string(),
                        expr: expr.to_string(),
                    });
                }
            }
        }
    }
    out
}

/// All panels, including those nested in collapsed rows.
pub fn panels(dash: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().into_iter().flatten() {
        out.push(p);
        for inner in p["panels"].as_array().into_iter().flatten() {
            out.push(inner);
        }
    }
    out
}

/// Replaces Grafana's variables the way Grafana would with "All" selected: template variables
/// become `.*` (their allValue), `$__rate_interval` and `$__range` become `rate_interval`/`range`.
pub fn substitute(expr: &str, rate_interval: &str, range: &str) -> String {
    let mut s = expr
        .replace("$__rate_interval", rate_interval)
        .replace("$__range", range);
    for var in ["$team", "$service", "$model", "$instance"] {
        s = s.replace(var, ".*");
    }
    s
}
