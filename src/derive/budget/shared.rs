//! [`Budgets`]: the engine behind a read-write lock, shared by the pipeline (writes spend), the
//! API (reads status, answers checks) and the state flusher (takes dirty records). It lives beside
//! the store, not in the reload-swapped `Snapshot`, so a reload reconfigures it in place.
//!
//! The write lock is held only for the arithmetic of one event (no I/O, no parsing); checks take
//! the read lock, so many apps can ask concurrently.

use super::engine::{Dirty, Engine, Recorded, Status};
use super::matcher::{CallLabels, Lookup};
use super::BudgetDef;
use crate::model::{FamilyOptions, Labels, Sample, SampleValue};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

pub struct Budgets {
    engine: RwLock<Engine>,
    /// Lets the usage path skip the lock entirely when no budget is configured.
    empty: AtomicBool,
    families: Families,
}

struct Families {
    limit: Arc<FamilyOptions>,
    spend: Arc<FamilyOptions>,
    remaining: Arc<FamilyOptions>,
    utilization: Arc<FamilyOptions>,
    forecast: Arc<FamilyOptions>,
    start: Arc<FamilyOptions>,
    end: Arc<FamilyOptions>,
    fleet: Arc<FamilyOptions>,
}

impl Default for Families {
    fn default() -> Self {
        use crate::derive::usage::family;
        Families {
            limit: family("Budget limit in USD for the current period."),
            spend: family(
                "This agent's own spend in USD toward the budget in the current period (or window).",
            ),
            remaining: family("Budget limit minus spend, in USD; negative once the budget is overspent."),
            utilization: family("Spend divided by limit (1 = the budget is used up)."),
            forecast: family(
                "Projected spend in USD at the period end: linear burn rate since the period start \
                 (elapsed floored at 1% of the period); for rolling windows and total, the current spend.",
            ),
            start: family("Start of the budget's current period (or rolling window), Unix seconds."),
            end: family("End of the budget's current period (or rolling window), Unix seconds."),
            fleet: family(
                "Fleet-wide spend in USD from the budget's fleet_query, while fresh; remaining, \
                 utilization and forecast use the larger of it and this agent's own spend.",
            ),
        }
    }
}

const NANOS: f64 = 1e9;

/// A budget instance: budget name and group.
type InstanceId<'a> = (&'a str, &'a [(Box<str>, Box<str>)]);

/// Budget instances a batch of spend changed, in order (see [`Budgets::touched_gauges`]).
#[derive(Default)]
pub struct Touched {
    statuses: Vec<Status>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.statuses.is_empty()
    }
}

/// Every gauge family a budget instance writes (see [`Budgets::gauge_labels`]).
pub const GAUGE_FAMILIES: &[&str] = &[
    "llm_budget_limit_usd",
    "llm_budget_spend_usd",
    "llm_budget_fleet_spend_usd",
    "llm_budget_remaining_usd",
    "llm_budget_utilization_ratio",
    "llm_budget_forecast_usd",
    "llm_budget_period_start_seconds",
    "llm_budget_period_end_seconds",
];

fn gauge_labels(st: &Status) -> Labels {
    st.labels.clone().unwrap_or_else(|| {
        Labels::new(st.group.iter().map(|(k, v)| (&**k, &**v)).chain([
            ("budget", &*st.def.name),
            ("period", st.def.period.as_str()),
        ]))
    })
}

impl Budgets {
    /// Budgets restored from saved records (`key`, `bytes`) read from the state file. An
    /// undecodable record is an error: the caller must not start with silently zeroed spend.
    pub fn new(
        defs: &[Arc<BudgetDef>],
        saved: &[(String, Vec<u8>)],
        now: i64,
    ) -> Result<(Budgets, Vec<String>), String> {
        let (engine, notes) = Engine::new(defs.to_vec(), saved, now)?;
        Ok((
            Budgets {
                empty: AtomicBool::new(engine.is_empty()),
                engine: RwLock::new(engine),
                families: Families::default(),
            },
            notes,
        ))
    }

    /// Budgets with no saved state (tests, or an agent built without a state file).
    pub fn in_memory(defs: &[Arc<BudgetDef>], now: i64) -> Budgets {
        match Budgets::new(defs, &[], now) {
            Ok((b, _)) => b,
            Err(_) => Budgets {
                empty: AtomicBool::new(true),
                engine: RwLock::new(Engine::default()),
                families: Families::default(),
            },
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Engine> {
        // The engine's invariants hold between statements, so a panic elsewhere while holding
        // the lock leaves it usable; recover rather than stop counting spend.
        self.engine.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Engine> {
        self.engine.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn reconfigure(&self, defs: &[Arc<BudgetDef>], now: i64) {
        let mut e = self.write();
        e.reconfigure(defs.to_vec(), now);
        self.empty.store(e.is_empty(), Ordering::Relaxed);
    }

    pub fn is_empty(&self) -> bool {
        self.empty.load(Ordering::Relaxed)
    }

    /// Counts `cost` nano-USD toward every matching budget and notes the instances touched in
    /// `touched` (their gauges are written by [`Budgets::touched_gauges`]). Returns what the
    /// caller counts: budgets whose group cap overflowed and budgets that refused the spend as a
    /// money overflow (`touched` of the result is left empty).
    pub fn record(
        &self,
        call: &CallLabels<'_>,
        cost: u64,
        now: i64,
        touched: &mut Touched,
    ) -> Recorded {
        if cost == 0 || self.is_empty() {
            return Recorded::default();
        }
        let mut rec = self.write().record(call, cost, now);
        touched.statuses.append(&mut rec.touched);
        rec
    }

    /// Appends the gauges of every instance in `touched`, each once with its latest status, and
    /// empties it. A batch of spans spending on one budget writes its seven gauges once, not
    /// once per span: they are set, not added, so only the last value is seen either way.
    pub fn touched_gauges(&self, touched: &mut Touched, out: &mut Vec<Sample>) {
        let mut written: HashSet<InstanceId<'_>, foldhash::fast::RandomState> = HashSet::default();
        for st in touched.statuses.iter().rev() {
            if written.insert((&*st.def.name, st.group.as_slice())) {
                self.gauges(st, out);
            }
        }
        touched.statuses.clear();
    }

    /// Rolls periods forward and appends every instance's gauges (run on a timer, so a new period
    /// or a draining rolling window shows without new spend).
    pub fn refresh(&self, now: i64, out: &mut Vec<Sample>) {
        // Orphaned spend expires with its period even when no budget is configured.
        if self.is_empty() && self.orphan_count() == 0 {
            return;
        }
        let all = {
            let mut e = self.write();
            e.tick(now);
            e.statuses(now)
        };
        for (_, instances) in &all {
            for st in instances {
                self.gauges(st, out);
            }
        }
    }

    /// Zeroes a budget's spend (see [`Engine::reset`]) and appends the reset instances' gauges.
    pub fn reset(
        &self,
        name: &str,
        group: Option<&[(String, String)]>,
        now: i64,
        out: &mut Vec<Sample>,
    ) -> Result<Vec<(Status, u64)>, super::engine::ResetError> {
        let reset = self.write().reset(name, group, now)?;
        for (st, _) in &reset {
            self.gauges(st, out);
        }
        Ok(reset)
    }

    /// Saved spend of budgets not in the config (see [`super::orphans`]).
    pub fn orphans(&self, now: i64) -> Vec<(super::saved::Saved, u64)> {
        self.read().orphans(now)
    }

    pub fn has_orphans(&self, name: &str) -> bool {
        self.read().has_orphans(name)
    }

    pub fn orphan_count(&self) -> usize {
        self.read().orphan_count()
    }

    /// Deletes the orphaned records of budget `name` (see [`Engine::forget`]).
    pub fn forget(&self, name: &str, now: i64) -> Vec<(super::saved::Saved, u64)> {
        self.write().forget(name, now)
    }

    pub fn is_configured(&self, name: &str) -> bool {
        self.read().is_configured(name)
    }

    pub fn statuses(&self, now: i64) -> Vec<(Arc<BudgetDef>, Vec<Status>)> {
        self.read().statuses(now)
    }

    pub fn check(&self, labels: &(impl Lookup + ?Sized), now: i64) -> Vec<Status> {
        self.read().check(labels, now)
    }

    pub fn set_fleet(
        &self,
        name: &str,
        result: Result<Vec<(Labels, f64)>, String>,
        now: i64,
        max_age: i64,
    ) {
        self.write().set_fleet(name, result, now, max_age);
    }

    pub fn seq(&self) -> u64 {
        self.read().seq()
    }

    pub fn take_dirty(&self) -> Dirty {
        self.write().take_dirty()
    }

    pub fn mark_all_dirty(&self) {
        self.write().mark_all_dirty();
    }

    pub fn restore_dirty(&self, d: Dirty) {
        self.write().restore_dirty(d);
    }

    /// The label set of every instance's gauges now: what a reconfigure compares, so the gauges
    /// of a budget that left (deleted, or reshaped) leave `/metrics` instead of reporting their
    /// last value for ever (and keeping an alert on it firing).
    pub fn gauge_labels(&self, now: i64) -> Vec<Labels> {
        self.statuses(now)
            .iter()
            .flat_map(|(_, instances)| instances.iter().map(gauge_labels))
            .collect()
    }

    fn gauges(&self, st: &Status, out: &mut Vec<Sample>) {
        let labels = gauge_labels(st);
        let f = &self.families;
        let mut push = |name: &str, opts: &Arc<FamilyOptions>, v: f64| {
            let mut s = Sample::new(name, labels.clone(), SampleValue::GaugeSet(v));
            s.options = opts.clone();
            out.push(s);
        };
        push("llm_budget_limit_usd", &f.limit, st.limit() as f64 / NANOS);
        // This agent's own spend, so `sum by (budget)` over all agents is the fleet total (and a
        // fleet_query summing this gauge never feeds fleet figures back into itself).
        push(
            "llm_budget_spend_usd",
            &f.spend,
            st.local_spend as f64 / NANOS,
        );
        if let Some(fleet) = st.fleet_spend {
            push("llm_budget_fleet_spend_usd", &f.fleet, fleet as f64 / NANOS);
        }
        push(
            "llm_budget_remaining_usd",
            &f.remaining,
            st.remaining() as f64 / NANOS,
        );
        push(
            "llm_budget_utilization_ratio",
            &f.utilization,
            st.utilization(),
        );
        push(
            "llm_budget_forecast_usd",
            &f.forecast,
            st.forecast as f64 / NANOS,
        );
        push("llm_budget_period_start_seconds", &f.start, st.start as f64);
        if let Some(end) = st.end {
            push("llm_budget_period_end_seconds", &f.end, end as f64);
        }
    }
}
