//! The cost of one usage event. Pure: a compiled table and an event in, a breakdown out.
//!
//! - **Inclusion rule** (GenAI conventions): `cached_input`, `cache_write_5m`, `cache_write_1h`
//!   and `audio_input` tokens are part of `input`; `reasoning` and `audio_output` are part of
//!   `output`. Each part is billed at its own rate and only the remainder at the base rate, so no
//!   token is billed twice. Usage is made inclusive first ([`crate::derive::semantics`]): a raw
//!   event (declared by its source, or detected because its parts exceed its whole) has its parts
//!   added to its whole, so the remainder is the fresh input and the tier sees the whole prompt.
//! - **Parts sent alone** (a StatsD line or an OTLP metric point carries one token type, so the
//!   cached part arrives in one event and the whole `input` in another): an event with parts but
//!   a zero whole bills each part only at its *premium* over the whole's rate, `max(0, part rate -
//!   base rate)`, because the whole, sent separately, already bills those tokens at the base rate.
//!   That is exact for premium parts (cache writes, audio tokens, reasoning priced above output)
//!   and never bills a token twice; a cache-read *discount* cannot be applied to a total already
//!   counted (counters do not go down), so single-dimension senders are billed conservatively (at
//!   most the discount too much). Send the whole request in one event (an OTLP span) to get
//!   discounts exactly, or send raw lines from a source declared raw: a raw part is not inside
//!   any whole already billed, so it bills at its full rate (discounts exact, one dimension per
//!   line).
//! - **Fallbacks**: a model without a `cached_input`, `cache_write_*` or `reasoning` price bills those
//!   tokens at its `input` (or `output`) rate, as providers that do not discount them do. Audio
//!   tokens, audio time, characters and images have no fallback: without their price they are
//!   *unpriced* (counted in `llm_unpriced_requests_total{reason="unknown_usage_type"}`), never $0.
//!   A model without a `request` price simply has no per-request fee.
//! - **Tiers** are chosen by the request's input size: `UsageEvent.request_input_tokens` when the
//!   sender gives it (StatsD: a `request_input_tokens` tag, the whole prompt whatever the source's
//!   semantics), else the inclusive `input_tokens` of an event that
//!   stands for a whole request (a span, `requests > 0`); a StatsD line without the tag prices at the base tier.
//!   A tier applies when the input *exceeds* its `above_input_tokens`.
//! - **Effective dates**: the entry in force at the event's time (`unix_nanos`; 0 = the current,
//!   open-ended prices).
//! - **Service tiers** (`UsageEvent.service_tier`, case-insensitive): an explicit price for the
//!   tier (`service_tier_prices`, per long-context tier) replaces the rate; other rates are
//!   multiplied by the tier's multiplier (the entry's, else the table's, else 1x: `default`,
//!   `auto` and `standard` are 1x unless a table says otherwise), rounded half up to whole
//!   femto-USD per unit, before they are applied.
//! - **Money** is integer femto-USD (1e-15 USD): quantity x integer rate, exact. Since every rate is
//!   an integer, pricing is exactly additive: an event split in parts (each obeying the inclusion
//!   rule) costs exactly what the whole costs.

use super::compile::{Compiled, MatchKind, Rates, Resolution, Window};
use super::Dim;
use crate::derive::semantics;
use crate::model::money::{mul_div_round, FEMTO_PER_USD};
use crate::model::{Usage, UsageEvent};

/// One billed dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub dim: Dim,
    /// The price that applied (`cached_input` tokens without a cached price bill as `input`).
    pub billed_as: Dim,
    pub quantity: u64,
    /// Femto-USD per quantity unit, after the service-tier multiplier.
    pub rate: u128,
    pub femto: u128,
    /// Set when this part arrived without its whole and bills only its premium over that
    /// whole's rate (see the module docs).
    pub premium_over: Option<Dim>,
}

#[derive(Debug)]
pub struct Priced<'a> {
    pub resolution: Resolution<'a>,
    /// The tier threshold that applied, if any.
    pub tier: Option<u64>,
    /// Service-tier multiplier, parts per 1e15.
    pub multiplier: u128,
    pub lines: Vec<Line>,
    /// Dimensions with a quantity but no price.
    pub unpriced: Vec<Dim>,
    pub total: u128,
    /// A line or the total did not fit in u128 femto-USD: the event's cost is unknown, and none
    /// of it may be applied (the caller refuses it and counts a money overflow).
    pub overflow: bool,
}

/// An amount of money too large for its counter: refused and counted, never saturated (a
/// saturated total reads as a plausible, and budget-denying, spend).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("money amount overflows its counter")]
pub struct MoneyOverflow;

#[derive(Debug)]
pub enum Breakdown<'a> {
    UnknownModel,
    Priced(Priced<'a>),
}

/// The input size that selects a tier (see the module docs), of an event's *inclusive* usage.
pub fn request_input(ev: &UsageEvent, usage: &Usage) -> Option<u64> {
    // Only an event standing for a whole call (a span: requests > 0) knows its input size; a
    // StatsD token line's status tag does not make its count the call's whole input.
    ev.request_input_tokens
        .or_else(|| (usage.requests > 0).then_some(usage.input_tokens))
}

pub fn price<'a>(table: &'a Compiled, ev: &UsageEvent) -> Breakdown<'a> {
    let at = (ev.unix_nanos > 0).then_some(ev.unix_nanos);
    match table.resolve(&ev.provider, &ev.model, at) {
        Some(resolution) => priced(table, ev, resolution, None),
        None => Breakdown::UnknownModel,
    }
}

/// What one call identity's last event resolved to, kept beside its label sets: the next event
/// of that identity (the same provider and model) skips the table lookup while its time stays in
/// the window the answer holds for, and the rate computation while its long-context tier stays
/// the same and it names no service tier. Tied to the table it came from.
#[derive(Debug, Default)]
pub struct Memo {
    last: Option<Remembered>,
}

#[derive(Debug)]
struct Remembered {
    table: u64,
    window: Window,
    /// The entry's position in the table and how it matched; `None`: an unknown model.
    entry: Option<(usize, MatchKind)>,
    /// The rates of the base service tier at a tier position.
    rates: Option<(usize, Rates)>,
}

/// [`price`], answering the resolution (and the rates) from `memo` when it can. Equal to
/// [`price`] for every event (tested on tables with dated entries).
pub fn price_memo<'a>(table: &'a Compiled, ev: &UsageEvent, memo: &mut Memo) -> Breakdown<'a> {
    let at = (ev.unix_nanos > 0).then_some(ev.unix_nanos);
    let t = at.unwrap_or(u64::MAX);
    let fresh = match &memo.last {
        Some(m) => m.table != table.id() || !m.window.contains(t),
        None => true,
    };
    if fresh {
        let (resolution, window) = table.resolve_window(&ev.provider, &ev.model, at);
        memo.last = (table.id() != 0).then(|| Remembered {
            table: table.id(),
            window,
            entry: resolution.as_ref().map(|r| (r.entry.index, r.how.clone())),
            rates: None,
        });
        return match resolution {
            Some(r) => priced(table, ev, r, memo.last.as_mut()),
            None => Breakdown::UnknownModel,
        };
    }
    let Some(m) = memo.last.as_mut() else {
        return price(table, ev);
    };
    let Some(resolution) = m.entry.as_ref().and_then(|(i, how)| {
        table.entries.get(*i).map(|entry| Resolution {
            entry,
            how: how.clone(),
        })
    }) else {
        return Breakdown::UnknownModel;
    };
    priced(table, ev, resolution, Some(m))
}

fn priced<'a>(
    table: &'a Compiled,
    ev: &UsageEvent,
    resolution: Resolution<'a>,
    memo: Option<&mut Remembered>,
) -> Breakdown<'a> {
    // The deriver hands over inclusive usage already; `meterd price` and other callers may not.
    let normalized = semantics::normalize(&ev.usage, ev.semantics, ev.usage.requests > 0);
    let usage = normalized.usage.as_ref().unwrap_or(&ev.usage);
    let entry = resolution.entry;
    let req_input = request_input(ev, usage);
    let tier = req_input.and_then(|n| {
        entry
            .tiers
            .iter()
            .rev()
            .find(|(above, _)| n > *above)
            .map(|(a, _)| *a)
    });
    let multiplier = table.service_multiplier(entry, ev.service_tier.as_deref());
    // Service-tier prices (explicit or multiplied) are applied here, so `bill` sees 1x.
    let fresh_rates = || entry.effective_rates(req_input, ev.service_tier.as_deref(), multiplier);
    let computed;
    let rates = match memo {
        // Without a service tier the rates are the tier position's, at 1x.
        Some(m) if ev.service_tier.is_none() => {
            let pos = entry.tier_position(req_input);
            match &mut m.rates {
                Some((p, r)) if *p == pos => &*r,
                slot => &slot.insert((pos, fresh_rates())).1,
            }
        }
        _ => {
            computed = fresh_rates();
            &computed
        }
    };
    let (lines, unpriced, line_overflow) = bill(rates, FEMTO_PER_USD, usage);
    let total = lines
        .iter()
        .try_fold(0u128, |sum, l| sum.checked_add(l.femto));
    Breakdown::Priced(Priced {
        resolution,
        tier,
        multiplier,
        lines,
        unpriced,
        total: total.unwrap_or(0),
        overflow: line_overflow || total.is_none(),
    })
}

/// The billed lines, the unpriced dimensions, and whether a line's amount overflowed (that line is
/// left out).
fn bill(rates: &Rates, multiplier: u128, u: &Usage) -> (Vec<Line>, Vec<Dim>, bool) {
    let mut lines = Vec::new();
    let mut unpriced = Vec::new();
    let mut overflow = false;
    let input_parts = u
        .cached_input_tokens
        .saturating_add(u.cache_write_5m_tokens)
        .saturating_add(u.cache_write_1h_tokens)
        .saturating_add(u.audio_input_tokens);
    let output_parts = u.reasoning_tokens.saturating_add(u.audio_output_tokens);
    let audio_time = if rates.get(Dim::AudioSecond).is_some() {
        Dim::AudioSecond
    } else {
        Dim::AudioMinute
    };
    // (dimension, quantity, prices to try in order)
    let plan: [(Dim, u64, &[Dim]); 12] = [
        (
            Dim::Input,
            u.input_tokens.saturating_sub(input_parts),
            &[Dim::Input],
        ),
        (
            Dim::CachedInput,
            u.cached_input_tokens,
            &[Dim::CachedInput, Dim::Input],
        ),
        (
            Dim::CacheWrite5m,
            u.cache_write_5m_tokens,
            &[Dim::CacheWrite5m, Dim::Input],
        ),
        (
            Dim::CacheWrite1h,
            u.cache_write_1h_tokens,
            &[Dim::CacheWrite1h, Dim::Input],
        ),
        (Dim::AudioInput, u.audio_input_tokens, &[Dim::AudioInput]),
        (
            Dim::Output,
            u.output_tokens.saturating_sub(output_parts),
            &[Dim::Output],
        ),
        (
            Dim::Reasoning,
            u.reasoning_tokens,
            &[Dim::Reasoning, Dim::Output],
        ),
        (Dim::AudioOutput, u.audio_output_tokens, &[Dim::AudioOutput]),
        (audio_time, u.audio_millis, &[audio_time]),
        (Dim::Character, u.characters, &[Dim::Character]),
        (Dim::Image, u.images, &[Dim::Image]),
        (Dim::Request, u.requests, &[Dim::Request]),
    ];
    let scale = |r: u128| {
        if multiplier == FEMTO_PER_USD {
            r
        } else {
            mul_div_round(r, multiplier, FEMTO_PER_USD)
        }
    };
    for (dim, quantity, prices) in plan {
        if quantity == 0 {
            continue;
        }
        let whole = match dim {
            Dim::CachedInput | Dim::CacheWrite5m | Dim::CacheWrite1h | Dim::AudioInput
                if u.input_tokens == 0 =>
            {
                Some(Dim::Input)
            }
            Dim::Reasoning | Dim::AudioOutput if u.output_tokens == 0 => Some(Dim::Output),
            _ => None,
        };
        match prices.iter().find_map(|p| rates.get(*p).map(|r| (*p, r))) {
            Some((billed_as, r)) => {
                let base = whole.and_then(|w| rates.get(w).map(|b| (w, scale(b))));
                let rate = match base {
                    Some((_, b)) => scale(r).saturating_sub(b),
                    None => scale(r),
                };
                let Some(femto) = rate.checked_mul(u128::from(quantity)) else {
                    overflow = true;
                    continue;
                };
                lines.push(Line {
                    dim,
                    billed_as,
                    quantity,
                    rate,
                    femto,
                    premium_over: base.map(|(w, _)| w),
                });
            }
            None if dim == Dim::Request => {}
            None => unpriced.push(dim),
        }
    }
    (lines, unpriced, overflow)
}

/// Scales an amount by an event's weight (head-sampled spans stand for 1/p calls). Integral weights
/// are exact; fractional ones round to the nearest femto-USD. Non-finite or negative weights count
/// as 1 and 0. A product past u128 is an overflow, not a saturated amount.
pub fn weighted(femto: u128, weight: f64) -> Result<u128, MoneyOverflow> {
    if weight == 1.0 || !weight.is_finite() {
        return Ok(femto);
    }
    if weight <= 0.0 {
        return Ok(0);
    }
    if weight.fract() == 0.0 && weight < 9.007_199_254_740_992e15 {
        return femto.checked_mul(weight as u128).ok_or(MoneyOverflow);
    }
    let v = (femto as f64 * weight).round();
    // u128::MAX as f64 rounds up to 2^128, itself out of range: `<` keeps the cast exact.
    if v < u128::MAX as f64 {
        Ok(v as u128)
    } else {
        Err(MoneyOverflow)
    }
}
