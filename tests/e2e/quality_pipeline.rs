//! Quality and app signals through the real pipeline (as the StatsD and OTLP receivers hand them
//! over), read back from /metrics and from a real Prometheus.

use crate::support::agent::{find_value, Agent};
use crate::support::prometheus::Prometheus;
use meterd::model::{Labels, QualityEvent, QualitySignal};

const CONFIG: &str = "quality:
  evaluations:
    relevance: {scale: {min: 0, max: 1}}
    stars: {scale: {min: 1, max: 5}}
  max_app_events: 1
";

fn event(evaluation: &str, signal: QualitySignal) -> QualityEvent {
    QualityEvent {
        unix_nanos: 0,
        evaluation: evaluation.into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        scope: Labels::new([("team", "search"), ("user_id", "u-123")]),
        signal,
        trace_id: None,
    }
}

fn score(evaluation: &str, value: f64) -> QualityEvent {
    event(evaluation, QualitySignal::Score { value, label: None })
}

fn value(body: &str, series: &str) -> f64 {
    find_value(body, series).unwrap_or_else(|| panic!("no {series} in:\n{body}"))
}

/// Exposition text of one series: the events' provider, model and team plus `extra`, sorted by
/// name as meterd renders them, with a histogram's `le` last.
pub(crate) fn series(name: &str, extra: &[(&str, &str)]) -> String {
    let mut labels = vec![
        ("model", "gpt-4o"),
        ("provider", "openai"),
        ("team", "search"),
    ];
    labels.extend(extra.iter().filter(|(k, _)| *k != "le"));
    labels.sort();
    labels.extend(extra.iter().filter(|(k, _)| *k == "le"));
    let text: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", text.join(","))
}

#[test]
fn scores_grades_outcomes_and_app_signals_reach_metrics() {
    let agent = Agent::start(CONFIG);
    let p = &agent.running().pipeline;
    // Relevance on 0-1: one score per grade boundary, both sides.
    for v in [0.3, 0.49999, 0.5, 0.6999, 0.7, 0.8999, 0.9, 1.0] {
        p.quality("statsd", &score("relevance", v));
    }
    // Stars on 1-5: 4.6 is exactly 90 after normalization.
    p.quality("otlp", &score("stars", 4.6));
    p.quality("statsd", &score("relevance", 87.0)); // a 0-100 value on a 0-1 evaluation
    p.quality("statsd", &score("", 0.5));
    for o in ["accepted", "accepted", "edited", "regenerated", "abandoned"] {
        p.quality("statsd", &event("", QualitySignal::Outcome(o.into())));
    }
    for r in [5.0, 5.0, 4.0, 2.0, 4.5] {
        p.quality("statsd", &event("", QualitySignal::Rating(r)));
    }
    p.quality(
        "statsd",
        &event(
            "",
            QualitySignal::StageDuration {
                stage: "synthesis".into(),
                seconds: 0.412,
            },
        ),
    );
    for hit in [true, true, false] {
        p.quality(
            "statsd",
            &event(
                "",
                QualitySignal::Cache {
                    cache: "semantic".into(),
                    hit,
                },
            ),
        );
    }
    for e in ["retry_attempted", "retry_attempted", "warmup", "reindex"] {
        p.quality("statsd", &event("", QualitySignal::AppEvent(e.into())));
    }
    p.quality(
        "statsd",
        &event(
            "",
            QualitySignal::ModelUpgrade {
                to: "gpt-4.1".into(),
            },
        ),
    );
    p.quality("statsd", &event("", QualitySignal::Confidence(0.3)));

    let body = agent.scrape(None);
    let check = |name: &str, extra: &[(&str, &str)], want: f64| {
        let series = series(name, extra);
        assert_eq!(value(&body, &series), want, "{series}");
    };
    // Buckets at the thresholds hold exactly the scores graded below them.
    let rel = ("evaluation", "relevance");
    for (le, want) in [
        ("50", 2.0),
        ("70", 4.0),
        ("90", 6.0),
        ("100", 8.0),
        ("+Inf", 8.0),
    ] {
        check("llm_quality_score_bucket", &[rel, ("le", le)], want);
    }
    check("llm_quality_score_count", &[rel], 8.0);
    for grade in ["poor", "fair", "good", "excellent"] {
        check("llm_quality_grade_total", &[rel, ("grade", grade)], 2.0);
    }
    check(
        "llm_quality_grade_total",
        &[("evaluation", "stars"), ("grade", "excellent")],
        1.0,
    );
    assert!(!body.contains("user_id"), "scope labels not restricted");
    for reason in ["score_out_of_range", "missing_evaluation", "rating_invalid"] {
        let series =
            format!("meterd_quality_rejected_total{{protocol=\"statsd\",reason=\"{reason}\"}}");
        assert_eq!(value(&body, &series), 1.0, "{series}");
    }
    check("llm_outcomes_total", &[("outcome", "accepted")], 2.0);
    check("llm_outcomes_total", &[("outcome", "edited")], 1.0);
    check("llm_outcomes_total", &[("outcome", "abandoned")], 1.0);
    check("llm_ratings_total", &[("rating", "5")], 2.0);
    check("llm_ratings_total", &[("rating", "2")], 1.0);
    check("llm_nps_responses_total", &[("class", "promoter")], 2.0);
    check("llm_nps_responses_total", &[("class", "passive")], 1.0);
    check("llm_nps_responses_total", &[("class", "detractor")], 1.0);
    let synthesis = ("stage", "synthesis");
    check(
        "llm_stage_duration_seconds_bucket",
        &[synthesis, ("le", "0.5")],
        1.0,
    );
    check(
        "llm_stage_duration_seconds_bucket",
        &[synthesis, ("le", "0.25")],
        0.0,
    );
    check("llm_stage_duration_seconds_sum", &[synthesis], 0.412);
    let semantic = ("cache", "semantic");
    check(
        "llm_cache_requests_total",
        &[semantic, ("result", "hit")],
        2.0,
    );
    check(
        "llm_cache_requests_total",
        &[semantic, ("result", "miss")],
        1.0,
    );
    check("llm_events_total", &[("event", "retry_attempted")], 2.0);
    check("llm_events_total", &[("event", "warmup")], 1.0);
    check("llm_events_total", &[("event", "other")], 1.0);
    check("llm_model_upgrades_total", &[("to_model", "gpt-4.1")], 1.0);
    check("llm_low_confidence_total", &[], 1.0);
    check("llm_confidence_bucket", &[("le", "0.3")], 1.0);
    check("llm_confidence_bucket", &[("le", "0.2")], 0.0);
    for (series, want) in [
        (
            "meterd_quality_values_capped_total{dimension=\"event\"}",
            1.0,
        ),
        ("meterd_quality_events_total{protocol=\"statsd\"}", 30.0),
        ("meterd_quality_events_total{protocol=\"otlp\"}", 1.0),
    ] {
        assert_eq!(value(&body, series), want, "{series}");
    }
}

#[test]
fn openmetrics_exemplars_link_scores_and_events_to_traces() {
    let agent = Agent::start("");
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let mut ev = score("faithfulness", 95.0);
    ev.trace_id = Some(trace.into());
    agent.running().pipeline.quality("otlp", &ev);
    let mut ev = event("", QualitySignal::AppEvent("fallback_triggered".into()));
    ev.trace_id = Some(trace.into());
    agent.running().pipeline.quality("otlp", &ev);
    let body = agent.scrape(Some("application/openmetrics-text; version=1.0.0"));
    let bucket = series(
        "llm_quality_score_bucket",
        &[("evaluation", "faithfulness"), ("le", "100.0")],
    );
    let line = body
        .lines()
        .find(|l| l.starts_with(&bucket))
        .unwrap_or_else(|| panic!("no {bucket} in:\n{body}"));
    assert!(
        line.ends_with(&format!(" 1 # {{trace_id=\"{trace}\"}} 95")),
        "{line}"
    );
    let events = series("llm_events_total", &[("event", "fallback_triggered")]);
    let line = body
        .lines()
        .find(|l| l.starts_with(&events))
        .unwrap_or_else(|| panic!("no {events} in:\n{body}"));
    assert!(
        line.contains(&format!("# {{trace_id=\"{trace}\"}} 1")),
        "{line}"
    );
}

#[test]
fn reload_applies_new_scales_and_keeps_admitted_values() {
    let agent = Agent::start("quality:\n  max_app_events: 1\n");
    let p = &agent.running().pipeline;
    let app_event = |name: &str| event("", QualitySignal::AppEvent(name.into()));
    p.quality("statsd", &app_event("warmup"));
    p.quality("statsd", &score("relevance", 0.9));
    agent.write_config(
        "quality:\n  max_app_events: 1\n  evaluations:\n    relevance: {scale: {min: 0, max: 1}}\n",
    );
    agent.running().reload().expect("reload");
    let p = &agent.running().pipeline;
    p.quality("statsd", &app_event("reindex"));
    p.quality("statsd", &app_event("warmup"));
    p.quality("statsd", &score("relevance", 0.9));
    let body = agent.scrape(None);
    let check = |name: &str, extra: &[(&str, &str)], want: f64| {
        let series = series(name, extra);
        assert_eq!(value(&body, &series), want, "{series}");
    };
    check("llm_events_total", &[("event", "warmup")], 2.0);
    check("llm_events_total", &[("event", "other")], 1.0);
    let rel = ("evaluation", "relevance");
    // 0.9 was poor on the default 0-100 scale, excellent once relevance is declared 0-1.
    check("llm_quality_grade_total", &[rel, ("grade", "poor")], 1.0);
    check(
        "llm_quality_grade_total",
        &[rel, ("grade", "excellent")],
        1.0,
    );
}

#[test]
fn redaction_rules_apply_once_to_quality_series() {
    let agent = Agent::start(
        "scope_labels: [team, user]\nredact:\n  - {label: user, action: hash, key: \"0123456789abcdef-test\"}\n",
    );
    let p = &agent.running().pipeline;
    let mut ev = event("", QualitySignal::Outcome("accepted".into()));
    ev.scope = Labels::new([
        ("team", "search"),
        ("user", "alice@example.com"),
        ("session", "s-1"),
    ]);
    p.quality("statsd", &ev);
    p.quality("statsd", &ev);
    let body = agent.scrape(None);
    assert!(!body.contains("alice"), "{body}");
    let line = body
        .lines()
        .find(|l| l.starts_with("llm_outcomes_total{"))
        .unwrap_or_else(|| panic!("no outcomes in:\n{body}"));
    assert!(line.contains(",user=\"") && line.ends_with(" 2"), "{line}");
    // The same hash a usage event's scope gets: one user, one value across families.
    let mut usage = meterd::model::UsageEvent::new("openai", "gpt-4o");
    usage.scope = ev.scope.clone();
    usage.usage.output_tokens = 1;
    p.usage("statsd", &usage);
    let body = agent.scrape(None);
    let user_of = |prefix: &str| {
        let line = body
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{body}"));
        let start = line.find("user=\"").expect("user label") + 6;
        line[start..].split('"').next().map(str::to_owned)
    };
    assert_eq!(user_of("llm_outcomes_total{"), user_of("llm_tokens_total{"));
}

/// The point of the threshold buckets: Prometheus computes each grade's share from the histogram
/// alone, and it equals the share from the grade counter.
#[test]
fn prometheus_grade_shares_from_buckets_match_grade_counters() {
    let agent = Agent::start(CONFIG);
    let prom = Prometheus::start(&[agent.http()], &[], "");
    prom.wait_for_targets_up();
    let p = &agent.running().pipeline;
    // 1 poor, 2 fair, 3 good, 4 excellent; thresholds hit exactly where possible.
    for v in [0.2, 0.5, 0.69, 0.7, 0.75, 0.8999, 0.9, 0.9, 0.95, 1.0] {
        p.quality("statsd", &score("relevance", v));
    }
    let sel = "evaluation=\"relevance\"";
    prom.wait_for_value(&format!("sum(llm_quality_score_count{{{sel}}})"), 10.0);
    // Prometheus keeps `le` as scraped: "90" from the text format, "90.0" from OpenMetrics.
    let bucket = |le: &str| format!("sum(llm_quality_score_bucket{{{sel},le=~\"{le}(\\\\.0)?\"}})");
    let share = |upper: &str, lower: Option<&str>| {
        let hi = bucket(upper);
        let lo = lower.map_or("0".to_owned(), bucket);
        format!("({hi} - {lo}) / sum(llm_quality_score_count{{{sel}}})")
    };
    prom.wait_for_value(&share("50", None), 0.1);
    prom.wait_for_value(&share("70", Some("50")), 0.2);
    prom.wait_for_value(&share("90", Some("70")), 0.3);
    let excellent = format!(
        "1 - {} / sum(llm_quality_score_count{{{sel}}})",
        bucket("90")
    );
    prom.wait_for_value(&excellent, 0.4);
    for (grade, want) in [
        ("poor", 0.1),
        ("fair", 0.2),
        ("good", 0.3),
        ("excellent", 0.4),
    ] {
        prom.wait_for_value(
            &format!(
                "sum(llm_quality_grade_total{{{sel},grade=\"{grade}\"}}) / sum(llm_quality_grade_total{{{sel}}})"
            ),
            want,
        );
    }
    // Mean normalized score straight from the histogram.
    prom.wait_for_value(
        &format!(
            "round(sum(llm_quality_score_sum{{{sel}}}) / sum(llm_quality_score_count{{{sel}}}), 0.001)"
        ),
        74.899,
    );
}
