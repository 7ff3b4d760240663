use super::*;
use crate::statsd::parse::parse_line;

const NOW: u64 = 1_700_000_000_000_000_000;
/// `limits.max_usage_per_line`'s default.
const MAX_USAGE: u64 = 1_000_000_000;

/// Converts every sample of one line (its name must be a convention name).
fn convert_line(line: &str) -> Vec<Result<Event, ConventionError>> {
    let parsed = parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
    let kind = Kind::from_name(&parsed.name).unwrap_or_else(|| panic!("{line}: not llm.*"));
    parsed
        .samples()
        .map(|s| convert(kind, &parsed.tags, s, NOW, MAX_USAGE))
        .collect()
}

fn usage(line: &str) -> UsageEvent {
    match convert_line(line).remove(0) {
        Ok(Event::Usage(ev)) => ev,
        other => panic!("{line}: {other:?}"),
    }
}

fn quality(line: &str) -> (QualityEvent, u32) {
    match convert_line(line).remove(0) {
        Ok(Event::Quality { event, repeat }) => (event, repeat),
        other => panic!("{line}: {other:?}"),
    }
}

fn error(line: &str) -> ConventionError {
    match convert_line(line).remove(0) {
        Err(e) => e,
        other => panic!("{line}: expected an error, got {other:?}"),
    }
}

#[test]
fn token_lines_fill_one_usage_dimension_and_no_request() {
    let ev = usage("llm.tokens:1200|c|#provider:openai,model:gpt-4o,token_type:input,team:search");
    assert_eq!(&*ev.provider, "openai");
    assert_eq!(&*ev.model, "gpt-4o");
    assert_eq!(ev.usage.input_tokens, 1200);
    assert_eq!(ev.usage.requests, 0, "token lines must not count requests");
    assert_eq!(ev.scope, Labels::new([("team", "search")]));
    assert_eq!(ev.unix_nanos, NOW);
    assert_eq!(ev.weight, 1.0);
    assert_eq!(ev.status, None);

    for (token_type, get) in [
        (
            "output",
            (|u: &crate::model::Usage| u.output_tokens) as fn(&_) -> u64,
        ),
        ("cached_input", |u| u.cached_input_tokens),
        ("cache_write", |u| u.cache_write_5m_tokens),
        ("cache_write_1h", |u| u.cache_write_1h_tokens),
        ("reasoning", |u| u.reasoning_tokens),
        ("audio_input", |u| u.audio_input_tokens),
        ("audio_output", |u| u.audio_output_tokens),
    ] {
        let ev = usage(&format!(
            "llm.tokens:7|c|#provider:p,model:m,token_type:{token_type}"
        ));
        assert_eq!(get(&ev.usage), 7, "{token_type}");
    }
}

#[test]
fn request_attributes_and_sampling() {
    let ev = usage(
        "llm.tokens:10|c|@0.25|#provider:anthropic,model:claude,token_type:output,\
         request_input_tokens:250000,service_tier:batch,stage:synthesis",
    );
    assert_eq!(ev.weight, 4.0);
    assert_eq!(ev.usage.output_tokens, 10);
    assert_eq!(ev.request_input_tokens, Some(250_000));
    assert_eq!(ev.service_tier.as_deref(), Some("batch"));
    assert_eq!(ev.scope, Labels::new([("stage", "synthesis")]));

    let ev = usage("llm.requests:1|c|#provider:openai,model:gpt-4o,status:error,operation:chat");
    assert_eq!(ev.usage.requests, 1);
    assert_eq!(ev.status, Some(CallStatus::Error));
    assert_eq!(&*ev.operation, "chat");
    assert_eq!(
        usage("llm.requests:1|c|#provider:p,model:m").status,
        Some(CallStatus::Ok)
    );
}

/// Issue 23: an error's type travels with it (and is not a scope label); a success has none.
#[test]
fn error_type_tag_is_kept_on_errors_only() {
    let ev = usage("llm.requests:1|c|#provider:p,model:m,status:error,error_type:timeout,team:a");
    assert_eq!(ev.error_type.as_deref(), Some("timeout"));
    assert_eq!(ev.scope, Labels::new([("team", "a")]));
    let ev = usage("llm.request.duration:30000|ms|#provider:p,model:m,status:error,error_type:429");
    assert_eq!(ev.error_type.as_deref(), Some("429"));
    let ev = usage("llm.requests:1|c|#provider:p,model:m,status:ok,error_type:timeout");
    assert_eq!(ev.error_type, None);
    assert_eq!(ev.scope, Labels::empty());
}

#[test]
fn durations_media_and_timestamps() {
    let ev = usage("llm.request.duration:834|ms|#provider:p,model:m,status:ok");
    assert_eq!(ev.duration, Some(Duration::from_millis(834)));
    assert_eq!(ev.usage.requests, 0);
    let ev = usage("llm.time_to_first_token:120|ms|@0.5|#provider:p,model:m");
    assert_eq!(ev.time_to_first_token, Some(Duration::from_millis(120)));
    assert_eq!(ev.weight, 2.0);
    assert_eq!(
        usage("llm.audio.seconds:63.5|c|#provider:openai,model:whisper-1")
            .usage
            .audio_millis,
        63_500
    );
    assert_eq!(
        usage("llm.characters:900|c|#provider:p,model:tts")
            .usage
            .characters,
        900
    );
    assert_eq!(
        usage("llm.images:2|c|#provider:p,model:img").usage.images,
        2
    );
    let ev = usage("llm.images:1|c|#provider:p,model:img|T1600000000");
    assert_eq!(ev.unix_nanos, 1_600_000_000_000_000_000);
    // Packed values: one event each.
    assert_eq!(
        convert_line("llm.request.duration:100:200|ms|#provider:p,model:m").len(),
        2
    );
}

#[test]
fn quality_signals() {
    let (ev, n) = quality("llm.quality.score:87|h|#model:gpt-4o,evaluation:relevance,label:good");
    assert_eq!(&*ev.evaluation, "relevance");
    assert_eq!(&*ev.model, "gpt-4o");
    assert_eq!(&*ev.provider, "");
    assert_eq!(
        ev.signal,
        QualitySignal::Score {
            value: 87.0,
            label: Some("good".into())
        }
    );
    assert_eq!(n, 1);

    let cases: &[(&str, QualitySignal, u32)] = &[
        (
            "llm.outcome:1|c|#model:m,outcome:accepted",
            QualitySignal::Outcome("accepted".into()),
            1,
        ),
        (
            "llm.outcome:3|c|@0.5|#outcome:edited",
            QualitySignal::Outcome("edited".into()),
            6,
        ),
        ("llm.rating:4|g", QualitySignal::Rating(4.0), 1),
        ("llm.confidence:0.9|h", QualitySignal::Confidence(0.9), 1),
        (
            "llm.edits:2|h|@0.5",
            QualitySignal::EditsPerApproval(2.0),
            2,
        ),
        (
            "llm.approval.duration:1500|ms",
            QualitySignal::TimeToApproval(1.5),
            1,
        ),
        (
            "llm.model.upgrade:1|c|#model:small,to_model:large",
            QualitySignal::ModelUpgrade { to: "large".into() },
            1,
        ),
        (
            "llm.stage.duration:412|ms|#stage:synthesis",
            QualitySignal::StageDuration {
                stage: "synthesis".into(),
                seconds: 0.412,
            },
            1,
        ),
        (
            "llm.cache:1|c|#cache:semantic,result:hit",
            QualitySignal::Cache {
                cache: "semantic".into(),
                hit: true,
            },
            1,
        ),
        (
            "llm.cache:1|c|#cache:semantic,result:miss",
            QualitySignal::Cache {
                cache: "semantic".into(),
                hit: false,
            },
            1,
        ),
        (
            "llm.event:1|c|#event:retry_attempted,team:search",
            QualitySignal::AppEvent("retry_attempted".into()),
            1,
        ),
    ];
    for (line, signal, repeat) in cases {
        let (ev, n) = quality(line);
        assert_eq!(&ev.signal, signal, "{line}");
        assert_eq!(n, *repeat, "{line}");
    }
    let (ev, _) = quality("llm.event:1|c|#event:retry_attempted,team:search");
    assert_eq!(ev.scope, Labels::new([("team", "search")]));
}

#[test]
fn missing_or_bad_tags_and_wrong_types_are_errors() {
    let cases: &[(&str, ConventionError)] = &[
        (
            "llm.tokens:1|c|#provider:p,token_type:input",
            ConventionError::MissingTag("model"),
        ),
        (
            "llm.tokens:1|c|#model:m,token_type:input",
            ConventionError::MissingTag("provider"),
        ),
        (
            "llm.tokens:1|c|#provider:p,model:m",
            ConventionError::MissingTag("token_type"),
        ),
        (
            "llm.tokens:1|c|#provider:p,model:m,token_type:bogus",
            ConventionError::BadTagValue("token_type"),
        ),
        (
            "llm.tokens:1|c|#provider:p,model:m,token_type:input,request_input_tokens:many",
            ConventionError::BadTagValue("request_input_tokens"),
        ),
        (
            "llm.requests:1|c|#provider:p,model:m,status:maybe",
            ConventionError::BadTagValue("status"),
        ),
        (
            "llm.tokens:1|g|#provider:p,model:m,token_type:input",
            ConventionError::WrongType,
        ),
        (
            "llm.request.duration:1|c|#provider:p,model:m",
            ConventionError::WrongType,
        ),
        ("llm.rating:x|s", ConventionError::WrongType),
        ("llm.rating:+1|g", ConventionError::WrongType),
        (
            "llm.request.duration:-5|ms|#provider:p,model:m",
            ConventionError::NegativeDuration,
        ),
        (
            "llm.quality.score:1|h",
            ConventionError::MissingTag("evaluation"),
        ),
        ("llm.outcome:1|c", ConventionError::MissingTag("outcome")),
        (
            "llm.model.upgrade:1|c",
            ConventionError::MissingTag("to_model"),
        ),
        (
            "llm.stage.duration:1|ms",
            ConventionError::MissingTag("stage"),
        ),
        (
            "llm.cache:1|c|#cache:x",
            ConventionError::MissingTag("result"),
        ),
        (
            "llm.cache:1|c|#cache:x,result:maybe",
            ConventionError::BadTagValue("result"),
        ),
        ("llm.event:1|c|#event", ConventionError::MissingTag("event")),
    ];
    for (line, want) in cases {
        assert_eq!(error(line), *want, "{line}");
        assert!(!want.reason().is_empty());
    }
}

/// Issue 17 item 2: a line whose quantity, scaled by its sample rate, cannot be a real call is
/// refused before it becomes usage (it used to price at ~18.4 billion USD and deny budgets).
#[test]
fn absurd_usage_quantities_are_rejected_by_reason() {
    let too_large = [
        "llm.tokens:1e300|c|#provider:p,model:m,token_type:input",
        "llm.tokens:1000000001|c|#provider:p,model:m,token_type:input",
        // 1000 tokens standing for 1e7 calls: 1e10 tokens.
        "llm.tokens:1000|c|@0.0000001|#provider:p,model:m,token_type:input",
        "llm.tokens:1|c|@1e-300|#provider:p,model:m,token_type:input",
        "llm.requests:2e9|c|#provider:p,model:m",
        "llm.audio.seconds:1e12|c|#provider:p,model:whisper-1",
        "llm.characters:1e10|c|#provider:p,model:tts",
        "llm.images:5e9|c|#provider:p,model:img",
    ];
    for line in too_large {
        assert_eq!(error(line), ConventionError::UsageValueTooLarge, "{line}");
        assert_eq!(error(line).reason(), "usage_value_too_large");
    }
    // Exactly the ceiling, directly or through the rate, is a real (if huge) usage.
    assert_eq!(
        usage("llm.tokens:1000000000|c|#provider:p,model:m,token_type:input")
            .usage
            .input_tokens,
        1_000_000_000
    );
    let ev = usage("llm.tokens:1000|c|@0.000001|#provider:p,model:m,token_type:input");
    assert_eq!((ev.usage.input_tokens, ev.weight), (1000, 1e6));
    // Durations are not quantities: a long one is still a duration.
    assert!(convert_line("llm.request.duration:1e12|ms|#provider:p,model:m")[0].is_ok());
}

#[test]
fn non_finite_or_negative_usage_is_invalid_whatever_the_parser_let_through() {
    let parsed = parse_line(b"llm.tokens:1|c|#provider:p,model:m,token_type:input")
        .unwrap_or_else(|e| panic!("{e}"));
    let base = *parsed
        .samples()
        .next()
        .unwrap_or_else(|| panic!("a sample"));
    for v in [f64::NAN, f64::INFINITY, -1.0] {
        let sample = Sample {
            value: Value::Number(v),
            ..base
        };
        assert_eq!(
            convert(Kind::Tokens, &parsed.tags, &sample, NOW, MAX_USAGE),
            Err(ConventionError::UsageValueInvalid),
            "{v}"
        );
    }
    // A rate the parser would never produce still cannot scale a value past the ceiling.
    let sample = Sample { rate: 0.0, ..base };
    assert_eq!(
        convert(Kind::Tokens, &parsed.tags, &sample, NOW, MAX_USAGE),
        Err(ConventionError::UsageValueTooLarge)
    );
}

/// Issue 23: a rejected tag value says which values are accepted.
#[test]
fn bad_tag_values_list_the_accepted_ones() {
    assert_eq!(
        error("llm.requests:1|c|#provider:p,model:m,status:failed").to_string(),
        "tag \"status\" has a value this convention does not know (accepted: ok, error (say \
         what failed in an error_type tag))"
    );
    assert_eq!(
        error("llm.cache:1|c|#cache:c,result:maybe").to_string(),
        "tag \"result\" has a value this convention does not know (accepted: hit, miss)"
    );
}
