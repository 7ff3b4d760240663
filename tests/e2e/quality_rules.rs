//! The quality recording rules in alerts/ evaluated by a real Prometheus over what meterd really
//! exposes for real StatsD lines: the rules select the series meterd produces, and the recorded
//! ratios equal the hand-computed ones.

use crate::support::agent::Agent;
use crate::support::prometheus::Prometheus;

/// Sent twice. Every series exists after the first batch and doubles with the second, so
/// Prometheus extrapolates every `rate()` by the same factor and the recorded ratios are exact.
const BATCH: &str = "llm.outcome:3|c|#provider:openai,model:gpt-4o,outcome:accepted
llm.outcome:1|c|#provider:openai,model:gpt-4o,outcome:edited
llm.quality.score:0.8|h|#provider:openai,model:gpt-4o,evaluation:relevance
llm.quality.score:0.6|h|#provider:openai,model:gpt-4o,evaluation:relevance
llm.rating:5|h|#provider:openai,model:gpt-4o
llm.rating:5|h|#provider:openai,model:gpt-4o
llm.rating:1|h|#provider:openai,model:gpt-4o
";

#[test]
fn quality_recording_rules_compute_hand_checked_ratios_from_meterd_series() {
    let agent =
        Agent::start("quality:\n  evaluations:\n    relevance: {scale: {min: 0, max: 1}}\n");
    // The first batch is in place before Prometheus starts, so its first scrape sees every series
    // (9 events: the counter value 3 stands for three acceptances).
    agent.send_udp(BATCH);
    crate::support::wait_until(
        "first batch applied",
        std::time::Duration::from_secs(10),
        || {
            (agent.metric("meterd_quality_events_total{protocol=\"statsd\"}") == Some(9.0))
                .then_some(())
        },
    );
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/recording.rules.yml");
    let prom = Prometheus::start(&[agent.http()], &[rules], "");
    prom.wait_for_targets_up();
    prom.wait_for_value("sum(llm_outcomes_total)", 4.0);
    agent.send_udp(BATCH);
    prom.wait_for_value("sum(llm_outcomes_total)", 8.0);
    prom.wait_for_value("sum(llm_ratings_total)", 6.0);
    prom.wait_for_value("sum(llm_quality_score_count)", 4.0);

    let sel = "{provider=\"openai\",model=\"gpt-4o\"}";
    // 3 accepted and 1 edited of 4 outcomes; none regenerated or abandoned (0, not absent).
    for (rule, want) in [
        ("accepted", 0.75),
        ("edited", 0.25),
        ("regenerated", 0.0),
        ("abandoned", 0.0),
    ] {
        prom.wait_for_value(
            &format!("provider_model:llm_outcomes_{rule}:ratio_rate1h{sel}"),
            want,
        );
    }
    // Scores 80 and 60 on the normalized scale: mean 70.
    prom.wait_for_value(
        "round(provider_model_evaluation:llm_quality_score:mean_rate1h{evaluation=\"relevance\"} * 1000)",
        70_000.0,
    );
    // Two promoters (5 stars), one detractor (1 star): NPS 100 * (2 - 1) / 3.
    prom.wait_for_value(
        &format!("round(provider_model:llm_ratings_nps:rate1h{sel} * 100)"),
        3333.0,
    );
}
