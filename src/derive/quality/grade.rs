//! Score normalization and grading: any declared scale -> 0-100 -> excellent, good, fair, poor.
//! Pure arithmetic, no state.

use crate::config::quality::{Grades, Scale};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grade {
    Excellent,
    Good,
    Fair,
    Poor,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Excellent => "excellent",
            Grade::Good => "good",
            Grade::Fair => "fair",
            Grade::Poor => "poor",
        }
    }
}

impl Grades {
    pub fn grade(&self, normalized: f64) -> Grade {
        if normalized >= self.excellent {
            Grade::Excellent
        } else if normalized >= self.good {
            Grade::Good
        } else if normalized >= self.fair {
            Grade::Fair
        } else {
            Grade::Poor
        }
    }

    /// `llm_quality_score` bucket bounds: one per threshold, ascending, plus 100, so the share of
    /// each grade is a ratio of two buckets in PromQL.
    pub fn bucket_bounds(&self) -> Vec<f64> {
        let mut b = vec![self.fair, self.good, self.excellent, 100.0];
        b.dedup();
        b
    }

    /// The value to observe in `llm_quality_score`. Prometheus buckets are `le` (inclusive) while
    /// grades include their lower bound, so a score of exactly 90 would land in the `le="90"`
    /// bucket with the `good` scores. Observing the next float above a threshold (an error of
    /// about 1e-14 in the sum) keeps `1 - bucket{le="90"} / count` exactly the excellent share.
    pub fn observed(&self, normalized: f64) -> f64 {
        if normalized == self.fair || normalized == self.good || normalized == self.excellent {
            next_up(normalized)
        } else {
            normalized
        }
    }
}

/// The smallest float greater than `x`, for finite non-negative `x` (all that grades hold).
fn next_up(x: f64) -> f64 {
    if x.is_finite() && x >= 0.0 {
        // Non-negative floats order like their bit patterns; +0.0 -> smallest subnormal.
        f64::from_bits(x.to_bits() + 1)
    } else {
        x
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreError {
    NotFinite,
    OutOfRange,
}

/// Maps `value` on `scale` to 0-100. Out-of-range values are errors, never clamped: a 0-1 judge
/// sending 87 is a misconfiguration to surface, not an excellent score.
///
/// The result is rounded to 9 decimals so decimal inputs grade as written: on 1-5 stars, 4.6 is
/// exactly 90 (excellent) rather than 89.99999999999999 (good), and 0.7 on 0-1 is exactly 70.
pub fn normalize(value: f64, scale: Scale, lower_is_better: bool) -> Result<f64, ScoreError> {
    if !value.is_finite() {
        return Err(ScoreError::NotFinite);
    }
    if value < scale.min || value > scale.max {
        return Err(ScoreError::OutOfRange);
    }
    let mut frac = (value - scale.min) / (scale.max - scale.min);
    if lower_is_better {
        frac = 1.0 - frac;
    }
    let n = ((frac * 100.0) * 1e9).round() / 1e9;
    if n.is_finite() {
        Ok(n.clamp(0.0, 100.0))
    } else {
        Err(ScoreError::NotFinite)
    }
}

#[cfg(test)]
mod tests;
