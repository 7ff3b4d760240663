//! Budgets: spend per scope and period against a limit, with thresholds, a forecast, and a check
//! an app can ask before each model call.
//!
//! - [`matcher`]: PromQL-style label matchers; [`period`]: calendar and rolling periods;
//! - [`engine`]: the pure engine (clock passed in as Unix seconds): record spend, roll periods,
//!   status, check, snapshot for persistence;
//! - [`shared`]: [`Budgets`], the engine behind a lock, shared by the pipeline, the API and the
//!   state flusher, and kept across config reloads (spend of budgets that stay is never lost);
//! - [`saved`]: the persisted record format (the `state` module stores the bytes);
//! - [`orphans`]: saved spend of budgets the config does not have (any more): kept, never erased
//!   by a config edit, until its period ends or an admin forgets it;
//! - [`api`]: budgets created over the admin API: the JSON body checked field by field, the
//!   stored form, and the merge with the config's budgets into the one set the engine runs.
//!
//! Money is integer nano-USD throughout; USD floats appear only in gauges and JSON.

pub mod api;
pub mod engine;
pub mod fleet;
pub mod matcher;
pub mod orphans;
pub mod period;
pub mod saved;
pub mod shared;

pub use crate::config::budget::{BudgetConfig, MAX_LIMIT_USD};
pub use shared::{Budgets, Touched};

use crate::config::{child, index, Issues};
use jiff::tz::TimeZone;
use matcher::Matcher;
use period::Period;
use std::sync::Arc;

/// A budget compiled from config: parsed period and zone, compiled matchers, integer money.
#[derive(Debug)]
pub struct BudgetDef {
    pub name: Arc<str>,
    pub period: Period,
    pub timezone_name: Box<str>,
    pub timezone: TimeZone,
    pub limit_nanos: u64,
    /// Sorted ascending, each in parts per million, 1.0 included; compared in integers so a spend
    /// of exactly 80% is at the 0.8 threshold, never a float rounding away from it.
    pub thresholds_ppm: Box<[u64]>,
    pub matchers: Box<[Matcher]>,
    pub group_by: Box<[Box<str>]>,
    pub max_groups: usize,
    pub fleet_query: Option<Box<str>>,
    /// Budgets created over the admin API: their matchers (canonical JSON), which are part of
    /// their shape, so a new `match` starts new records and the old spend waits as orphaned
    /// (issue #26). `None` for config budgets, whose matchers may change freely (#17).
    pub shape_match: Option<Box<str>>,
}

pub const PPM: u64 = 1_000_000;

impl BudgetDef {
    pub fn compile(c: &BudgetConfig) -> Result<BudgetDef, Vec<(String, String)>> {
        let mut errs = Vec::new();
        let period = Period::parse(&c.period);
        if period.is_none() {
            let msg = if c.period.is_empty() {
                format!("is required (one of {})", period::NAMES)
            } else {
                format!("unknown period {:?} (one of {})", c.period, period::NAMES)
            };
            errs.push(("period".into(), msg));
        }
        let timezone = TimeZone::get(&c.timezone);
        if let Err(e) = &timezone {
            errs.push((
                "timezone".into(),
                format!("unknown IANA time zone {:?}: {e}", c.timezone),
            ));
        }
        if c.name.is_empty() {
            errs.push(("name".into(), "is required".into()));
        }
        if !(c.limit_usd.is_finite() && c.limit_usd > 0.0 && c.limit_usd <= MAX_LIMIT_USD) {
            errs.push((
                "limit_usd".into(),
                format!("must be greater than 0 and at most {MAX_LIMIT_USD}"),
            ));
        }
        let mut thresholds_ppm = Vec::with_capacity(c.thresholds.len() + 1);
        for (i, t) in c.thresholds.iter().enumerate() {
            if t.is_finite() && *t > 0.0 && *t <= 1.0 {
                thresholds_ppm.push((t * PPM as f64).round() as u64);
            } else {
                errs.push((
                    format!("thresholds[{i}]"),
                    format!("{t} is not a ratio in (0, 1]"),
                ));
            }
        }
        thresholds_ppm.push(PPM);
        thresholds_ppm.sort_unstable();
        thresholds_ppm.dedup();
        let mut matchers = Vec::with_capacity(c.matchers.len());
        for (label, spec) in &c.matchers {
            match Matcher::parse(label, spec) {
                Ok(m) => matchers.push(m),
                Err(e) => errs.push((format!("match.{label}"), e)),
            }
        }
        if c.max_groups == 0 {
            errs.push(("max_groups".into(), "must be greater than 0".into()));
        }
        let (Some(period), Ok(timezone), true) = (period, timezone, errs.is_empty()) else {
            return Err(errs);
        };
        Ok(BudgetDef {
            name: Arc::from(c.name.as_str()),
            period,
            timezone_name: c.timezone.as_str().into(),
            timezone,
            limit_nanos: (c.limit_usd * 1e9).round() as u64,
            thresholds_ppm: thresholds_ppm.into(),
            matchers: matchers.into(),
            group_by: c.group_by.iter().map(|s| Box::from(s.as_str())).collect(),
            max_groups: c.max_groups,
            fleet_query: c.fleet_query.as_deref().map(Box::from),
            shape_match: None,
        })
    }

    pub fn matches(&self, labels: &(impl matcher::Lookup + ?Sized)) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }
}

/// Compiles every budget, reporting its problems and what one budget cannot see alone: unique
/// names, and matchers or `group_by` on labels that never survive scoping (they would silently
/// match nothing). The result is complete only when no issue was added.
pub fn compile_all(
    budgets: &[BudgetConfig],
    scope_labels: &[String],
    path: &str,
    issues: &mut Issues,
) -> Vec<Arc<BudgetDef>> {
    let mut defs = Vec::with_capacity(budgets.len());
    for (i, b) in budgets.iter().enumerate() {
        let at = index(path, i);
        if let Some(def) = compile_one(b, scope_labels, &at, issues) {
            defs.push(Arc::new(def));
        }
        if budgets[..i].iter().any(|o| o.name == b.name) && !b.name.is_empty() {
            issues.error(
                child(&at, "name"),
                format!("duplicate budget name {:?}", b.name),
            );
        }
    }
    defs
}

/// Compiles one budget at key path `at` (`budgets[3]`, or `""` for an admin API body, whose
/// problems are then named `limit_usd`, `match.team`, `thresholds[2]`): the checks and words
/// are the same wherever a budget comes from. `None` when any issue was added.
pub fn compile_one(
    b: &BudgetConfig,
    scope_labels: &[String],
    at: &str,
    issues: &mut Issues,
) -> Option<BudgetDef> {
    let before = issues.0.len();
    let known = |l: &str| l == "provider" || l == "model" || scope_labels.iter().any(|s| s == l);
    let def = match BudgetDef::compile(b) {
        Ok(def) => Some(def),
        Err(errs) => {
            for (key, msg) in errs {
                issues.error(child(at, key), msg);
            }
            None
        }
    };
    for label in b.matchers.keys() {
        if !known(label) {
            issues.error(
                child(at, format!("match.{label}")),
                format!(
                    "{label:?} is not in scope_labels {scope_labels:?} (nor provider/model): \
                     usage events never carry it, so this budget would match nothing"
                ),
            );
        }
    }
    for (j, label) in b.group_by.iter().enumerate() {
        if !known(label) {
            issues.error(
                index(&child(at, "group_by"), j),
                format!("{label:?} is not in scope_labels {scope_labels:?} (nor provider/model)"),
            );
        }
    }
    if b.fleet_query
        .as_deref()
        .is_some_and(|q| q.trim().is_empty())
    {
        issues.error(child(at, "fleet_query"), "must not be empty when set");
    }
    def.filter(|_| issues.0.len() == before)
}

#[cfg(test)]
mod tests;
