//! A StatsD mapping's `observer_type` and `summary_options` (statsd_exporter's keys, so its
//! mapping files carry over): plain data, checked here, built into [`SummaryOptions`] by the
//! mapper.
//!
//! ```yaml
//! - match: "api.*.latency"
//!   name: "api_latency_seconds"
//!   observer_type: summary
//!   summary_options:
//!     quantiles: [{quantile: 0.5, error: 0.05}, {quantile: 0.99, error: 0.001}]
//!     max_age: 10m
//!     age_buckets: 5
//!     buf_cap: 256          # value buckets per age bucket (memory bound)
//!     relative_error: 0.01  # meterd's accuracy knob (statsd_exporter's `error` is accepted, unused)
//! ```

use super::{child, index, HumanDuration, Issues, Validate};
use crate::model::SummaryOptions;
use serde::Deserialize;
use std::sync::Arc;

/// What timers, histograms and distributions of a mapping become.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ObserverType {
    #[default]
    Histogram,
    Summary,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct QuantileConfig {
    pub quantile: f64,
    /// statsd_exporter's rank error target. Accepted so its files load; meterd's accuracy is
    /// `relative_error`, one for all quantiles.
    pub error: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SummaryOptionsConfig {
    pub quantiles: Option<Vec<QuantileConfig>>,
    pub max_age: Option<HumanDuration>,
    pub age_buckets: Option<usize>,
    pub buf_cap: Option<usize>,
    pub relative_error: Option<f64>,
}

pub const MAX_AGE_BUCKETS: usize = 60;
pub const MAX_BUF_CAP: usize = 4096;

impl SummaryOptionsConfig {
    /// Validated options over the defaults; quantiles sorted, duplicates removed.
    pub fn build(&self) -> SummaryOptions {
        let d = SummaryOptions::defaults();
        let quantiles = match &self.quantiles {
            Some(qs) => {
                let mut v: Vec<f64> = qs.iter().map(|q| q.quantile).collect();
                v.sort_by(f64::total_cmp);
                v.dedup();
                Arc::from(v)
            }
            None => d.quantiles,
        };
        SummaryOptions {
            quantiles,
            max_age: self.max_age.map_or(d.max_age, |m| m.0),
            age_buckets: self.age_buckets.unwrap_or(d.age_buckets),
            buf_cap: self.buf_cap.unwrap_or(d.buf_cap),
            relative_error: self.relative_error.unwrap_or(d.relative_error),
        }
    }
}

impl Validate for SummaryOptionsConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if let Some(qs) = &self.quantiles {
            let p = child(path, "quantiles");
            if qs.is_empty() {
                issues.error(&p, "must list at least one quantile");
            }
            for (i, q) in qs.iter().enumerate() {
                if !(0.0..=1.0).contains(&q.quantile) {
                    issues.error(child(&index(&p, i), "quantile"), "must be in [0, 1]");
                }
                if q.error.is_some_and(|e| !(e > 0.0 && e < 1.0)) {
                    issues.error(child(&index(&p, i), "error"), "must be in (0, 1)");
                }
            }
        }
        if self.max_age.is_some_and(|m| m.0.is_zero()) {
            issues.error(child(path, "max_age"), "must be greater than 0");
        }
        if self
            .age_buckets
            .is_some_and(|n| n == 0 || n > MAX_AGE_BUCKETS)
        {
            issues.error(
                child(path, "age_buckets"),
                format!("must be between 1 and {MAX_AGE_BUCKETS}"),
            );
        }
        if self
            .buf_cap
            .is_some_and(|n| !(2..=MAX_BUF_CAP).contains(&n))
        {
            issues.error(
                child(path, "buf_cap"),
                format!("must be between 2 and {MAX_BUF_CAP}"),
            );
        }
        if self
            .relative_error
            .is_some_and(|e| !(0.0001..=0.5).contains(&e))
        {
            issues.error(
                child(path, "relative_error"),
                "must be between 0.0001 and 0.5",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(yaml: &str) -> Vec<String> {
        let c: SummaryOptionsConfig =
            serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        let mut issues = Issues::default();
        c.validate("s", &mut issues);
        issues.0.into_iter().map(|i| i.path).collect()
    }

    #[test]
    fn statsd_exporter_options_load_and_build() {
        let c: SummaryOptionsConfig = serde_saphyr::from_str(
            "quantiles: [{quantile: 0.99, error: 0.001}, {quantile: 0.5, error: 0.05}]\n\
             max_age: 30s\nage_buckets: 3\nbuf_cap: 100\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let o = c.build();
        assert_eq!(&*o.quantiles, &[0.5, 0.99]);
        assert_eq!(o.max_age, std::time::Duration::from_secs(30));
        assert_eq!((o.age_buckets, o.buf_cap), (3, 100));
        assert_eq!(o.relative_error, 0.01);
    }

    #[test]
    fn defaults_fill_what_is_absent() {
        assert_eq!(
            SummaryOptionsConfig::default().build(),
            SummaryOptions::defaults()
        );
    }

    #[test]
    fn out_of_range_options_are_each_reported() {
        assert_eq!(
            issues(
                "quantiles: [{quantile: 1.5}, {quantile: 0.5, error: 0}]\nmax_age: 0\n\
                 age_buckets: 0\nbuf_cap: 1\nrelative_error: 0.9\n"
            ),
            vec![
                "s.quantiles[0].quantile",
                "s.quantiles[1].error",
                "s.max_age",
                "s.age_buckets",
                "s.buf_cap",
                "s.relative_error",
            ]
        );
        assert_eq!(issues("quantiles: []"), vec!["s.quantiles"]);
        assert!(issues("buf_cap: 4096\nage_buckets: 60").is_empty());
    }
}
