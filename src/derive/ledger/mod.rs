//! The usage ledger: per hour and per day bucket (local to `usage.timezone`), per provider, model
//! and scope-label set, the totals of calls, errors, every usage quantity and exact cost. Pure:
//! the clock is passed in; the state module stores the bytes this hands it.
//!
//! Buckets are chosen by arrival time, as budget spend is: what the ledger says was spent today
//! is what today's budgets counted (a span exported late lands in the hour it arrived).
//!
//! Only the live buckets (the current hour and day) are held in memory, as full totals: the
//! flusher writes changed rows whole, in the commit that makes budget spend durable, so an OTLP
//! acknowledgement covers the ledger too. Older buckets are read back from the state file.
//!
//! - [`row`]: key and totals encoding; [`clock`]: bucket boundaries; [`query`]: grouping and
//!   filtering rows for the API and reports; [`shared`]: the ledger behind a lock.

pub mod batch;
pub mod clock;
pub mod query;
pub mod row;
pub mod shared;

use crate::config::usage::UsageConfig;
use crate::model::{Labels, Usage};
use jiff::tz::TimeZone;
use row::{Gran, Key, Totals, OTHER};
use std::collections::{HashMap, HashSet};

/// Every usage event touches these maps twice (its hour and its day row): std's SipHash was ~3 %
/// of a GenAI span's whole cost in the span bench. Seeded per process like the store's tables.
type Hasher = foldhash::fast::RandomState;

pub use shared::SharedLedger;

/// The ledger's settings, compiled from [`UsageConfig`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub enabled: bool,
    pub timezone: TimeZone,
    pub timezone_name: Box<str>,
    pub retention_secs: i64,
    pub max_rows: usize,
}

impl Settings {
    /// Compiles what validation accepted; an unknown zone (impossible after validation) is UTC.
    pub fn new(c: &UsageConfig) -> Settings {
        let (timezone, timezone_name) = match TimeZone::get(&c.timezone) {
            Ok(tz) => (tz, c.timezone.as_str().into()),
            Err(_) => (TimeZone::UTC, "UTC".into()),
        };
        Settings {
            enabled: c.enabled,
            timezone,
            timezone_name,
            retention_secs: i64::try_from(c.retention.0.as_secs()).unwrap_or(i64::MAX / 4),
            max_rows: c.max_rows_per_bucket.max(1),
        }
    }
}

/// One usage event as the ledger counts it (usage already inclusive, labels already scoped).
pub struct Entry<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub scope: &'a Labels,
    pub usage: &'a Usage,
    /// Head-sampling weight: each quantity counts `weight` times (rounded to whole units).
    pub weight: f64,
    pub error: bool,
    pub cost_femto: u128,
}

impl Entry<'_> {
    pub fn totals(&self) -> Totals {
        let w = self.weight;
        let scale = |q: u64| -> u64 {
            if w == 1.0 || q == 0 {
                q
            } else if w.is_finite() && w > 0.0 {
                // Float to int `as` saturates; the usage ceiling keeps q * w far below u64::MAX.
                (q as f64 * w).round() as u64
            } else {
                0
            }
        };
        let requests = scale(self.usage.requests);
        let mut quantities = self.usage.quantities();
        for q in &mut quantities {
            *q = scale(*q);
        }
        Totals {
            requests,
            errors: if self.error { requests } else { 0 },
            quantities,
            cost_femto: self.cost_femto,
        }
    }
}

/// Rows written or pruned by one commit.
#[derive(Debug, Default)]
pub struct LedgerDirty {
    /// The ledger's write sequence number covered by this batch.
    pub seq: u64,
    pub puts: Vec<(Vec<u8>, Vec<u8>)>,
    /// Key ranges `[from, to)` to delete: buckets past the retention.
    pub prune: Vec<(Vec<u8>, Vec<u8>)>,
    /// The retention cutoff `prune` reaches (Unix seconds).
    prune_cutoff: Option<i64>,
}

impl LedgerDirty {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.prune.is_empty()
    }
}

/// Prune at most this often: a range delete per commit would be wasted work for the hour a
/// bucket takes to age out.
const PRUNE_EVERY_SECS: i64 = 3600;

#[derive(Debug)]
pub struct Ledger {
    settings: Settings,
    rows: HashMap<Box<[u8]>, Totals, Hasher>,
    /// Distinct rows (besides `_other`) per live bucket: the cardinality cap's count.
    per_bucket: HashMap<(Gran, i64), usize, Hasher>,
    dirty: HashSet<Box<[u8]>, Hasher>,
    /// The live buckets: those the last event (or tick) fell in.
    live: [(Gran, i64); 2],
    /// Where the live hour and day end: until then an event needs no time zone arithmetic.
    live_until: (i64, i64),
    seq: u64,
    pruned_to: Option<i64>,
    /// The key buffer [`Ledger::record`] encodes into.
    scratch: Vec<u8>,
}

/// What one [`Ledger::record`] did that the caller counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Buckets (hour, day) in which this event went to `_other` because of the cap.
    pub folded: u8,
}

impl Ledger {
    pub fn new(settings: Settings, now: i64) -> Ledger {
        let live = Ledger::buckets(&settings.timezone, now);
        Ledger {
            settings,
            rows: HashMap::default(),
            per_bucket: HashMap::default(),
            dirty: HashSet::default(),
            live,
            live_until: (i64::MIN, i64::MIN),
            seq: 0,
            pruned_to: None,
            scratch: Vec::new(),
        }
    }

    /// Moves the live buckets to those holding `now`.
    fn roll(&mut self, now: i64) {
        let [(_, hour), (_, day)] = self.live;
        if now >= hour && now < self.live_until.0 && now >= day && now < self.live_until.1 {
            return;
        }
        let tz = &self.settings.timezone;
        self.live = Ledger::buckets(tz, now);
        let [(_, hour), (_, day)] = self.live;
        let next_hour = clock::hour_start(tz, hour + 3600);
        let next_day = clock::day_start(tz, day + 30 * 3600);
        self.live_until = (
            if next_hour > hour {
                next_hour
            } else {
                hour + 3600
            },
            if next_day > day {
                next_day
            } else {
                day + 86_400
            },
        );
    }

    fn buckets(tz: &TimeZone, now: i64) -> [(Gran, i64); 2] {
        [
            (Gran::Hour, clock::hour_start(tz, now)),
            (Gran::Day, clock::day_start(tz, now)),
        ]
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Applies a reloaded config. Rows already counted keep their buckets; a new zone starts new
    /// buckets from the next event on.
    pub fn configure(&mut self, settings: Settings) {
        self.settings = settings;
        self.live_until = (i64::MIN, i64::MIN);
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Key ranges `[from, to)` of the buckets live at `now`: read them from the state file and
    /// hand them to [`Ledger::restore`] at start, so counting continues where it stopped.
    pub fn live_ranges(&self, now: i64) -> Vec<(Vec<u8>, Vec<u8>)> {
        Ledger::buckets(&self.settings.timezone, now)
            .iter()
            .map(|&(g, s)| (row::range_bound(g, s), row::range_bound(g, s + 1)))
            .collect()
    }

    /// Loads saved rows of the live buckets. Returns how many records could not be decoded
    /// (they are left as found on disk and not counted into).
    pub fn restore(&mut self, records: &[(Vec<u8>, Vec<u8>)], now: i64) -> usize {
        self.roll(now);
        let mut bad = 0;
        for (k, v) in records {
            let (Some(bucket), Ok(totals)) = (row::bucket_of(k), Totals::decode(v)) else {
                bad += 1;
                continue;
            };
            if !self.live.contains(&bucket) {
                continue;
            }
            if !is_other(k) {
                *self.per_bucket.entry(bucket).or_default() += 1;
            }
            self.rows.insert(k.as_slice().into(), totals);
        }
        bad
    }

    /// Counts one event into its hour and day rows at `now`.
    pub fn record(&mut self, e: &Entry<'_>, now: i64) -> Recorded {
        self.record_totals(e.provider, e.model, e.scope, &e.totals(), now)
    }

    /// Counts totals (one event's, or several events' of one row identity summed: rows add
    /// saturating, so the sum lands as the parts would) into their hour and day rows at `now`.
    pub fn record_totals(
        &mut self,
        provider: &str,
        model: &str,
        scope: &Labels,
        totals: &Totals,
        now: i64,
    ) -> Recorded {
        let mut rec = Recorded::default();
        if !self.settings.enabled {
            return rec;
        }
        let totals = *totals;
        if totals == Totals::default() {
            return rec;
        }
        self.roll(now);
        // One encoding per event, moved from the hour's bucket to the day's; rows and dirty
        // marks that exist already (nearly every event) are found by the borrowed key, so an
        // event allocates only when it opens a row.
        let mut key = std::mem::take(&mut self.scratch);
        let [(gran, start), _] = self.live;
        let encoded = row::encode_key_into(&mut key, gran, start, provider, model, scope.iter());
        for (gran, start) in self.live {
            row::set_bucket(&mut key, gran, start);
            if encoded {
                if let Some(t) = self.rows.get_mut(key.as_slice()) {
                    t.add(&totals);
                    self.mark_dirty(&key);
                    continue;
                }
                let opened = self.per_bucket.entry((gran, start)).or_default();
                if *opened < self.settings.max_rows {
                    *opened += 1;
                    self.rows.insert(key.as_slice().into(), totals);
                    self.mark_dirty(&key);
                    continue;
                }
            }
            rec.folded += 1;
            let other = other_key(gran, start);
            self.rows
                .entry(other.as_slice().into())
                .or_default()
                .add(&totals);
            self.mark_dirty(&other);
        }
        self.scratch = key;
        self.seq += 1;
        rec
    }

    fn mark_dirty(&mut self, key: &[u8]) {
        if !self.dirty.contains(key) {
            self.dirty.insert(key.into());
        }
    }

    /// Takes every changed row (whole) and, at most hourly, the ranges past the retention.
    /// Rows of buckets no longer live that an earlier commit already wrote leave memory here.
    pub fn take_dirty(&mut self, now: i64) -> LedgerDirty {
        let live = self.live;
        let dirty = &self.dirty;
        self.rows.retain(|k, _| {
            row::bucket_of(k).is_some_and(|b| live.contains(&b)) || dirty.contains(k)
        });
        self.per_bucket.retain(|b, _| live.contains(b));
        let mut out = LedgerDirty {
            seq: self.seq,
            ..Default::default()
        };
        for k in self.dirty.drain() {
            if let Some(t) = self.rows.get(&k) {
                out.puts.push((k.into_vec(), t.encode()));
            }
        }
        out.puts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let cutoff = now.saturating_sub(self.settings.retention_secs);
        let due = self
            .pruned_to
            .is_none_or(|p| cutoff - p >= PRUNE_EVERY_SECS);
        if self.settings.enabled && due {
            // A day bucket goes once its whole day is past the cutoff.
            out.prune = vec![
                (
                    row::range_bound(Gran::Hour, i64::MIN),
                    row::range_bound(Gran::Hour, cutoff.saturating_sub(3600)),
                ),
                (
                    row::range_bound(Gran::Day, i64::MIN),
                    row::range_bound(Gran::Day, cutoff.saturating_sub(86_400)),
                ),
            ];
            out.prune_cutoff = Some(cutoff);
            self.pruned_to = Some(cutoff);
        }
        out
    }

    /// Gives back a batch whose commit failed: its rows are written again by the next commit
    /// (with whatever was added since), and pruning is retried.
    pub fn restore_dirty(&mut self, d: LedgerDirty) {
        for (k, v) in d.puts {
            let k: Box<[u8]> = k.into();
            if !self.rows.contains_key(&k) {
                if let Ok(t) = Totals::decode(&v) {
                    self.rows.insert(k.clone(), t);
                }
            }
            self.dirty.insert(k);
        }
        if d.prune_cutoff.is_some() {
            self.pruned_to = None;
        }
    }

    /// Every row in memory dirty again (a commit task was lost with its batch).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.rows.keys().cloned());
        self.pruned_to = None;
    }

    /// The in-memory rows with keys in `[from, to)`: newer than (and overriding) the state
    /// file's copy of the same keys.
    pub fn rows_in(&self, from: &[u8], to: &[u8]) -> Vec<(Vec<u8>, Totals)> {
        self.rows
            .iter()
            .filter(|(k, _)| k.as_ref() >= from && k.as_ref() < to)
            .map(|(k, t)| (k.to_vec(), *t))
            .collect()
    }
}

fn other_key(gran: Gran, start: i64) -> Vec<u8> {
    // Short fixed texts: encoding cannot fail.
    row::encode_key(gran, start, OTHER, OTHER, std::iter::empty()).unwrap_or_default()
}

fn is_other(k: &[u8]) -> bool {
    row::bucket_of(k).is_some_and(|(g, s)| other_key(g, s) == k)
}

/// Decodes stored rows, skipping (and counting) those that cannot be read.
pub fn decode_rows(records: Vec<(Vec<u8>, Totals)>) -> (Vec<(Key, Totals)>, usize) {
    let mut bad = 0;
    let rows = records
        .into_iter()
        .filter_map(|(k, t)| match row::decode_key(&k) {
            Ok(key) => Some((key, t)),
            Err(_) => {
                bad += 1;
                None
            }
        })
        .collect();
    (rows, bad)
}

#[cfg(test)]
mod tests;
