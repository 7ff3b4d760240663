//! `meterd report`: spend for a range broken down by day, model and scope labels, this month's
//! forecast against each budget, and what-if repricing of each model's observed token mix at the
//! other models of the price table, with the quality and outcome rates meterd has beside them,
//! and the recommendations ([`crate::derive::recommend`]) computed from the same figures.
//!
//! Pure: [`build`] takes hour rows of the usage ledger (read by [`source`] from a state file or
//! a running agent's API), the price table, the budgets and the clock, and returns a [`Report`]
//! rendered as text, JSON or CSV.

pub mod render;
pub mod source;

use crate::derive::budget::period::{calendar_bounds, Period};
use crate::derive::budget::BudgetDef;
use crate::derive::ledger::query::{self, Dim, Group};
use crate::derive::ledger::row::{Key, Totals};
use crate::derive::pricing::compile::Compiled;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::derive::forecast::per_day;
pub use crate::derive::forecast::BudgetForecast;
pub use crate::derive::recommend::Recommendation;
use crate::derive::whatif::groups;
pub use crate::derive::whatif::{Alternative, Caching, Quality, WhatIf};

pub struct Input<'a> {
    /// Hour rows covering `[from, to)`, this month so far, and each budget's current period.
    pub rows: &'a [(Key, Totals)],
    pub tz: &'a TimeZone,
    pub tz_name: &'a str,
    pub from: i64,
    pub to: i64,
    pub now: i64,
    pub by: &'a [Dim],
    pub pricing: Option<&'a Compiled>,
    pub budgets: &'a [Arc<BudgetDef>],
    /// By model name.
    pub quality: &'a BTreeMap<String, Quality>,
    /// Models to reprice at (`provider/model` or `model`); empty: every model in the table.
    pub what_if: &'a [String],
    /// Cached share of input the caching what-if assumes (ppm; 0: none).
    pub cache_share_ppm: u64,
    /// Computed by the caller over `recommendations.window` ([`crate::derive::recommend`]).
    pub recommendations: &'a [Recommendation],
}

pub struct Section {
    pub dim: Dim,
    pub groups: Vec<Group>,
}

pub struct Forecast {
    pub month: String,
    pub month_to_date_femto: u128,
    pub days_elapsed: f64,
    pub days_in_month: f64,
    pub avg_per_day_femto: u128,
    pub projected_femto: u128,
}

pub struct Report {
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub total: Totals,
    pub sections: Vec<Section>,
    pub forecast: Forecast,
    pub budgets: Vec<BudgetForecast>,
    pub what_if: Vec<WhatIf>,
    pub recommendations: Vec<Recommendation>,
}

const DAY: f64 = crate::derive::forecast::DAY;

pub fn build(i: &Input<'_>) -> Report {
    let in_range = groups(i.rows, i.tz, i.from, i.to, Vec::new());
    let total = query::sum(&in_range);
    let sections =
        i.by.iter()
            .map(|d| Section {
                dim: d.clone(),
                groups: groups(i.rows, i.tz, i.from, i.to, vec![d.clone()]),
            })
            .collect();
    Report {
        from: crate::derive::ledger::clock::time_text(i.tz, i.from),
        to: crate::derive::ledger::clock::time_text(i.tz, i.to),
        timezone: i.tz_name.to_string(),
        total,
        sections,
        forecast: forecast(i),
        budgets: i.budgets.iter().flat_map(|b| budget(i, b)).collect(),
        what_if: what_if(i),
        recommendations: i.recommendations.to_vec(),
    }
}

fn forecast(i: &Input<'_>) -> Forecast {
    let (start, end) = match calendar_bounds(Period::Monthly, i.tz, i.now) {
        Ok((s, Some(e))) => (s, e),
        _ => (i.now, i.now + 30 * 86_400),
    };
    let mtd = query::sum(&groups(i.rows, i.tz, start, i.now + 1, Vec::new())).cost_femto;
    let avg = per_day(mtd, i.now - start);
    let days_in_month = (end - start) as f64 / DAY;
    Forecast {
        month: crate::derive::ledger::clock::date_text(i.tz, start)
            .get(..7)
            .unwrap_or_default()
            .to_string(),
        month_to_date_femto: mtd,
        days_elapsed: (i.now - start) as f64 / DAY,
        days_in_month,
        avg_per_day_femto: avg,
        projected_femto: (avg as f64 * days_in_month).round() as u128,
    }
}

fn budget(i: &Input<'_>, b: &BudgetDef) -> Option<BudgetForecast> {
    crate::derive::forecast::budget(i.rows, b, i.now)
}

pub use crate::derive::whatif::reprice;

fn what_if(i: &Input<'_>) -> Vec<WhatIf> {
    let Some(table) = i.pricing else {
        return Vec::new();
    };
    crate::derive::whatif::what_if(
        table,
        &crate::derive::whatif::Range {
            rows: i.rows,
            tz: i.tz,
            from: i.from,
            to: i.to,
            now: i.now,
            quality: i.quality,
            only: i.what_if,
            cache_share_ppm: i.cache_share_ppm,
        },
    )
}

#[cfg(test)]
mod tests;
