//! Recommendations: typed suggestions computed from the usage ledger over a window, each with an
//! estimated monthly saving in exact money and the evidence behind it. Pure: ledger rows, the
//! price table, quality and app-cache figures, budgets, thresholds and stored statuses in; a
//! sorted list out.
//!
//! Savings come from [`super::whatif`], the code `meterd report` prints its what-if figures
//! with: a saving is `window cost - alternative cost` for the window's observed mix, scaled to 30
//! days by `2_592_000 / span` seconds (rounded half up, in femto-USD), where `span` runs from the
//! window start (or the first hour bucket with usage, if later: the ledger holds less than the
//! window) to now, and is at least an hour.
//!
//! An id is a hash of the type, scope and models, never of figures: it stays the same across
//! restarts and as volume changes, so a stored status keeps applying to it.

mod rules;
pub mod status;

use super::budget::BudgetDef;
use super::ledger::row::{Gran, Key, Totals};
use super::pricing::compile::Compiled;
use super::whatif::Quality;
use crate::config::recommendations::RecommendationsConfig;
use crate::model::money::{femto_to_usd_f64, format_usd, mul_div_round};
use jiff::tz::TimeZone;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use status::{Status, Stored};

/// Thirty days, the "month" savings are scaled to.
pub const MONTH_SECS: i64 = 30 * 86_400;
const FEMTO_PER_USD: f64 = 1e15;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    DowngradeModel,
    UpgradeModel,
    OptimizeCache,
    ReduceModelUsage,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DowngradeModel => "downgrade_model",
            Kind::UpgradeModel => "upgrade_model",
            Kind::OptimizeCache => "optimize_cache",
            Kind::ReduceModelUsage => "reduce_model_usage",
        }
    }
}

/// Declared most urgent first: the list sorts by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    High,
    Medium,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
}

/// Thresholds compiled from [`RecommendationsConfig`].
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub enabled: bool,
    pub window_secs: i64,
    pub min_requests: u64,
    pub min_quality_samples: f64,
    pub min_monthly_savings_femto: u128,
    pub cached_share_min_ppm: u64,
    pub cached_share_target_ppm: u64,
    pub cache_hit_rate_min: f64,
    pub upgrade_poor_rate_min: f64,
    pub resurface_factor: f64,
}

fn ppm(r: f64) -> u64 {
    (r.clamp(0.0, 1.0) * 1e6).round() as u64
}

impl Settings {
    pub fn new(c: &RecommendationsConfig) -> Settings {
        Settings {
            enabled: c.enabled,
            window_secs: i64::try_from(c.window.0.as_secs()).unwrap_or(MONTH_SECS),
            min_requests: c.min_requests,
            min_quality_samples: c.min_quality_samples as f64,
            min_monthly_savings_femto: (c.min_monthly_savings_usd.max(0.0) * FEMTO_PER_USD).round()
                as u128,
            cached_share_min_ppm: ppm(c.cached_share_min),
            cached_share_target_ppm: ppm(c.cached_share_target),
            cache_hit_rate_min: c.cache_hit_rate_min,
            upgrade_poor_rate_min: c.upgrade_poor_rate_min,
            resurface_factor: c.resurface_factor,
        }
    }
}

/// An app-side cache's lookups (`llm_cache_requests_total{cache,result}`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppCache {
    pub cache: String,
    pub hits: f64,
    pub misses: f64,
}

pub struct Input<'a> {
    /// Hour rows covering the window and each budget's current period (see [`rows_from`]).
    pub rows: &'a [(Key, Totals)],
    pub tz: &'a TimeZone,
    pub now: i64,
    pub pricing: Option<&'a Compiled>,
    /// By model name.
    pub quality: &'a BTreeMap<String, Quality>,
    pub caches: &'a [AppCache],
    pub budgets: &'a [Arc<BudgetDef>],
    pub settings: &'a Settings,
    /// Statuses set over the admin API, by id.
    pub statuses: &'a BTreeMap<String, Stored>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    pub id: String,
    pub kind: Kind,
    pub priority: Priority,
    pub title: String,
    pub description: String,
    /// Negative for an extra cost (`upgrade_model`).
    pub monthly_savings_femto: i128,
    pub evidence: Value,
    pub status: Status,
    /// A dismissed recommendation shown again because its saving grew past the factor.
    pub resurfaced: bool,
    pub stored: Option<Stored>,
}

/// The window `[from, to)` at `now`: from the start of the local hour `window_secs` ago, to now
/// inclusive (the current hour's bucket counts).
pub fn window(tz: &TimeZone, now: i64, window_secs: i64) -> (i64, i64) {
    (
        super::ledger::clock::hour_start(tz, now.saturating_sub(window_secs)),
        now.saturating_add(1),
    )
}

/// The earliest bucket start the rows handed to [`recommend`] must reach: the window, and the
/// current period of each budget with a period end (only those can be forecast to overrun).
pub fn rows_from(tz: &TimeZone, budgets: &[Arc<BudgetDef>], now: i64, s: &Settings) -> i64 {
    let (from, _) = window(tz, now, s.window_secs);
    budgets
        .iter()
        .filter_map(|b| super::forecast::period_bounds(b, now))
        .filter(|(_, end)| end.is_some())
        .map(|(start, _)| start)
        .chain([from])
        .min()
        .unwrap_or(from)
}

/// A stable id: `rec_` and 16 hex digits of a hash of the type and its scope.
pub fn id(kind: Kind, scope: &str) -> String {
    let h = blake3::hash(format!("{}\n{scope}", kind.as_str()).as_bytes());
    format!("rec_{}", &h.to_hex()[..16])
}

/// USD text with sign (`-1.25`), exact.
pub fn usd_signed(femto: i128) -> String {
    let text = format_usd(femto.unsigned_abs());
    if femto < 0 {
        format!("-{text}")
    } else {
        text
    }
}

pub fn usd_signed_f64(femto: i128) -> f64 {
    let v = femto_to_usd_f64(femto.unsigned_abs());
    if femto < 0 {
        -v
    } else {
        v
    }
}

/// The window as observed: where usage starts in it, and the span savings are scaled by.
pub(crate) struct Span {
    pub from: i64,
    pub to: i64,
    pub observed_from: i64,
    pub secs: i64,
}

impl Span {
    fn new(rows: &[(Key, Totals)], from: i64, to: i64) -> Span {
        let first = rows
            .iter()
            .filter(|(k, _)| k.gran == Gran::Hour && k.start >= from && k.start < to)
            .map(|(k, _)| k.start)
            .min()
            .unwrap_or(from);
        let observed_from = first.max(from);
        Span {
            from,
            to,
            observed_from,
            secs: (to - observed_from).max(3600),
        }
    }

    /// `diff` over the span, per 30 days (half up, away from zero).
    pub fn monthly(&self, diff: i128) -> i128 {
        let secs = u128::try_from(self.secs).unwrap_or(1);
        let v = mul_div_round(diff.unsigned_abs(), MONTH_SECS as u128, secs);
        let v = i128::try_from(v).unwrap_or(i128::MAX);
        if diff < 0 {
            -v
        } else {
            v
        }
    }

    pub fn evidence(&self, tz: &TimeZone, window_secs: i64) -> Value {
        let text = |t| super::ledger::clock::time_text(tz, t);
        let mut v = json!({
            "from": text(self.from),
            "to": text(self.to),
            "from_unix": self.from,
            "to_unix": self.to,
            "window_secs": window_secs,
            "observed_from": text(self.observed_from),
            "observed_secs": self.secs,
            "scaled_to_days": 30,
        });
        if self.observed_from > self.from {
            v["note"] = json!(
                "the ledger holds less than the window: savings are scaled from the observed span"
            );
        }
        v
    }
}

/// Every recommendation, statuses applied, sorted by priority, then saving (largest first),
/// then id.
pub fn recommend(i: &Input<'_>) -> Vec<Recommendation> {
    if !i.settings.enabled {
        return Vec::new();
    }
    let (from, to) = window(i.tz, i.now, i.settings.window_secs);
    let span = Span::new(i.rows, from, to);
    let mut out = rules::all(i, &span);
    for r in &mut out {
        let stored = i.statuses.get(&r.id).cloned();
        let (status, resurfaced) = status::resolve(
            stored.as_ref(),
            r.monthly_savings_femto,
            i.settings.resurface_factor,
        );
        r.status = status;
        r.resurfaced = resurfaced;
        r.stored = stored;
    }
    out.sort_by(|a, b| {
        (
            a.priority,
            std::cmp::Reverse(a.monthly_savings_femto),
            &a.id,
        )
            .cmp(&(
                b.priority,
                std::cmp::Reverse(b.monthly_savings_femto),
                &b.id,
            ))
    });
    out
}

/// The JSON form the API and `meterd report --json` give.
pub fn to_json(r: &Recommendation) -> Value {
    let mut v = json!({
        "id": r.id,
        "type": r.kind.as_str(),
        "priority": r.priority.as_str(),
        "title": r.title,
        "description": r.description,
        "estimated_monthly_savings_usd": usd_signed_f64(r.monthly_savings_femto),
        "estimated_monthly_savings_usd_exact": usd_signed(r.monthly_savings_femto),
        "evidence": r.evidence,
        "status": r.status.as_str(),
    });
    if r.resurfaced {
        v["resurfaced"] = json!(true);
    }
    if let Some(s) = &r.stored {
        v["status_set"] = json!({
            "status": s.status.as_str(),
            "by": s.who,
            "at": jiff::Timestamp::from_second(s.at).map(|t| t.to_string()).unwrap_or_default(),
            "savings_usd_exact": usd_signed(s.savings_femto),
        });
    }
    v
}

#[cfg(test)]
mod tests;
