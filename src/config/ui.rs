//! `ui:`: the status page at `GET /ui` (spend, budgets, unpriced models, price table, ingest
//! health), served behind the same credentials as `/api/*`. Plain data; the page is built in
//! `expose::ui`.

use super::{child, Issues, Validate};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct UiConfig {
    /// Serve `/ui` (on by default; off answers 404, as for a path that does not exist).
    pub enabled: bool,
    /// Rows per table (spend by team or model, budgets, unpriced models, prices); the rest is
    /// summarised on one "N more" line, so an agent with thousands of series answers small.
    pub max_rows: usize,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            enabled: true,
            max_rows: 50,
        }
    }
}

/// A page of this many rows per table is still a few hundred kilobytes.
pub const MAX_ROWS: usize = 1_000;

impl Validate for UiConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if self.max_rows == 0 || self.max_rows > MAX_ROWS {
            issues.error(
                child(path, "max_rows"),
                format!("must be between 1 and {MAX_ROWS}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_row_caps_are_reported() {
        let mut issues = Issues::default();
        UiConfig::default().validate("ui", &mut issues);
        assert!(issues.is_empty(), "{issues}");
        for bad in [0, MAX_ROWS + 1] {
            let mut issues = Issues::default();
            let c = UiConfig {
                max_rows: bad,
                ..Default::default()
            };
            c.validate("ui", &mut issues);
            let paths: Vec<&str> = issues.0.iter().map(|i| i.path.as_str()).collect();
            assert_eq!(paths, ["ui.max_rows"], "{bad}");
        }
    }
}
