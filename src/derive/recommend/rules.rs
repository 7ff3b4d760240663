//! The rules, one function per type. Each builds its figures from [`whatif`] or
//! [`forecast`](crate::derive::forecast), never from a formula of its own.

use super::{id, usd_signed, Input, Kind, Priority, Recommendation, Span, Status};
use crate::derive::forecast;
use crate::derive::whatif::{self, Quality, WhatIf};
use crate::model::money::format_usd;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const EPS: f64 = 1e-9;

/// Money as signed femto-USD, saturating (no real amount comes near the bounds).
fn signed(v: u128) -> i128 {
    i128::try_from(v).unwrap_or(i128::MAX)
}

/// `a - b`, signed.
fn diff(a: u128, b: u128) -> i128 {
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
            out.extend(provider_cache(i, span, &w));
        }
    }
    out.extend(app_caches(i, span));
    out.extend(budgets(i));
    out
}

fn rec(kind: Kind, scope: &str, priority: Priority, savings: i128) -> Recommendation {
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

fn pct(r: Option<f64>) -> String {
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

fn volume(w: &WhatIf) -> Value {
    json!({
        "requests": w.totals.requests,
        "input_tokens": w.totals.quantities[0],
        "output_tokens": w.totals.quantities[1],
        "cached_input_tokens": w.totals.quantities[2],
        "request_input_tokens": w.request_input_tokens,
    })
}

fn name(provider: &str, model: &str) -> String {
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

/// Provider prompt caching unused or low on a model with a cheaper cached-input price: the
/// window's mix with `cached_share_target` of its input cached, priced at that price.
fn provider_cache(i: &Input<'_>, span: &Span, w: &WhatIf) -> Option<Recommendation> {
    let c = w.caching?;
    let input = u128::from(w.totals.quantities[0]);
    let cached = u128::from(w.totals.quantities[2]);
    if input == 0 || cached * 1_000_000 >= input * u128::from(i.settings.cached_share_min_ppm) {
        return None;
    }
    let saving = span.monthly(diff(c.uncached_femto, c.cached_femto));
    if saving < signed(i.settings.min_monthly_savings_femto) {
        return None;
    }
    let model = name(&w.provider, &w.model);
    let share = c.share_ppm as f64 / 1e6;
    let mut r = rec(
        Kind::OptimizeCache,
        &format!("prompt\n{model}"),
        Priority::Medium,
        saving,
    );
    r.title = format!("Use prompt caching on {model}");
    r.description = format!(
        "Only {} of {model}'s input tokens were read from the provider's prompt cache. With {} \
         of its input cached at the cached-input price, the window's usage would have cost {} \
         USD instead of {} USD (cache writes, where priced, are not included).",
        pct(Some(cached as f64 / input as f64)),
        pct(Some(share)),
        format_usd(c.cached_femto),
        format_usd(c.uncached_femto),
    );
    r.evidence = json!({
        "window": span.evidence(i.tz, i.settings.window_secs),
        "model": model,
        "cache": "provider_prompt_cache",
        "volume": volume(w),
        "cached_share": cached as f64 / input as f64,
        "assumed_cached_share": share,
        "uncached_cost_usd": format_usd(c.uncached_femto),
        "cached_cost_usd": format_usd(c.cached_femto),
        "window_cost_usd": format_usd(w.totals.cost_femto),
    });
    Some(r)
}

/// App caches hitting below `cache_hit_rate_min`. meterd does not know which calls a cache
/// fronts, so no saving is estimated (0) and the evidence says so.
fn app_caches(i: &Input<'_>, span: &Span) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for c in i.caches {
        let lookups = c.hits + c.misses;
        if lookups < i.settings.min_requests.max(1) as f64 {
            continue;
        }
        let rate = c.hits / lookups;
        if rate + EPS >= i.settings.cache_hit_rate_min {
            continue;
        }
        let mut r = rec(
            Kind::OptimizeCache,
            &format!("app\n{}", c.cache),
            Priority::Low,
            0,
        );
        r.title = format!("Improve the hit rate of app cache {:?}", c.cache);
        r.description = format!(
            "App cache {:?} answered {} of {} lookups ({}), below the {} threshold: each miss is \
             a model call it could have saved.",
            c.cache,
            c.hits,
            lookups,
            pct(Some(rate)),
            pct(Some(i.settings.cache_hit_rate_min)),
        );
        r.evidence = json!({
            "window": span.evidence(i.tz, i.settings.window_secs),
            "cache": c.cache,
            "hits": c.hits, "misses": c.misses, "hit_rate": rate,
            "hit_rate_min": i.settings.cache_hit_rate_min,
            "counted_since": "agent start (llm_cache_requests_total)",
            "savings": "not estimated: meterd does not know which calls the cache fronts",
        });
        out.push(r);
    }
    out
}

/// Budgets forecast past their limit at the period end: the largest contributors and the cut
/// that keeps the budget within it. The saving is the overage avoided this period.
fn budgets(i: &Input<'_>) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for b in i.budgets {
        let Some(f) = forecast::budget(i.rows, b, i.now) else {
            continue;
        };
        let (Some(projected), Some(overage), Some(end)) =
            (f.projected_femto, f.overage_femto, f.end)
        else {
            continue;
        };
        if overage == 0 {
            continue;
        }
        let mut by_model: BTreeMap<(String, String), u128> = BTreeMap::new();
        for (k, t) in forecast::budget_rows(i.rows, b, f.start, i.now) {
            *by_model
                .entry((k.provider.clone(), k.model.clone()))
                .or_default() += t.cost_femto;
        }
        let mut top: Vec<((String, String), u128)> = by_model.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(3);
        // Spend still to come at the current rate, and the share of it to cut.
        let coming = projected.saturating_sub(f.spend_femto);
        let cut = if coming == 0 {
            1.0
        } else {
            (overage as f64 / coming as f64).min(1.0)
        };
        let days_left = ((end - i.now) as f64 / forecast::DAY).max(1.0 / 24.0);
        let allowed_per_day = f.limit_femto.saturating_sub(f.spend_femto) as f64 / days_left;
        let saving = signed(overage);
        let mut r = rec(
            Kind::ReduceModelUsage,
            &format!("budget\n{}", f.name),
            Priority::High,
            saving,
        );
        let names: Vec<String> = top
            .iter()
            .map(|((p, m), c)| format!("{} ({} USD)", name(p, m), format_usd(*c)))
            .collect();
        r.title = format!("Budget {} is forecast to overrun", f.name);
        r.description = format!(
            "Budget {} ({}) has spent {} of {} USD and is heading for {} USD by the period end. \
             Largest contributors: {}. Cutting its spend by {:.1}% for the rest of the period \
             (to {} USD a day) keeps it within the limit.",
            f.name,
            f.period,
            format_usd(f.spend_femto),
            format_usd(f.limit_femto),
            format_usd(projected),
            names.join(", "),
            cut * 100.0,
            format_usd(allowed_per_day.round() as u128),
        );
        r.evidence = json!({
            "budget": f.name, "period": f.period,
            "spend_usd": format_usd(f.spend_femto),
            "limit_usd": format_usd(f.limit_femto),
            "projected_usd": format_usd(projected),
            "overage_usd": format_usd(overage),
            "avg_per_day_usd": format_usd(f.avg_per_day_femto),
            "allowed_per_day_usd": format_usd(allowed_per_day.round() as u128),
            "cut_share": cut,
            "contributors": top.iter().map(|((p, m), c)| json!({
                "provider": p, "model": m, "spend_usd": format_usd(*c)})).collect::<Vec<_>>(),
            "savings_basis": "the overage avoided in this budget period",
        });
        out.push(r);
    }
    out
}
