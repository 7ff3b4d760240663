//! Orphaned spend: saved records of budgets the running config does not have, in that shape.
//!
//! Spend outlives config. A budget missing from the config (removed on purpose, or lost to an edit
//! in progress, a truncated file, a start with another config) keeps its records here, in memory
//! and in the state file, until its period ends or an admin forgets them. When the same name comes
//! back with the same period, zone and grouping, the engine restores them: same name, same spend.
//!
//! Orphans are stored under their own key ([`key`]), which names the shape as well as the budget
//! and group, so a budget whose period changed can spend under its usual key while the spend of its
//! old shape waits here, and neither overwrites the other. Pure: the clock is passed in.

use super::period::{calendar_bounds, Period};
use super::saved::Saved;
use jiff::tz::TimeZone;
use std::collections::{BTreeMap, HashSet};

/// The state-file key of an orphaned record: unique per budget, group *and* shape.
pub fn key(s: &Saved) -> String {
    // Records without matchers keep the key they always had.
    match &s.matchers {
        None => serde_json::to_string(&("orphan", &s.budget, &s.group, &s.period, &s.timezone)),
        Some(m) => {
            serde_json::to_string(&("orphan", &s.budget, &s.group, &s.period, &s.timezone, m))
        }
    }
    .unwrap_or_else(|_| format!("orphan:{}", s.budget))
}

/// Whether the period a record's spend belongs to is over at `now`: its spend would read as zero
/// if restored, so there is nothing left to keep. A shape this meterd cannot read (an unknown
/// period or zone) never ends by itself: only an admin may forget it.
pub fn ended(s: &Saved, now: i64) -> bool {
    match Period::parse(&s.period) {
        None | Some(Period::Total) => false,
        Some(Period::Rolling(r)) => s.buckets.iter().all(|(b, _)| *b < r.oldest(now)),
        Some(p) => TimeZone::get(&s.timezone)
            .ok()
            .and_then(|tz| calendar_bounds(p, &tz, now).ok())
            .is_some_and(|(start, _)| start > s.start),
    }
}

/// Whether a record holds any spend worth keeping.
pub fn holds_spend(s: &Saved) -> bool {
    s.spend_nanos > 0 || s.buckets.iter().any(|(_, n)| *n > 0)
}

/// The spend a record holds, as it would read at `now` (rolling buckets still in the window).
pub fn spend_at(s: &Saved, now: i64) -> u64 {
    match Period::parse(&s.period) {
        Some(Period::Rolling(r)) => s
            .buckets
            .iter()
            .filter(|(b, _)| *b >= r.oldest(now))
            .fold(0u64, |a, (_, n)| a.saturating_add(*n)),
        _ => s.spend_nanos,
    }
}

#[derive(Debug, Default)]
pub struct Orphans {
    records: BTreeMap<String, Saved>,
    /// Keys whose record must be (re)written to the state file.
    dirty: HashSet<String>,
}

impl Orphans {
    /// Keeps `s` as an orphan; `stored_as` is the key it already has in the state file, if any
    /// (a record already stored under its orphan key needs no rewrite). Returns the orphan key.
    pub fn adopt(&mut self, s: Saved, stored_as: Option<&str>) -> String {
        let k = key(&s);
        if stored_as != Some(k.as_str()) {
            self.dirty.insert(k.clone());
        }
        self.records.insert(k.clone(), s);
        k
    }

    /// Removes and returns every orphan of budget `name` (to try restoring them), with whether
    /// each was still to be written.
    pub fn take_budget(&mut self, name: &str) -> Vec<(String, Saved, bool)> {
        let keys: Vec<String> = self
            .records
            .iter()
            .filter(|(_, s)| s.budget == name)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let dirty = self.dirty.remove(&k);
                self.records.remove(&k).map(|s| (k, s, dirty))
            })
            .collect()
    }

    /// Puts back an orphan taken with [`Self::take_budget`] that could not be restored.
    pub fn put_back(&mut self, k: String, s: Saved, was_dirty: bool) {
        if was_dirty {
            self.dirty.insert(k.clone());
        }
        self.records.insert(k, s);
    }

    /// Drops the orphans whose period has ended; returns their keys (to delete from the file).
    pub fn expire(&mut self, now: i64) -> Vec<String> {
        let gone: Vec<String> = self
            .records
            .iter()
            .filter(|(_, s)| ended(s, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            self.records.remove(k);
            self.dirty.remove(k);
        }
        gone
    }

    pub fn iter(&self) -> impl Iterator<Item = &Saved> {
        self.records.values()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records to write now, encoded; their keys go back with [`Self::mark_dirty`] if the
    /// write fails.
    pub fn take_dirty(&mut self) -> Vec<(String, Vec<u8>)> {
        let keys: Vec<String> = self.dirty.drain().collect();
        keys.into_iter()
            .filter_map(|k| {
                let bytes = super::saved::encode(self.records.get(&k)?);
                Some((k, bytes))
            })
            .collect()
    }

    pub fn mark_dirty(&mut self, keys: impl IntoIterator<Item = String>) {
        for k in keys {
            if self.records.contains_key(&k) {
                self.dirty.insert(k);
            }
        }
    }

    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.records.keys().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::super::saved::VERSION;
    use super::*;

    fn rec(period: &str, start: i64, spend: u64, buckets: Vec<(i64, u64)>) -> Saved {
        Saved {
            v: VERSION,
            budget: "b".into(),
            group: vec!["search".into()],
            period: period.into(),
            timezone: "UTC".into(),
            start,
            spend_nanos: spend,
            buckets,
            matchers: None,
        }
    }

    const NOV_1: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z
    const DEC_1: i64 = 1_796_083_200; // 2026-12-01T00:00:00Z

    #[test]
    fn a_calendar_record_ends_with_its_period_and_total_never() {
        let monthly = rec("monthly", NOV_1, 5, vec![]);
        assert!(!ended(&monthly, NOV_1 + 86_400));
        assert!(!ended(&monthly, DEC_1 - 1));
        assert!(ended(&monthly, DEC_1));
        assert!(!ended(&rec("total", 0, 5, vec![]), i64::MAX / 2));
        // A shape this build cannot read is kept for an admin to decide.
        assert!(!ended(&rec("fortnightly", 0, 5, vec![]), DEC_1));
        let mut bad_zone = monthly.clone();
        bad_zone.timezone = "Mars/Olympus".into();
        assert!(!ended(&bad_zone, DEC_1 * 2));
    }

    #[test]
    fn a_rolling_record_ends_when_its_last_bucket_leaves_the_window() {
        // rolling_1h: 60 buckets of 60 s.
        let now = 1_000_000 * 60;
        let r = rec("rolling_1h", 0, 0, vec![(1_000_000 - 10, 3)]);
        assert!(!ended(&r, now));
        assert_eq!(spend_at(&r, now), 3);
        assert!(ended(&r, now + 51 * 60));
        assert_eq!(spend_at(&r, now + 51 * 60), 0);
    }

    #[test]
    fn orphan_keys_name_the_shape_so_two_shapes_of_one_budget_coexist() {
        let a = rec("monthly", NOV_1, 5, vec![]);
        let mut b = a.clone();
        b.period = "daily".into();
        assert_ne!(key(&a), key(&b));
        assert_ne!(key(&a), super::super::saved::key("b", &["search".into()]));
        let mut c = a.clone();
        c.matchers = Some(r#"{"team":"search"}"#.into());
        assert_ne!(key(&a), key(&c));
    }

    #[test]
    fn adopt_rewrites_only_records_not_already_stored_as_orphans() {
        let mut o = Orphans::default();
        let s = rec("monthly", NOV_1, 5, vec![]);
        let k = o.adopt(s.clone(), Some("old key"));
        assert_eq!(o.take_dirty().len(), 1);
        let mut o = Orphans::default();
        o.adopt(s, Some(&k));
        assert!(o.take_dirty().is_empty());
        assert_eq!(o.expire(DEC_1), vec![k]);
        assert!(o.is_empty());
    }
}
