//! The series registry: the only shared mutable state on the ingest path.
//!
//! Families live in a read-mostly map (write-locked only when a family is created or swept away);
//! each family guards its own series map, so ingest threads contend only when they hit the same
//! family at the same instant. Every bound is enforced here and reported as a [`Reject`] reason so
//! callers can count it: a per-family series cap, a total cap, type and label-set conflicts (which
//! must never reach `/metrics`, a known statsd_exporter failure), and idle expiry.

mod combined;
mod ordered;
mod pairs;
mod series;
mod window;

pub use combined::Combined;
pub use pairs::PairsTarget;
pub use series::{SeriesSnapshot, SeriesValue};

use crate::model::{Exemplar, FamilyOptions, LabelPolicy, Labels, MetricKind, Sample, SampleValue};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Latency buckets in seconds: sub-10 ms cache hits up to two-minute long generations.
pub const DEFAULT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

#[derive(Clone, Debug, PartialEq)]
pub struct StoreLimits {
    pub max_series_per_metric: usize,
    pub max_series_total: usize,
    /// Idle series expire after this long; zero disables expiry.
    pub series_ttl: Duration,
    /// Distinct members remembered per StatsD set series.
    pub max_set_members: usize,
}

impl crate::config::Limits {
    /// The part of `limits:` the store enforces.
    pub fn store_limits(&self) -> StoreLimits {
        StoreLimits {
            max_series_per_metric: self.max_series_per_metric,
            max_series_total: self.max_series_total,
            series_ttl: self.series_ttl.0,
            max_set_members: self.max_set_members,
        }
    }
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_series_per_metric: 10_000,
            max_series_total: 200_000,
            series_ttl: Duration::from_secs(600),
            max_set_members: 10_000,
        }
    }
}

/// Why a sample was not stored. Each maps to a stable `reason` label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("metric already exists with another type")]
    TypeConflict,
    #[error("metric already exists with other label names")]
    LabelConflict,
    #[error("series limit for this metric reached")]
    SeriesLimit,
    #[error("total series limit reached")]
    TotalSeriesLimit,
    #[error("value not valid for this metric type (negative counter increment, NaN)")]
    InvalidValue,
    #[error("histogram bucket bounds differ from the series' bounds")]
    BucketMismatch,
    #[error("set member limit reached")]
    SetLimit,
    #[error("memory limit reached: new series are shed until usage falls")]
    MemoryLimit,
    #[error("money counter would overflow: the amount is refused, the total kept")]
    MoneyOverflow,
}

impl Reject {
    pub fn reason(self) -> &'static str {
        match self {
            Reject::TypeConflict => "type_conflict",
            Reject::LabelConflict => "label_conflict",
            Reject::SeriesLimit => "series_limit",
            Reject::TotalSeriesLimit => "total_series_limit",
            Reject::InvalidValue => "invalid_value",
            Reject::BucketMismatch => "bucket_mismatch",
            Reject::SetLimit => "set_limit",
            Reject::MemoryLimit => "memory_limit",
            Reject::MoneyOverflow => "money_overflow",
        }
    }
}

struct Family {
    kind: MetricKind,
    options: Arc<FamilyOptions>,
    buckets: Arc<[f64]>,
    /// Label names of the first series, enforced for `LabelPolicy::Consistent` families.
    label_names: Box<[Box<str>]>,
    series: Mutex<ordered::SeriesMap>,
    /// Set (under the series lock) when a sweep takes the family out of the store: a writer that
    /// found it before then must look the family up again rather than write where no scrape looks.
    removed: AtomicBool,
}

/// The family of one series key, remembered by a receiver that updates the same series again and
/// again (a StatsD worker's pre-aggregation entry): later updates skip the family lookup and the
/// label-name check, which were a third of a flush. Only valid for the target it was filled with.
#[derive(Default)]
pub struct FamilyCache(Option<Arc<Family>>);

/// Families remembered by sample name across a batch of samples of many families (the samples
/// a batch of usage events derives: the same few families again and again). Only families whose
/// label names may vary are kept: skipping the label-name check is right only for them.
#[derive(Default)]
pub struct NameCache(Vec<(Arc<str>, FamilyCache)>);

/// More distinct names than a batch of derived samples has: past it, samples are looked up
/// uncached rather than the scan growing.
const NAME_CACHE_MAX: usize = 32;

/// The exemplars that came with a run of values, by the value's position.
#[derive(Clone, Copy)]
pub(crate) enum ExemplarsAt<'a> {
    None,
    /// With the first value (one sample's).
    First(&'a Exemplar),
    /// Sorted by position, at most one per position.
    Indexed(&'a [(usize, Exemplar)]),
}

impl<'a> ExemplarsAt<'a> {
    fn first(e: Option<&'a Exemplar>) -> Self {
        e.map_or(ExemplarsAt::None, ExemplarsAt::First)
    }

    fn at(self, i: usize) -> Option<&'a Exemplar> {
        match self {
            ExemplarsAt::None => None,
            ExemplarsAt::First(e) => (i == 0).then_some(e),
            ExemplarsAt::Indexed(list) => list
                .binary_search_by_key(&i, |(at, _)| *at)
                .ok()
                .and_then(|k| list.get(k))
                .map(|(_, e)| e),
        }
    }
}

/// The family was swept out of the store between lookup and update.
struct Gone;

/// The series a value is for, without the owned `Sample` around it.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub name: &'a str,
    pub labels: &'a Labels,
    pub options: &'a Arc<FamilyOptions>,
}

/// A family as seen at one instant, for exposition.
pub struct FamilySnapshot {
    pub name: Box<str>,
    pub kind: MetricKind,
    pub help: Option<Arc<str>>,
    /// Sorted by labels, so output is deterministic.
    pub series: Vec<(Labels, SeriesSnapshot)>,
}

/// The caps every write reads, as atomics: a read lock taken per sample was a shared cache line
/// that every ingest thread wrote to.
#[derive(Default)]
struct Caps {
    per_metric: AtomicUsize,
    total: AtomicUsize,
    set_members: AtomicUsize,
}

impl Caps {
    fn set(&self, l: &StoreLimits) {
        self.per_metric
            .store(l.max_series_per_metric, Ordering::Relaxed);
        self.total.store(l.max_series_total, Ordering::Relaxed);
        self.set_members.store(l.max_set_members, Ordering::Relaxed);
    }
}

pub struct Store {
    families: RwLock<FastMap<Box<str>, Arc<Family>>>,
    limits: RwLock<StoreLimits>,
    caps: Caps,
    total_series: AtomicUsize,
    /// Coarse clock in milliseconds (monotonic, driven by the owner): reading an atomic on every
    /// sample is far cheaper than a clock call, and tests move time without sleeping.
    now_ms: AtomicU64,
    default_buckets: Arc<[f64]>,
    /// Set by the memory guard: above the memory limit no new series are created (existing ones
    /// keep updating), so a cardinality flood cannot get meterd OOM-killed.
    shedding: AtomicBool,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(StoreLimits::default())
    }
}

impl Store {
    pub fn new(limits: StoreLimits) -> Self {
        let caps = Caps::default();
        caps.set(&limits);
        Store {
            families: RwLock::new(FastMap::default()),
            limits: RwLock::new(limits),
            caps,
            total_series: AtomicUsize::new(0),
            now_ms: AtomicU64::new(0),
            default_buckets: Arc::new(DEFAULT_BUCKETS),
            shedding: AtomicBool::new(false),
        }
    }

    pub fn set_shedding(&self, on: bool) {
        self.shedding.store(on, Ordering::Relaxed);
    }

    pub fn shedding(&self) -> bool {
        self.shedding.load(Ordering::Relaxed)
    }

    pub fn set_limits(&self, limits: StoreLimits) {
        self.caps.set(&limits);
        if let Ok(mut l) = self.limits.write() {
            *l = limits;
        }
    }

    pub fn limits(&self) -> StoreLimits {
        self.limits.read().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn set_now_ms(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Ordering::Relaxed);
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    pub fn series_count(&self) -> usize {
        self.total_series.load(Ordering::Relaxed)
    }

    /// Applies one sample. Existing series always keep updating, even when caps are reached.
    pub fn apply(&self, sample: &Sample) -> Result<(), Reject> {
        self.apply_one(sample, |target, values, exemplars, rejected| {
            self.update(
                &mut FamilyCache::default(),
                target,
                values,
                exemplars,
                rejected,
            )
        })
    }

    /// [`Store::apply`] for many samples in a row: their families are looked up once per name.
    pub fn apply_cached(&self, cache: &mut NameCache, sample: &Sample) -> Result<(), Reject> {
        self.apply_one(sample, |target, values, exemplars, rejected| {
            self.update_named(cache, &sample.name, target, values, exemplars, rejected)
        })
    }

    /// One sample through `write`; a refusal of its value is the result.
    fn apply_one(
        &self,
        sample: &Sample,
        write: impl FnOnce(
            Target<'_>,
            &[SampleValue],
            ExemplarsAt<'_>,
            &mut dyn FnMut(usize, Reject),
        ) -> Result<(), Reject>,
    ) -> Result<(), Reject> {
        let target = Target {
            name: &sample.name,
            labels: &sample.labels,
            options: &sample.options,
        };
        let mut rejected = None;
        write(
            target,
            std::slice::from_ref(&sample.value),
            ExemplarsAt::first(sample.exemplar.as_ref()),
            &mut |_, r| rejected = Some(r),
        )?;
        rejected.map_or(Ok(()), Err)
    }

    /// Values for one series, its family looked up through `cache` by `name`, `target`'s name
    /// (see [`NameCache`]).
    pub(crate) fn update_named(
        &self,
        cache: &mut NameCache,
        name: &Arc<str>,
        target: Target<'_>,
        values: &[SampleValue],
        exemplars: ExemplarsAt<'_>,
        rejected: &mut dyn FnMut(usize, Reject),
    ) -> Result<(), Reject> {
        let slot = cache
            .0
            .iter()
            .position(|(n, _)| Arc::ptr_eq(n, name) || **n == **name)
            .or_else(|| {
                (cache.0.len() < NAME_CACHE_MAX).then(|| {
                    cache.0.push((name.clone(), FamilyCache::default()));
                    cache.0.len() - 1
                })
            });
        // More names than the cache holds: looked up uncached.
        let mut uncached = FamilyCache::default();
        let family = match slot.and_then(|i| cache.0.get_mut(i)) {
            Some((_, family)) => family,
            None => &mut uncached,
        };
        let result = self.update(family, target, values, exemplars, rejected);
        if family
            .0
            .as_ref()
            .is_some_and(|f| f.options.label_policy != LabelPolicy::Any)
        {
            family.0 = None;
        }
        result
    }

    /// Applies several values to one series under one family lock, in order (a receiver that
    /// pre-aggregates hands over what it merged since its last flush). `Err` rejects every value
    /// (the series could not be found or created); a single value the series refuses (a set past
    /// its member cap) is reported through `rejected` and the rest still apply.
    pub fn apply_values(
        &self,
        target: Target<'_>,
        values: &[SampleValue],
        rejected: &mut dyn FnMut(Reject),
    ) -> Result<(), Reject> {
        self.update(
            &mut FamilyCache::default(),
            target,
            values,
            ExemplarsAt::None,
            &mut |_, r| rejected(r),
        )
    }

    /// [`Store::apply_values`] for a caller that keeps a [`FamilyCache`] per series key; `cache`
    /// must only ever be used with this `target`.
    pub fn apply_values_cached(
        &self,
        cache: &mut FamilyCache,
        target: Target<'_>,
        values: &[SampleValue],
        rejected: &mut dyn FnMut(Reject),
    ) -> Result<(), Reject> {
        self.update(cache, target, values, ExemplarsAt::None, &mut |_, r| {
            rejected(r)
        })
    }

    fn update(
        &self,
        cache: &mut FamilyCache,
        target: Target<'_>,
        values: &[SampleValue],
        exemplars: ExemplarsAt<'_>,
        rejected: &mut dyn FnMut(usize, Reject),
    ) -> Result<(), Reject> {
        let Some(kind) = values.first().map(SampleValue::kind) else {
            return Ok(());
        };
        if let Some(family) = cache.0.as_ref().filter(|f| f.kind == kind) {
            if let Ok(r) = self.update_in(family, target, values, exemplars, rejected) {
                return r;
            }
        }
        cache.0 = None;
        // A family swept away between lookup and update is looked up (and created) again; a
        // sweep empties only idle families, so a second miss in a row is as good as impossible.
        for _ in 0..3 {
            let family = self.checked_family(target, kind)?;
            let r = self.update_in(&family, target, values, exemplars, rejected);
            if let Ok(r) = r {
                cache.0 = Some(family);
                return r;
            }
        }
        Err(Reject::TotalSeriesLimit)
    }

    /// The family for `target`, created if new, once its type and label names are known to fit.
    fn checked_family(&self, target: Target<'_>, kind: MetricKind) -> Result<Arc<Family>, Reject> {
        let family = self.family_for(target, kind)?;
        if family.kind != kind {
            return Err(Reject::TypeConflict);
        }
        if family.options.label_policy == LabelPolicy::Consistent
            && !family
                .label_names
                .iter()
                .map(|n| &**n)
                .eq(target.labels.names())
        {
            return Err(Reject::LabelConflict);
        }
        Ok(family)
    }

    /// Writes under the family's lock; `Err(Gone)` when the family left the store meanwhile.
    fn update_in(
        &self,
        family: &Family,
        target: Target<'_>,
        values: &[SampleValue],
        exemplars: ExemplarsAt<'_>,
        rejected: &mut dyn FnMut(usize, Reject),
    ) -> Result<Result<(), Reject>, Gone> {
        let Ok(mut map) = family.series.lock() else {
            return Ok(Err(Reject::TotalSeriesLimit));
        };
        if family.removed.load(Ordering::Relaxed) {
            return Err(Gone);
        }
        Ok(self.write_series(family, &mut map, target, values, exemplars, rejected))
    }

    fn write_series(
        &self,
        family: &Family,
        map: &mut ordered::SeriesMap,
        target: Target<'_>,
        values: &[SampleValue],
        exemplars: ExemplarsAt<'_>,
        rejected: &mut dyn FnMut(usize, Reject),
    ) -> Result<(), Reject> {
        let kind = family.kind;
        let now = self.now_ms();
        let per_metric = self.caps.per_metric.load(Ordering::Relaxed);
        let total_cap = self.caps.total.load(Ordering::Relaxed);
        let max_set = self.caps.set_members.load(Ordering::Relaxed);
        let mut apply_all = |s: &mut series::Series| {
            let mut applied = false;
            // The series keeps one exemplar, the last taken value's: set once, not per value.
            let mut kept = None;
            for (i, v) in values.iter().enumerate() {
                match s.apply(v, None, now, max_set) {
                    Ok(()) => {
                        applied = true;
                        kept = exemplars.at(i).or(kept);
                    }
                    Err(r) => rejected(i, r),
                }
            }
            if let Some(e) = kept {
                s.set_exemplar(e);
            }
            applied
        };
        if let Some(s) = map.get_mut(target.labels) {
            apply_all(s);
            return Ok(());
        }
        let opts = &family.options;
        let refused = if map.len() >= opts.max_series.unwrap_or(per_metric) {
            Some(Reject::SeriesLimit)
        } else if !opts.internal && self.shedding() {
            Some(Reject::MemoryLimit)
        } else if !opts.internal && self.total_series.load(Ordering::Relaxed) >= total_cap {
            Some(Reject::TotalSeriesLimit)
        } else {
            None
        };
        if let Some(reject) = refused {
            // meterd's own counters, and derived `llm_*` counters and histograms (money among
            // them), must keep their totals: past a cap, values collapse into one `_overflow`
            // series per label-name set instead of being lost. Gauges cannot be summed: refused.
            let additive = matches!(kind, MetricKind::Counter | MetricKind::Histogram);
            let folds = opts.internal || (opts.fold_overflow && additive);
            if !folds {
                return Err(reject);
            }
            let overflow = Labels::new(target.labels.names().map(|n| (n, "_overflow")));
            let s = map.get_or_insert_with(overflow, || {
                self.total_series.fetch_add(1, Ordering::Relaxed);
                series::Series::new(kind, &family.buckets, opts.summary.as_ref(), now)
            });
            apply_all(s);
            return Ok(());
        }
        let mut s = series::Series::new(kind, &family.buckets, opts.summary.as_ref(), now);
        // A series none of whose values were valid is not created.
        if apply_all(&mut s) {
            map.insert(target.labels.clone(), s);
            self.total_series.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn family_for(&self, target: Target<'_>, kind: MetricKind) -> Result<Arc<Family>, Reject> {
        if let Some(f) = self
            .families
            .read()
            .map_err(|_| Reject::TotalSeriesLimit)?
            .get(target.name)
        {
            return Ok(f.clone());
        }
        // A flood of new names must not create families that can never hold a series: check the
        // caps that would reject this sample before growing the family map.
        if !target.options.internal {
            if self.shedding() {
                return Err(Reject::MemoryLimit);
            }
            let total_cap = self.caps.total.load(Ordering::Relaxed);
            if self.total_series.load(Ordering::Relaxed) >= total_cap {
                return Err(Reject::TotalSeriesLimit);
            }
        }
        let mut families = self
            .families
            .write()
            .map_err(|_| Reject::TotalSeriesLimit)?;
        let fam = families.entry(target.name.into()).or_insert_with(|| {
            Arc::new(Family {
                kind,
                buckets: target
                    .options
                    .buckets
                    .clone()
                    .unwrap_or_else(|| self.default_buckets.clone()),
                options: target.options.clone(),
                label_names: target.labels.names().map(Box::from).collect(),
                series: Mutex::new(ordered::SeriesMap::default()),
                removed: AtomicBool::new(false),
            })
        });
        Ok(fam.clone())
    }

    /// Drops series idle longer than their family's TTL, and families left empty (so a name can be
    /// reused with another type once its old series are gone). Returns how many series expired.
    pub fn sweep(&self) -> usize {
        let now = self.now_ms();
        let default_ttl = self.limits().series_ttl;
        let mut expired = 0;
        let Ok(mut families) = self.families.write() else {
            return 0;
        };
        families.retain(|_, fam| {
            let ttl = fam.options.ttl.unwrap_or(default_ttl);
            let Ok(mut map) = fam.series.lock() else {
                return true;
            };
            if !ttl.is_zero() {
                let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
                let before = map.len();
                map.retain(|_, s| now.saturating_sub(s.last_update_ms) < ttl_ms);
                expired += before - map.len();
            }
            // Marked while the series lock is held, so no writer can still add to it unseen.
            let keep = !map.is_empty();
            if !keep {
                fam.removed.store(true, Ordering::Relaxed);
            }
            keep
        });
        self.total_series.fetch_sub(expired, Ordering::Relaxed);
        expired
    }

    /// Every family, sorted by name, each with its series sorted by labels.
    pub fn snapshot(&self) -> Vec<FamilySnapshot> {
        let now = self.now_ms();
        let families: Vec<(Box<str>, Arc<Family>)> = match self.families.read() {
            Ok(f) => f.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => return Vec::new(),
        };
        let mut out: Vec<FamilySnapshot> = families
            .into_iter()
            .filter_map(|(name, fam)| {
                let series: Vec<(Labels, SeriesSnapshot)> = {
                    let mut map = fam.series.lock().ok()?;
                    map.in_order()
                        .map(|(l, s)| (l.clone(), s.snapshot(now)))
                        .collect()
                };
                if series.is_empty() {
                    return None;
                }
                Some(FamilySnapshot {
                    name,
                    kind: fam.kind,
                    help: fam.options.help.clone(),
                    series,
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The number of series of one family (0 when absent): for tests and self-metrics.
    pub fn family_len(&self, name: &str) -> usize {
        self.families
            .read()
            .ok()
            .and_then(|f| f.get(name).cloned())
            .and_then(|f| f.series.lock().ok().map(|m| m.len()))
            .unwrap_or(0)
    }

    /// Current value of one counter or gauge series, for tests and the budget/self-metric code.
    pub fn value(&self, name: &str, labels: &Labels) -> Option<f64> {
        let fam = self.families.read().ok()?.get(name).cloned()?;
        let map = fam.series.lock().ok()?;
        match map.get(labels)?.snapshot(self.now_ms()).value {
            SeriesValue::Counter(v) | SeriesValue::Gauge(v) => Some(v),
            _ => None,
        }
    }

    /// Every counter or gauge series of one family with its value (empty when absent), without
    /// copying the other families: the status page reads a few families per request.
    pub fn family_values(&self, name: &str) -> Vec<(Labels, f64)> {
        let Some(fam) = self.families.read().ok().and_then(|f| f.get(name).cloned()) else {
            return Vec::new();
        };
        let now = self.now_ms();
        let Ok(mut map) = fam.series.lock() else {
            return Vec::new();
        };
        map.in_order()
            .filter_map(|(l, s)| match s.snapshot(now).value {
                SeriesValue::Counter(v) | SeriesValue::Gauge(v) => Some((l.clone(), v)),
                _ => None,
            })
            .collect()
    }

    /// Removes one series (an info metric whose labels changed, such as `meterd_pricing_info` after
    /// a reload, must not keep reporting the old value). Returns whether it existed.
    pub fn remove(&self, name: &str, labels: &Labels) -> bool {
        let Some(fam) = self.families.read().ok().and_then(|f| f.get(name).cloned()) else {
            return false;
        };
        let removed = fam
            .series
            .lock()
            .is_ok_and(|mut m| m.remove(labels).is_some());
        if removed {
            self.total_series.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// The exact total of a money counter series (`SampleValue::CounterAddFemtoUsd`), femto-USD.
    pub fn money_femto(&self, name: &str, labels: &Labels) -> Option<u128> {
        let fam = self.families.read().ok()?.get(name).cloned()?;
        let map = fam.series.lock().ok()?;
        map.get(labels)?.money_femto()
    }
}

#[cfg(test)]
mod tests;
