//! Where a budget's spend is heading, from the usage ledger's hour rows: its spend in the current
//! period, the average per day so far and the projection to the period end. `meterd report`
//! prints these and the `reduce_model_usage` recommendation acts on an overrun, from one code.

use super::budget::matcher::Lookup;
use super::budget::period::{calendar_bounds, Period};
use super::budget::BudgetDef;
use super::ledger::row::{Gran, Key, Totals};

pub const DAY: f64 = 86_400.0;

/// `femto` spread over `secs` (at least an hour), per day.
pub fn per_day(femto: u128, secs: i64) -> u128 {
    let days = (secs as f64 / DAY).max(1.0 / 24.0);
    (femto as f64 / days).round() as u128
}

pub struct BudgetForecast {
    pub name: String,
    pub period: &'static str,
    /// Where the current period started (0 for `total`) and ends (`None`: no end).
    pub start: i64,
    pub end: Option<i64>,
    pub limit_femto: u128,
    pub spend_femto: u128,
    pub avg_per_day_femto: u128,
    /// At the period end at the current rate (`None` for periods without an end).
    pub projected_femto: Option<u128>,
    pub overage_femto: Option<u128>,
    /// Days until spend reaches the limit at the current rate (0 once exceeded; `None` when
    /// nothing is being spent).
    pub days_to_exhaust: Option<f64>,
}

/// A ledger row's labels as a budget matcher sees a call's.
pub struct KeyLabels<'a>(pub &'a Key);

impl Lookup for KeyLabels<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "provider" => Some(&self.0.provider),
            "model" => Some(&self.0.model),
            _ => self
                .0
                .labels
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
        }
    }
}

/// The current period of `b` at `now`: `[start, end)`.
pub fn period_bounds(b: &BudgetDef, now: i64) -> Option<(i64, Option<i64>)> {
    match b.period {
        Period::Rolling(r) => {
            let (s, _) = r.bounds(now);
            Some((s, None))
        }
        p => calendar_bounds(p, &b.timezone, now).ok(),
    }
}

/// Hour rows of `b`'s current period that it counts.
pub fn budget_rows<'a>(
    rows: &'a [(Key, Totals)],
    b: &'a BudgetDef,
    start: i64,
    now: i64,
) -> impl Iterator<Item = &'a (Key, Totals)> + 'a {
    rows.iter()
        .filter(move |(k, _)| k.gran == Gran::Hour && k.start >= start && k.start <= now)
        .filter(move |(k, _)| b.matches(&KeyLabels(k)))
}

/// A budget's spend in its current period, from the ledger's hour rows (rolling windows: the
/// window's hours), and where it is heading at the current rate. Grouped budgets are shown as
/// one figure over all groups.
pub fn budget(rows: &[(Key, Totals)], b: &BudgetDef, now: i64) -> Option<BudgetForecast> {
    let (start, end) = period_bounds(b, now)?;
    let spend: u128 =
        budget_rows(rows, b, start, now).fold(0u128, |a, (_, t)| a.saturating_add(t.cost_femto));
    let elapsed = if start == 0 { 30 * 86_400 } else { now - start };
    let avg = per_day(spend, elapsed);
    let limit = u128::from(b.limit_nanos) * 1_000_000;
    let projected =
        end.map(|e| spend.saturating_add((avg as f64 * (e - now) as f64 / DAY).round() as u128));
    let days_to_exhaust = if spend >= limit {
        Some(0.0)
    } else {
        (avg > 0).then(|| (limit - spend) as f64 / avg as f64)
    };
    Some(BudgetForecast {
        name: b.name.to_string(),
        period: b.period.as_str(),
        start,
        end,
        limit_femto: limit,
        spend_femto: spend,
        avg_per_day_femto: avg,
        projected_femto: projected,
        overage_femto: projected.map(|p| p.saturating_sub(limit)),
        days_to_exhaust,
    })
}
