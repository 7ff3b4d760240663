//! `meterd report`: spend for a range broken down by day, model and scope labels, this month's
//! forecast against each budget, and what-if repricing of each model's observed token mix at the
//! other models of the price table, with the quality and outcome rates meterd has beside them.
//!
//! Pure: [`build`] takes hour rows of the usage ledger (read by [`source`] from a state file or
//! a running agent's API), the price table, the budgets and the clock, and returns a [`Report`]
//! rendered as text, JSON or CSV.

pub mod render;
pub mod source;

use crate::derive::budget::period::{calendar_bounds, Period};
use crate::derive::budget::BudgetDef;
use crate::derive::ledger::query::{self, Dim, Format, Group, Query};
use crate::derive::ledger::row::{Gran, Key, Totals};
use crate::derive::pricing::compile::Compiled;
use crate::derive::pricing::cost::{self, Breakdown};
use crate::model::UsageEvent;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Quality and outcome rates of one model, from meterd's counters (`llm_quality_grade_total`,
/// `llm_outcomes_total`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quality {
    /// Graded evaluations, and how many were `good` or `excellent`.
    pub graded: f64,
    pub good: f64,
    /// Outcomes, and how many were `accepted`.
    pub outcomes: f64,
    pub accepted: f64,
}

impl Quality {
    pub fn good_rate(&self) -> Option<f64> {
        (self.graded > 0.0).then(|| self.good / self.graded)
    }
    pub fn accepted_rate(&self) -> Option<f64> {
        (self.outcomes > 0.0).then(|| self.accepted / self.outcomes)
    }
}

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

pub struct BudgetForecast {
    pub name: String,
    pub period: &'static str,
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

pub struct Alternative {
    pub provider: String,
    pub model: String,
    /// `None` when the mix has usage the alternative has no price for.
    pub cost_femto: Option<u128>,
    pub quality: Option<Quality>,
}

pub struct WhatIf {
    pub provider: String,
    pub model: String,
    pub totals: Totals,
    /// Average input tokens per request: the tier size the mix is priced at.
    pub request_input_tokens: u64,
    pub quality: Option<Quality>,
    pub alternatives: Vec<Alternative>,
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
}

fn groups(rows: &[(Key, Totals)], tz: &TimeZone, from: i64, to: i64, by: Vec<Dim>) -> Vec<Group> {
    let q = Query {
        from,
        to,
        gran: Gran::Hour,
        group_by: by,
        filters: Vec::new(),
        format: Format::Json,
    };
    query::aggregate(rows, &q, tz)
}

const DAY: f64 = 86_400.0;

fn per_day(femto: u128, secs: i64) -> u128 {
    let days = (secs as f64 / DAY).max(1.0 / 24.0);
    (femto as f64 / days).round() as u128
}

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

struct KeyLabels<'a>(&'a Key);

impl crate::derive::budget::matcher::Lookup for KeyLabels<'_> {
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

/// A budget's spend in its current period, from the ledger's hour rows (rolling windows: the
/// window's hours), and where it is heading at the current rate. Grouped budgets are shown as
/// one figure over all groups.
fn budget(i: &Input<'_>, b: &BudgetDef) -> Option<BudgetForecast> {
    let (start, end) = match b.period {
        Period::Rolling(r) => {
            let (s, _) = r.bounds(i.now);
            (s, None)
        }
        p => calendar_bounds(p, &b.timezone, i.now).ok()?,
    };
    let spend: u128 = i
        .rows
        .iter()
        .filter(|(k, _)| k.gran == Gran::Hour && k.start >= start && k.start <= i.now)
        .filter(|(k, _)| b.matches(&KeyLabels(k)))
        .map(|(_, t)| t.cost_femto)
        .sum();
    let elapsed = if start == 0 {
        30 * 86_400
    } else {
        i.now - start
    };
    let avg = per_day(spend, elapsed);
    let limit = u128::from(b.limit_nanos) * 1_000_000;
    let projected = end.map(|e| spend + (avg as f64 * (e - i.now) as f64 / DAY).round() as u128);
    let days_to_exhaust = if spend >= limit {
        Some(0.0)
    } else {
        (avg > 0).then(|| (limit - spend) as f64 / avg as f64)
    };
    Some(BudgetForecast {
        name: b.name.to_string(),
        period: b.period.as_str(),
        limit_femto: limit,
        spend_femto: spend,
        avg_per_day_femto: avg,
        projected_femto: projected,
        overage_femto: projected.map(|p| p.saturating_sub(limit)),
        days_to_exhaust,
    })
}

/// Prices `totals` as `provider`/`model` through the agent's own pricing path (what `meterd
/// price` prints for the same numbers).
pub fn reprice(
    table: &Compiled,
    provider: &str,
    model: &str,
    totals: &Totals,
    request_input_tokens: u64,
    at_nanos: u64,
) -> Option<u128> {
    let mut ev = UsageEvent::new(provider, model);
    ev.usage = totals.usage();
    ev.unix_nanos = at_nanos;
    ev.request_input_tokens = Some(request_input_tokens);
    match cost::price(table, &ev) {
        Breakdown::Priced(p) if !p.overflow && p.unpriced.is_empty() => Some(p.total),
        _ => None,
    }
}

fn wanted(what_if: &[String], provider: &str, model: &str) -> bool {
    what_if.is_empty()
        || what_if
            .iter()
            .any(|w| w == model || *w == format!("{provider}/{model}"))
}

fn what_if(i: &Input<'_>) -> Vec<WhatIf> {
    let Some(table) = i.pricing else {
        return Vec::new();
    };
    let at = u64::try_from(i.now)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000);
    let used = groups(i.rows, i.tz, i.from, i.to, vec![Dim::Provider, Dim::Model]);
    let mut candidates: Vec<(String, String)> = table
        .entries
        .iter()
        .filter(|e| wanted(i.what_if, &e.provider, &e.model))
        .map(|e| (e.provider.to_string(), e.model.to_string()))
        .collect();
    candidates.sort();
    candidates.dedup();
    used.into_iter()
        .filter(|g| g.totals.requests > 0 || g.totals.quantities.iter().any(|q| *q > 0))
        .filter_map(|g| {
            let [provider, model] = <[String; 2]>::try_from(g.values).ok()?;
            let t = g.totals;
            let request_input_tokens = t.quantities[0] / t.requests.max(1);
            let alternatives = candidates
                .iter()
                .filter(|(p, m)| !(p == &provider && m == &model))
                .map(|(p, m)| Alternative {
                    provider: p.clone(),
                    model: m.clone(),
                    cost_femto: reprice(table, p, m, &t, request_input_tokens, at),
                    quality: i.quality.get(m).cloned(),
                })
                .collect();
            Some(WhatIf {
                quality: i.quality.get(&model).cloned(),
                provider,
                model,
                totals: t,
                request_input_tokens,
                alternatives,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
