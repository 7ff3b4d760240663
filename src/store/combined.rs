//! The samples of one batch, combined per series before they reach the store.
//!
//! A request of a thousand GenAI spans derives a dozen samples per span, but only a few dozen
//! series: the same model's requests, tokens and cost, again and again. Written one by one, every
//! sample took its family's lock and found its series in a map shared with the other request
//! threads (whose label sets are other allocations, so each lookup compared label text), and the
//! two cores fought over those cache lines. Combined, each series is looked up and locked once
//! per batch, with its values in arrival order.
//!
//! Combining never changes a figure: exact money amounts add as integers, counter increments add
//! only while the sum is exact (whole numbers below 2^53, as token counts are), and everything else
//! (observations, gauges, anything the store might refuse) stays a value of its own, applied in
//! order. A refusal counts every sample folded into what was refused, and the series keeps the
//! exemplar of the last value it took. Where a cap folds several label sets into one `_overflow`
//! series, they are written set by set rather than sample by sample: that series' exemplar is one
//! of the batch's last ones, not necessarily the very last, and a histogram's float sum adds in
//! another order (counts, money and whole-number counters are exact). Two more edges, not reachable
//! from derived usage: a float counter whose total is past 2^53 (where every addition rounds)
//! rounds a sum once instead of each part, and a money sum past 2^128 femto-USD is refused whole.

use super::{ExemplarsAt, NameCache, Reject, Store, Target};
use crate::model::TraceExemplar;
use crate::model::{Exemplar, FamilyOptions, Labels, MetricKind, Sample, SampleValue};
use hashbrown::HashTable;
use std::sync::Arc;

/// Past this many series in one batch, further samples are written straight through rather
/// than the table growing (a batch is bounded by its request, but the table need not be).
const MAX_SERIES: usize = 4096;

/// Whole-number sums stay exact in an f64 up to 2^53.
const EXACT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// An exemplar as offered: built (a sample's), or a trace id built into one only if kept.
enum Offered<'a> {
    Built(Exemplar),
    Trace(TraceExemplar<'a>),
}

impl Offered<'_> {
    fn build(self) -> Exemplar {
        match self {
            Offered::Built(e) => e,
            Offered::Trace(t) => t.build(),
        }
    }
}

struct Entry<'a> {
    name: Arc<str>,
    labels: Labels,
    options: Arc<FamilyOptions>,
    /// Of one metric kind: a sample of another kind opens an entry of its own (the store refuses
    /// one or the other whole, as it would refuse those samples one by one).
    kind: MetricKind,
    values: Vec<SampleValue>,
    /// Per value, the samples folded into it: a refusal counts each of them.
    samples: Vec<u64>,
    /// Exemplars by the value they came with (the last one of each): the series keeps the last
    /// taken value's.
    exemplars: Vec<(usize, Offered<'a>)>,
    /// Holds a value a new series takes: until then, the series is not created, so a later
    /// sample opens an entry of its own where it arrives (the store creates series in that order,
    /// which matters once a cap is reached).
    creates: bool,
    /// Every value is a valid observation: the series takes all of them or none, so only the
    /// last exemplar can be the one it keeps (a call's latency: one value and exemplar per call,
    /// the rest let go as they arrive rather than held to the end of the batch).
    observations: bool,
}

impl<'a> Entry<'a> {
    fn is(&self, name: &Arc<str>, labels: &Labels, kind: MetricKind) -> bool {
        self.kind == kind
            && (Arc::ptr_eq(&self.name, name) || self.name == *name)
            && self.labels == *labels
    }

    fn add(&mut self, value: SampleValue, exemplar: Option<Offered<'a>>) {
        self.creates |= creates(&value);
        self.observations &= valid_observation(&value);
        let folded = match (self.values.last_mut(), self.samples.last_mut()) {
            (Some(last), Some(n)) => match combine(last, &value) {
                Some(sum) => {
                    *last = sum;
                    *n += 1;
                    true
                }
                None => false,
            },
            _ => false,
        };
        if !folded {
            self.values.push(value);
            self.samples.push(1);
        }
        if let Some(e) = exemplar {
            let at = self.values.len() - 1;
            if self.observations {
                self.exemplars.clear();
            }
            match self.exemplars.last_mut() {
                Some(last) if last.0 == at => last.1 = e,
                _ => self.exemplars.push((at, e)),
            }
        }
    }
}

/// An observation a histogram series takes whatever it holds.
fn valid_observation(v: &SampleValue) -> bool {
    matches!(v, SampleValue::Observe { .. }) && creates(v)
}

/// Whether a new series of the value's kind takes it, whatever else is in the store.
fn creates(v: &SampleValue) -> bool {
    match v {
        SampleValue::CounterAdd(x) | SampleValue::CounterSet { value: x, .. } => {
            x.is_finite() && *x >= 0.0
        }
        SampleValue::CounterAddFemtoUsd(_)
        | SampleValue::GaugeSet(_)
        | SampleValue::GaugeAdd(_)
        | SampleValue::SetInsert(_) => true,
        SampleValue::Observe { value, weight } => {
            !value.is_nan() && weight.is_finite() && *weight > 0.0
        }
        SampleValue::SummaryObserve { value, weight } => {
            value.is_finite() && weight.is_finite() && *weight > 0.0
        }
        SampleValue::HistogramAdd(_)
        | SampleValue::HistogramSet { .. }
        | SampleValue::SummarySet(_) => false,
    }
}

/// `a` then `b` as one value, where that gives exactly what the store would reach applying both.
fn combine(a: &SampleValue, b: &SampleValue) -> Option<SampleValue> {
    match (a, b) {
        (SampleValue::CounterAddFemtoUsd(x), SampleValue::CounterAddFemtoUsd(y)) => {
            x.checked_add(*y).map(SampleValue::CounterAddFemtoUsd)
        }
        // Negative, fractional or non-finite increments are left for the store to judge one by one.
        (SampleValue::CounterAdd(x), SampleValue::CounterAdd(y))
            if exact_whole(*x) && exact_whole(*y) && x + y <= EXACT_LIMIT =>
        {
            Some(SampleValue::CounterAdd(x + y))
        }
        _ => None,
    }
}

fn exact_whole(v: f64) -> bool {
    // A round trip through u64 instead of `fract`, a libm call per sample.
    (0.0..=EXACT_LIMIT).contains(&v) && (v as u64) as f64 == v
}

/// Series of one batch in first-seen order, with their combined values.
///
/// `'a`: how long the events live whose trace ids the batch's exemplars borrow.
#[derive(Default)]
pub struct Combined<'a> {
    entries: Vec<Entry<'a>>,
    /// (hash, index into `entries`).
    index: HashTable<(u64, u32)>,
    /// Samples that found no room in the table, written straight through at `apply`.
    overflow: Vec<Sample>,
}

fn key_hash(name: &str, labels: &Labels, kind: MetricKind) -> u64 {
    // The label set's hash is computed once per set; the name's length and the kind separate the
    // families that share a set (requests and latency share the call's labels).
    let tag = (name.len() as u64) << 8 | kind as u64;
    labels.hash_value() ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl<'a> Combined<'a> {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.overflow.is_empty()
    }

    pub fn push(&mut self, s: Sample) {
        let Sample {
            name,
            labels,
            value,
            options,
            exemplar,
        } = s;
        let exemplar = exemplar.map(Offered::Built);
        if let Err((value, exemplar)) = self.fold(&name, &labels, value, exemplar) {
            self.open(name, labels, options, value, exemplar);
        }
    }

    /// [`Combined::push`] for a sample not built yet: its series' name, labels and options are
    /// cloned only when the batch has not seen the series, the common case costs none of that.
    pub fn add(
        &mut self,
        name: &Arc<str>,
        labels: &Labels,
        options: &Arc<FamilyOptions>,
        value: SampleValue,
        exemplar: Option<TraceExemplar<'a>>,
    ) {
        let exemplar = exemplar.map(Offered::Trace);
        if let Err((value, exemplar)) = self.fold(name, labels, value, exemplar) {
            self.open(
                name.clone(),
                labels.clone(),
                options.clone(),
                value,
                exemplar,
            );
        }
    }

    /// Folds the value into its series' entry; gives it back when the series needs a new entry.
    fn fold(
        &mut self,
        name: &Arc<str>,
        labels: &Labels,
        value: SampleValue,
        exemplar: Option<Offered<'a>>,
    ) -> Result<(), (SampleValue, Option<Offered<'a>>)> {
        let kind = value.kind();
        let hash = key_hash(name, labels, kind);
        let entries = &self.entries;
        let found = self.index.find(hash, |&(h, i)| {
            h == hash
                && entries
                    .get(i as usize)
                    .is_some_and(|e| e.is(name, labels, kind))
        });
        match found.and_then(|&(_, i)| self.entries.get_mut(i as usize)) {
            Some(e) if e.creates => {
                e.add(value, exemplar);
                Ok(())
            }
            _ => Err((value, exemplar)),
        }
    }

    fn open(
        &mut self,
        name: Arc<str>,
        labels: Labels,
        options: Arc<FamilyOptions>,
        value: SampleValue,
        exemplar: Option<Offered<'a>>,
    ) {
        if self.entries.len() >= MAX_SERIES {
            let mut s = Sample::new(name, labels, value);
            s.options = options;
            s.exemplar = exemplar.map(Offered::build);
            self.overflow.push(s);
            return;
        }
        let kind = value.kind();
        let hash = key_hash(&name, &labels, kind);
        let i = self.entries.len() as u32;
        let entries = &self.entries;
        // A key whose entry so far creates nothing: this value follows it in a new one.
        match self.index.find_mut(hash, |&(h, i)| {
            h == hash
                && entries
                    .get(i as usize)
                    .is_some_and(|e| e.is(&name, &labels, kind))
        }) {
            Some(slot) => slot.1 = i,
            None => {
                self.index.insert_unique(hash, (hash, i), |&(h, _)| h);
            }
        }
        let creates = creates(&value);
        let observations = valid_observation(&value);
        self.entries.push(Entry {
            name,
            labels,
            options,
            kind,
            values: vec![value],
            samples: vec![1],
            exemplars: exemplar.map(|e| (0, e)).into_iter().collect(),
            creates,
            observations,
        });
    }

    /// Writes every series once, in first-seen order, and empties the batch. `rejected` hears
    /// each refusal with the number of samples it refused.
    pub fn apply(&mut self, store: &Store, rejected: &mut dyn FnMut(&str, Reject, u64)) {
        let mut families = NameCache::default();
        self.index.clear();
        for e in self.entries.drain(..) {
            let target = Target {
                name: &e.name,
                labels: &e.labels,
                options: &e.options,
            };
            let samples = |i: usize| e.samples.get(i).copied().unwrap_or(1);
            let exemplars: Vec<(usize, Exemplar)> = e
                .exemplars
                .into_iter()
                .map(|(i, x)| (i, x.build()))
                .collect();
            let result = store.update_named(
                &mut families,
                &e.name,
                target,
                &e.values,
                ExemplarsAt::Indexed(&exemplars),
                &mut |i, r| rejected(&e.name, r, samples(i)),
            );
            if let Err(r) = result {
                rejected(&e.name, r, e.samples.iter().sum());
            }
        }
        for s in self.overflow.drain(..) {
            if let Err(r) = store.apply_cached(&mut families, &s) {
                rejected(&s.name, r, 1);
            }
        }
    }
}

#[cfg(test)]
mod tests;
