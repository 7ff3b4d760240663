//! The `llm.*` StatsD convention (see DESIGN.md): lines an app sends about its model calls and
//! their quality, turned into the shared [`UsageEvent`] / [`QualityEvent`] hand-off types. Pure.
//!
//! | name | type | tags (required in bold) | becomes |
//! |---|---|---|---|
//! | `llm.tokens` | c | **provider**, **model**, **token_type** | tokens of that type |
//! | `llm.requests` | c | **provider**, **model**, status (ok, error), error_type, operation | requests |
//! | `llm.request.duration` | ms | **provider**, **model**, status, error_type, operation | latency |
//! | `llm.time_to_first_token` | ms | **provider**, **model**, operation | TTFT |
//! | `llm.audio.seconds`, `llm.characters`, `llm.images` | c | **provider**, **model** | media usage |
//! | `llm.quality.score` | g/h/d/ms | **evaluation**, label | evaluation score |
//! | `llm.outcome` | c | **outcome** | user outcome |
//! | `llm.rating`, `llm.confidence`, `llm.edits` | g/h/d/ms | | rating, confidence, edits per approval |
//! | `llm.approval.duration` | ms | | time to approval |
//! | `llm.model.upgrade` | c | **to_model** | escalation to another model |
//! | `llm.stage.duration` | ms | **stage** | pipeline stage wall time |
//! | `llm.cache` | c | **cache**, **result** (hit, miss) | app cache lookup |
//! | `llm.event` | c | **event** | app event (retry, fallback, ...) |
//!
//! `token_type` is one of input, output, cached_input, cache_write (or cache_write_5m,
//! cache_write_1h), reasoning, audio_input, audio_output. As in the GenAI conventions, cached and
//! cache-write tokens are *part of* input and reasoning tokens part of output: send the totals as
//! input/output and the parts separately; a provider declared raw (`statsd.raw_usage_providers`)
//! sends its fresh input as `input` instead, and derive adds the parts to it. Lines of one call
//! identity in one batch are priced together ([`crate::derive::semantics::merge_lines`]). Only `llm.requests` counts
//! requests, so token lines of a call do not inflate `llm_requests_total`. A
//! `request_input_tokens` tag (the call's whole prompt, cache included, raw source or not)
//! selects long-context price tiers; `service_tier` selects batch/priority prices. The sample rate
//! becomes the event weight (usage) or a repeat count (quality). Every other tag is scope; the
//! deriver keeps only the configured `scope_labels`.

use super::parse::{MetricType, Sample, Tags, Value};
use crate::model::{CallStatus, Labels, QualityEvent, QualitySignal, UsageEvent};
use crate::names::sanitize_label_name;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tokens,
    Requests,
    RequestDuration,
    TimeToFirstToken,
    AudioSeconds,
    Characters,
    Images,
    QualityScore,
    Outcome,
    Rating,
    Confidence,
    Edits,
    ApprovalDuration,
    ModelUpgrade,
    StageDuration,
    Cache,
    Event,
}

impl Kind {
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name.strip_prefix("llm.")? {
            "tokens" => Kind::Tokens,
            "requests" => Kind::Requests,
            "request.duration" => Kind::RequestDuration,
            "time_to_first_token" => Kind::TimeToFirstToken,
            "audio.seconds" => Kind::AudioSeconds,
            "characters" => Kind::Characters,
            "images" => Kind::Images,
            "quality.score" => Kind::QualityScore,
            "outcome" => Kind::Outcome,
            "rating" => Kind::Rating,
            "confidence" => Kind::Confidence,
            "edits" => Kind::Edits,
            "approval.duration" => Kind::ApprovalDuration,
            "model.upgrade" => Kind::ModelUpgrade,
            "stage.duration" => Kind::StageDuration,
            "cache" => Kind::Cache,
            "event" => Kind::Event,
            _ => return None,
        })
    }

    fn is_usage(self) -> bool {
        matches!(
            self,
            Kind::Tokens
                | Kind::Requests
                | Kind::RequestDuration
                | Kind::TimeToFirstToken
                | Kind::AudioSeconds
                | Kind::Characters
                | Kind::Images
        )
    }

    /// StatsD types this name accepts.
    fn accepts(self, t: MetricType) -> bool {
        match self {
            Kind::Tokens
            | Kind::Requests
            | Kind::AudioSeconds
            | Kind::Characters
            | Kind::Images
            | Kind::Outcome
            | Kind::ModelUpgrade
            | Kind::Cache
            | Kind::Event => t == MetricType::Counter,
            Kind::RequestDuration
            | Kind::TimeToFirstToken
            | Kind::ApprovalDuration
            | Kind::StageDuration => t.is_observation(),
            Kind::QualityScore | Kind::Rating | Kind::Confidence | Kind::Edits => {
                t.is_observation() || t == MetricType::Gauge
            }
        }
    }

    /// Tags this name consumes; the rest is scope.
    fn consumed(self) -> &'static [&'static str] {
        const USAGE: &[&str] = &[
            "provider",
            "model",
            "operation",
            "status",
            "error_type",
            "token_type",
            "request_input_tokens",
            "service_tier",
        ];
        match self {
            k if k.is_usage() => USAGE,
            Kind::QualityScore => &["provider", "model", "evaluation", "label"],
            Kind::Outcome => &["provider", "model", "outcome"],
            Kind::ModelUpgrade => &["provider", "model", "to_model"],
            Kind::StageDuration => &["provider", "model", "stage"],
            Kind::Cache => &["provider", "model", "cache", "result"],
            Kind::Event => &["provider", "model", "event"],
            _ => &["provider", "model"],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Usage(UsageEvent),
    /// `repeat`: how many occurrences the line stands for (its count, scaled by the sample rate).
    Quality {
        event: QualityEvent,
        repeat: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConventionError {
    #[error("required tag {0:?} is missing")]
    MissingTag(&'static str),
    #[error("tag {0:?} has a value this convention does not know (accepted: {ok})", ok = accepted(.0))]
    BadTagValue(&'static str),
    #[error("wrong StatsD type for this llm.* name")]
    WrongType,
    #[error("a duration is negative")]
    NegativeDuration,
    #[error("a usage quantity is negative or not a number")]
    UsageValueInvalid,
    #[error("a usage quantity, scaled by the sample rate, exceeds limits.max_usage_per_line")]
    UsageValueTooLarge,
}

impl ConventionError {
    pub fn reason(self) -> &'static str {
        match self {
            ConventionError::MissingTag(_) => "missing_tag",
            ConventionError::BadTagValue(_) => "bad_tag_value",
            ConventionError::WrongType => "convention_type",
            ConventionError::NegativeDuration => "negative_duration",
            ConventionError::UsageValueInvalid => "usage_value_invalid",
            ConventionError::UsageValueTooLarge => "usage_value_too_large",
        }
    }
}

/// What a tag checked by the convention may say, for the message that rejects another value.
fn accepted(tag: &str) -> &'static str {
    match tag {
        "status" => "ok, error (say what failed in an error_type tag)",
        "result" => "hit, miss",
        "token_type" => {
            "input, output, cached_input, cache_write, cache_write_5m, cache_write_1h, \
             reasoning, audio_input, audio_output"
        }
        "request_input_tokens" => "a whole number of tokens",
        _ => "see README.md, StatsD",
    }
}

/// Quality occurrences one line can stand for. [`QualityEvent`] has no count, so each occurrence is
/// handed on separately; the bound keeps one line from costing more than a packet's worth of work.
const MAX_REPEAT: f64 = 1_000.0;

fn required<'a>(tags: &Tags<'a>, name: &'static str) -> Result<&'a str, ConventionError> {
    match tags.get(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ConventionError::MissingTag(name)),
    }
}

fn optional<'a>(tags: &Tags<'a>, name: &str) -> &'a str {
    tags.get(name).unwrap_or("")
}

fn scope(tags: &Tags<'_>, consumed: &[&str]) -> Labels {
    Labels::new(
        tags.iter()
            .filter(|(k, _)| !consumed.contains(k))
            .map(|(k, v)| (sanitize_label_name(k), v)),
    )
}

fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
}

/// Converts one sample of a convention line. `now_unix_nanos` stamps lines without `|T`;
/// `max_usage` is `limits.max_usage_per_line`, the most a usage line may count once scaled by its
/// sample rate.
pub fn convert(
    kind: Kind,
    tags: &Tags<'_>,
    sample: &Sample<'_>,
    now_unix_nanos: u64,
    max_usage: u64,
) -> Result<Event, ConventionError> {
    let value = match sample.value {
        Value::Number(v) if kind.accepts(sample.kind) => v,
        _ => return Err(ConventionError::WrongType),
    };
    let is_duration = matches!(
        kind,
        Kind::RequestDuration
            | Kind::TimeToFirstToken
            | Kind::ApprovalDuration
            | Kind::StageDuration
    );
    if is_duration && value < 0.0 {
        return Err(ConventionError::NegativeDuration);
    }
    let unix_nanos = sample
        .timestamp
        .map_or(now_unix_nanos, |t| t.saturating_mul(1_000_000_000));
    let scope = scope(tags, kind.consumed());
    if kind.is_usage() {
        check_quantity(kind, value, sample.rate, max_usage)?;
        return usage(kind, tags, sample, value, unix_nanos, scope).map(Event::Usage);
    }
    let signal = match kind {
        Kind::QualityScore => QualitySignal::Score {
            value,
            label: tags.get("label").filter(|l| !l.is_empty()).map(Box::from),
        },
        Kind::Outcome => QualitySignal::Outcome(required(tags, "outcome")?.into()),
        Kind::Rating => QualitySignal::Rating(value),
        Kind::Confidence => QualitySignal::Confidence(value),
        Kind::Edits => QualitySignal::EditsPerApproval(value),
        Kind::ApprovalDuration => QualitySignal::TimeToApproval(value / 1000.0),
        Kind::ModelUpgrade => QualitySignal::ModelUpgrade {
            to: required(tags, "to_model")?.into(),
        },
        Kind::StageDuration => QualitySignal::StageDuration {
            stage: required(tags, "stage")?.into(),
            seconds: value / 1000.0,
        },
        Kind::Cache => QualitySignal::Cache {
            cache: required(tags, "cache")?.into(),
            hit: match required(tags, "result")? {
                "hit" => true,
                "miss" => false,
                _ => return Err(ConventionError::BadTagValue("result")),
            },
        },
        Kind::Event => QualitySignal::AppEvent(required(tags, "event")?.into()),
        _ => return Err(ConventionError::WrongType),
    };
    let evaluation = if kind == Kind::QualityScore {
        required(tags, "evaluation")?
    } else {
        ""
    };
    // Counts (outcomes, events) stand for `value` occurrences; observations for one each. Both
    // are scaled by the sample rate.
    let occurrences = if sample.kind == MetricType::Counter {
        value / sample.rate
    } else {
        1.0 / sample.rate
    };
    Ok(Event::Quality {
        event: QualityEvent {
            unix_nanos,
            evaluation: evaluation.into(),
            provider: optional(tags, "provider").into(),
            model: optional(tags, "model").into(),
            scope,
            signal,
            trace_id: None,
        },
        repeat: occurrences.round().clamp(0.0, MAX_REPEAT) as u32,
    })
}

/// Rejects a usage quantity that cannot be real before anything is derived from it: one line
/// claiming 1e300 tokens (or 1 token at `@1e-300`) would otherwise price at the largest amount
/// the money counters hold and deny every budget check. Durations are not quantities: they never
/// reach money, and their own checks apply.
fn check_quantity(
    kind: Kind,
    value: f64,
    rate: f64,
    max_usage: u64,
) -> Result<(), ConventionError> {
    if !matches!(
        kind,
        Kind::Tokens | Kind::Requests | Kind::AudioSeconds | Kind::Characters | Kind::Images
    ) {
        return Ok(());
    }
    if !value.is_finite() || value < 0.0 {
        return Err(ConventionError::UsageValueInvalid);
    }
    let scaled = value / rate;
    // A NaN or infinite quotient (a rate of 0 never parses, but the parser is not this
    // function's guarantee) is too large rather than accepted.
    if !scaled.is_finite() || scaled > max_usage as f64 {
        return Err(ConventionError::UsageValueTooLarge);
    }
    Ok(())
}

fn usage(
    kind: Kind,
    tags: &Tags<'_>,
    sample: &Sample<'_>,
    value: f64,
    unix_nanos: u64,
    scope: Labels,
) -> Result<UsageEvent, ConventionError> {
    let mut ev = UsageEvent::new(required(tags, "provider")?, required(tags, "model")?);
    ev.unix_nanos = unix_nanos;
    ev.scope = scope;
    ev.operation = optional(tags, "operation").into();
    ev.weight = 1.0 / sample.rate;
    if let Some(t) = tags.get("service_tier").filter(|t| !t.is_empty()) {
        ev.service_tier = Some(t.into());
    }
    if let Some(n) = tags.get("request_input_tokens") {
        ev.request_input_tokens = Some(
            n.parse()
                .map_err(|_| ConventionError::BadTagValue("request_input_tokens"))?,
        );
    }
    ev.status = match tags.get("status") {
        None | Some("") => None,
        Some("ok") => Some(CallStatus::Ok),
        Some("error") => Some(CallStatus::Error),
        Some(_) => return Err(ConventionError::BadTagValue("status")),
    };
    if ev.status == Some(CallStatus::Error) {
        ev.error_type = tags
            .get("error_type")
            .filter(|t| !t.is_empty())
            .map(Box::from);
    }
    // Token and media counts are integral; a fractional value is rounded, not truncated.
    let n = value.round() as u64;
    let u = &mut ev.usage;
    match kind {
        Kind::Tokens => {
            let slot = match required(tags, "token_type")? {
                "input" => &mut u.input_tokens,
                "output" => &mut u.output_tokens,
                "cached_input" => &mut u.cached_input_tokens,
                "cache_write" | "cache_write_5m" => &mut u.cache_write_5m_tokens,
                "cache_write_1h" => &mut u.cache_write_1h_tokens,
                "reasoning" => &mut u.reasoning_tokens,
                "audio_input" => &mut u.audio_input_tokens,
                "audio_output" => &mut u.audio_output_tokens,
                _ => return Err(ConventionError::BadTagValue("token_type")),
            };
            *slot = n;
        }
        Kind::Requests => {
            u.requests = n;
            ev.status.get_or_insert(CallStatus::Ok);
        }
        Kind::AudioSeconds => u.audio_millis = (value * 1000.0).round() as u64,
        Kind::Characters => u.characters = n,
        Kind::Images => u.images = n,
        Kind::RequestDuration => ev.duration = Some(millis(value)),
        Kind::TimeToFirstToken => ev.time_to_first_token = Some(millis(value)),
        _ => return Err(ConventionError::WrongType),
    }
    Ok(ev)
}

#[cfg(test)]
mod tests;
