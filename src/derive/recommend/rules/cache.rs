//! `optimize_cache`: provider prompt caching and app caches.

use super::{diff, name, pct, rec, signed, volume, EPS};
use crate::derive::recommend::{Input, Kind, Priority, Recommendation, Span};
use crate::derive::whatif::WhatIf;
use crate::model::money::format_usd;
use serde_json::json;

/// Provider prompt caching unused or low on a model with a cheaper cached-input price: the
/// window's mix with `cached_share_target` of its input cached, priced at that price.
pub(super) fn provider_cache(i: &Input<'_>, span: &Span, w: &WhatIf) -> Option<Recommendation> {
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
pub(super) fn app_caches(i: &Input<'_>, span: &Span) -> Vec<Recommendation> {
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
