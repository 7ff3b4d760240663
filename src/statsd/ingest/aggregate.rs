//! Per-worker pre-aggregation, keyed by the bytes that identify a series as sent (type, name, tag
//! style and raw tag text). A repeat series costs a hash of those bytes and a push or an add: its
//! labels, mapping, limit checks and redaction were settled the first time and are kept with the
//! key, as is a refusal (mapping drop, label limits, reserved name), which is then counted per
//! line exactly as on the first. Merged values reach the store on the worker's flush, one family
//! lock per series rather than per line.
//!
//! Merging keeps what the store would have computed line by line: counter increments add up,
//! a gauge set supersedes what came before it and absorbs the deltas after it (the same sums in
//! the same order), deltas without a set and every observation or set member stay separate
//! values, applied in arrival order.

use super::LineError;
use crate::model::{FamilyOptions, Labels, SampleValue};
use crate::pipeline::Pipeline;
use crate::statsd::convention;
use crate::statsd::parse::{MetricType, Tags};
use crate::store::{FamilyCache, Reject, Target};
use crate::telemetry;
use std::collections::HashMap;
use std::sync::Arc;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What every line of one key amounts to, decided on the key's first line.
pub(super) enum Verdict {
    Metric {
        name: Box<str>,
        /// After mapping labels, limits and redaction: what the store keys the series by.
        labels: Labels,
        options: Arc<FamilyOptions>,
    },
    /// Goes through the event path line by line (usage and quality events are not sums).
    Convention(convention::Kind),
    Drop,
    Reject(LineError),
}

struct Entry {
    verdict: Verdict,
    /// Values merged since the last flush, in the order the store must see them.
    pending: Vec<SampleValue>,
    /// Samples merged since the last flush: a store refusal of the series counts each of them.
    samples: u64,
    /// The store family of `Verdict::Metric`, found on the first flush.
    family: FamilyCache,
}

/// The key map, the entries it points to, and which of them hold values not yet flushed.
#[derive(Default)]
pub(super) struct Aggregator {
    index: FastMap<Box<[u8]>, usize>,
    entries: Vec<Entry>,
    dirty: Vec<usize>,
    /// Reused for every key, so looking up a known series does not allocate.
    key: Vec<u8>,
    rejects: Vec<Reject>,
}

impl Aggregator {
    /// The entry of one sample's series, built by `verdict` on the key's first line. Over `bound`
    /// keys, pending values are flushed and the map starts over (a cardinality flood must not
    /// grow it).
    pub(super) fn entry(
        &mut self,
        pipeline: &Pipeline,
        bound: usize,
        kind: MetricType,
        name: &str,
        tags: &Tags<'_>,
        verdict: impl FnOnce() -> Verdict,
    ) -> usize {
        self.key.clear();
        self.key.push(kind.index() as u8);
        self.key.push(tags.style as u8);
        // Length-prefixed, so name and tag bytes cannot run into each other.
        self.key
            .extend_from_slice(&u32::try_from(name.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.key.extend_from_slice(name.as_bytes());
        self.key.extend_from_slice(tags.raw().as_bytes());
        if let Some(i) = self.index.get(self.key.as_slice()) {
            return *i;
        }
        if self.index.len() >= bound.max(1) {
            self.flush(pipeline);
            self.clear();
        }
        self.entries.push(Entry {
            verdict: verdict(),
            pending: Vec::new(),
            samples: 0,
            family: FamilyCache::default(),
        });
        let i = self.entries.len() - 1;
        self.index.insert(self.key.as_slice().into(), i);
        i
    }

    pub(super) fn verdict(&self, i: usize) -> Option<&Verdict> {
        self.entries.get(i).map(|e| &e.verdict)
    }

    /// Merges one sample's value into entry `i` (whose verdict is `Metric`).
    pub(super) fn merge(&mut self, i: usize, value: SampleValue) {
        let Some(e) = self.entries.get_mut(i) else {
            return;
        };
        if e.samples == 0 {
            self.dirty.push(i);
        }
        e.samples += 1;
        match (e.pending.last_mut(), value) {
            // A non-finite sum would turn valid increments into one the store refuses: such a
            // value stays separate, refused on its own as it would be line by line.
            (Some(SampleValue::CounterAdd(sum)), SampleValue::CounterAdd(v))
                if (*sum + v).is_finite() =>
            {
                *sum += v
            }
            (Some(SampleValue::GaugeSet(g)), SampleValue::GaugeAdd(d)) => *g += d,
            (_, SampleValue::GaugeSet(v)) => {
                e.pending.clear();
                e.pending.push(SampleValue::GaugeSet(v));
            }
            (_, v) => e.pending.push(v),
        }
    }

    /// Forgets every key (a reload changed what they resolve to). Flush first.
    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.dirty.clear();
    }

    /// Applies every pending value to the store; refusals are counted per merged sample.
    pub(super) fn flush(&mut self, pipeline: &Pipeline) {
        let store = pipeline.store();
        for i in self.dirty.drain(..) {
            let Some(e) = self.entries.get_mut(i) else {
                continue;
            };
            if let Verdict::Metric {
                name,
                labels,
                options,
            } = &e.verdict
            {
                let target = Target {
                    name,
                    labels,
                    options,
                };
                let rejects = &mut self.rejects;
                let whole =
                    store.apply_values_cached(&mut e.family, target, &e.pending, &mut |r| {
                        rejects.push(r)
                    });
                if let Err(r) = whole {
                    telemetry::rejected_n(store, "statsd", name, r, e.samples);
                }
                for r in self.rejects.drain(..) {
                    telemetry::rejected_n(store, "statsd", name, r, 1);
                }
            }
            e.pending.clear();
            e.samples = 0;
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }
}
