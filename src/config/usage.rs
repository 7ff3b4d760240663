//! `usage:`: the durable usage ledger (hour and day rollups in the state file), read by
//! `GET /api/v1/usage` and `meterd report`. Plain data; the ledger is built from it in
//! [`crate::derive::ledger`].

use super::{child, HumanDuration, Issues, Validate};
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct UsageConfig {
    /// Keep the ledger (on by default: it is what answers "what did we spend this month").
    pub enabled: bool,
    /// IANA zone whose local hours and midnights start the buckets.
    pub timezone: String,
    /// Buckets older than this are pruned from the state file.
    pub retention: HumanDuration,
    /// Distinct provider/model/scope-label rows per bucket; spend of further rows is counted
    /// under one `_other` row (money is never dropped, only its breakdown).
    pub max_rows_per_bucket: usize,
}

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig {
            enabled: true,
            timezone: "UTC".into(),
            retention: HumanDuration(Duration::from_secs(90 * 86_400)),
            max_rows_per_bucket: 10_000,
        }
    }
}

/// Ten years: far beyond any reporting need, and keeps bucket arithmetic far from overflow.
const MAX_RETENTION: Duration = Duration::from_secs(3_660 * 86_400);
const MAX_ROWS_PER_BUCKET: usize = 1_000_000;

impl Validate for UsageConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if let Err(e) = jiff::tz::TimeZone::get(&self.timezone) {
            issues.error(
                child(path, "timezone"),
                format!("unknown IANA time zone {:?}: {e}", self.timezone),
            );
        }
        let r = self.retention.0;
        if r < Duration::from_secs(86_400) || r > MAX_RETENTION {
            issues.error(
                child(path, "retention"),
                "must be between 1d and 3660d (buckets older than this are pruned)",
            );
        }
        if self.max_rows_per_bucket == 0 || self.max_rows_per_bucket > MAX_ROWS_PER_BUCKET {
            issues.error(
                child(path, "max_rows_per_bucket"),
                format!("must be between 1 and {MAX_ROWS_PER_BUCKET}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_are_each_reported() {
        let mut issues = Issues::default();
        UsageConfig::default().validate("usage", &mut issues);
        assert!(issues.is_empty(), "{issues}");
        let bad = UsageConfig {
            enabled: true,
            timezone: "Mars/Olympus".into(),
            retention: HumanDuration(Duration::from_secs(60)),
            max_rows_per_bucket: 0,
        };
        bad.validate("usage", &mut issues);
        let paths: Vec<&str> = issues.0.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "usage.timezone",
                "usage.retention",
                "usage.max_rows_per_bucket"
            ]
        );
    }
}
