//! `gen_ai.evaluation.result` log events -> quality events. Pure.
//!
//! The event name is read from the record's `event_name` field or, for older SDKs, its
//! `event.name` attribute. Score value and label, evaluation name, model and provider come from
//! the record's attributes.

use super::attrs::{first_str, get_f64, get_str, hex_id};
use super::genai::scope_labels;
use crate::model::{QualityEvent, QualitySignal};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;

pub const EVALUATION_EVENT: &str = "gen_ai.evaluation.result";

/// Why an evaluation event could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvaluationError {
    /// Neither `gen_ai.evaluation.score.value` nor `.score.label`.
    NoScore,
}

pub fn is_evaluation(r: &LogRecord) -> bool {
    r.event_name == EVALUATION_EVENT
        || get_str(&r.attributes, "event.name").as_deref() == Some(EVALUATION_EVENT)
}

/// The quality event of an evaluation record; `Ok(None)` for records that are not evaluations.
pub fn evaluation(
    resource: &[KeyValue],
    r: &LogRecord,
    configured: &[String],
) -> Result<Option<QualityEvent>, EvaluationError> {
    if !is_evaluation(r) {
        return Ok(None);
    }
    let a = &r.attributes;
    let label = get_str(a, "gen_ai.evaluation.score.label").map(|l| Box::<str>::from(l.as_ref()));
    let signal = match (get_f64(a, "gen_ai.evaluation.score.value"), label) {
        (Some(value), label) => QualitySignal::Score { value, label },
        (None, Some(label)) => QualitySignal::Label(label),
        (None, None) => return Err(EvaluationError::NoScore),
    };
    let time = if r.time_unix_nano > 0 {
        r.time_unix_nano
    } else {
        r.observed_time_unix_nano
    };
    Ok(Some(QualityEvent {
        unix_nanos: time,
        evaluation: get_str(a, "gen_ai.evaluation.name").map_or(Box::from(""), |s| s.into()),
        provider: first_str(a, &["gen_ai.provider.name", "gen_ai.system"])
            .map_or(Box::from(""), |s| s.into()),
        model: first_str(a, &["gen_ai.response.model", "gen_ai.request.model"])
            .map_or(Box::from(""), |s| s.into()),
        scope: scope_labels(resource, a, configured),
        signal,
        trace_id: hex_id(&r.trace_id),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn s(v: &str) -> Value {
        Value::StringValue(v.into())
    }

    #[test]
    fn score_and_label_with_model_from_record() {
        let r = LogRecord {
            event_name: EVALUATION_EVENT.into(),
            time_unix_nano: 5,
            trace_id: vec![1; 16],
            attributes: vec![
                kv("gen_ai.evaluation.name", s("relevance")),
                kv("gen_ai.evaluation.score.value", Value::DoubleValue(0.87)),
                kv("gen_ai.evaluation.score.label", s("relevant")),
                kv("gen_ai.response.model", s("gpt-4o-2024-08-06")),
                kv("gen_ai.request.model", s("gpt-4o")),
                kv("gen_ai.provider.name", s("openai")),
                kv("team", s("search")),
            ],
            ..Default::default()
        };
        let resource = [kv("service.name", s("chat"))];
        let ev = evaluation(&resource, &r, &["team".into()])
            .expect("valid")
            .expect("an evaluation");
        assert_eq!(&*ev.evaluation, "relevance");
        assert_eq!(&*ev.model, "gpt-4o-2024-08-06");
        assert_eq!(&*ev.provider, "openai");
        assert_eq!(
            ev.signal,
            QualitySignal::Score {
                value: 0.87,
                label: Some("relevant".into())
            }
        );
        assert_eq!(ev.scope.get("service"), Some("chat"));
        assert_eq!(ev.scope.get("team"), Some("search"));
        assert_eq!(ev.unix_nanos, 5);
        assert_eq!(
            ev.trace_id.as_deref(),
            Some("01010101010101010101010101010101")
        );
    }

    #[test]
    fn label_only_and_old_style_event_name_attribute() {
        let r = LogRecord {
            attributes: vec![
                kv("event.name", s(EVALUATION_EVENT)),
                kv("gen_ai.evaluation.name", s("toxicity")),
                kv("gen_ai.evaluation.score.label", s("pass")),
            ],
            ..Default::default()
        };
        let ev = evaluation(&[], &r, &[]).expect("valid").expect("event");
        assert_eq!(ev.signal, QualitySignal::Label("pass".into()));
    }

    #[test]
    fn other_records_are_ignored_and_scoreless_evaluations_rejected() {
        let plain = LogRecord::default();
        assert_eq!(evaluation(&[], &plain, &[]), Ok(None));
        let r = LogRecord {
            event_name: EVALUATION_EVENT.into(),
            ..Default::default()
        };
        assert_eq!(evaluation(&[], &r, &[]), Err(EvaluationError::NoScore));
    }
}
