use super::*;
use crate::config::{Config, Issues};

const ZERO_ONE: Scale = Scale { min: 0.0, max: 1.0 };

fn validate(c: &QualityConfig) -> Vec<String> {
    let mut issues = Issues::default();
    c.validate("quality", &mut issues);
    issues.0.into_iter().map(|i| i.path).collect()
}

#[test]
fn config_validation_reports_every_problem_by_path() {
    assert!(validate(&QualityConfig::default()).is_empty());
    let mut c = QualityConfig {
        grades: Grades {
            excellent: 101.0,
            good: 40.0,
            fair: 60.0,
        },
        default_scale: Scale { min: 5.0, max: 1.0 },
        low_confidence_below: 1.5,
        max_stages: 0,
        ..Default::default()
    };
    c.evaluations.insert(
        "relevance".into(),
        EvaluationConfig {
            scale: Some(Scale {
                min: 0.0,
                max: f64::NAN,
            }),
            lower_is_better: false,
        },
    );
    let paths = validate(&c);
    for want in [
        "quality.grades.excellent",
        "quality.grades.good",
        "quality.default_scale.max",
        "quality.evaluations.relevance.scale.max",
        "quality.low_confidence_below",
        "quality.max_stages",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} not in {paths:?}");
    }
}

#[test]
fn yaml_section_loads_and_errors_point_at_their_lines() {
    let no_env = |_: &str| None;
    let c: Config = crate::config::load::load_str(
        "quality:\n  grades: {excellent: 85}\n  evaluations:\n    relevance: {scale: {min: 0, max: 1}}\n    toxicity: {scale: {min: 0, max: 1}, lower_is_better: true}\n  max_outcomes: 3\n",
        "q.yaml",
        &no_env,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.quality.grades.excellent, 85.0);
    assert_eq!(c.quality.grades.good, 70.0);
    assert_eq!(c.quality.evaluations["relevance"].scale, Some(ZERO_ONE));
    assert!(c.quality.evaluations["toxicity"].lower_is_better);
    assert_eq!(c.quality.max_outcomes, 3);

    let err = crate::config::load::load_str::<Config>(
        "quality:\n  grades: {excellent: 60, good: 70}\n  evaluations:\n    relevance:\n      scale: {min: 1, max: 0}\n      lowerisbetter: true\n",
        "q.yaml",
        &no_env,
    )
    .expect_err("invalid");
    let text = err.to_string();
    for needle in [
        "q.yaml:2:12: quality.grades.excellent: must be greater than good (70)",
        "q.yaml:5:23: quality.evaluations.relevance.scale.max: must be greater than min (1)",
        "q.yaml:6:7: quality.evaluations.relevance.lowerisbetter: unknown key",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.0.len(), 3, "{text}");
}

#[test]
fn shipped_config_documents_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meterd.yaml");
    let c = crate::config::load::load_config(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.quality, QualityConfig::default());
}
