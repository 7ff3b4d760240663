//! The quality families and the derivation of one event into their samples.

use super::cap::{ValueCap, OTHER};
use super::grade::{normalize, ScoreError};
use super::{nps_class, QualityConfig, QualityReport, Rejection};
use super::{APPROVAL_BUCKETS, CONFIDENCE_BUCKETS, EDITS_BUCKETS, KNOWN_EVENTS, KNOWN_OUTCOMES};
use crate::config::quality::{Grades, Scale};
use crate::model::{Exemplar, FamilyOptions, LabelPolicy, Labels, QualityEvent, QualitySignal};
use crate::model::{Sample, SampleValue};
use std::collections::HashMap;
use std::sync::Arc;

struct Eval {
    scale: Scale,
    lower_is_better: bool,
}

/// Everything the quality stage needs, compiled from one config snapshot.
pub struct QualityFamilies {
    grades: Grades,
    default_scale: Scale,
    evaluations: HashMap<Box<str>, Eval>,
    low_confidence_below: f64,
    eval_cap: ValueCap,
    label_cap: ValueCap,
    outcome_cap: ValueCap,
    event_cap: ValueCap,
    stage_cap: ValueCap,
    cache_cap: ValueCap,
    score: Arc<FamilyOptions>,
    grade: Arc<FamilyOptions>,
    labels: Arc<FamilyOptions>,
    outcomes: Arc<FamilyOptions>,
    edits: Arc<FamilyOptions>,
    approval: Arc<FamilyOptions>,
    upgrades: Arc<FamilyOptions>,
    confidence: Arc<FamilyOptions>,
    low_confidence: Arc<FamilyOptions>,
    ratings: Arc<FamilyOptions>,
    nps: Arc<FamilyOptions>,
    stages: Arc<FamilyOptions>,
    caches: Arc<FamilyOptions>,
    events: Arc<FamilyOptions>,
}

/// Derived families take scope labels that vary per event, hence `LabelPolicy::Any`, and never
/// expire (see `usage::DERIVED_TTL`).
fn family(help: String, buckets: Option<&[f64]>) -> Arc<FamilyOptions> {
    Arc::new(FamilyOptions {
        help: Some(Arc::from(help)),
        buckets: buckets.map(Arc::from),
        label_policy: LabelPolicy::Any,
        ttl: crate::derive::usage::DERIVED_TTL,
        fold_overflow: true,
        ..Default::default()
    })
}

fn exemplar(ev: &QualityEvent, value: f64) -> Option<Exemplar> {
    ev.trace_id.as_ref().map(|t| Exemplar {
        labels: Labels::one("trace_id", t),
        value,
        timestamp: (ev.unix_nanos > 0).then(|| ev.unix_nanos as f64 / 1e9),
    })
}

impl QualityFamilies {
    pub fn new(c: &QualityConfig) -> Self {
        let g = c.grades;
        let h = |s: &str| family(s.to_owned(), None);
        QualityFamilies {
            grades: g,
            default_scale: c.default_scale,
            evaluations: c
                .evaluations
                .iter()
                .map(|(name, e)| {
                    let eval = Eval {
                        scale: e.scale.unwrap_or(c.default_scale),
                        lower_is_better: e.lower_is_better,
                    };
                    (Box::from(name.as_str()), eval)
                })
                .collect(),
            low_confidence_below: c.low_confidence_below,
            eval_cap: ValueCap::new(c.evaluations.keys().map(String::as_str), c.max_evaluations),
            label_cap: ValueCap::new(std::iter::empty::<&str>(), c.max_labels),
            outcome_cap: ValueCap::new(KNOWN_OUTCOMES, c.max_outcomes),
            event_cap: ValueCap::new(KNOWN_EVENTS, c.max_app_events),
            stage_cap: ValueCap::new(std::iter::empty::<&str>(), c.max_stages),
            cache_cap: ValueCap::new(std::iter::empty::<&str>(), c.max_caches),
            score: family(
                format!(
                    "Evaluation scores normalized to 0-100. Buckets sit at the grade thresholds \
                     (fair {}, good {}, excellent {}): a grade's share is a bucket ratio.",
                    g.fair, g.good, g.excellent
                ),
                Some(&g.bucket_bounds()),
            ),
            grade: h("Evaluation scores by grade (excellent, good, fair, poor)."),
            labels: h(
                "Evaluation results by label (pass, relevant, ...), with or without a score.",
            ),
            outcomes: h("What users did with an output: accepted, edited, regenerated, abandoned."),
            edits: family(
                "Edits a user made to an output before approving it.".to_owned(),
                Some(&EDITS_BUCKETS),
            ),
            approval: family(
                "Seconds from an output being shown to the user approving it.".to_owned(),
                Some(&APPROVAL_BUCKETS),
            ),
            upgrades: h("Calls escalated from model to a stronger to_model."),
            confidence: family(
                "Model or judge confidence in an output, 0 to 1.".to_owned(),
                Some(&CONFIDENCE_BUCKETS),
            ),
            low_confidence: family(
                format!(
                    "Outputs with confidence below {} (quality.low_confidence_below).",
                    c.low_confidence_below
                ),
                None,
            ),
            ratings: h("User ratings by stars, 1 to 5."),
            nps: h("User ratings by NPS class: 5 stars promoter, 4 passive, 1-3 detractor."),
            stages: h("Wall time of the app's pipeline stages, in seconds."),
            caches: h("App-side cache lookups by cache and result (hit, miss)."),
            events: h("Typed app events: retries, fallbacks, circuit breakers, generations, ..."),
        }
    }

    /// Takes over the values the previous snapshot's caps admitted.
    pub fn carry_over(&self, prev: &QualityFamilies) {
        for (cap, old) in [
            (&self.eval_cap, &prev.eval_cap),
            (&self.label_cap, &prev.label_cap),
            (&self.outcome_cap, &prev.outcome_cap),
            (&self.event_cap, &prev.event_cap),
            (&self.stage_cap, &prev.stage_cap),
            (&self.cache_cap, &prev.cache_cap),
        ] {
            cap.carry_over(old);
        }
    }

    /// Derives `ev` into `out`. `ev.scope` must already be restricted to the scope labels.
    pub fn derive(&self, ev: &QualityEvent, out: &mut Vec<Sample>) -> QualityReport {
        let mut report = QualityReport::default();
        if let Err(r) = self.derive_signal(ev, out, &mut report) {
            report.rejected = Some(r);
        }
        report
    }

    fn derive_signal(
        &self,
        ev: &QualityEvent,
        out: &mut Vec<Sample>,
        report: &mut QualityReport,
    ) -> Result<(), Rejection> {
        let emit = |out: &mut Vec<Sample>,
                    opts: &Arc<FamilyOptions>,
                    name: &str,
                    extra: &[(&str, &str)],
                    value: SampleValue,
                    ex: f64| {
            // Extra labels come last so they win over a scope label of the same name (`stage`).
            let labels = Labels::new(
                ev.scope
                    .iter()
                    .chain([("provider", &*ev.provider), ("model", &*ev.model)])
                    .chain(extra.iter().copied()),
            );
            out.push(Sample {
                name: Arc::from(name),
                labels,
                value,
                options: opts.clone(),
                exemplar: exemplar(ev, ex),
            });
        };
        let one = SampleValue::CounterAdd(1.0);
        let observe = |value| SampleValue::Observe { value, weight: 1.0 };
        match &ev.signal {
            QualitySignal::Score { value, label } => {
                let eval = require(&ev.evaluation, Rejection::MissingEvaluation)?;
                let (scale, lower_is_better) = match self.evaluations.get(eval) {
                    Some(e) => (e.scale, e.lower_is_better),
                    None => (self.default_scale, false),
                };
                let n = normalize(*value, scale, lower_is_better).map_err(|e| match e {
                    ScoreError::NotFinite => Rejection::ScoreNotFinite,
                    ScoreError::OutOfRange => Rejection::ScoreOutOfRange,
                })?;
                let eval = capped(&self.eval_cap, "evaluation", eval, report);
                let grade = self.grades.grade(n).as_str();
                let observed = self.grades.observed(n);
                emit(
                    out,
                    &self.score,
                    "llm_quality_score",
                    &[("evaluation", eval)],
                    observe(observed),
                    // The observed value, so the exemplar sits in the bucket that counted it.
                    observed,
                );
                emit(
                    out,
                    &self.grade,
                    "llm_quality_grade",
                    &[("evaluation", eval), ("grade", grade)],
                    one.clone(),
                    1.0,
                );
                if let Some(l) = label.as_deref().filter(|l| !l.is_empty()) {
                    let l = capped(&self.label_cap, "label", l, report);
                    emit(
                        out,
                        &self.labels,
                        "llm_quality_labels",
                        &[("evaluation", eval), ("label", l)],
                        one,
                        1.0,
                    );
                }
            }
            QualitySignal::Label(l) => {
                let eval = require(&ev.evaluation, Rejection::MissingEvaluation)?;
                let l = require(l, Rejection::MissingLabel)?;
                let eval = capped(&self.eval_cap, "evaluation", eval, report);
                let l = capped(&self.label_cap, "label", l, report);
                emit(
                    out,
                    &self.labels,
                    "llm_quality_labels",
                    &[("evaluation", eval), ("label", l)],
                    one,
                    1.0,
                );
            }
            QualitySignal::Outcome(o) => {
                let o = require(o, Rejection::MissingOutcome)?;
                let o = capped(&self.outcome_cap, "outcome", o, report);
                emit(
                    out,
                    &self.outcomes,
                    "llm_outcomes",
                    &[("outcome", o)],
                    one,
                    1.0,
                );
            }
            QualitySignal::Rating(r) => {
                let stars = rating_stars(*r).ok_or(Rejection::RatingInvalid)?;
                let text = ["1", "2", "3", "4", "5"][usize::from(stars - 1)];
                emit(
                    out,
                    &self.ratings,
                    "llm_ratings",
                    &[("rating", text)],
                    one.clone(),
                    1.0,
                );
                emit(
                    out,
                    &self.nps,
                    "llm_nps_responses",
                    &[("class", nps_class(stars))],
                    one,
                    1.0,
                );
            }
            QualitySignal::Confidence(c) => {
                if !(c.is_finite() && (0.0..=1.0).contains(c)) {
                    return Err(Rejection::ConfidenceOutOfRange);
                }
                emit(
                    out,
                    &self.confidence,
                    "llm_confidence",
                    &[],
                    observe(*c),
                    *c,
                );
                if *c < self.low_confidence_below {
                    emit(
                        out,
                        &self.low_confidence,
                        "llm_low_confidence",
                        &[],
                        one,
                        1.0,
                    );
                }
            }
            QualitySignal::EditsPerApproval(n) => {
                if !(n.is_finite() && *n >= 0.0) {
                    return Err(Rejection::EditsInvalid);
                }
                emit(
                    out,
                    &self.edits,
                    "llm_edits_per_approval",
                    &[],
                    observe(*n),
                    *n,
                );
            }
            QualitySignal::TimeToApproval(s) => {
                let s = seconds(*s)?;
                emit(
                    out,
                    &self.approval,
                    "llm_time_to_approval_seconds",
                    &[],
                    observe(s),
                    s,
                );
            }
            QualitySignal::ModelUpgrade { to } => {
                let to = require(to, Rejection::MissingToModel)?;
                emit(
                    out,
                    &self.upgrades,
                    "llm_model_upgrades",
                    &[("to_model", to)],
                    one,
                    1.0,
                );
            }
            QualitySignal::StageDuration { stage, seconds: s } => {
                let stage = require(stage, Rejection::MissingStage)?;
                let s = seconds(*s)?;
                let stage = capped(&self.stage_cap, "stage", stage, report);
                emit(
                    out,
                    &self.stages,
                    "llm_stage_duration_seconds",
                    &[("stage", stage)],
                    observe(s),
                    s,
                );
            }
            QualitySignal::Cache { cache, hit } => {
                let cache = require(cache, Rejection::MissingCache)?;
                let cache = capped(&self.cache_cap, "cache", cache, report);
                let result = if *hit { "hit" } else { "miss" };
                emit(
                    out,
                    &self.caches,
                    "llm_cache_requests",
                    &[("cache", cache), ("result", result)],
                    one,
                    1.0,
                );
            }
            QualitySignal::AppEvent(e) => {
                let e = require(e, Rejection::MissingEvent)?;
                let e = capped(&self.event_cap, "event", e, report);
                emit(out, &self.events, "llm_events", &[("event", e)], one, 1.0);
            }
        }
        Ok(())
    }
}

/// `v` if its cap admits it, else `other` with the overflow noted for the caller to count.
fn capped<'a>(
    cap: &ValueCap,
    dimension: &'static str,
    v: &'a str,
    report: &mut QualityReport,
) -> &'a str {
    cap.admit(v).unwrap_or_else(|| {
        report.overflowed.push(dimension);
        OTHER
    })
}

fn require(v: &str, missing: Rejection) -> Result<&str, Rejection> {
    if v.trim().is_empty() {
        Err(missing)
    } else {
        Ok(v)
    }
}

fn seconds(s: f64) -> Result<f64, Rejection> {
    if s.is_finite() && s >= 0.0 {
        Ok(s)
    } else {
        Err(Rejection::DurationInvalid)
    }
}

/// Whole stars 1 to 5. Half stars are rejected rather than rounded: which way to round is the
/// app's product decision, and a silent choice here would skew NPS.
fn rating_stars(r: f64) -> Option<u8> {
    if r.is_finite() && r.fract() == 0.0 && (1.0..=5.0).contains(&r) {
        Some(r as u8)
    } else {
        None
    }
}
