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
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::Arc;

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

/// A StatsD value as merged: the few shapes StatsD produces, a third of a [`SampleValue`]'s size,
/// so a series' pending value sits in the same cache line as its key's bounds.
#[derive(Clone, Copy)]
pub(super) enum Pending {
    CounterAdd(f64),
    GaugeSet(f64),
    GaugeAdd(f64),
    Observe { value: f64, weight: f64 },
    SetInsert(u64),
}

impl Pending {
    fn sample_value(self) -> SampleValue {
        match self {
            Pending::CounterAdd(v) => SampleValue::CounterAdd(v),
            Pending::GaugeSet(v) => SampleValue::GaugeSet(v),
            Pending::GaugeAdd(v) => SampleValue::GaugeAdd(v),
            Pending::Observe { value, weight } => SampleValue::Observe { value, weight },
            Pending::SetInsert(h) => SampleValue::SetInsert(h),
        }
    }
}

/// What a line of a known key touches: where its key bytes are, whether it is a metric, and the
/// values merged since the last flush. At 10k+ series every line's lookup misses the cache; this
/// keeps it to the table slot, this struct and the key bytes.
struct Hot {
    key_start: u32,
    key_len: u32,
    metric: bool,
    /// Samples merged since the last flush: a store refusal of the series counts each of them.
    samples: u32,
    /// The last value merged (counter increments and gauge deltas add into it); `earlier` holds
    /// the values before it, in the order the store must see them.
    last: Option<Pending>,
    earlier: Vec<Pending>,
}

/// What only a key's first line and the flush need.
struct Cold {
    verdict: Verdict,
    /// The store family of `Verdict::Metric`, found on the first flush.
    family: FamilyCache,
}

/// The key table, the entries it points to, and which of them hold values not yet flushed.
pub(super) struct Aggregator {
    hasher: foldhash::fast::RandomState,
    /// (hash of the key, entry): the key bytes themselves live in `keys`.
    index: HashTable<(u64, u32)>,
    /// Every key's bytes back to back: one allocation instead of one per key, packed so that more
    /// of them stay in cache.
    keys: Vec<u8>,
    hot: Vec<Hot>,
    cold: Vec<Cold>,
    dirty: Vec<u32>,
    /// Reused for every key, so looking up a known series does not allocate.
    key: Vec<u8>,
    rejects: Vec<Reject>,
    /// Reused by every flush: the store takes a series' values as one slice.
    values: Vec<SampleValue>,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator {
            hasher: foldhash::fast::RandomState::default(),
            index: HashTable::new(),
            keys: Vec::new(),
            hot: Vec::new(),
            cold: Vec::new(),
            dirty: Vec::new(),
            key: Vec::new(),
            rejects: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// A series as sent, `[type, style, name length (4 bytes LE), name, tags]`, written into `buf`:
/// length-prefixed, so name and tag bytes cannot run into each other.
fn write_key<'b>(buf: &'b mut Vec<u8>, kind: MetricType, name: &str, tags: &Tags<'_>) -> &'b [u8] {
    buf.clear();
    buf.push(kind.index() as u8);
    buf.push(tags.style as u8);
    buf.extend_from_slice(&u32::try_from(name.len()).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(tags.raw().as_bytes());
    buf
}

impl Aggregator {
    /// The entry of one sample's series, built by `verdict` on the key's first line. Over `bound`
    /// keys, pending values are flushed and the table starts over (a cardinality flood must not
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
        let key = write_key(&mut self.key, kind, name, tags);
        let hash = self.hasher.hash_one(key);
        let (hot, keys) = (&self.hot, &self.keys);
        let found = self.index.find(hash, |&(h, i)| {
            h == hash
                && hot.get(i as usize).is_some_and(|e| {
                    let start = e.key_start as usize;
                    keys.get(start..start + e.key_len as usize) == Some(key)
                })
        });
        if let Some(&(_, i)) = found {
            return i as usize;
        }
        // Offsets are u32: a table past that many keys or key bytes starts over too.
        let full = self.hot.len() >= bound.max(1)
            || self.keys.len() + key.len() > u32::MAX as usize
            || self.hot.len() >= u32::MAX as usize;
        if full {
            self.flush(pipeline);
            self.clear();
        }
        let verdict = verdict();
        let i = self.hot.len();
        let key_start = self.keys.len();
        self.keys.extend_from_slice(&self.key);
        self.hot.push(Hot {
            key_start: key_start as u32,
            key_len: self.key.len() as u32,
            metric: matches!(verdict, Verdict::Metric { .. }),
            samples: 0,
            last: None,
            earlier: Vec::new(),
        });
        self.cold.push(Cold {
            verdict,
            family: FamilyCache::default(),
        });
        self.index
            .insert_unique(hash, (hash, i as u32), |&(h, _)| h);
        i
    }

    /// Entry `i`'s verdict when it is not a metric (a metric's lines need only [`Self::merge`]).
    pub(super) fn non_metric(&self, i: usize) -> Option<&Verdict> {
        match self.hot.get(i) {
            Some(h) if h.metric => None,
            _ => self.cold.get(i).map(|c| &c.verdict),
        }
    }

    /// Merges one sample's value into entry `i` (whose verdict is `Metric`).
    pub(super) fn merge(&mut self, i: usize, value: Pending) {
        let Some(e) = self.hot.get_mut(i) else {
            return;
        };
        if e.samples == 0 {
            self.dirty.push(i as u32);
        }
        e.samples = e.samples.saturating_add(1);
        match (&mut e.last, value) {
            // A non-finite sum would turn valid increments into one the store refuses: such a
            // value stays separate, refused on its own as it would be line by line.
            (Some(Pending::CounterAdd(sum)), Pending::CounterAdd(v)) if (*sum + v).is_finite() => {
                *sum += v
            }
            (Some(Pending::GaugeSet(g)), Pending::GaugeAdd(d)) => *g += d,
            (last, Pending::GaugeSet(v)) => {
                e.earlier.clear();
                *last = Some(Pending::GaugeSet(v));
            }
            (last, v) => {
                if let Some(prev) = last.replace(v) {
                    e.earlier.push(prev);
                }
            }
        }
    }

    /// Forgets every key (a reload changed what they resolve to). Flush first.
    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.keys.clear();
        self.hot.clear();
        self.cold.clear();
        self.dirty.clear();
    }

    /// Applies every pending value to the store; refusals are counted per merged sample.
    pub(super) fn flush(&mut self, pipeline: &Pipeline) {
        let store = pipeline.store();
        for i in self.dirty.drain(..) {
            let (Some(h), Some(c)) = (self.hot.get_mut(i as usize), self.cold.get_mut(i as usize))
            else {
                continue;
            };
            if let Verdict::Metric {
                name,
                labels,
                options,
            } = &c.verdict
            {
                self.values.clear();
                self.values.extend(
                    h.earlier
                        .iter()
                        .chain(h.last.as_ref())
                        .map(|p| p.sample_value()),
                );
                let target = Target {
                    name,
                    labels,
                    options,
                };
                let rejects = &mut self.rejects;
                let whole =
                    store.apply_values_cached(&mut c.family, target, &self.values, &mut |r| {
                        rejects.push(r)
                    });
                if let Err(r) = whole {
                    telemetry::rejected_n(store, "statsd", name, r, u64::from(h.samples));
                }
                for r in self.rejects.drain(..) {
                    telemetry::rejected_n(store, "statsd", name, r, 1);
                }
            }
            h.earlier.clear();
            h.last = None;
            h.samples = 0;
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.hot.len()
    }
}
