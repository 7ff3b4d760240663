//! The quality and app-signal StatsD convention over real UDP and TCP, read back from /metrics.

use super::quality_pipeline::series;
use crate::support::agent::Agent;

#[test]
fn statsd_quality_convention_lines_become_llm_series() {
    let agent = Agent::start(
        "quality:\n  evaluations:\n    relevance: {scale: {min: 0, max: 1}}\n  max_app_events: 1\n",
    );
    let tags = "provider:openai,model:gpt-4o,team:search,user_id:u-1";
    agent.send_udp(&format!(
        "llm.quality.score:0.9|h|#{tags},evaluation:relevance,label:relevant\n\
         llm.quality.score:0.5|h|#{tags},evaluation:relevance\n\
         llm.quality.score:0.49|h|#{tags},evaluation:relevance\n\
         llm.quality.score:87|h|#{tags},evaluation:relevance\n\
         llm.quality.score:87|h|#{tags},evaluation:helpfulness\n\
         llm.outcome:1|c|#{tags},outcome:accepted\n\
         llm.outcome:2|c|#{tags},outcome:edited\n\
         llm.outcome:1|c|@0.5|#{tags},outcome:regenerated\n\
         llm.rating:5|h|#{tags}\n\
         llm.rating:3|h|#{tags}\n\
         llm.confidence:0.42|h|#{tags}\n\
         llm.edits:3|h|#{tags}\n\
         llm.approval.duration:42000|ms|#{tags}\n\
         llm.model.upgrade:1|c|#{tags},to_model:gpt-4.1\n"
    ));
    agent.send_tcp(&format!(
        "llm.stage.duration:412|ms|#{tags},stage:synthesis\n\
         llm.cache:1|c|#{tags},cache:semantic,result:hit\n\
         llm.cache:1|c|#{tags},cache:semantic,result:miss\n\
         llm.event:1|c|#{tags},event:retry_attempted\n\
         llm.event:1|c|#{tags},event:warmup\n\
         llm.event:1|c|#{tags},event:reindex\n"
    ));
    let check = |name: &str, extra: &[(&str, &str)], want: f64| {
        agent.wait_metric(&series(name, extra), want);
    };
    let rel = ("evaluation", "relevance");
    check("llm_quality_score_count", &[rel], 3.0);
    check("llm_quality_score_bucket", &[rel, ("le", "50")], 1.0);
    check("llm_quality_score_bucket", &[rel, ("le", "70")], 2.0);
    check("llm_quality_score_bucket", &[rel, ("le", "90")], 2.0);
    check("llm_quality_score_bucket", &[rel, ("le", "100")], 3.0);
    for grade in ["poor", "fair", "excellent"] {
        check("llm_quality_grade_total", &[rel, ("grade", grade)], 1.0);
    }
    check(
        "llm_quality_grade_total",
        &[("evaluation", "helpfulness"), ("grade", "good")],
        1.0,
    );
    check(
        "llm_quality_labels_total",
        &[rel, ("label", "relevant")],
        1.0,
    );
    agent.wait_metric(
        "meterd_quality_rejected_total{protocol=\"statsd\",reason=\"score_out_of_range\"}",
        1.0,
    );
    check("llm_outcomes_total", &[("outcome", "accepted")], 1.0);
    check("llm_outcomes_total", &[("outcome", "edited")], 2.0);
    // Sampled at 0.5: one line stands for two regenerations.
    check("llm_outcomes_total", &[("outcome", "regenerated")], 2.0);
    check("llm_ratings_total", &[("rating", "5")], 1.0);
    check("llm_ratings_total", &[("rating", "3")], 1.0);
    check("llm_nps_responses_total", &[("class", "promoter")], 1.0);
    check("llm_nps_responses_total", &[("class", "detractor")], 1.0);
    check("llm_low_confidence_total", &[], 1.0);
    check("llm_confidence_bucket", &[("le", "0.5")], 1.0);
    check("llm_confidence_bucket", &[("le", "0.4")], 0.0);
    check("llm_edits_per_approval_sum", &[], 3.0);
    check("llm_edits_per_approval_bucket", &[("le", "3")], 1.0);
    check("llm_edits_per_approval_bucket", &[("le", "2")], 0.0);
    check("llm_time_to_approval_seconds_sum", &[], 42.0);
    check("llm_time_to_approval_seconds_bucket", &[("le", "60")], 1.0);
    check("llm_time_to_approval_seconds_bucket", &[("le", "30")], 0.0);
    check("llm_model_upgrades_total", &[("to_model", "gpt-4.1")], 1.0);
    let synthesis = ("stage", "synthesis");
    check("llm_stage_duration_seconds_sum", &[synthesis], 0.412);
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
    let semantic = ("cache", "semantic");
    check(
        "llm_cache_requests_total",
        &[semantic, ("result", "hit")],
        1.0,
    );
    check(
        "llm_cache_requests_total",
        &[semantic, ("result", "miss")],
        1.0,
    );
    check("llm_events_total", &[("event", "retry_attempted")], 1.0);
    check("llm_events_total", &[("event", "warmup")], 1.0);
    check("llm_events_total", &[("event", "other")], 1.0);
    agent.wait_metric(
        "meterd_quality_values_capped_total{dimension=\"event\"}",
        1.0,
    );
    agent.wait_metric("meterd_quality_events_total{protocol=\"statsd\"}", 22.0);
    let body = agent.scrape(None);
    assert!(!body.contains("user_id"), "{body}");
}
