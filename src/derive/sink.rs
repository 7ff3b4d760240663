//! Where derived samples go: a vector (tests, and callers that apply samples one by one), or a
//! batch that combines them per series ([`Combined`], the usage path), which takes a derived
//! family's value without a [`Sample`] being built for it: on a series the batch has seen, no
//! name, label set or options are cloned and nothing is moved but the value.

use crate::model::{FamilyOptions, Labels, Sample, SampleValue, TraceExemplar};
use crate::store::Combined;
use std::sync::Arc;

/// `'a`: how long the events whose trace ids exemplars borrow live.
pub(crate) trait Sink<'a> {
    fn sample(&mut self, s: Sample);

    fn derived(
        &mut self,
        name: &Arc<str>,
        labels: &Labels,
        options: &Arc<FamilyOptions>,
        value: SampleValue,
        exemplar: Option<TraceExemplar<'a>>,
    );
}

impl<'a> Sink<'a> for Vec<Sample> {
    fn sample(&mut self, s: Sample) {
        self.push(s);
    }

    fn derived(
        &mut self,
        name: &Arc<str>,
        labels: &Labels,
        options: &Arc<FamilyOptions>,
        value: SampleValue,
        exemplar: Option<TraceExemplar<'a>>,
    ) {
        self.push(Sample {
            name: name.clone(),
            labels: labels.clone(),
            value,
            options: options.clone(),
            exemplar: exemplar.map(|e| e.build()),
        });
    }
}

impl<'a> Sink<'a> for Combined<'a> {
    fn sample(&mut self, s: Sample) {
        self.push(s);
    }

    fn derived(
        &mut self,
        name: &Arc<str>,
        labels: &Labels,
        options: &Arc<FamilyOptions>,
        value: SampleValue,
        exemplar: Option<TraceExemplar<'a>>,
    ) {
        self.add(name, labels, options, value, exemplar);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::Deriver;
    use crate::model::{CallStatus, UsageEvent, UsageSemantics};
    use crate::store::{Store, StoreLimits};
    use std::time::Duration;

    fn deriver() -> Deriver {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meterd.yaml");
        let config = crate::config::load::load_config(&path).unwrap_or_else(|e| panic!("{e}"));
        Deriver::new(&config)
    }

    /// Calls of every shape the usage path derives from: priced and unpriced models, errors with
    /// types, raw usage that is inconsistent, latency, time to first token, audio and images,
    /// sampled weights, traces for exemplars, and several calls per identity.
    fn events() -> Vec<UsageEvent> {
        let mut out = Vec::new();
        for i in 0..60u64 {
            let model =
                ["gpt-4o", "gpt-4o-mini", "not-a-model", "claude-sonnet-4-5"][i as usize % 4];
            let provider = if model.starts_with("claude") {
                "anthropic"
            } else {
                "openai"
            };
            let mut ev = UsageEvent::new(provider, model);
            ev.unix_nanos = 1_780_000_000_000_000_000 + i * 1_000_000_000;
            ev.operation = "chat".into();
            ev.usage.requests = 1;
            ev.usage.input_tokens = 100 + i * 37;
            ev.usage.output_tokens = 20 + i % 7;
            ev.usage.cached_input_tokens = if i % 5 == 0 { 5_000 } else { i % 3 * 10 };
            ev.usage.audio_millis = if i % 9 == 0 { 1_500 } else { 0 };
            ev.usage.images = i % 11 / 10;
            if i % 6 == 0 {
                ev.status = Some(CallStatus::Error);
                ev.error_type = Some(["timeout", "429"][i as usize % 2].into());
            } else {
                ev.status = Some(CallStatus::Ok);
            }
            if i % 13 == 0 {
                ev.semantics = UsageSemantics::RawInput;
            }
            ev.duration = Some(Duration::from_millis(50 + i * 13));
            ev.time_to_first_token = (i % 2 == 0).then(|| Duration::from_millis(5 + i));
            ev.weight = if i % 8 == 0 { 2.5 } else { 1.0 };
            ev.trace_id = (i % 4 != 3).then(|| format!("{i:032x}").into());
            out.push(ev);
        }
        out
    }

    type Seen = Vec<(Box<str>, Vec<(Labels, crate::store::SeriesSnapshot)>)>;

    fn seen(store: &Store) -> Seen {
        store
            .snapshot()
            .into_iter()
            .map(|f| (f.name, f.series))
            .collect()
    }

    /// Past a cap, series of several label sets fold into one `_overflow` series: the batch
    /// writes them set by set, not call by call, so that series' exemplar is one of the batch's
    /// calls rather than the last, and a histogram's float sum adds in another order (counts,
    /// money and whole-number counters are exact). Everything else must be equal as is.
    fn overflow_loose(mut seen: Seen) -> Seen {
        for (_, series) in &mut seen {
            for (labels, s) in series {
                if labels.iter().all(|(_, v)| v == "_overflow") {
                    s.exemplar = None;
                    if let crate::store::SeriesValue::Histogram { sum, .. } = &mut s.value {
                        *sum = (*sum * 1e9).round() / 1e9;
                    }
                }
            }
        }
        seen
    }

    /// The usage path derives into a combining batch: what it writes equals deriving each call's
    /// samples and writing them one by one, refusals included (a cap small enough to refuse).
    #[test]
    fn derived_into_a_batch_equals_samples_written_one_by_one() {
        let d = deriver();
        for limits in [
            StoreLimits::default(),
            StoreLimits {
                max_series_per_metric: 3,
                ..StoreLimits::default()
            },
        ] {
            let (one_by_one, batched) = (Store::new(limits.clone()), Store::new(limits));
            let mut refused_each = 0u64;
            let mut refused_batch = 0u64;
            let events = events();
            let mut combined = Combined::default();
            for ev in &events {
                let mut out = Vec::new();
                let a = d.usage_priced(ev, &mut out).map(|p| p.femto);
                let b = d.usage_priced(ev, &mut combined).map(|p| p.femto);
                assert_eq!(a, b);
                for s in &out {
                    refused_each += u64::from(one_by_one.apply(s).is_err());
                }
            }
            combined.apply(&batched, &mut |_, _, n| refused_batch += n);
            assert_eq!(
                overflow_loose(seen(&batched)),
                overflow_loose(seen(&one_by_one))
            );
            assert_eq!(refused_batch, refused_each);
        }
    }
}
