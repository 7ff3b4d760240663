use super::*;
use crate::config::Config;
use crate::model::{Labels, QualityEvent, QualitySignal, Sample, SampleValue};

const ZERO_ONE: Scale = Scale { min: 0.0, max: 1.0 };

fn event(evaluation: &str, signal: QualitySignal) -> QualityEvent {
    QualityEvent {
        unix_nanos: 1_700_000_000_000_000_000,
        evaluation: evaluation.into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        scope: Labels::new([("team", "search")]),
        signal,
        trace_id: None,
    }
}

fn derive(f: &QualityFamilies, ev: &QualityEvent) -> (Vec<Sample>, QualityReport) {
    let mut out = Vec::new();
    let r = f.derive(ev, &mut out);
    (out, r)
}

fn names(out: &[Sample]) -> Vec<&str> {
    out.iter().map(|s| &*s.name).collect()
}

fn one(out: &[Sample], name: &str) -> Sample {
    let mut it = out.iter().filter(|s| &*s.name == name);
    let s = it
        .next()
        .unwrap_or_else(|| panic!("no {name} in {out:?}"))
        .clone();
    assert!(it.next().is_none(), "two {name} in {out:?}");
    s
}

#[test]
fn score_derives_histogram_grade_and_label_with_exemplar() {
    let mut c = QualityConfig::default();
    c.evaluations.insert(
        "relevance".into(),
        EvaluationConfig {
            scale: Some(ZERO_ONE),
            lower_is_better: false,
        },
    );
    let f = QualityFamilies::new(&c);
    let mut ev = event(
        "relevance",
        QualitySignal::Score {
            value: 0.9,
            label: Some("relevant".into()),
        },
    );
    ev.trace_id = Some("0af7651916cd43dd8448eb211c80319c".into());
    let (out, report) = derive(&f, &ev);
    assert_eq!(report, QualityReport::default());
    assert_eq!(
        names(&out),
        [
            "llm_quality_score",
            "llm_quality_grade",
            "llm_quality_labels"
        ]
    );
    let score = one(&out, "llm_quality_score");
    assert_eq!(
        score.labels,
        Labels::new([
            ("team", "search"),
            ("provider", "openai"),
            ("model", "gpt-4o"),
            ("evaluation", "relevance")
        ])
    );
    assert_eq!(
        score.options.buckets.as_deref(),
        Some(&[50.0, 70.0, 90.0, 100.0][..])
    );
    match score.value {
        SampleValue::Observe { value, weight } => {
            assert!(value > 90.0 && value < 90.000001);
            assert_eq!(weight, 1.0);
        }
        other => panic!("{other:?}"),
    }
    let ex = score.exemplar.expect("exemplar");
    assert_eq!(ex.value, Grades::default().observed(90.0));
    assert_eq!(
        ex.labels.get("trace_id"),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
    assert_eq!(ex.timestamp, Some(1_700_000_000.0));
    let grade = one(&out, "llm_quality_grade");
    assert_eq!(grade.labels.get("grade"), Some("excellent"));
    assert_eq!(grade.value, SampleValue::CounterAdd(1.0));
    assert_eq!(
        one(&out, "llm_quality_labels").labels.get("label"),
        Some("relevant")
    );
}

#[test]
fn unconfigured_evaluation_uses_default_scale_and_rejects_out_of_range() {
    let f = QualityFamilies::new(&QualityConfig::default());
    let (out, r) = derive(
        &f,
        &event(
            "helpfulness",
            QualitySignal::Score {
                value: 87.0,
                label: None,
            },
        ),
    );
    assert_eq!(r.rejected, None);
    assert_eq!(
        one(&out, "llm_quality_grade").labels.get("grade"),
        Some("good")
    );
    let (out, r) = derive(
        &f,
        &event(
            "helpfulness",
            QualitySignal::Score {
                value: 187.0,
                label: None,
            },
        ),
    );
    assert!(out.is_empty());
    assert_eq!(r.rejected, Some(Rejection::ScoreOutOfRange));
    let (out, r) = derive(
        &f,
        &event(
            "",
            QualitySignal::Score {
                value: 87.0,
                label: None,
            },
        ),
    );
    assert!(out.is_empty());
    assert_eq!(r.rejected, Some(Rejection::MissingEvaluation));
    assert_eq!(
        r.rejected.map(Rejection::reason),
        Some("missing_evaluation")
    );
}

#[test]
fn label_only_evaluation_counts_labels() {
    let f = QualityFamilies::new(&QualityConfig::default());
    let (out, r) = derive(&f, &event("toxicity", QualitySignal::Label("pass".into())));
    assert_eq!(r, QualityReport::default());
    assert_eq!(names(&out), ["llm_quality_labels"]);
    assert_eq!(
        out[0].labels,
        Labels::new([
            ("team", "search"),
            ("provider", "openai"),
            ("model", "gpt-4o"),
            ("evaluation", "toxicity"),
            ("label", "pass")
        ])
    );
    let (_, r) = derive(&f, &event("toxicity", QualitySignal::Label(" ".into())));
    assert_eq!(r.rejected, Some(Rejection::MissingLabel));
}

#[test]
fn outcomes_known_always_unknown_up_to_cap_then_other() {
    let c = QualityConfig {
        max_outcomes: 2,
        ..Default::default()
    };
    let f = QualityFamilies::new(&c);
    let outcome = |o: &str| {
        let (out, r) = derive(&f, &event("", QualitySignal::Outcome(o.into())));
        (
            out.first()
                .and_then(|s| s.labels.get("outcome").map(str::to_owned)),
            r,
        )
    };
    for o in ["copied", "shared", "copied"] {
        assert_eq!(outcome(o), (Some(o.to_owned()), QualityReport::default()));
    }
    let (v, r) = outcome("printed");
    assert_eq!(v.as_deref(), Some("other"));
    assert_eq!(r.overflowed, vec!["outcome"]);
    // Known outcomes and already admitted ones keep their own series past the cap.
    for o in KNOWN_OUTCOMES.into_iter().chain(["shared", "other"]) {
        assert_eq!(outcome(o), (Some(o.to_owned()), QualityReport::default()));
    }
    assert_eq!(outcome("").1.rejected, Some(Rejection::MissingOutcome));
}

#[test]
fn ratings_map_to_stars_and_nps_classes() {
    let f = QualityFamilies::new(&QualityConfig::default());
    for (r, stars, class) in [
        (1.0, "1", "detractor"),
        (2.0, "2", "detractor"),
        (3.0, "3", "detractor"),
        (4.0, "4", "passive"),
        (5.0, "5", "promoter"),
    ] {
        let (out, rep) = derive(&f, &event("", QualitySignal::Rating(r)));
        assert_eq!(rep, QualityReport::default());
        assert_eq!(one(&out, "llm_ratings").labels.get("rating"), Some(stars));
        assert_eq!(
            one(&out, "llm_nps_responses").labels.get("class"),
            Some(class)
        );
    }
    for bad in [0.0, 6.0, 4.5, -1.0, f64::NAN] {
        let (out, rep) = derive(&f, &event("", QualitySignal::Rating(bad)));
        assert!(out.is_empty(), "{bad}");
        assert_eq!(rep.rejected, Some(Rejection::RatingInvalid), "{bad}");
    }
}

#[test]
fn confidence_histogram_and_strict_low_confidence_bound() {
    let f = QualityFamilies::new(&QualityConfig::default());
    let run = |c: f64| derive(&f, &event("", QualitySignal::Confidence(c)));
    let (out, _) = run(0.49);
    assert_eq!(names(&out), ["llm_confidence", "llm_low_confidence"]);
    assert_eq!(
        out[0].options.buckets.as_deref(),
        Some(&CONFIDENCE_BUCKETS[..])
    );
    let (out, _) = run(0.5);
    assert_eq!(names(&out), ["llm_confidence"]);
    for bad in [-0.01, 1.01, f64::NAN] {
        let (out, r) = run(bad);
        assert!(out.is_empty());
        assert_eq!(r.rejected, Some(Rejection::ConfidenceOutOfRange));
    }
}

#[test]
fn approvals_and_upgrades() {
    let f = QualityFamilies::new(&QualityConfig::default());
    let (out, _) = derive(&f, &event("", QualitySignal::EditsPerApproval(3.0)));
    assert_eq!(
        one(&out, "llm_edits_per_approval").value,
        SampleValue::Observe {
            value: 3.0,
            weight: 1.0
        }
    );
    let (out, _) = derive(&f, &event("", QualitySignal::TimeToApproval(42.5)));
    assert_eq!(
        one(&out, "llm_time_to_approval_seconds").value,
        SampleValue::Observe {
            value: 42.5,
            weight: 1.0
        }
    );
    let (out, _) = derive(
        &f,
        &event(
            "",
            QualitySignal::ModelUpgrade {
                to: "gpt-4.1".into(),
            },
        ),
    );
    let up = one(&out, "llm_model_upgrades");
    assert_eq!(up.labels.get("model"), Some("gpt-4o"));
    assert_eq!(up.labels.get("to_model"), Some("gpt-4.1"));
    for (sig, want) in [
        (
            QualitySignal::EditsPerApproval(-1.0),
            Rejection::EditsInvalid,
        ),
        (
            QualitySignal::TimeToApproval(f64::NAN),
            Rejection::DurationInvalid,
        ),
        (
            QualitySignal::ModelUpgrade { to: "".into() },
            Rejection::MissingToModel,
        ),
    ] {
        let (out, r) = derive(&f, &event("", sig));
        assert!(out.is_empty());
        assert_eq!(r.rejected, Some(want));
    }
}

#[test]
fn stage_label_overrides_scope_stage_and_is_capped() {
    let c = QualityConfig {
        max_stages: 1,
        ..Default::default()
    };
    let f = QualityFamilies::new(&c);
    let stage = |s: &str, secs: f64| {
        let mut ev = event(
            "",
            QualitySignal::StageDuration {
                stage: s.into(),
                seconds: secs,
            },
        );
        ev.scope = Labels::new([("stage", "scope-stage")]);
        derive(&f, &ev)
    };
    let (out, r) = stage("synthesis", 0.412);
    assert_eq!(r, QualityReport::default());
    let s = one(&out, "llm_stage_duration_seconds");
    assert_eq!(s.labels.get("stage"), Some("synthesis"));
    assert_eq!(s.options.buckets, None, "default latency buckets");
    let (out, r) = stage("extraction", 0.1);
    assert_eq!(out[0].labels.get("stage"), Some("other"));
    assert_eq!(r.overflowed, vec!["stage"]);
    assert_eq!(
        stage("x", -1.0).1.rejected,
        Some(Rejection::DurationInvalid)
    );
    assert_eq!(stage("", 1.0).1.rejected, Some(Rejection::MissingStage));
}

#[test]
fn caches_hit_and_miss_capped_by_cache_name() {
    let c = QualityConfig {
        max_caches: 1,
        ..Default::default()
    };
    let f = QualityFamilies::new(&c);
    let cache = |name: &str, hit: bool| {
        derive(
            &f,
            &event(
                "",
                QualitySignal::Cache {
                    cache: name.into(),
                    hit,
                },
            ),
        )
    };
    let (out, _) = cache("semantic", true);
    let s = one(&out, "llm_cache_requests");
    assert_eq!(s.labels.get("cache"), Some("semantic"));
    assert_eq!(s.labels.get("result"), Some("hit"));
    let (out, _) = cache("semantic", false);
    assert_eq!(out[0].labels.get("result"), Some("miss"));
    let (out, r) = cache("prompt", true);
    assert_eq!(out[0].labels.get("cache"), Some("other"));
    assert_eq!(r.overflowed, vec!["cache"]);
    assert_eq!(cache("", true).1.rejected, Some(Rejection::MissingCache));
}

#[test]
fn app_events_known_names_always_unknown_up_to_cap() {
    let c = QualityConfig {
        max_app_events: 1,
        ..Default::default()
    };
    let f = QualityFamilies::new(&c);
    let ev = |name: &str| derive(&f, &event("", QualitySignal::AppEvent(name.into())));
    let (out, _) = ev("cache_warmed");
    assert_eq!(out[0].labels.get("event"), Some("cache_warmed"));
    let (out, r) = ev("index_rebuilt");
    assert_eq!(out[0].labels.get("event"), Some("other"));
    assert_eq!(r.overflowed, vec!["event"]);
    for name in KNOWN_EVENTS {
        let (out, r) = ev(name);
        assert_eq!(r, QualityReport::default());
        assert_eq!(
            (&*out[0].name, out[0].labels.get("event")),
            ("llm_events", Some(name))
        );
    }
    assert_eq!(ev("").1.rejected, Some(Rejection::MissingEvent));
}

#[test]
fn evaluation_and_label_caps_spare_configured_evaluations() {
    let mut c = QualityConfig {
        max_evaluations: 1,
        max_labels: 1,
        ..Default::default()
    };
    c.evaluations
        .insert("relevance".into(), EvaluationConfig::default());
    let f = QualityFamilies::new(&c);
    let label = |e: &str, l: &str| derive(&f, &event(e, QualitySignal::Label(l.into())));
    let (out, r) = label("adhoc", "pass");
    assert_eq!(r, QualityReport::default());
    assert_eq!(out[0].labels.get("evaluation"), Some("adhoc"));
    let (out, r) = label("adhoc2", "fail");
    assert_eq!(out[0].labels.get("evaluation"), Some("other"));
    assert_eq!(out[0].labels.get("label"), Some("other"));
    assert_eq!(r.overflowed, vec!["evaluation", "label"]);
    let (out, r) = label("relevance", "pass");
    assert_eq!(r, QualityReport::default());
    assert_eq!(out[0].labels.get("evaluation"), Some("relevance"));
}

#[test]
fn deriver_restricts_scope_labels() {
    let d = crate::derive::Deriver::new(&Config::default());
    let mut ev = event("", QualitySignal::Outcome("accepted".into()));
    ev.scope = Labels::new([("team", "a"), ("user_id", "u1")]);
    let mut out = Vec::new();
    let r = d.quality(&ev, &mut out);
    assert_eq!(r, QualityReport::default());
    assert_eq!(out[0].labels.get("team"), Some("a"));
    assert_eq!(out[0].labels.get("user_id"), None);
}

#[test]
fn admitted_values_survive_a_reload_and_the_cap_holds() {
    let c = QualityConfig {
        max_stages: 2,
        ..Default::default()
    };
    let old = QualityFamilies::new(&c);
    let stage = |f: &QualityFamilies, s: &str| {
        let ev = event(
            "",
            QualitySignal::StageDuration {
                stage: s.into(),
                seconds: 1.0,
            },
        );
        let (out, _) = derive(f, &ev);
        out[0].labels.get("stage").map(str::to_owned)
    };
    assert_eq!(stage(&old, "a").as_deref(), Some("a"));
    assert_eq!(stage(&old, "b").as_deref(), Some("b"));
    let new = QualityFamilies::new(&c);
    new.carry_over(&old);
    assert_eq!(stage(&new, "c").as_deref(), Some("other"));
    assert_eq!(stage(&new, "b").as_deref(), Some("b"));
    // A lowered cap keeps the first values in sorted order.
    let lower = QualityFamilies::new(&QualityConfig {
        max_stages: 1,
        ..Default::default()
    });
    lower.carry_over(&new);
    assert_eq!(stage(&lower, "a").as_deref(), Some("a"));
    assert_eq!(stage(&lower, "b").as_deref(), Some("other"));
}
