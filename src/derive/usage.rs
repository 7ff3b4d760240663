//! Usage event -> the request, token, latency and media families (`llm_requests_total`, ...).
//! Pure: an event in, samples out.

use crate::model::{Exemplar, FamilyOptions, HistogramData, LabelPolicy, Labels, Sample};
use crate::model::{SampleValue, UsageEvent, TTFT_BUCKETS};
use std::sync::Arc;

/// Family options for every derived `llm_*` family: scope labels are optional per event, so label
/// sets legitimately vary within a family.
pub(crate) fn family(help: &'static str) -> Arc<FamilyOptions> {
    Arc::new(FamilyOptions {
        help: Some(Arc::from(help)),
        label_policy: LabelPolicy::Any,
        ..Default::default()
    })
}

pub(crate) struct UsageFamilies {
    requests: Arc<FamilyOptions>,
    tokens: Arc<FamilyOptions>,
    duration: Arc<FamilyOptions>,
    ttft: Arc<FamilyOptions>,
    audio: Arc<FamilyOptions>,
    characters: Arc<FamilyOptions>,
    images: Arc<FamilyOptions>,
}

impl Default for UsageFamilies {
    fn default() -> Self {
        UsageFamilies {
            requests: family("Model calls, by provider, model, operation and status (ok, error)."),
            tokens: family(
                "Tokens by type. input and output include their cached_input/cache_write and \
                 reasoning parts (GenAI convention), so do not add the types together.",
            ),
            duration: family(
                "Model call latency in seconds, from span timing or llm.request.duration.",
            ),
            ttft: Arc::new(FamilyOptions {
                help: Some(Arc::from(
                    "Time to first token of streaming calls, in seconds.",
                )),
                buckets: Some(Arc::from(TTFT_BUCKETS.as_slice())),
                label_policy: LabelPolicy::Any,
                ..Default::default()
            }),
            audio: family("Seconds of audio sent to or produced by models."),
            characters: family("Characters sent to character-priced models (text to speech)."),
            images: family("Images generated."),
        }
    }
}

/// The labels every derived family carries: provider, model, and the event's scope labels (already
/// restricted to the configured allow-list by the caller).
pub(crate) fn base_labels(ev: &UsageEvent) -> Vec<(&str, &str)> {
    let mut l: Vec<(&str, &str)> = Vec::with_capacity(ev.scope.len() + 4);
    l.extend(ev.scope.iter());
    l.push(("provider", &ev.provider));
    l.push(("model", &ev.model));
    l
}

pub(crate) fn exemplar(ev: &UsageEvent, value: f64) -> Option<Exemplar> {
    ev.trace_id.as_ref().map(|t| Exemplar {
        labels: Labels::new([("trace_id", &**t)]),
        value,
        timestamp: (ev.unix_nanos > 0).then(|| ev.unix_nanos as f64 / 1e9),
    })
}

impl UsageFamilies {
    pub(crate) fn derive(&self, ev: &UsageEvent, out: &mut Vec<Sample>) {
        let base = base_labels(ev);
        let w = ev.weight;
        let u = &ev.usage;
        let with =
            |extra: &[(&str, &str)]| Labels::new(base.iter().copied().chain(extra.iter().copied()));
        let push = |out: &mut Vec<Sample>, opts: &Arc<FamilyOptions>, name, labels, value| {
            out.push(Sample {
                name: Box::from(name),
                labels,
                value,
                options: opts.clone(),
                exemplar: None,
            });
        };
        let operation: &str = &ev.operation;
        if u.requests > 0 {
            let status = ev.status.unwrap_or(crate::model::CallStatus::Ok).as_str();
            let n = u.requests as f64 * w;
            out.push(Sample {
                name: Box::from("llm_requests"),
                labels: with(&[("operation", operation), ("status", status)]),
                value: SampleValue::CounterAdd(n),
                options: self.requests.clone(),
                exemplar: exemplar(ev, n),
            });
        }
        for (token_type, n) in [
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
        ] {
            if n > 0 {
                push(
                    out,
                    &self.tokens,
                    "llm_tokens",
                    with(&[("token_type", token_type)]),
                    SampleValue::CounterAdd(n as f64 * w),
                );
            }
        }
        if u.audio_millis > 0 {
            push(
                out,
                &self.audio,
                "llm_audio_seconds",
                with(&[]),
                SampleValue::CounterAdd(u.audio_millis as f64 / 1000.0 * w),
            );
        }
        if u.characters > 0 {
            push(
                out,
                &self.characters,
                "llm_characters",
                with(&[]),
                SampleValue::CounterAdd(u.characters as f64 * w),
            );
        }
        if u.images > 0 {
            push(
                out,
                &self.images,
                "llm_images",
                with(&[]),
                SampleValue::CounterAdd(u.images as f64 * w),
            );
        }
        if let Some(d) = ev.duration {
            let status = ev.status.unwrap_or(crate::model::CallStatus::Ok).as_str();
            let secs = d.as_secs_f64();
            out.push(Sample {
                name: Box::from("llm_request_duration_seconds"),
                labels: with(&[("operation", operation), ("status", status)]),
                value: SampleValue::Observe {
                    value: secs,
                    weight: w,
                },
                options: self.duration.clone(),
                exemplar: exemplar(ev, secs),
            });
        }
        if let Some(d) = ev.time_to_first_token {
            let secs = d.as_secs_f64();
            out.push(Sample {
                name: Box::from("llm_time_to_first_token_seconds"),
                labels: with(&[("operation", operation)]),
                value: SampleValue::Observe {
                    value: secs,
                    weight: w,
                },
                options: self.ttft.clone(),
                exemplar: exemplar(ev, secs),
            });
        }
    }
}

impl UsageFamilies {
    /// Merges a TTFT histogram increment (already on [`TTFT_BUCKETS`]) into the series single
    /// observations of the same call identity land in, with the same labels.
    pub(crate) fn derive_ttft_histogram(
        &self,
        ev: &UsageEvent,
        data: HistogramData,
        out: &mut Vec<Sample>,
    ) {
        let labels = Labels::new(
            base_labels(ev)
                .into_iter()
                .chain([("operation", &*ev.operation)]),
        );
        out.push(Sample {
            name: Box::from("llm_time_to_first_token_seconds"),
            labels,
            value: SampleValue::HistogramAdd(data),
            options: self.ttft.clone(),
            exemplar: None,
        });
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
        UsageFamilies::default().derive(&ev, &mut out);

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

    #[test]
    fn sampled_event_is_weighted() {
        let mut ev = UsageEvent::new("openai", "gpt-4o");
        ev.usage.output_tokens = 10;
        ev.weight = 4.0;
        let mut out = Vec::new();
        UsageFamilies::default().derive(&ev, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value, SampleValue::CounterAdd(40.0));
        assert!(!out.iter().any(|s| &*s.name == "llm_requests"));
    }
}
