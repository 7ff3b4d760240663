//! The rules, one function per type. Each builds its figures from [`whatif`] or
//! [`forecast`](crate::derive::forecast), never from a formula of its own.

use super::{id, usd_signed, Input, Kind, Priority, Recommendation, Span, Status};
use crate::derive::whatif::{self, Quality, WhatIf};
use crate::model::money::format_usd;
use serde_json::{json, Value};

mod budget;
mod cache;

pub(super) const EPS: f64 = 1e-9;

/// Money as signed femto-USD, saturating (no real amount comes near the bounds).
pub(super) fn signed(v: u128) -> i128 {
    i128::try_from(v).unwrap_or(i128::MAX)
}

/// `a - b`, signed.
pub(super) fn diff(a: u128, b: u128) -> i128 {
    signed(a).saturating_sub(signed(b))
}

pub(super) fn all(i: &Input<'_>, span: &Span) -> Vec<Recommendation> {
    let mut out = Vec::new();
    if let Some(table) = i.pricing {
        let range = whatif::Range {
            rows: i.rows,
            tz: i.tz,
            from: span.from,
            to: span.to,
            now: i.now,
            quality: i.quality,
            only: &[],
            cache_share_ppm: i.settings.cached_share_target_ppm,
        };
        for w in whatif::what_if(table, &range) {
            if w.totals.requests < i.settings.min_requests {
                continue;
            }
            out.extend(downgrade(i, span, &w));
            out.extend(upgrade(i, span, &w));
            out.extend(cache::provider_cache(i, span, &w));
        }
    }
    out.extend(cache::app_caches(i, span));
    out.extend(budget::budgets(i));
    out
}

pub(super) fn rec(kind: Kind, scope: &str, priority: Priority, savings: i128) -> Recommendation {
    Recommendation {
        id: id(kind, scope),
        kind,
        priority,
        title: String::new(),
        description: String::new(),
        monthly_savings_femto: savings,
        evidence: Value::Null,
        status: Status::Open,
        resurfaced: false,
        stored: None,
    }
}

pub(super) fn pct(r: Option<f64>) -> String {
    r.map_or_else(|| "no data".into(), |r| format!("{:.1}%", r * 100.0))
}

pub(super) fn quality_json(q: Option<&Quality>) -> Value {
    match q {
        Some(q) => json!({
            "graded": q.graded, "good_rate": q.good_rate(), "poor_rate": q.poor_rate(),
            "outcomes": q.outcomes, "accepted_rate": q.accepted_rate(),
        }),
        None => json!("no data"),
    }
}

/// How an alternative's quality compares with the current model's.
#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    /// Compared on at least one measure with enough samples on both sides, worse on none.
    NoWorse,
    /// Nothing to compare with enough samples.
    NoData,
    Worse(String),
}

pub(super) fn compare(cur: Option<&Quality>, alt: Option<&Quality>, min: f64) -> Verdict {
    let mut compared = false;
    let graded = |q: Option<&Quality>| q.filter(|q| q.graded >= min.max(1.0)).cloned();
    if let (Some(c), Some(a)) = (graded(cur), graded(alt)) {
        compared = true;
        let (cg, ag) = (c.good_rate().unwrap_or(0.0), a.good_rate().unwrap_or(0.0));
        if ag + EPS < cg {
            return Verdict::Worse(format!(
                "good-grade rate {} vs {}",
                pct(Some(ag)),
                pct(Some(cg))
            ));
        }
        let (cp, ap) = (c.poor_rate().unwrap_or(0.0), a.poor_rate().unwrap_or(0.0));
        if ap > cp + EPS {
            return Verdict::Worse(format!(
                "poor-grade rate {} vs {}",
                pct(Some(ap)),
                pct(Some(cp))
            ));
        }
    }
    let judged = |q: Option<&Quality>| q.filter(|q| q.outcomes >= min.max(1.0)).cloned();
    if let (Some(c), Some(a)) = (judged(cur), judged(alt)) {
        compared = true;
        let (ca, aa) = (
            c.accepted_rate().unwrap_or(0.0),
            a.accepted_rate().unwrap_or(0.0),
        );
        if aa + EPS < ca {
            return Verdict::Worse(format!(
                "acceptance rate {} vs {}",
                pct(Some(aa)),
                pct(Some(ca))
            ));
        }
    }
    if compared {
        Verdict::NoWorse
    } else {
        Verdict::NoData
    }
}

pub(super) fn volume(w: &WhatIf) -> Value {
    json!({
        "requests": w.totals.requests,
        "input_tokens": w.totals.quantities[0],
        "output_tokens": w.totals.quantities[1],
        "cached_input_tokens": w.totals.quantities[2],
        "request_input_tokens": w.request_input_tokens,
    })
}

pub(super) fn name(provider: &str, model: &str) -> String {
    format!("{provider}/{model}")
}

/// The cheapest-for-the-same-quality move: proven no worse first (high priority); without
/// quality data on either side, only within the same provider, and said so (low priority).
/// An alternative measured worse is never recommended.
fn downgrade(i: &Input<'_>, span: &Span, w: &WhatIf) -> Option<Recommendation> {
    let spent = w.totals.cost_femto;
    let min = i.settings.min_quality_samples;
    let mut best: Option<(Priority, i128, &whatif::Alternative)> = None;
    for a in &w.alternatives {
        let Some(cost) = a.cost_femto else { continue };
        if cost >= spent {
            continue;
        }
        let priority = match compare(w.quality.as_ref(), a.quality.as_ref(), min) {
            Verdict::NoWorse => Priority::High,
            Verdict::NoData if a.provider == w.provider => Priority::Low,
            _ => continue,
        };
        let saving = span.monthly(diff(spent, cost));
        if saving < signed(i.settings.min_monthly_savings_femto) {
            continue;
        }
        let better = best.as_ref().is_none_or(|(p, s, _)| {
            (priority, std::cmp::Reverse(saving)) < (*p, std::cmp::Reverse(*s))
        });
        if better {
            best = Some((priority, saving, a));
        }
    }
    let (priority, saving, a) = best?;
    let (from, to) = (name(&w.provider, &w.model), name(&a.provider, &a.model));
    let cost = a.cost_femto.unwrap_or(0);
    let mut r = rec(
        Kind::DowngradeModel,
        &format!("{from}\n{to}"),
        priority,
        saving,
    );
    let quality = if priority == Priority::High {
        "no worse"
    } else {
        "no data"
    };
    r.title = format!("Move {from} to {to}");
    r.description = format!(
        "The {} requests sent to {from} in the window cost {} USD; the same token mix at {to} \
         would have cost {} USD. {}",
        w.totals.requests,
        format_usd(spent),
        format_usd(cost),
        if priority == Priority::High {
            format!(
                "Its quality is no worse: good grades {} vs {}, accepted {} vs {}.",
                pct(a.quality.as_ref().and_then(Quality::good_rate)),
                pct(w.quality.as_ref().and_then(Quality::good_rate)),
                pct(a.quality.as_ref().and_then(Quality::accepted_rate)),
                pct(w.quality.as_ref().and_then(Quality::accepted_rate)),
            )
        } else {
            "meterd has no quality data to compare them: check quality before switching.".into()
        }
    );
    r.evidence = json!({
        "window": span.evidence(i.tz, i.settings.window_secs),
        "model": from, "alternative": to,
        "volume": volume(w),
        "window_cost_usd": format_usd(spent),
        "alternative_cost_usd": format_usd(cost),
        "quality": quality,
        "quality_figures": {"current": quality_json(w.quality.as_ref()),
                            "alternative": quality_json(a.quality.as_ref()),
                            "min_samples": min},
    });
    Some(r)
}

/// A model graded mostly `poor` where a better-graded one exists: the move, and its extra cost
/// (a negative saving).
fn upgrade(i: &Input<'_>, span: &Span, w: &WhatIf) -> Option<Recommendation> {
    let min = i.settings.min_quality_samples.max(1.0);
    let cur = w.quality.as_ref().filter(|q| q.graded >= min)?;
    let poor = cur.poor_rate()?;
    if poor + EPS < i.settings.upgrade_poor_rate_min {
        return None;
    }
    let good = cur.good_rate().unwrap_or(0.0);
    let best = w
        .alternatives
        .iter()
        .filter(|a| a.cost_femto.is_some())
        .filter_map(|a| {
            let q = a.quality.as_ref().filter(|q| q.graded >= min)?;
            let (g, p) = (q.good_rate()?, q.poor_rate()?);
            (g > good + EPS && p + EPS < poor).then_some((g, a))
        })
        .min_by(|(ga, a), (gb, b)| {
            gb.total_cmp(ga)
                .then(a.cost_femto.cmp(&b.cost_femto))
                .then(a.model.cmp(&b.model))
        })?;
    let (_, a) = best;
    let cost = a.cost_femto.unwrap_or(0);
    let saving = span.monthly(diff(w.totals.cost_femto, cost));
    let (from, to) = (name(&w.provider, &w.model), name(&a.provider, &a.model));
    let mut r = rec(
        Kind::UpgradeModel,
        &format!("{from}\n{to}"),
        Priority::High,
        saving,
    );
    r.title = format!("Move {from} to {to} for quality");
    let extra = -saving;
    r.description = format!(
        "{} of {from}'s graded answers are poor (good: {}); {to} grades good {} of the time. \
         The same token mix would cost {} USD instead of {} USD ({} USD a month {}).",
        pct(Some(poor)),
        pct(Some(good)),
        pct(a.quality.as_ref().and_then(Quality::good_rate)),
        format_usd(cost),
        format_usd(w.totals.cost_femto),
        usd_signed(extra.abs()),
        if extra >= 0 { "more" } else { "less" },
    );
    r.evidence = json!({
        "window": span.evidence(i.tz, i.settings.window_secs),
        "model": from, "alternative": to,
        "volume": volume(w),
        "window_cost_usd": format_usd(w.totals.cost_femto),
        "alternative_cost_usd": format_usd(cost),
        "extra_monthly_cost_usd": usd_signed(-saving),
        "quality": "worse",
        "quality_figures": {"current": quality_json(Some(cur)),
                            "alternative": quality_json(a.quality.as_ref()),
                            "min_samples": min},
    });
    Some(r)
}
