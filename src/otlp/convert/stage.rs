//! Spans naming a pipeline stage -> `llm_stage_duration_seconds{stage}`. Pure.
//!
//! Any span (GenAI or not) whose configured stage attribute (`otlp.stage_attribute`, default
//! `stage`) has a value is one observation of that stage's wall time, end minus start. The same
//! attribute is a scope label on the span's usage when `stage` is in `scope_labels`, so a stage
//! gets its duration here and its tokens and cost on the usage families.

use super::attrs::{first_str, get_str, hex_id};
use super::genai::scope_labels;
use super::spans::SpanData;
use crate::model::{QualityEvent, QualitySignal};
use opentelemetry_proto::tonic::common::v1::KeyValue;

/// The stage-duration event of `span`, or `None` when it does not name a stage. A span whose end
/// precedes its start, or that lacks either time, carries a duration that is not a number: the
/// quality stage rejects and counts it (`meterd_quality_rejected_total{reason="duration_invalid"}`)
/// like any other invalid duration.
pub fn span_stage<S: SpanData>(
    resource: &[KeyValue],
    span: &S,
    attribute: &str,
    configured: &[String],
) -> Option<QualityEvent> {
    let a = span.attributes();
    let stage = get_str(a, attribute)?;
    let (start, end) = (span.start_time_unix_nano(), span.end_time_unix_nano());
    let seconds = if start == 0 || end == 0 {
        f64::NAN
    } else if end >= start {
        (end - start) as f64 / 1e9
    } else {
        -((start - end) as f64 / 1e9)
    };
    Some(QualityEvent {
        unix_nanos: end,
        evaluation: "".into(),
        // Same as the StatsD path: absent provider and model are empty, so they add no label.
        provider: first_str(a, &["gen_ai.provider.name", "gen_ai.system"])
            .map_or(Box::from(""), |s| s.into()),
        model: first_str(a, &["gen_ai.response.model", "gen_ai.request.model"])
            .map_or(Box::from(""), |s| s.into()),
        scope: scope_labels(resource, a, configured),
        signal: QualitySignal::StageDuration {
            stage: stage.into(),
            seconds,
        },
        trace_id: hex_id(span.trace_id()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::derive::Deriver;
    use crate::model::{Labels, Sample, SampleValue};
    use crate::statsd::convention::{convert, Event, Kind};
    use crate::statsd::parse::parse_line;
    use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};
    use opentelemetry_proto::tonic::trace::v1::Span;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn span(attrs: Vec<KeyValue>, start: u64, end: u64) -> Span {
        Span {
            trace_id: vec![0x11; 16],
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: attrs,
            ..Default::default()
        }
    }

    fn derive(ev: &QualityEvent) -> (Vec<Sample>, Option<&'static str>) {
        let d = Deriver::new(&Config::default());
        let mut out = Vec::new();
        let report = d.quality(ev, &mut out);
        (out, report.rejected.map(|r| r.reason()))
    }

    #[test]
    fn a_span_with_the_attribute_observes_its_wall_time() {
        let sp = span(
            vec![kv("stage", "retrieval"), kv("team", "search")],
            1_000_000_000,
            1_412_000_000,
        );
        let ev = span_stage(
            &[kv("service.name", "rag")],
            &sp,
            "stage",
            &["team".to_owned()],
        )
        .expect("a stage span");
        assert_eq!(
            ev.signal,
            QualitySignal::StageDuration {
                stage: "retrieval".into(),
                seconds: 0.412
            }
        );
        assert_eq!(ev.scope.get("team"), Some("search"));
        assert_eq!(ev.scope.get("service"), Some("rag"));
        assert_eq!(ev.unix_nanos, 1_412_000_000);
        assert_eq!(
            ev.trace_id.as_deref(),
            Some("11111111111111111111111111111111")
        );
        let (out, rejected) = derive(&ev);
        assert_eq!(rejected, None);
        assert_eq!(out.len(), 1);
        assert_eq!(&*out[0].name, "llm_stage_duration_seconds");
        assert_eq!(
            out[0].value,
            SampleValue::Observe {
                value: 0.412,
                weight: 1.0
            }
        );
    }

    #[test]
    fn the_configured_attribute_is_the_one_read() {
        let sp = span(vec![kv("pipeline.step", "rerank")], 1, 2);
        assert!(span_stage(&[], &sp, "stage", &[]).is_none());
        let ev = span_stage(&[], &sp, "pipeline.step", &[]).expect("configured name");
        assert!(matches!(
            ev.signal,
            QualitySignal::StageDuration { ref stage, .. } if &**stage == "rerank"
        ));
    }

    #[test]
    fn spans_without_the_attribute_or_with_an_empty_one_are_not_stages() {
        assert!(span_stage(&[], &span(vec![kv("http.route", "/x")], 1, 2), "stage", &[]).is_none());
        assert!(span_stage(&[], &span(vec![kv("stage", "")], 1, 2), "stage", &[]).is_none());
    }

    #[test]
    fn end_before_start_and_missing_times_are_rejected_as_invalid_durations() {
        for (start, end) in [(2_000, 1_000), (0, 1_000), (1_000, 0)] {
            let ev = span_stage(&[], &span(vec![kv("stage", "s")], start, end), "stage", &[])
                .expect("still a stage span");
            let (out, rejected) = derive(&ev);
            assert!(out.is_empty(), "{start}..{end}");
            assert_eq!(rejected, Some("duration_invalid"), "{start}..{end}");
        }
    }

    /// Both protocols must land in one series: same family, same label names and values.
    #[test]
    fn labels_match_the_statsd_path() {
        let line = "llm.stage.duration:412|ms|#stage:synthesis,provider:openai,model:gpt-4o,team:a";
        let parsed = parse_line(line.as_bytes()).expect("parses");
        let kind = Kind::from_name(&parsed.name).expect("convention name");
        let sample = parsed.samples().next().expect("one sample");
        let Ok(Event::Quality { event: statsd, .. }) =
            convert(kind, &parsed.tags, sample, 1, u64::MAX)
        else {
            panic!("a quality event");
        };
        let sp = span(
            vec![
                kv("stage", "synthesis"),
                kv("gen_ai.provider.name", "openai"),
                kv("gen_ai.request.model", "gpt-4o"),
                kv("team", "a"),
            ],
            1_000_000_000,
            1_412_000_000,
        );
        let otlp = span_stage(&[], &sp, "stage", &["team".to_owned()]).expect("stage span");
        let config = Config {
            scope_labels: vec!["team".into()],
            ..Config::default()
        };
        let d = Deriver::new(&config);
        let labels = |ev: &QualityEvent| -> (std::sync::Arc<str>, Labels) {
            let mut out = Vec::new();
            d.quality(ev, &mut out);
            (out[0].name.clone(), out[0].labels.clone())
        };
        assert_eq!(labels(&statsd), labels(&otlp));
        assert_eq!(
            labels(&otlp).1,
            Labels::new([
                ("model", "gpt-4o"),
                ("provider", "openai"),
                ("stage", "synthesis"),
                ("team", "a")
            ])
        );
    }
}
