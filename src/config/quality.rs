//! The `quality:` config section: grade thresholds, score scales per evaluation, and the caps on
//! distinct values that senders choose (outcomes, events, stages, caches, evaluations, labels).
//! Grading itself is `derive::quality`.

use super::{child, Issues, Validate};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct QualityConfig {
    /// Lower bounds of each grade on the normalized 0-100 scale; below `fair` is `poor`.
    pub grades: Grades,
    /// The scale of evaluations not listed in `evaluations` (0-100 unless changed). Never guessed
    /// from the values: 0.9 is a poor score on 0-100 and an excellent one on 0-1.
    pub default_scale: Scale,
    pub evaluations: BTreeMap<String, EvaluationConfig>,
    /// Confidence strictly below this counts in `llm_low_confidence_total`.
    pub low_confidence_below: f64,
    /// Distinct evaluation names not listed in `evaluations` before new ones become `other`.
    pub max_evaluations: usize,
    /// Distinct evaluation labels (`pass`, `relevant`, ...) before new ones become `other`.
    pub max_labels: usize,
    /// Distinct outcomes besides accepted, edited, regenerated, abandoned.
    pub max_outcomes: usize,
    /// Distinct app event names besides the documented ones.
    pub max_app_events: usize,
    pub max_stages: usize,
    pub max_caches: usize,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            grades: Grades::default(),
            default_scale: Scale {
                min: 0.0,
                max: 100.0,
            },
            evaluations: BTreeMap::new(),
            low_confidence_below: 0.5,
            max_evaluations: 50,
            max_labels: 50,
            max_outcomes: 20,
            max_app_events: 100,
            max_stages: 50,
            max_caches: 20,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EvaluationConfig {
    /// This evaluation's score range; `None` means `default_scale`.
    pub scale: Option<Scale>,
    /// For evaluations where a low score is good (toxicity, hallucination rate): the scale is
    /// flipped so `excellent` still means good.
    pub lower_is_better: bool,
}

impl Validate for QualityConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        self.grades.validate(&child(path, "grades"), issues);
        self.default_scale
            .validate(&child(path, "default_scale"), issues);
        let evals = child(path, "evaluations");
        for (name, e) in &self.evaluations {
            let p = child(&evals, name);
            if name.trim().is_empty() {
                issues.error(p.clone(), "evaluation name must not be empty");
            }
            if let Some(s) = &e.scale {
                s.validate(&child(&p, "scale"), issues);
            }
        }
        let b = self.low_confidence_below;
        if !(b.is_finite() && (0.0..=1.0).contains(&b)) {
            issues.error(
                child(path, "low_confidence_below"),
                format!("must be between 0 and 1 (confidence is a 0-1 value), got {b}"),
            );
        }
        if self.max_stages == 0 {
            issues.error(
                child(path, "max_stages"),
                "must be greater than 0 (every stage would be recorded as `other`)",
            );
        }
        if self.max_caches == 0 {
            issues.error(
                child(path, "max_caches"),
                "must be greater than 0 (every cache would be recorded as `other`)",
            );
        }
    }
}

impl Validate for Grades {
    fn validate(&self, path: &str, issues: &mut Issues) {
        let all = [
            ("excellent", self.excellent),
            ("good", self.good),
            ("fair", self.fair),
        ];
        for (key, v) in all {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                issues.error(
                    child(path, key),
                    format!("must be between 0 and 100 (the normalized score scale), got {v}"),
                );
            }
        }
        for pair in all.windows(2) {
            let [(hi_key, hi), (lo_key, lo)] = [pair[0], pair[1]];
            if hi <= lo {
                issues.error(
                    child(path, hi_key),
                    format!(
                        "must be greater than {lo_key} ({lo}): grades descend from excellent to \
                         fair, got {hi}"
                    ),
                );
            }
        }
    }
}

impl Validate for Scale {
    fn validate(&self, path: &str, issues: &mut Issues) {
        for (key, v) in [("min", self.min), ("max", self.max)] {
            if !v.is_finite() {
                issues.error(
                    child(path, key),
                    format!("must be a finite number, got {v}"),
                );
            }
        }
        if self.min >= self.max {
            issues.error(
                child(path, "max"),
                format!(
                    "must be greater than min ({}), got {} (for lower-is-better scores set \
                     lower_is_better: true instead of reversing the scale)",
                    self.min, self.max
                ),
            );
        }
    }
}

/// Lower bounds (inclusive) of each grade on the normalized 0-100 scale.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct Grades {
    pub excellent: f64,
    pub good: f64,
    pub fair: f64,
}

impl Default for Grades {
    fn default() -> Self {
        Grades {
            excellent: 90.0,
            good: 70.0,
            fair: 50.0,
        }
    }
}

/// The range scores of one evaluation are reported in (0-1, 0-100, 1-5 stars, ...).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
pub struct Scale {
    pub min: f64,
    pub max: f64,
}

#[cfg(test)]
mod tests;
