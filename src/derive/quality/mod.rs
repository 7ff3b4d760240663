//! Quality and the app's operational signals: evaluation scores -> normalized scores and grades,
//! user outcomes, ratings and NPS classes, confidence, approvals, model upgrades, pipeline stages,
//! app caches and typed app events. Pure apart from the value caps' admitted sets: an event in,
//! samples out, and a report of what was rejected or capped for the caller to count.

pub(crate) mod cap;
mod families;
mod grade;

pub use crate::config::quality::{EvaluationConfig, Grades, QualityConfig, Scale};
pub use cap::OTHER;
pub use families::QualityFamilies;
pub use grade::{normalize, Grade, ScoreError};

/// Outcomes every app reports the same way; others are admitted up to `max_outcomes`.
pub const KNOWN_OUTCOMES: [&str; 4] = ["accepted", "edited", "regenerated", "abandoned"];

/// The documented app event names (DESIGN.md); others are admitted up to `max_app_events`.
pub const KNOWN_EVENTS: [&str; 11] = [
    "retry_attempted",
    "retry_failed",
    "fallback_triggered",
    "circuit_breaker_opened",
    "circuit_breaker_closed",
    "generation_started",
    "generation_completed",
    "generation_failed",
    "generation_canceled",
    "rate_limited",
    "timeout",
];

const CONFIDENCE_BUCKETS: [f64; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
const EDITS_BUCKETS: [f64; 8] = [0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0];
const APPROVAL_BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Why a quality event produced no samples. `reason()` is the `meterd_quality_rejected_total`
/// label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    MissingEvaluation,
    ScoreNotFinite,
    ScoreOutOfRange,
    MissingLabel,
    MissingOutcome,
    RatingInvalid,
    ConfidenceOutOfRange,
    EditsInvalid,
    DurationInvalid,
    MissingToModel,
    MissingStage,
    MissingCache,
    MissingEvent,
}

impl Rejection {
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::MissingEvaluation => "missing_evaluation",
            Rejection::ScoreNotFinite => "score_not_finite",
            Rejection::ScoreOutOfRange => "score_out_of_range",
            Rejection::MissingLabel => "missing_label",
            Rejection::MissingOutcome => "missing_outcome",
            Rejection::RatingInvalid => "rating_invalid",
            Rejection::ConfidenceOutOfRange => "confidence_out_of_range",
            Rejection::EditsInvalid => "edits_invalid",
            Rejection::DurationInvalid => "duration_invalid",
            Rejection::MissingToModel => "missing_to_model",
            Rejection::MissingStage => "missing_stage",
            Rejection::MissingCache => "missing_cache",
            Rejection::MissingEvent => "missing_event",
        }
    }
}

/// What the caller must count for one event: a rejection, or the dimensions whose value was
/// recorded as `other` because its cap was reached.
#[derive(Debug, Default, PartialEq)]
pub struct QualityReport {
    pub rejected: Option<Rejection>,
    pub overflowed: Vec<&'static str>,
}

/// NPS-style class of a 1-5 star rating. Five stars is the only enthusiastic answer (NPS's 9-10),
/// four is satisfied but passive (7-8), three and below are detractors (0-6): the 0-10 scale's
/// split mapped onto five points, as common CSAT-to-NPS practice does.
pub fn nps_class(stars: u8) -> &'static str {
    match stars {
        5 => "promoter",
        4 => "passive",
        _ => "detractor",
    }
}

#[cfg(test)]
mod tests;
