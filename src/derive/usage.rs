//! Usage event -> the request, token, latency and media families (`llm_requests_total`, ...).
//! Pure: an event in, samples out.

use super::call_labels::{self, Set};
use super::sink::Sink;
use crate::model::TraceExemplar;
use crate::model::{Exemplar, FamilyOptions, HistogramData, LabelPolicy, Labels, Sample};
use crate::model::{SampleValue, UsageEvent, TTFT_BUCKETS};
use std::sync::Arc;
use std::time::Duration;

/// Why a usage event was refused before anything was derived from it; `reason()` labels
/// `meterd_usage_rejected_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsageRejected {
    #[error("the event's weight is not a positive finite number")]
    Invalid,
    #[error("a quantity, times the event's weight, exceeds limits.max_usage_per_line")]
    TooLarge,
}

impl UsageRejected {
    pub fn reason(self) -> &'static str {
        match self {
            UsageRejected::Invalid => "usage_value_invalid",
            UsageRejected::TooLarge => "usage_value_too_large",
        }
    }
}

/// The per-event ceiling every protocol goes through (StatsD lines are also checked when parsed,
/// with the same bound): a span claiming 1e18 input tokens, or a token metric point weighted by
/// an absurd sampling threshold, would price at amounts no budget can survive. Each quantity
/// (tokens by type, requests, audio seconds, characters, images), times the weight, must be at
/// most `max`.
pub fn check_ceiling(ev: &UsageEvent, max: u64) -> Result<(), UsageRejected> {
    let w = ev.weight;
    if !(w.is_finite() && w > 0.0) {
        return Err(UsageRejected::Invalid);
    }
    let u = &ev.usage;
    let largest = [
        u.input_tokens,
        u.output_tokens,
        u.cached_input_tokens,
        u.cache_write_5m_tokens,
        u.cache_write_1h_tokens,
        u.reasoning_tokens,
        u.audio_input_tokens,
        u.audio_output_tokens,
        u.audio_millis / 1000,
        u.characters,
        u.images,
        u.requests,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    if largest as f64 * w > max as f64 {
        return Err(UsageRejected::TooLarge);
    }
    Ok(())
}

/// Idle expiry of every derived `llm_*` family: never. A counter that expired and came back
/// would restart at its new value, which Prometheus reads as a reset: `increase()` over two
/// calls 30 minutes apart would be 0, and a burst on a series that just reappeared invisible.
/// They stay bounded by the per-metric series cap, whose refusals are counted
/// (`meterd_series_dropped_total{metric,reason}`); nothing evicts a derived series.
pub(crate) const DERIVED_TTL: Option<Duration> = Some(Duration::ZERO);

/// Family options for every derived `llm_*` family: scope labels are optional per event, so label
/// sets legitimately vary within a family; see [`DERIVED_TTL`].
pub(crate) fn family(help: &'static str) -> Arc<FamilyOptions> {
    Arc::new(FamilyOptions {
        help: Some(Arc::from(help)),
        label_policy: LabelPolicy::Any,
        ttl: DERIVED_TTL,
        fold_overflow: true,
        ..Default::default()
    })
}

/// A derived family: its name and options, built once per config rather than once per sample.
pub(crate) struct Family {
    name: Arc<str>,
    options: Arc<FamilyOptions>,
}

impl Family {
    pub(crate) fn new(name: &str, options: Arc<FamilyOptions>) -> Self {
        Family {
            name: Arc::from(name),
            options,
        }
    }

    pub(crate) fn sample(
        &self,
        labels: Labels,
        value: SampleValue,
        exemplar: Option<Exemplar>,
    ) -> Sample {
        Sample {
            name: self.name.clone(),
            labels,
            value,
            options: self.options.clone(),
            exemplar,
        }
    }

    /// This family's value for the series `labels`, into `out`.
    pub(crate) fn emit<'a>(
        &self,
        out: &mut impl Sink<'a>,
        labels: &Labels,
        value: SampleValue,
        exemplar: Option<TraceExemplar<'a>>,
    ) {
        out.derived(&self.name, labels, &self.options, value, exemplar);
    }
}

pub(crate) struct UsageFamilies {
    requests: Family,
    tokens: Family,
    duration: Family,
    ttft: Family,
    audio: Family,
    characters: Family,
    images: Family,
    error_types: super::error_type::ErrorTypes,
}

impl Default for UsageFamilies {
    fn default() -> Self {
        UsageFamilies {
            requests: Family::new(
                "llm_requests",
                family("Model calls, by provider, model, operation and status (ok, error)."),
            ),
            tokens: Family::new(
                "llm_tokens",
                family(
                    "Tokens by type. input and output include their cached_input/cache_write and \
                     reasoning parts (GenAI convention), so do not add the types together.",
                ),
            ),
            duration: Family::new(
                "llm_request_duration_seconds",
                family("Model call latency in seconds, from span timing or llm.request.duration."),
            ),
            ttft: Family::new(
                "llm_time_to_first_token_seconds",
                Arc::new(FamilyOptions {
                    help: Some(Arc::from(
                        "Time to first token of streaming calls, in seconds.",
                    )),
                    buckets: Some(Arc::from(TTFT_BUCKETS.as_slice())),
                    label_policy: LabelPolicy::Any,
                    ttl: DERIVED_TTL,
                    fold_overflow: true,
                    ..Default::default()
                }),
            ),
            audio: Family::new(
                "llm_audio_seconds",
                family("Seconds of audio sent to or produced by models."),
            ),
            characters: Family::new(
                "llm_characters",
                family("Characters sent to character-priced models (text to speech)."),
            ),
            images: Family::new("llm_images", family("Images generated.")),
            error_types: Default::default(),
        }
    }
}

/// The labels every derived family carries: provider, model, and the event's scope labels (already
/// restricted to the configured allow-list by the caller). One event derives many samples: each
/// adds its own labels to these.
pub(crate) struct BaseLabels<'a>(Vec<(&'a str, &'a str)>);

impl<'a> BaseLabels<'a> {
    pub(crate) fn new(ev: &'a UsageEvent) -> Self {
        let mut l: Vec<(&str, &str)> = Vec::with_capacity(ev.scope.len() + 2);
        l.extend(ev.scope.iter());
        l.push(("provider", &ev.provider));
        l.push(("model", &ev.model));
        BaseLabels(l)
    }

    pub(crate) fn with(&self, extra: &[(&str, &str)]) -> Labels {
        Labels::shared(self.0.iter().chain(extra).copied())
    }
}

/// What every sample of one event shares: the call's label sets (looked up once per event, not
/// once per family) and its trace, borrowed for exemplars built only where they are kept.
pub(crate) struct EventLabels<'a> {
    call: std::rc::Rc<call_labels::CallLabels>,
    trace_id: Option<&'a str>,
    timestamp: Option<f64>,
}

impl<'a> EventLabels<'a> {
    /// `ev` as the families see it (its scope already the derived one).
    #[cfg(test)]
    pub(crate) fn new(ev: &'a UsageEvent) -> Self {
        Self::of(ev, ev.trace_id.as_deref())
    }

    /// `ev` with its trace id borrowed from where it lives longer (a derived copy of `ev` has the
    /// same id).
    pub(crate) fn of(ev: &UsageEvent, trace_id: Option<&'a str>) -> Self {
        EventLabels {
            call: call_labels::of(ev),
            trace_id,
            timestamp: (ev.unix_nanos > 0).then(|| ev.unix_nanos as f64 / 1e9),
        }
    }

    pub(crate) fn call(&self) -> &call_labels::CallLabels {
        &self.call
    }

    pub(crate) fn at(&self, value: f64) -> Option<TraceExemplar<'a>> {
        self.trace_id.map(|trace_id| TraceExemplar {
            trace_id,
            value,
            timestamp: self.timestamp,
        })
    }
}

impl UsageFamilies {
    pub(crate) fn derive<'a>(
        &self,
        ev: &UsageEvent,
        labels: &EventLabels<'a>,
        out: &mut impl Sink<'a>,
    ) {
        let sets = labels.call();
        let with = |extra: &[(&str, &str)]| BaseLabels::new(ev).with(extra);
        let w = ev.weight;
        let u = &ev.usage;
        let operation: &str = &ev.operation;
        let status = ev.status.unwrap_or(crate::model::CallStatus::Ok);
        let error_type = match (&ev.error_type, status) {
            (Some(raw), crate::model::CallStatus::Error) => self.error_types.label(raw),
            _ => None,
        };
        if let Some((_, true)) = error_type {
            out.sample(error_type_capped());
        }
        let status = status.as_str();
        let call = || match &error_type {
            Some((t, _)) => with(&[
                ("operation", operation),
                ("status", status),
                ("error_type", t),
            ]),
            None => with(&[("operation", operation), ("status", status)]),
        };
        if u.requests > 0 {
            let n = u.requests as f64 * w;
            self.requests.emit(
                out,
                &sets.get(Set::Call, call),
                SampleValue::CounterAdd(n),
                labels.at(n),
            );
        }
        for (i, (token_type, n)) in [
            ("input", u.input_tokens),
            ("output", u.output_tokens),
            ("cached_input", u.cached_input_tokens),
            (
                "cache_write",
                u.cache_write_5m_tokens + u.cache_write_1h_tokens,
            ),
            ("reasoning", u.reasoning_tokens),
            ("audio_input", u.audio_input_tokens),
            ("audio_output", u.audio_output_tokens),
        ]
        .into_iter()
        .enumerate()
        {
            if n > 0 {
                self.tokens.emit(
                    out,
                    &sets.get(Set::Token(i), || with(&[("token_type", token_type)])),
                    SampleValue::CounterAdd(n as f64 * w),
                    None,
                );
            }
        }
        for (family, n) in [
            (&self.audio, u.audio_millis as f64 / 1000.0),
            (&self.characters, u.characters as f64),
            (&self.images, u.images as f64),
        ] {
            if n > 0.0 {
                family.emit(
                    out,
                    &sets.get(Set::Base, || with(&[])),
                    SampleValue::CounterAdd(n * w),
                    None,
                );
            }
        }
        if let Some(d) = ev.duration {
            let secs = d.as_secs_f64();
            self.duration.emit(
                out,
                &sets.get(Set::Call, call),
                SampleValue::Observe {
                    value: secs,
                    weight: w,
                },
                labels.at(secs),
            );
        }
        if let Some(d) = ev.time_to_first_token {
            let secs = d.as_secs_f64();
            self.ttft.emit(
                out,
                &sets.get(Set::Operation, || with(&[("operation", operation)])),
                SampleValue::Observe {
                    value: secs,
                    weight: w,
                },
                labels.at(secs),
            );
        }
    }
}

/// `meterd_usage_values_capped_total{dimension="error_type"}` += 1.
fn error_type_capped() -> Sample {
    crate::telemetry::sample(
        &crate::telemetry::catalogue::USAGE_VALUES_CAPPED,
        &[("dimension", "error_type")],
        SampleValue::CounterAdd(1.0),
    )
}

impl UsageFamilies {
    /// Keeps the error types the previous snapshot admitted, so a reload keeps the cap a cap.
    pub(crate) fn carry_over(&self, prev: &UsageFamilies) {
        self.error_types.carry_over(&prev.error_types);
    }

    /// Merges a TTFT histogram increment (already on [`TTFT_BUCKETS`]) into the series single
    /// observations of the same call identity land in, with the same labels.
    pub(crate) fn derive_ttft_histogram(
        &self,
        ev: &UsageEvent,
        data: HistogramData,
        out: &mut Vec<Sample>,
    ) {
        let labels = BaseLabels::new(ev).with(&[("operation", &ev.operation)]);
        out.push(
            self.ttft
                .sample(labels, SampleValue::HistogramAdd(data), None),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallStatus;
    use std::time::Duration;

    fn find<'a>(out: &'a [Sample], name: &str, label: (&str, &str)) -> &'a Sample {
        out.iter()
            .find(|s| &*s.name == name && s.labels.get(label.0) == Some(label.1))
            .unwrap_or_else(|| panic!("no {name} with {label:?} in {out:?}"))
    }

    #[test]
    fn span_like_event_derives_requests_tokens_and_latency() {
        let mut ev = UsageEvent::new("openai", "gpt-4o");
        ev.operation = "chat".into();
        ev.scope = Labels::new([("team", "search")]);
        ev.usage.requests = 1;
        ev.usage.input_tokens = 1200;
        ev.usage.cached_input_tokens = 200;
        ev.usage.output_tokens = 300;
        ev.status = Some(CallStatus::Error);
        ev.duration = Some(Duration::from_millis(834));
        ev.trace_id = Some("0af7651916cd43dd8448eb211c80319c".into());
        let mut out = Vec::new();
        UsageFamilies::default().derive(&ev, &EventLabels::new(&ev), &mut out);

        let req = find(&out, "llm_requests", ("status", "error"));
        assert_eq!(req.value, SampleValue::CounterAdd(1.0));
        assert_eq!(req.labels.get("team"), Some("search"));
        assert_eq!(req.labels.get("operation"), Some("chat"));
        assert!(req.exemplar.is_some());
        assert_eq!(
            find(&out, "llm_tokens", ("token_type", "input")).value,
            SampleValue::CounterAdd(1200.0)
        );
        assert_eq!(
            find(&out, "llm_tokens", ("token_type", "cached_input")).value,
            SampleValue::CounterAdd(200.0)
        );
        let d = find(&out, "llm_request_duration_seconds", ("status", "error"));
        assert_eq!(
            d.value,
            SampleValue::Observe {
                value: 0.834,
                weight: 1.0
            }
        );
        assert!(!out
            .iter()
            .any(|s| s.labels.get("token_type") == Some("reasoning")));
    }

    /// Issue 17 item 2: the per-event ceiling every protocol passes (OTLP spans and metric
    /// points included), on the quantity times the event's weight.
    #[test]
    fn usage_ceiling_applies_to_weighted_quantities() {
        let max = 1_000_000_000;
        let mut ev = UsageEvent::new("openai", "gpt-4o");
        ev.usage.input_tokens = 1_000_000_000_000_000_000;
        assert_eq!(check_ceiling(&ev, max), Err(UsageRejected::TooLarge));
        ev.usage.input_tokens = max;
        assert_eq!(check_ceiling(&ev, max), Ok(()));
        // Within the ceiling alone, past it once weighted (a sampling threshold of 2^-56).
        ev.usage.input_tokens = 1000;
        ev.weight = 7.2e16;
        assert_eq!(check_ceiling(&ev, max), Err(UsageRejected::TooLarge));
        ev.weight = 1e6;
        assert_eq!(check_ceiling(&ev, max), Ok(()));
        for w in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
            ev.weight = w;
            assert_eq!(check_ceiling(&ev, max), Err(UsageRejected::Invalid), "{w}");
        }
        let mut media = UsageEvent::new("openai", "whisper-1");
        media.usage.audio_millis = 2_000_000_000_000;
        assert_eq!(check_ceiling(&media, max), Err(UsageRejected::TooLarge));
        media.usage.audio_millis = 1_000_000_000_000;
        assert_eq!(check_ceiling(&media, max), Ok(()));
        assert_eq!(UsageRejected::TooLarge.reason(), "usage_value_too_large");
        assert_eq!(UsageRejected::Invalid.reason(), "usage_value_invalid");
    }

    /// Issue 23: failed calls are told apart by error type, on requests and latency; the value is
    /// canonical, capped, and absent from successful calls.
    #[test]
    fn failed_calls_carry_their_error_type() {
        let f = UsageFamilies::default();
        let mut ev = UsageEvent::new("openai", "gpt-4o");
        ev.usage.requests = 1;
        ev.duration = Some(Duration::from_millis(20));
        ev.status = Some(CallStatus::Error);
        ev.error_type = Some("openai.RateLimitError".into());
        let mut out = Vec::new();
        f.derive(&ev, &EventLabels::new(&ev), &mut out);
        let req = find(&out, "llm_requests", ("status", "error"));
        assert_eq!(req.labels.get("error_type"), Some("rate_limit"));
        let d = find(&out, "llm_request_duration_seconds", ("status", "error"));
        assert_eq!(d.labels.get("error_type"), Some("rate_limit"));

        ev.status = Some(CallStatus::Ok);
        let mut out = Vec::new();
        f.derive(&ev, &EventLabels::new(&ev), &mut out);
        let req = find(&out, "llm_requests", ("status", "ok"));
        assert_eq!(req.labels.get("error_type"), None);

        ev.status = Some(CallStatus::Error);
        for i in 0..super::super::error_type::MAX_OTHER_VALUES {
            ev.error_type = Some(format!("E{i}").into());
            f.derive(&ev, &EventLabels::new(&ev), &mut Vec::new());
        }
        ev.error_type = Some("one.too.many".into());
        let mut out = Vec::new();
        f.derive(&ev, &EventLabels::new(&ev), &mut out);
        let req = find(&out, "llm_requests", ("status", "error"));
        assert_eq!(req.labels.get("error_type"), Some("other"));
        let capped = find(
            &out,
            "meterd_usage_values_capped",
            ("dimension", "error_type"),
        );
        assert_eq!(capped.value, SampleValue::CounterAdd(1.0));
    }

    #[test]
    fn sampled_event_is_weighted() {
        let mut ev = UsageEvent::new("openai", "gpt-4o");
        ev.usage.output_tokens = 10;
        ev.weight = 4.0;
        let mut out = Vec::new();
        UsageFamilies::default().derive(&ev, &EventLabels::new(&ev), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value, SampleValue::CounterAdd(40.0));
        assert!(!out.iter().any(|s| &*s.name == "llm_requests"));
    }
}
