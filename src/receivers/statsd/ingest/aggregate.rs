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
use std::hash::{BuildHasher, Hasher};
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
    /// `summary`: the family computes quantiles, so observations go to its window.
    fn sample_value(self, summary: bool) -> SampleValue {
        match self {
            Pending::Observe { value, weight } if summary => {
                SampleValue::SummaryObserve { value, weight }
            }
            Pending::CounterAdd(v) => SampleValue::CounterAdd(v),
            Pending::GaugeSet(v) => SampleValue::GaugeSet(v),
            Pending::GaugeAdd(v) => SampleValue::GaugeAdd(v),
            Pending::Observe { value, weight } => SampleValue::Observe { value, weight },
            Pending::SetInsert(h) => SampleValue::SetInsert(h),
        }
    }
}

/// What a line of a known key touches once its key is found: whether it is a metric, and the
/// values merged since the last flush. At 10k+ series every line's lookup misses the cache; the
/// key bytes are found from the table slot itself, so this entry is only read to merge.
struct Hot {
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
    /// (hash of the key, entry, where its bytes start in `keys`): a lookup compares the key bytes
    /// without first reading the entry, so the two cache misses do not wait on each other.
    index: HashTable<Slot>,
    /// Every key's bytes back to back: one allocation instead of one per key, packed so that more
    /// of them stay in cache.
    keys: Vec<u8>,
    hot: Vec<Hot>,
    cold: Vec<Cold>,
    dirty: Vec<u32>,
    rejects: Vec<Reject>,
    /// Reused by every flush: the store takes a series' values as one slice.
    values: Vec<SampleValue>,
    /// Counts [`Self::clear`]s, so a [`Candidate`] found before one is not used after it.
    generation: u64,
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
            rejects: Vec::new(),
            values: Vec::new(),
            generation: 0,
        }
    }
}

/// What identifies one sample's series as sent.
pub(super) struct SeriesKey<'a> {
    pub kind: MetricType,
    pub name: &'a str,
    pub tags: &'a Tags<'a>,
    /// Only when the container id is a label (`statsd.container_id_label`).
    pub container: Option<&'a str>,
}

/// A table slot: enough to find a known key and tell whether its lines are a metric's without
/// reading its entry, which a metric's line then touches only to merge.
#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    /// The entry's index, and in the top bit whether its verdict is a metric.
    entry: u32,
    key_start: u32,
}

const METRIC_BIT: u32 = 1 << 31;

/// A slot found by a key's hash, not yet compared with the key (see [`Aggregator::candidate`]).
#[derive(Clone, Copy)]
pub(super) struct Candidate {
    slot: Slot,
    generation: u64,
}

/// A key's fixed-size head: `[type, tag style, container flag, 0]` then the name, tag and
/// container lengths (u32 LE). The bytes follow it in `keys` (name, tags, container id); with the
/// lengths in the head, equal heads and equal pieces mean equal keys, and pieces cannot run into
/// each other.
const HEAD: usize = 16;

impl SeriesKey<'_> {
    /// `None` for a piece longer than u32 (the caller's line limit keeps them far shorter).
    fn head(&self) -> Option<[u8; HEAD]> {
        let len = |s: &str| u32::try_from(s.len()).ok().map(u32::to_le_bytes);
        let (name, tags) = (len(self.name)?, len(self.tags.raw())?);
        let container = len(self.container.unwrap_or(""))?;
        let mut head = [0u8; HEAD];
        head[0] = self.kind.index() as u8;
        head[1] = self.tags.style as u8;
        head[2] = u8::from(self.container.is_some());
        head[4..8].copy_from_slice(&name);
        head[8..12].copy_from_slice(&tags);
        head[12..16].copy_from_slice(&container);
        Some(head)
    }

    fn pieces(&self) -> [&[u8]; 3] {
        [
            self.name.as_bytes(),
            self.tags.raw().as_bytes(),
            self.container.unwrap_or("").as_bytes(),
        ]
    }

    /// Hashed piece by piece from the line's own bytes: a known series is found without writing
    /// its key anywhere.
    fn hash(&self, hasher: &foldhash::fast::RandomState, head: &[u8; HEAD]) -> u64 {
        let mut h = hasher.build_hasher();
        // The head as one integer (a multiply) rather than bytes (a short-slice hash).
        h.write_u128(u128::from_le_bytes(*head));
        h.write(self.name.as_bytes());
        h.write(self.tags.raw().as_bytes());
        // The head says whether there is one: a key without needs no third slice hashed.
        if let Some(c) = self.container {
            h.write(c.as_bytes());
        }
        h.finish()
    }

    /// Whether the key stored at `stored` (its head and bytes, up to the end of `keys`) is this.
    fn matches(&self, head: &[u8; HEAD], stored: &[u8]) -> bool {
        let Some((stored_head, mut rest)) = stored.split_first_chunk::<HEAD>() else {
            return false;
        };
        if stored_head != head {
            return false;
        }
        for piece in self.pieces() {
            match rest.split_at_checked(piece.len()) {
                Some((bytes, tail)) if bytes == piece => rest = tail,
                _ => return false,
            }
        }
        true
    }
}

impl Aggregator {
    /// The first half of a lookup split in two so that a group of lines' cache misses overlap:
    /// the slot of the key's hash, whose key bytes and entry are loaded here (a load the CPU
    /// starts and does not wait for; there is no prefetch without unsafe code) and compared only
    /// in [`Self::confirm`], after the other lines of the group have asked for theirs.
    pub(super) fn candidate(&self, key: &SeriesKey<'_>) -> Option<Candidate> {
        let head = key.head()?;
        let hash = key.hash(&self.hasher, &head);
        let slot = *self.index.find(hash, |s| s.hash == hash)?;
        let entry = (slot.entry & !METRIC_BIT) as usize;
        std::hint::black_box((
            self.keys.get(slot.key_start as usize).copied(),
            self.hot.get(entry).map(|h| h.samples),
        ));
        Some(Candidate {
            slot,
            generation: self.generation,
        })
    }

    /// The second half: the candidate's entry if its key is `key` and a metric's. A candidate
    /// from before a [`Self::clear`], or of another key with the same hash, is looked up afresh.
    pub(super) fn confirm(&self, key: &SeriesKey<'_>, candidate: Candidate) -> Option<usize> {
        let Candidate { slot, generation } = candidate;
        let head = key.head()?;
        let same = generation == self.generation
            && self
                .keys
                .get(slot.key_start as usize..)
                .is_some_and(|stored| key.matches(&head, stored));
        if !same {
            return self.find_metric(key);
        }
        (slot.entry & METRIC_BIT != 0).then_some((slot.entry & !METRIC_BIT) as usize)
    }

    /// The entry of a known series whose verdict is a metric, if any, without creating one.
    pub(super) fn find_metric(&self, key: &SeriesKey<'_>) -> Option<usize> {
        let head = key.head()?;
        let slot = self.find_hashed(key, &head, key.hash(&self.hasher, &head))?;
        (slot.entry & METRIC_BIT != 0).then_some((slot.entry & !METRIC_BIT) as usize)
    }

    fn find_hashed(&self, key: &SeriesKey<'_>, head: &[u8; HEAD], hash: u64) -> Option<Slot> {
        let keys = &self.keys;
        self.index
            .find(hash, |s| {
                s.hash == hash
                    && keys
                        .get(s.key_start as usize..)
                        .is_some_and(|stored| key.matches(head, stored))
            })
            .copied()
    }

    /// The entry of one sample's series, built by `verdict` on the key's first line. Over `bound`
    /// keys, pending values are flushed and the table starts over (a cardinality flood must not
    /// grow it).
    pub(super) fn entry(
        &mut self,
        pipeline: &Pipeline,
        bound: usize,
        key: SeriesKey<'_>,
        verdict: impl FnOnce() -> Verdict,
    ) -> usize {
        // A piece past u32 cannot be keyed: such a key is decided afresh each time, in an entry
        // of its own that is never found again (unreachable under any line limit meterd accepts).
        let head = key.head();
        let hash = head.map_or(0, |h| key.hash(&self.hasher, &h));
        if let Some(slot) = head.and_then(|h| self.find_hashed(&key, &h, hash)) {
            return (slot.entry & !METRIC_BIT) as usize;
        }
        let pieces = key.pieces();
        let key_len = HEAD + pieces.iter().map(|p| p.len()).sum::<usize>();
        // Offsets are u32 (entries 31 bits): a table past that many keys or key bytes starts over too.
        let full = self.hot.len() >= bound.max(1)
            || self.keys.len().saturating_add(key_len) > u32::MAX as usize
            || self.hot.len() >= METRIC_BIT as usize;
        if full {
            self.flush(pipeline);
            self.clear();
        }
        let verdict = verdict();
        let i = self.hot.len();
        let metric = matches!(verdict, Verdict::Metric { .. });
        self.hot.push(Hot {
            metric,
            samples: 0,
            last: None,
            earlier: Vec::new(),
        });
        self.cold.push(Cold {
            verdict,
            family: FamilyCache::default(),
        });
        if let Some(head) = head {
            let key_start = self.keys.len() as u32;
            self.keys.extend_from_slice(&head);
            pieces.iter().for_each(|p| self.keys.extend_from_slice(p));
            let slot = Slot {
                hash,
                entry: i as u32 | if metric { METRIC_BIT } else { 0 },
                key_start,
            };
            self.index.insert_unique(hash, slot, |s| s.hash);
        }
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
        self.generation = self.generation.wrapping_add(1);
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
                        .map(|p| p.sample_value(options.summary.is_some())),
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
