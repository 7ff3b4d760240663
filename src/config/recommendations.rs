//! `recommendations:`: typed cost and quality recommendations computed from the usage ledger
//! (`GET /api/v1/recommendations`, `meterd report`). Plain data; the engine is
//! `derive::recommend`.

use super::{child, HumanDuration, Issues, Validate};
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct RecommendationsConfig {
    pub enabled: bool,
    /// The usage looked at: the last `window` of the ledger.
    pub window: HumanDuration,
    /// A model needs at least this many requests in the window to be recommended about (and an
    /// app cache this many lookups).
    pub min_requests: u64,
    /// Graded evaluations (and outcomes) a model needs before its rates are compared.
    pub min_quality_samples: u64,
    /// Recommendations saving less than this per month are not shown (USD).
    pub min_monthly_savings_usd: f64,
    /// `optimize_cache`: a model with a cached-input price whose cached share of input is below
    /// this ...
    pub cached_share_min: f64,
    /// ... is priced as if this share of its input were cached.
    pub cached_share_target: f64,
    /// `optimize_cache`: an app cache (`llm_cache_requests_total`) hitting less often than this.
    pub cache_hit_rate_min: f64,
    /// `upgrade_model`: a model with at least this share of its grades `poor`.
    pub upgrade_poor_rate_min: f64,
    /// A dismissed recommendation comes back when its saving reaches this multiple of the saving
    /// it had when dismissed.
    pub resurface_factor: f64,
}

impl Default for RecommendationsConfig {
    fn default() -> Self {
        RecommendationsConfig {
            enabled: true,
            window: HumanDuration(Duration::from_secs(7 * 86_400)),
            min_requests: 100,
            min_quality_samples: 20,
            min_monthly_savings_usd: 1.0,
            cached_share_min: 0.1,
            cached_share_target: 0.5,
            cache_hit_rate_min: 0.2,
            upgrade_poor_rate_min: 0.5,
            resurface_factor: 2.0,
        }
    }
}

impl Validate for RecommendationsConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        let w = self.window.0;
        if w < Duration::from_secs(3600) || w > Duration::from_secs(366 * 86_400) {
            issues.error(child(path, "window"), "must be between 1h and 366d");
        }
        if !(self.min_monthly_savings_usd >= 0.0 && self.min_monthly_savings_usd <= 1e9) {
            issues.error(
                child(path, "min_monthly_savings_usd"),
                "must be between 0 and 1000000000",
            );
        }
        for (key, v) in [
            ("cached_share_min", self.cached_share_min),
            ("cached_share_target", self.cached_share_target),
            ("cache_hit_rate_min", self.cache_hit_rate_min),
            ("upgrade_poor_rate_min", self.upgrade_poor_rate_min),
        ] {
            if !(0.0..=1.0).contains(&v) {
                issues.error(
                    child(path, key),
                    format!("must be between 0 and 1, got {v}"),
                );
            }
        }
        if self.cached_share_target < self.cached_share_min {
            issues.error(
                child(path, "cached_share_target"),
                "must be at least cached_share_min",
            );
        }
        if !(self.resurface_factor >= 1.0 && self.resurface_factor <= 1000.0) {
            issues.error(
                child(path, "resurface_factor"),
                format!("must be between 1 and 1000, got {}", self.resurface_factor),
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
        RecommendationsConfig::default().validate("recommendations", &mut issues);
        assert!(issues.is_empty(), "{issues}");
        let bad = RecommendationsConfig {
            window: HumanDuration(Duration::from_secs(60)),
            min_monthly_savings_usd: f64::NAN,
            cached_share_min: 0.6,
            cache_hit_rate_min: 1.5,
            resurface_factor: 0.5,
            ..Default::default()
        };
        bad.validate("recommendations", &mut issues);
        let paths: Vec<&str> = issues.0.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "recommendations.window",
                "recommendations.min_monthly_savings_usd",
                "recommendations.cache_hit_rate_min",
                "recommendations.cached_share_target",
                "recommendations.resurface_factor",
            ]
        );
    }
}
