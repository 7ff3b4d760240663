//! What-if repricing: a model's observed token mix over a range priced at the other models of the
//! price table (and at its own model with more of its input read from the provider's prompt
//! cache), through the agent's own pricing path. `meterd report` prints these figures and the
//! recommendations ([`super::recommend`]) compute their savings from them: one code path, so a
//! recommendation's saving is always a difference of two figures the report shows.

use super::ledger::query::{self, Dim, Format, Group, Query};
use super::ledger::row::{Gran, Key, Totals};
use super::pricing::compile::Compiled;
use super::pricing::cost::{self, Breakdown};
use crate::model::UsageEvent;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

/// Quality and outcome rates of one model, from meterd's counters (`llm_quality_grade_total`,
/// `llm_outcomes_total`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quality {
    /// Graded evaluations, and how many were `good` or `excellent` (and `poor`).
    pub graded: f64,
    pub good: f64,
    pub poor: f64,
    /// Outcomes, and how many were `accepted`.
    pub outcomes: f64,
    pub accepted: f64,
}

impl Quality {
    pub fn good_rate(&self) -> Option<f64> {
        (self.graded > 0.0).then(|| self.good / self.graded)
    }
    pub fn poor_rate(&self) -> Option<f64> {
        (self.graded > 0.0).then(|| self.poor / self.graded)
    }
    pub fn accepted_rate(&self) -> Option<f64> {
        (self.outcomes > 0.0).then(|| self.accepted / self.outcomes)
    }
}

pub struct Alternative {
    pub provider: String,
    pub model: String,
    /// `None` when the mix has usage the alternative has no price for.
    pub cost_femto: Option<u128>,
    pub quality: Option<Quality>,
}

/// The same model with a share of its input read from the provider's prompt cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caching {
    /// Cached share of input assumed, in parts per million.
    pub share_ppm: u64,
    /// The observed mix as it was (repriced: the baseline of the comparison).
    pub uncached_femto: u128,
    /// The mix with `share_ppm` of its input as cached input.
    pub cached_femto: u128,
}

pub struct WhatIf {
    pub provider: String,
    pub model: String,
    pub totals: Totals,
    /// Average input tokens per request: the tier size the mix is priced at.
    pub request_input_tokens: u64,
    pub quality: Option<Quality>,
    pub alternatives: Vec<Alternative>,
    /// `None` unless the model has a cached-input price below its input price and less than
    /// the assumed share of its input was cached.
    pub caching: Option<Caching>,
}

/// What to reprice: hour rows starting in `[from, to)`, at prices in force at `now`.
pub struct Range<'a> {
    pub rows: &'a [(Key, Totals)],
    pub tz: &'a TimeZone,
    pub from: i64,
    pub to: i64,
    pub now: i64,
    /// By model name.
    pub quality: &'a BTreeMap<String, Quality>,
    /// Models to reprice at (`provider/model` or `model`); empty: every model in the table.
    pub only: &'a [String],
    /// Cached share of input the caching what-if assumes (ppm; 0: none).
    pub cache_share_ppm: u64,
}

/// Rows in `[from, to)` grouped by `by`, as the usage API groups them.
pub fn groups(
    rows: &[(Key, Totals)],
    tz: &TimeZone,
    from: i64,
    to: i64,
    by: Vec<Dim>,
) -> Vec<Group> {
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

fn wanted(only: &[String], provider: &str, model: &str) -> bool {
    only.is_empty()
        || only
            .iter()
            .any(|w| w == model || *w == format!("{provider}/{model}"))
}

/// `totals` with `share_ppm` of its input counted as cached input (never less than was cached).
pub fn with_cached_share(totals: &Totals, share_ppm: u64) -> Totals {
    let mut t = *totals;
    let input = u128::from(t.quantities[0]);
    let cached =
        u64::try_from(input * u128::from(share_ppm.min(1_000_000)) / 1_000_000).unwrap_or(u64::MAX);
    t.quantities[2] = t.quantities[2].max(cached);
    t
}

fn caching(
    table: &Compiled,
    w: (&str, &str, &Totals, u64),
    share_ppm: u64,
    at: u64,
) -> Option<Caching> {
    let (provider, model, totals, request_input) = w;
    if share_ppm == 0 || totals.quantities[0] == 0 {
        return None;
    }
    let cached_mix = with_cached_share(totals, share_ppm);
    if cached_mix.quantities[2] <= totals.quantities[2] {
        return None;
    }
    let uncached_femto = reprice(table, provider, model, totals, request_input, at)?;
    let cached_femto = reprice(table, provider, model, &cached_mix, request_input, at)?;
    // Without a cheaper cached price the two are equal: nothing to gain.
    (cached_femto < uncached_femto).then_some(Caching {
        share_ppm,
        uncached_femto,
        cached_femto,
    })
}

/// Each model used in the range, with its mix repriced at every wanted model of the table.
pub fn what_if(table: &Compiled, r: &Range<'_>) -> Vec<WhatIf> {
    let at = u64::try_from(r.now)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000);
    let used = groups(r.rows, r.tz, r.from, r.to, vec![Dim::Provider, Dim::Model]);
    let mut candidates: Vec<(String, String)> = table
        .entries
        .iter()
        .filter(|e| wanted(r.only, &e.provider, &e.model))
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
                    quality: r.quality.get(m).cloned(),
                })
                .collect();
            let caching = caching(
                table,
                (&provider, &model, &t, request_input_tokens),
                r.cache_share_ppm,
                at,
            );
            Some(WhatIf {
                quality: r.quality.get(&model).cloned(),
                provider,
                model,
                totals: t,
                request_input_tokens,
                alternatives,
                caching,
            })
        })
        .collect()
}
