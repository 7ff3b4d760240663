//! `gen_ai.evaluation.result` log events from the OpenTelemetry Rust SDK, over every OTLP
//! transport, become graded scores and label counts.

use crate::support::agent::Agent;
use crate::support::otel::{resource, Client, ALL};
use opentelemetry::logs::{LogRecord, Logger, LoggerProvider};

const CONFIG: &str = "quality:
  evaluations:
    relevance: {scale: {min: 0, max: 1}}
    toxicity: {scale: {min: 0, max: 1}, lower_is_better: true}
";

#[test]
fn sdk_evaluation_events_are_graded_on_every_transport() {
    let agent = Agent::start(CONFIG);
    let client = Client::default();
    for t in ALL {
        let lp = client.logger_provider(&agent, t, resource("chatbot", &[]));
        let logger = lp.logger("evals");
        let emit = |name: Option<&str>, value: Option<f64>, label: Option<&str>| {
            let mut rec = logger.create_log_record();
            rec.set_event_name("gen_ai.evaluation.result");
            if let Some(n) = name {
                rec.add_attribute("gen_ai.evaluation.name", n.to_owned());
            }
            if let Some(v) = value {
                rec.add_attribute("gen_ai.evaluation.score.value", v);
            }
            if let Some(l) = label {
                rec.add_attribute("gen_ai.evaluation.score.label", l.to_owned());
            }
            rec.add_attribute("gen_ai.provider.name", "openai");
            rec.add_attribute("gen_ai.response.model", "gpt-4o");
            logger.emit(rec);
        };
        emit(Some("relevance"), Some(0.9), Some("relevant"));
        emit(Some("relevance"), Some(0.55), None);
        emit(Some("toxicity"), Some(0.05), None);
        emit(Some("format"), None, Some("pass"));
        emit(Some("relevance"), Some(3.0), None);
        emit(None, Some(0.5), None);
        lp.force_flush().expect("flush");
        lp.shutdown().expect("shutdown");
    }
    let body = agent.scrape(None);
    let find = |prefix: &str, needles: &[&str]| -> f64 {
        body.lines()
            .filter(|l| l.starts_with(prefix))
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} with {needles:?} in:\n{body}"))
    };
    let m = "model=\"gpt-4o\"";
    let runs = ALL.len() as f64;
    let grade = "llm_quality_grade_total{";
    assert_eq!(
        find(
            grade,
            &["evaluation=\"relevance\"", "grade=\"excellent\"", m]
        ),
        runs
    );
    assert_eq!(
        find(grade, &["evaluation=\"relevance\"", "grade=\"fair\"", m]),
        runs
    );
    assert_eq!(
        find(
            grade,
            &["evaluation=\"toxicity\"", "grade=\"excellent\"", m]
        ),
        runs
    );
    let labels = "llm_quality_labels_total{";
    assert_eq!(
        find(labels, &["evaluation=\"relevance\"", "label=\"relevant\""]),
        runs
    );
    assert_eq!(
        find(labels, &["evaluation=\"format\"", "label=\"pass\""]),
        runs
    );
    assert_eq!(
        find(
            "meterd_quality_rejected_total{",
            &["protocol=\"otlp\"", "reason=\"score_out_of_range\""]
        ),
        runs
    );
    assert_eq!(
        find(
            "meterd_quality_rejected_total{",
            &["protocol=\"otlp\"", "reason=\"missing_evaluation\""]
        ),
        runs
    );
}
