//! The budget engine: pure state and arithmetic, the clock passed in as Unix seconds.
//!
//! Each budget has instances (one, or one per `group_by` value combination up to `max_groups`,
//! then `_overflow`). A calendar instance holds the start of the period its spend belongs to; when
//! the clock passes the period end, the spend reads as zero and is reset on the next write or
//! tick, so a restart in a new period starts at zero without any special case. A rolling instance
//! holds a bounded ring of buckets.
//!
//! Forecast (spend projected to the period end): linear burn rate since the period start,
//! `spend * period_length / elapsed`, with `elapsed` floored at 1% of the period so the first
//! minutes of a period do not project wild numbers. Rolling windows and `total` have no end to
//! project to: their forecast is the spend in the window (a steady burn keeps a full window
//! level).

use super::matcher::Lookup;
use super::orphans::{self, Orphans};
use super::period::{calendar_bounds, Period};
use super::saved::{self, Saved};
use super::{BudgetDef, PPM};
use crate::model::Labels;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

pub type GroupKey = Box<[Box<str>]>;

pub const OVERFLOW: &str = "_overflow";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    pub start: i64,
    pub spend: u64,
    pub buckets: VecDeque<(i64, u64)>,
    /// The instance's gauge labels (`budget`, `period`, group labels), built once: every spend
    /// rewrites seven gauges, and sharing one label set keeps that cheap.
    pub labels: Labels,
}

fn new_instance(def: &BudgetDef, key: &[Box<str>], start: i64) -> Instance {
    Instance {
        start,
        labels: Labels::new(
            def.group_by
                .iter()
                .zip(key.iter())
                .map(|(k, v)| (&**k, &**v))
                .chain([("budget", &*def.name), ("period", def.period.as_str())]),
        ),
        ..Default::default()
    }
}

/// The last fleet-wide figures fetched for one budget (see `fleet`).
#[derive(Clone, Debug, Default)]
struct FleetView {
    values: HashMap<GroupKey, u64>,
    /// When `values` were fetched (Unix seconds); `None` before the first success.
    fetched_at: Option<i64>,
    max_age: i64,
    error: Option<Arc<str>>,
}

struct Slot {
    def: Arc<BudgetDef>,
    fleet: FleetView,
    /// The calendar period last computed: `[start, end)`; recomputed once `now` reaches `end`.
    bounds: (i64, Option<i64>),
    instances: HashMap<GroupKey, Instance>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Critical,
    Exceeded,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
            Level::Exceeded => "exceeded",
        }
    }
}

/// One budget instance as of one instant.
#[derive(Clone, Debug)]
pub struct Status {
    pub def: Arc<BudgetDef>,
    /// `(label, value)` per `group_by` label; values may be empty (event without that label).
    pub group: Vec<(Box<str>, Box<str>)>,
    pub spend: u64,
    pub start: i64,
    pub end: Option<i64>,
    pub forecast: u64,
    /// Gauge labels, when the instance exists.
    pub labels: Option<Labels>,
    /// This agent's own count; `spend` is the larger of it and a fresh fleet figure.
    pub local_spend: u64,
    /// The fleet-wide figure in use (fresh and within this period), if any.
    pub fleet_spend: Option<u64>,
    /// Why the fleet figure is missing or old, when the budget has a `fleet_query`.
    pub fleet_error: Option<Arc<str>>,
    /// A group this budget does not track because `max_groups` was reached: its own spend is not
    /// known (it is counted under `_overflow`), so a check answers for it at zero rather than
    /// with other groups' spend.
    pub untracked: bool,
}

impl Status {
    fn new(
        def: &Arc<BudgetDef>,
        key: &[Box<str>],
        spend: u64,
        bounds: (i64, Option<i64>),
        now: i64,
    ) -> Status {
        let (start, end) = bounds;
        let forecast = match (def.period, end) {
            (Period::Rolling(_) | Period::Total, _) | (_, None) => spend,
            (_, Some(end)) => {
                let len = (end - start).max(1);
                let elapsed = (now - start).clamp((len / 100).max(1), len);
                let f = u128::from(spend) * len as u128 / elapsed as u128;
                u64::try_from(f).unwrap_or(u64::MAX).max(spend)
            }
        };
        Status {
            def: def.clone(),
            group: def
                .group_by
                .iter()
                .zip(key.iter())
                .map(|(l, v)| (l.clone(), v.clone()))
                .collect(),
            spend,
            start,
            end,
            forecast,
            labels: None,
            local_spend: spend,
            fleet_spend: None,
            fleet_error: None,
            untracked: false,
        }
    }

    /// Zero spend in the period containing `now` (a budget or group that has not spent yet).
    pub fn zero(def: &Arc<BudgetDef>, now: i64) -> Status {
        let slot = Slot::new(def.clone(), now);
        slot.status(&[], None, now)
    }

    pub fn limit(&self) -> u64 {
        self.def.limit_nanos
    }

    pub fn remaining(&self) -> i128 {
        i128::from(self.def.limit_nanos) - i128::from(self.spend)
    }

    pub fn utilization(&self) -> f64 {
        self.spend as f64 / self.def.limit_nanos.max(1) as f64
    }

    fn reached(&self, ppm: u64) -> bool {
        u128::from(self.spend) * u128::from(PPM)
            >= u128::from(self.def.limit_nanos) * u128::from(ppm)
    }

    /// The highest configured threshold reached, as a ratio.
    pub fn threshold_reached(&self) -> Option<f64> {
        self.def
            .thresholds_ppm
            .iter()
            .rev()
            .find(|t| self.reached(**t))
            .map(|t| *t as f64 / PPM as f64)
    }

    pub fn level(&self) -> Level {
        if self.reached(PPM) {
            return Level::Exceeded;
        }
        let below: Vec<u64> = self
            .def
            .thresholds_ppm
            .iter()
            .copied()
            .filter(|t| *t < PPM)
            .collect();
        match below.iter().rev().position(|t| self.reached(*t)) {
            None => Level::Ok,
            Some(0) if below.len() >= 2 => Level::Critical,
            Some(_) => Level::Warning,
        }
    }

    /// Spend at or over the limit: new spend should be refused.
    pub fn denies(&self) -> bool {
        self.reached(PPM)
    }
}

/// Why a budget reset was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ResetError {
    NoBudget,
    /// The budget has no such group (no spend from it in memory).
    NoGroup,
    BadGroup(String),
}

/// An instance's own spend as of `now` (the read path, without settling).
fn slot_spend(def: &BudgetDef, bounds: (i64, Option<i64>), inst: &Instance, now: i64) -> u64 {
    match def.period {
        Period::Rolling(r) => {
            let lo = r.oldest(now);
            inst.buckets
                .iter()
                .filter(|(b, _)| *b >= lo)
                .fold(0u64, |a, (_, n)| a.saturating_add(*n))
        }
        _ if inst.start == bounds.0 => inst.spend,
        _ => 0,
    }
}

/// Spend changes not yet written to the state file.
#[derive(Debug, Default)]
pub struct Dirty {
    /// The engine's write sequence number covered by this batch.
    pub seq: u64,
    pub puts: Vec<(String, Vec<u8>)>,
    pub deletes: Vec<String>,
    keys: Vec<(Arc<str>, GroupKey)>,
    orphan_keys: Vec<String>,
}

impl Dirty {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

/// What one recorded usage touched, for gauges and counters.
#[derive(Debug, Default)]
pub struct Recorded {
    pub touched: Vec<Status>,
    /// Budgets whose group cap sent this spend to `_overflow`.
    pub overflowed: Vec<Arc<str>>,
    /// Budgets that refused this spend because their total would overflow u64 nano-USD.
    pub money_overflow: Vec<Arc<str>>,
}

#[derive(Default)]
pub struct Engine {
    slots: Vec<Slot>,
    seq: u64,
    dirty: HashSet<(Arc<str>, GroupKey)>,
    deleted: HashSet<String>,
    orphans: Orphans,
}

fn group_key(def: &BudgetDef, labels: &(impl Lookup + ?Sized)) -> GroupKey {
    def.group_by
        .iter()
        .map(|l| Box::from(labels.get(l).unwrap_or("")))
        .collect()
}

fn overflow_key(def: &BudgetDef) -> GroupKey {
    def.group_by.iter().map(|_| Box::from(OVERFLOW)).collect()
}

/// The group of calls that carry none of the `group_by` labels: always tracked, outside the
/// `max_groups` cap, so such calls are reported as themselves and never lumped with overflow.
fn unlabelled_key(def: &BudgetDef) -> GroupKey {
    def.group_by.iter().map(|_| Box::from("")).collect()
}

fn boxed(group: &[String]) -> GroupKey {
    group.iter().map(|g| Box::from(g.as_str())).collect()
}

/// The persisted form of one instance.
fn saved_of(def: &BudgetDef, key: &[Box<str>], inst: &Instance) -> Saved {
    Saved {
        v: saved::VERSION,
        budget: def.name.to_string(),
        group: key.iter().map(|g| g.to_string()).collect(),
        period: def.period.as_str().into(),
        timezone: def.timezone_name.to_string(),
        start: inst.start,
        spend_nanos: inst.spend,
        buckets: inst.buckets.iter().copied().collect(),
        matchers: def.shape_match.as_deref().map(str::to_string),
    }
}

impl Slot {
    fn new(def: Arc<BudgetDef>, now: i64) -> Slot {
        let mut s = Slot {
            fleet: FleetView::default(),
            bounds: (0, Some(0)),
            def,
            instances: HashMap::new(),
        };
        s.roll(now);
        if s.def.group_by.is_empty() {
            s.instances
                .insert(Box::new([]), new_instance(&s.def, &[], s.bounds.0));
        }
        s
    }

    /// Moves the cached period forward once `now` reaches its end. A clock that steps back keeps
    /// the current period: spend is never reassigned to a past period.
    fn roll(&mut self, now: i64) {
        if let Some(end) = self.bounds.1 {
            if now >= end {
                if let Ok(b) = calendar_bounds(self.def.period, &self.def.timezone, now) {
                    self.bounds = b;
                }
            }
        }
    }

    fn real_groups(&self) -> usize {
        if self.def.group_by.is_empty() {
            return 0;
        }
        let of = overflow_key(&self.def);
        let unlabelled = unlabelled_key(&self.def);
        self.instances.len()
            - usize::from(self.instances.contains_key(&of))
            - usize::from(self.instances.contains_key(&unlabelled))
    }

    /// Whether a call in group `key` would be counted under `_overflow`.
    fn overflows(&self, key: &[Box<str>]) -> bool {
        !self.instances.contains_key(key)
            && *key != *unlabelled_key(&self.def)
            && self.real_groups() >= self.def.max_groups
    }

    /// Bounds as seen at `now` without mutating (the read path of the API and checks).
    fn bounds_at(&self, now: i64) -> (i64, Option<i64>) {
        match self.def.period {
            Period::Rolling(r) => {
                let (s, e) = r.bounds(now);
                (s, Some(e))
            }
            _ => match self.bounds.1 {
                Some(end) if now >= end => {
                    calendar_bounds(self.def.period, &self.def.timezone, now).unwrap_or(self.bounds)
                }
                _ => self.bounds,
            },
        }
    }

    fn spend_at(&self, inst: &Instance, now: i64) -> u64 {
        match self.def.period {
            Period::Rolling(r) => {
                // Buckets newer than `now` (the clock stepped back) still count.
                let lo = r.oldest(now);
                inst.buckets
                    .iter()
                    .filter(|(b, _)| *b >= lo)
                    .fold(0u64, |a, (_, n)| a.saturating_add(*n))
            }
            _ => {
                if inst.start == self.bounds_at(now).0 {
                    inst.spend
                } else {
                    0
                }
            }
        }
    }

    /// Brings an instance to `now`: a new calendar period starts at zero, old buckets fall out.
    /// Returns whether anything changed.
    fn settle(def: &BudgetDef, bounds: (i64, Option<i64>), inst: &mut Instance, now: i64) -> bool {
        match def.period {
            Period::Rolling(r) => {
                let oldest = r.oldest(now);
                let before = inst.buckets.len();
                while inst.buckets.front().is_some_and(|(b, _)| *b < oldest) {
                    inst.buckets.pop_front();
                }
                before != inst.buckets.len()
            }
            _ if inst.start != bounds.0 => {
                inst.start = bounds.0;
                inst.spend = 0;
                true
            }
            _ => false,
        }
    }

    fn status(&self, key: &[Box<str>], inst: Option<&Instance>, now: i64) -> Status {
        let local = inst.map_or(0, |i| self.spend_at(i, now));
        let bounds = self.bounds_at(now);
        let fleet = self.fleet_at(key, bounds, now);
        let spend = fleet.map_or(local, |f| f.max(local));
        let mut st = Status::new(&self.def, key, spend, bounds, now);
        st.labels = inst.map(|i| i.labels.clone());
        st.local_spend = local;
        st.fleet_spend = fleet;
        st.fleet_error = self.fleet.error.clone();
        st
    }

    /// The fleet figure for a group, if fresh and fetched within the current period (a figure
    /// from last month must not count against this month). A group the fleet query did not
    /// return has spent nothing fleet-wide.
    fn fleet_at(&self, key: &[Box<str>], bounds: (i64, Option<i64>), now: i64) -> Option<u64> {
        let at = self.fleet.fetched_at?;
        let fresh = now - at <= self.fleet.max_age;
        let this_period =
            matches!(self.def.period, Period::Rolling(_) | Period::Total) || at >= bounds.0;
        (fresh && this_period).then(|| self.fleet.values.get(key).copied().unwrap_or(0))
    }
}

impl Engine {
    /// Builds the engine from compiled budgets and the records read from the state file. Records
    /// of budgets not configured (or not in that period, zone or grouping) are kept as orphans
    /// (see [`orphans`]); only records without spend, or whose period has ended, are deleted. The
    /// notes say which, for the log.
    pub fn new(
        defs: Vec<Arc<BudgetDef>>,
        saved: &[(String, Vec<u8>)],
        now: i64,
    ) -> Result<(Engine, Vec<String>), String> {
        let mut e = Engine {
            slots: defs.into_iter().map(|d| Slot::new(d, now)).collect(),
            ..Default::default()
        };
        let mut notes = Vec::new();
        for (stored_as, bytes) in saved {
            let s = saved::decode(bytes).map_err(|err| format!("record {stored_as}: {err}"))?;
            match e.restore(&s, now) {
                Ok(()) => {
                    let key = boxed(&s.group);
                    if *stored_as != saved::key(&s.budget, &key) {
                        // An orphan restored at start: it moves back under its usual key.
                        e.deleted.insert(stored_as.clone());
                        e.dirty.insert((Arc::from(s.budget.as_str()), key));
                        e.seq += 1;
                    }
                }
                Err(why) => notes.extend(e.orphan(s, Some(stored_as), now, &why)),
            }
        }
        Ok((e, notes))
    }

    /// Keeps a record that no configured budget takes as an orphan, or deletes it when it holds
    /// nothing to keep (no spend, or a period that has ended). Returns a note for the log.
    fn orphan(&mut self, s: Saved, stored_as: Option<&str>, now: i64, why: &str) -> Option<String> {
        let what = format!("saved spend of budget {:?} {:?}", s.budget, s.group);
        if !orphans::holds_spend(&s) || orphans::ended(&s, now) {
            let k = stored_as?;
            self.deleted.insert(k.to_string());
            return Some(format!(
                "dropping {what} ({why}): it holds no spend in a current period"
            ));
        }
        let spend = orphans::spend_at(&s, now);
        let k = self.orphans.adopt(s, stored_as);
        self.deleted.remove(&k);
        if let Some(old) = stored_as.filter(|old| *old != k) {
            self.deleted.insert(old.to_string());
        }
        self.seq += 1;
        Some(format!(
            "keeping {what} as orphaned ({why}): {spend} nano-USD, kept until its period ends, \
             the budget returns with the same period, timezone and group_by, or an admin forgets it"
        ))
    }

    /// Restores one saved record into its configured budget. Refused (the caller keeps it as an
    /// orphan) when no budget of that name and shape is configured, or when the group already
    /// holds spend in memory (restoring would overwrite it).
    fn restore(&mut self, s: &Saved, now: i64) -> Result<(), String> {
        let slot = self
            .slots
            .iter_mut()
            .find(|sl| *sl.def.name == s.budget)
            .ok_or("budget not in config")?;
        let def = slot.def.clone();
        if def.period.as_str() != s.period || *def.timezone_name != *s.timezone {
            return Err(format!(
                "its period is {} ({}), the config's {} ({})",
                s.period,
                s.timezone,
                def.period.as_str(),
                def.timezone_name
            ));
        }
        if s.group.len() != def.group_by.len() {
            return Err("group_by changed".into());
        }
        if s.matchers.as_deref() != def.shape_match.as_deref() {
            return Err("its match changed".into());
        }
        let key = boxed(&s.group);
        if slot
            .instances
            .get(&key)
            .is_some_and(|i| i.spend > 0 || !i.buckets.is_empty())
        {
            return Err("the group already holds spend in memory".into());
        }
        if slot.overflows(&key) && *key != *overflow_key(&def) {
            return Err("over max_groups".into());
        }
        let mut inst = Instance {
            spend: s.spend_nanos,
            buckets: s.buckets.iter().copied().collect(),
            ..new_instance(&def, &key, s.start)
        };
        if let Period::Rolling(r) = def.period {
            // Bounded even if the file was written by a config with more buckets.
            while inst.buckets.len() as i64 > r.buckets {
                inst.buckets.pop_front();
            }
        }
        if Slot::settle(&def, slot.bounds, &mut inst, now) {
            self.dirty.insert((def.name.clone(), key.clone()));
        }
        slot.instances.insert(key, inst);
        Ok(())
    }

    /// Applies a new config. Budgets that keep their name, period, zone and grouping keep their
    /// spend (limits, thresholds and, for config budgets, matchers may change freely; an API
    /// budget's matchers are part of its shape, see [`BudgetDef::shape_match`]). The spend of a budget that
    /// left the config, or changed shape, is kept as orphaned; a budget that (re)appears takes
    /// back its orphaned spend of the same shape.
    pub fn reconfigure(&mut self, defs: Vec<Arc<BudgetDef>>, now: i64) {
        let mut old: HashMap<Arc<str>, Slot> = self
            .slots
            .drain(..)
            .map(|s| (s.def.name.clone(), s))
            .collect();
        let mut leaving = Vec::new();
        for def in defs {
            let mut slot = Slot::new(def.clone(), now);
            if let Some(prev) = old.remove(&def.name) {
                let same = prev.def.period == def.period
                    && prev.def.timezone_name == def.timezone_name
                    && prev.def.group_by == def.group_by
                    && prev.def.shape_match == def.shape_match;
                if same {
                    if prev.def.fleet_query == def.fleet_query {
                        slot.fleet = prev.fleet;
                    }
                    slot.bounds = prev.bounds;
                    slot.instances = prev.instances;
                    slot.roll(now);
                } else {
                    leaving.push(prev);
                }
            }
            self.slots.push(slot);
        }
        leaving.extend(old.into_values());
        for prev in leaving {
            self.orphan_slot(prev, now);
        }
        let names: Vec<Arc<str>> = self.slots.iter().map(|s| s.def.name.clone()).collect();
        for name in names {
            for (k, s, was_dirty) in self.orphans.take_budget(&name) {
                match self.restore(&s, now) {
                    Ok(()) => {
                        self.deleted.insert(k);
                        let key = boxed(&s.group);
                        self.deleted.remove(&saved::key(&name, &key));
                        self.dirty.insert((name.clone(), key));
                    }
                    Err(_) => self.orphans.put_back(k, s, was_dirty),
                }
            }
        }
        self.seq += 1;
    }

    /// Moves every instance of a budget leaving the config (or its shape) to the orphans: its
    /// record moves from its usual key (free for the new shape) to its orphan key.
    fn orphan_slot(&mut self, slot: Slot, now: i64) {
        for (key, inst) in &slot.instances {
            self.dirty.remove(&(slot.def.name.clone(), key.clone()));
            self.deleted.insert(saved::key(&slot.def.name, key));
            let _ = self.orphan(saved_of(&slot.def, key, inst), None, now, "left the config");
        }
    }

    /// Saved spend of budgets not in the config, with the spend each holds as of `now`.
    pub fn orphans(&self, now: i64) -> Vec<(Saved, u64)> {
        self.orphans
            .iter()
            .map(|s| (s.clone(), orphans::spend_at(s, now)))
            .collect()
    }

    pub fn has_orphans(&self, name: &str) -> bool {
        self.orphans.iter().any(|s| s.budget == name)
    }

    pub fn orphan_count(&self) -> usize {
        self.orphans.len()
    }

    /// Deletes every orphaned record of budget `name` (an admin's explicit decision). Returns
    /// what was forgotten; it leaves the state file on the next flush.
    pub fn forget(&mut self, name: &str, now: i64) -> Vec<(Saved, u64)> {
        let gone = self.orphans.take_budget(name);
        let out = gone
            .iter()
            .map(|(_, s, _)| (s.clone(), orphans::spend_at(s, now)))
            .collect();
        for (k, _, _) in gone {
            self.deleted.insert(k);
        }
        self.seq += 1;
        out
    }

    pub fn is_configured(&self, name: &str) -> bool {
        self.slots.iter().any(|s| &*s.def.name == name)
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The write sequence number: bumped by every change that must reach the state file.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Adds `cost` (nano-USD) to every budget the call matches.
    pub fn record(&mut self, labels: &(impl Lookup + ?Sized), cost: u64, now: i64) -> Recorded {
        let mut out = Recorded::default();
        if cost == 0 {
            return out;
        }
        for slot in &mut self.slots {
            if !slot.def.matches(labels) {
                continue;
            }
            slot.roll(now);
            let def = slot.def.clone();
            let mut key = group_key(&def, labels);
            if slot.overflows(&key) {
                key = overflow_key(&def);
                out.overflowed.push(def.name.clone());
            }
            let bounds = slot.bounds;
            let inst = slot
                .instances
                .entry(key.clone())
                .or_insert_with(|| new_instance(&def, &key, bounds.0));
            Slot::settle(&def, bounds, inst, now);
            // A spend that would overflow is refused, not saturated: a saturated total reads as
            // 18.4 billion USD of real spend and denies every check until the period ends.
            let fits = match def.period {
                Period::Rolling(_) => inst
                    .buckets
                    .iter()
                    .try_fold(cost, |sum, (_, n)| sum.checked_add(*n))
                    .is_some(),
                _ => inst.spend.checked_add(cost).is_some(),
            };
            if !fits {
                out.money_overflow.push(def.name.clone());
                continue;
            }
            match def.period {
                Period::Rolling(r) => {
                    let b = r.bucket(now);
                    match inst.buckets.back_mut() {
                        // A clock stepping back adds to the newest bucket rather than reordering.
                        // Cannot overflow: the window's sum plus cost fits.
                        Some((last, n)) if *last >= b => *n += cost,
                        _ => inst.buckets.push_back((b, cost)),
                    }
                    while inst.buckets.len() as i64 > r.buckets {
                        inst.buckets.pop_front();
                    }
                }
                _ => inst.spend += cost,
            }
            let inst = slot.instances.get(&key);
            out.touched.push(slot.status(&key, inst, now));
            self.deleted.remove(&saved::key(&def.name, &key));
            self.dirty.insert((def.name.clone(), key));
        }
        if !out.touched.is_empty() {
            self.seq += 1;
        }
        out
    }

    /// Records the outcome of a fleet query for budget `name`: series are matched to groups by
    /// their `group_by` labels (summed when several share a group). A failure keeps the last
    /// figures, which stay in use until `max_age` passes.
    pub fn set_fleet(
        &mut self,
        name: &str,
        result: Result<Vec<(Labels, f64)>, String>,
        now: i64,
        max_age: i64,
    ) {
        let Some(slot) = self.slots.iter_mut().find(|s| &*s.def.name == name) else {
            return;
        };
        slot.fleet.max_age = max_age;
        match result {
            Ok(series) => {
                let mut values: HashMap<GroupKey, u64> = HashMap::new();
                for (labels, usd) in series {
                    let key: GroupKey = slot
                        .def
                        .group_by
                        .iter()
                        .map(|l| Box::from(labels.get(l).unwrap_or("")))
                        .collect();
                    let nanos = (usd * 1e9).round().clamp(0.0, u64::MAX as f64) as u64;
                    let v = values.entry(key).or_default();
                    *v = v.saturating_add(nanos);
                }
                slot.fleet.values = values;
                slot.fleet.fetched_at = Some(now);
                slot.fleet.error = None;
            }
            Err(e) => slot.fleet.error = Some(Arc::from(e)),
        }
    }

    /// Zeroes this agent's spend of budget `name` in the current period (or window): every group,
    /// or only the one whose `group_by` labels equal `group`. Returns the instances reset, with
    /// their spend before the reset; they are written to the state file on the next flush, so a
    /// restart does not bring the spend back. A fleet-wide figure, if in use, is not ours to reset.
    pub fn reset(
        &mut self,
        name: &str,
        group: Option<&[(String, String)]>,
        now: i64,
    ) -> Result<Vec<(Status, u64)>, ResetError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| &*s.def.name == name)
            .ok_or(ResetError::NoBudget)?;
        let def = slot.def.clone();
        let wanted: Option<GroupKey> = match group {
            None => None,
            Some(labels) => {
                if let Some((l, _)) = labels
                    .iter()
                    .find(|(l, _)| !def.group_by.iter().any(|g| **g == **l))
                {
                    return Err(ResetError::BadGroup(format!(
                        "{l:?} is not a group_by label of this budget ({:?})",
                        def.group_by
                    )));
                }
                Some(group_key(&def, labels))
            }
        };
        slot.roll(now);
        let bounds = slot.bounds;
        let mut keys: Vec<GroupKey> = slot
            .instances
            .keys()
            .filter(|k| wanted.as_ref().is_none_or(|w| w == *k))
            .cloned()
            .collect();
        keys.sort();
        if keys.is_empty() && wanted.is_some() {
            return Err(ResetError::NoGroup);
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(inst) = slot.instances.get_mut(&key) else {
                continue;
            };
            let before = slot_spend(&def, bounds, inst, now);
            Slot::settle(&def, bounds, inst, now);
            inst.spend = 0;
            inst.buckets.clear();
            inst.start = bounds.0;
            let inst = slot.instances.get(&key);
            out.push((slot.status(&key, inst, now), before));
            self.deleted.remove(&saved::key(&def.name, &key));
            self.dirty.insert((def.name.clone(), key));
        }
        self.seq += 1;
        Ok(out)
    }

    /// Rolls every budget to `now` (new periods start at zero, old buckets fall out).
    pub fn tick(&mut self, now: i64) {
        let mut changed = false;
        for slot in &mut self.slots {
            slot.roll(now);
            let (def, bounds) = (slot.def.clone(), slot.bounds);
            for (key, inst) in &mut slot.instances {
                if Slot::settle(&def, bounds, inst, now) {
                    self.dirty.insert((def.name.clone(), key.clone()));
                    changed = true;
                }
            }
        }
        for k in self.orphans.expire(now) {
            self.deleted.insert(k);
            changed = true;
        }
        if changed {
            self.seq += 1;
        }
    }

    /// Every budget with its instances (sorted by group), as of `now`. A grouped budget without
    /// any spend yet appears with no instances.
    pub fn statuses(&self, now: i64) -> Vec<(Arc<BudgetDef>, Vec<Status>)> {
        self.slots
            .iter()
            .map(|slot| {
                let mut keys: Vec<&GroupKey> = slot.instances.keys().collect();
                keys.sort();
                let st = keys
                    .into_iter()
                    .map(|k| slot.status(k, slot.instances.get(k), now))
                    .collect();
                (slot.def.clone(), st)
            })
            .collect()
    }

    /// The instances a call described by `labels` would count toward, as of `now`. Read-only and
    /// allocation-light: this answers the per-call check API.
    pub fn check(&self, labels: &(impl Lookup + ?Sized), now: i64) -> Vec<Status> {
        let mut out = Vec::new();
        for slot in &self.slots {
            if !slot.def.matches(labels) {
                continue;
            }
            let key = group_key(&slot.def, labels);
            // A group past the cap is answered for itself, at zero: `_overflow` sums other
            // callers' spend, which must never refuse this one.
            let mut st = slot.status(&key, slot.instances.get(&key), now);
            st.untracked = slot.overflows(&key);
            out.push(st);
        }
        out
    }

    /// Takes the changes not yet persisted. Put them back with [`Engine::restore_dirty`] if the
    /// write fails, so the next flush retries them.
    pub fn take_dirty(&mut self) -> Dirty {
        let mut d = Dirty {
            seq: self.seq,
            deletes: self.deleted.drain().collect(),
            ..Default::default()
        };
        for (name, key) in self.dirty.drain() {
            let Some(slot) = self.slots.iter().find(|s| s.def.name == name) else {
                continue;
            };
            let Some(inst) = slot.instances.get(&key) else {
                continue;
            };
            let s = saved_of(&slot.def, &key, inst);
            d.puts.push((saved::key(&name, &key), saved::encode(&s)));
            d.keys.push((name, key));
        }
        for (k, bytes) in self.orphans.take_dirty() {
            d.orphan_keys.push(k.clone());
            d.puts.push((k, bytes));
        }
        // A failed batch put back (`restore_dirty`) can leave a key both deleted and dirty; the
        // put is read from memory now, so it is the newer fact (the file applies deletes last).
        d.deletes.retain(|k| !d.puts.iter().any(|(p, _)| p == k));
        d
    }

    /// Marks every instance for rewriting (after a batch was lost without a result).
    pub fn mark_all_dirty(&mut self) {
        for slot in &self.slots {
            for key in slot.instances.keys() {
                self.dirty.insert((slot.def.name.clone(), key.clone()));
            }
        }
        self.orphans.mark_all_dirty();
    }

    pub fn restore_dirty(&mut self, d: Dirty) {
        self.dirty.extend(d.keys);
        self.orphans.mark_dirty(d.orphan_keys);
        for k in d.deletes {
            if !d.puts.iter().any(|(p, _)| *p == k) {
                self.deleted.insert(k);
            }
        }
    }
}
