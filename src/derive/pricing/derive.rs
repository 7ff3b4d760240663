//! Usage event -> `llm_cost_usd_total{cost_type}` and `llm_unpriced_requests_total{reason}`, plus
//! the `meterd_pricing_*` table metrics.

use super::compile::Compiled;
use super::cost::{self, Breakdown, MoneyOverflow};
use crate::derive::call_labels::Set;
use crate::derive::sink::Sink;
use crate::derive::usage::{family, BaseLabels, EventLabels, Family};
use crate::model::money::{femto_to_usd_f64, FEMTO_PER_USD};
use crate::model::{Labels, SampleValue, UsageEvent};
use crate::store::Store;
use crate::telemetry::catalogue;
use crate::telemetry::{self, RateLimit};

static UNKNOWN_MODEL_LOG: RateLimit = RateLimit::new();
static UNKNOWN_USAGE_LOG: RateLimit = RateLimit::new();

pub(crate) struct PricingFamilies {
    cost: Family,
    unpriced: Family,
}

impl Default for PricingFamilies {
    fn default() -> Self {
        PricingFamilies {
            cost: Family::new(
                "llm_cost_usd",
                family(
                    "Model spend in USD by cost_type (input, output, cached_input, cache_write, \
                     reasoning, audio, image, request, character), priced from the pricing table.",
                ),
            ),
            unpriced: Family::new(
                "llm_unpriced_requests",
                family(
                    "Usage events (a span, a metric point or a StatsD line) meterd could not \
                     fully price, by reason: unknown_model, or unknown_usage_type (a dimension \
                     the model has no price for). Their tokens are still counted.",
                ),
            ),
        }
    }
}

pub(crate) const COST_TYPES: [&str; 9] = [
    "input",
    "output",
    "cached_input",
    "cache_write",
    "reasoning",
    "audio",
    "image",
    "request",
    "character",
];

/// A dimension's position in [`COST_TYPES`], without comparing names per billed line.
fn cost_type_index(d: super::Dim) -> Option<usize> {
    static INDEX: std::sync::LazyLock<Vec<Option<usize>>> = std::sync::LazyLock::new(|| {
        let mut index = vec![None; super::Dim::ALL.len()];
        for d in super::Dim::ALL {
            if let Some(slot) = index.get_mut(d as usize) {
                *slot = COST_TYPES.iter().position(|c| *c == d.cost_type());
            }
        }
        index
    });
    INDEX.get(d as usize).copied().flatten()
}

impl PricingFamilies {
    /// Prices one event and appends its samples. Returns the event's total cost in femto-USD
    /// (weighted; 0 when unpriced; it fits u64 nano-USD), or `MoneyOverflow` when an
    /// amount does not fit its counter: then no cost sample is appended and nothing is spent.
    pub(crate) fn derive<'a>(
        &self,
        table: Option<&Compiled>,
        ev: &UsageEvent,
        labels: &EventLabels<'a>,
        out: &mut impl Sink<'a>,
    ) -> Result<u128, MoneyOverflow> {
        if ev.usage.is_empty() {
            return Ok(0);
        }
        let breakdown = match (table, labels.call().price_memo().try_borrow_mut()) {
            (Some(t), Ok(mut memo)) => cost::price_memo(t, ev, &mut memo),
            (Some(t), Err(_)) => cost::price(t, ev),
            (None, _) => Breakdown::UnknownModel,
        };
        let p = match breakdown {
            Breakdown::UnknownModel => {
                self.unpriced(ev, labels, 0, "unknown_model", out);
                let warning = super::near::UnknownModel {
                    table,
                    provider: &ev.provider,
                    model: &ev.model,
                };
                telemetry::rate_limited_warn(&UNKNOWN_MODEL_LOG, format_args!("{warning}"));
                return Ok(0);
            }
            Breakdown::Priced(p) if p.overflow => return Err(MoneyOverflow),
            Breakdown::Priced(p) => p,
        };
        if !p.unpriced.is_empty() {
            self.unpriced(ev, labels, 1, "unknown_usage_type", out);
            let dims: Vec<&str> = p.unpriced.iter().map(|d| d.name()).collect();
            telemetry::rate_limited_warn(
                &UNKNOWN_USAGE_LOG,
                format_args!(
                    "model {:?} of provider {:?} (table entry {:?}) has no price for {}: that \
                     usage is counted in llm_unpriced_requests_total{{reason=\"unknown_usage_type\"}}",
                    &*ev.model,
                    &*ev.provider,
                    &*p.resolution.entry.model,
                    dims.join(", ")
                ),
            );
        }
        // One sample per cost_type (audio tokens and audio time share `audio`). Every amount is
        // computed before any sample is appended, so an overflow refuses the whole event.
        let mut by_type: [Option<u128>; COST_TYPES.len()] = [None; COST_TYPES.len()];
        for l in &p.lines {
            if let Some(i) = cost_type_index(l.dim) {
                let sum = by_type[i].unwrap_or(0).checked_add(l.femto);
                by_type[i] = Some(sum.ok_or(MoneyOverflow)?);
            }
        }
        let mut total: u128 = 0;
        let mut weighted = [None; COST_TYPES.len()];
        for (w, sum) in weighted.iter_mut().zip(by_type) {
            if let Some(sum) = sum {
                let femto = cost::weighted(sum, ev.weight)?;
                total = total.checked_add(femto).ok_or(MoneyOverflow)?;
                *w = Some(femto);
            }
        }
        // Budgets count nano-USD: a total past their u64 is refused here, before any sample.
        nano(total).ok_or(MoneyOverflow)?;
        let sets = labels.call();
        for (i, (ct, femto)) in COST_TYPES.iter().zip(weighted).enumerate() {
            let Some(femto) = femto else { continue };
            self.cost.emit(
                out,
                &sets.get(Set::Cost(i), || {
                    BaseLabels::new(ev).with(&[("cost_type", ct)])
                }),
                SampleValue::CounterAddFemtoUsd(femto),
                labels.at(femto_to_usd_f64(femto)),
            );
        }
        Ok(total)
    }

    /// `which`: 0 for unknown_model, 1 for unknown_usage_type (the call's label set to reuse).
    fn unpriced<'a>(
        &self,
        ev: &UsageEvent,
        labels: &EventLabels<'a>,
        which: usize,
        reason: &str,
        out: &mut impl Sink<'a>,
    ) {
        let w = if ev.weight.is_finite() && ev.weight > 0.0 {
            ev.weight
        } else {
            1.0
        };
        self.unpriced.emit(
            out,
            &labels.call().get(Set::Unpriced(which), || {
                BaseLabels::new(ev).with(&[("reason", reason)])
            }),
            SampleValue::CounterAdd(w),
            labels.at(w),
        );
    }
}

/// Femto-USD to nano-USD, rounded half up; `None` past u64 (about 18.4 billion USD), which the
/// caller counts as an overflow rather than saturating.
pub fn nano(femto: u128) -> Option<u64> {
    let per = FEMTO_PER_USD / 1_000_000_000;
    u64::try_from(femto / per + u128::from(femto % per >= per / 2)).ok()
}

/// Records which table is in force: `meterd_pricing_info{hash,source}` = 1 for the current table
/// only (a replaced table's series is removed, so one agent reports exactly one hash);
/// `meterd_pricing_entries` counts its entries.
pub fn record_info(store: &Store, old: Option<&Compiled>, new: Option<&Compiled>) {
    if let Some(o) = old {
        if new.is_none_or(|n| n.hash != o.hash || n.source != o.source) {
            store.remove(
                catalogue::PRICING_INFO.name,
                &Labels::new([("hash", &*o.hash), ("source", &*o.source)]),
            );
        }
    }
    if let Some(n) = new {
        telemetry::gauge(
            store,
            &catalogue::PRICING_INFO,
            &[("hash", &n.hash), ("source", &n.source)],
            1.0,
        );
    }
    telemetry::gauge(
        store,
        &catalogue::PRICING_ENTRIES,
        &[],
        new.map_or(0.0, |n| n.len() as f64),
    );
}
