//! Table checks for `meterd check-config` and reload: every problem with its key path.

use super::compile::{multiplier, parse_date, rates_of, Compiled, Pattern};
use super::{Dim, PricingTable};
use crate::config::{child, index, Issues};
use std::collections::BTreeSet;

pub(super) fn check(t: &PricingTable, path: &str, issues: &mut Issues) {
    for (k, m) in &t.service_tiers {
        if let Err(e) = multiplier(m) {
            issues.error(child(&child(path, "service_tiers"), k), e);
        }
    }
    for (k, v) in &t.provider_aliases {
        if v.trim().is_empty() {
            issues.error(
                child(&child(path, "provider_aliases"), k),
                "alias target is empty",
            );
        }
    }
    let models = child(path, "models");
    let mut entries_ok = true;
    for (i, m) in t.models.iter().enumerate() {
        let p = index(&models, i);
        let before = issues.0.len();
        if m.provider.trim().is_empty() {
            issues.error(child(&p, "provider"), "provider is required");
        }
        if m.model.trim().is_empty() {
            issues.error(child(&p, "model"), "model is required");
        }
        for (j, pat) in m.patterns.iter().enumerate() {
            if pat.trim().is_empty() {
                issues.error(index(&child(&p, "match"), j), "empty pattern");
            } else if let Err(e) = Pattern::parse(pat) {
                issues.error(index(&child(&p, "match"), j), e);
            }
        }
        check_prices(&m.prices, &child(&p, "prices"), issues);
        if m.prices.is_empty() {
            issues.error(
                child(&p, "prices"),
                "no prices: every entry needs at least one",
            );
        }
        let mut last = 0;
        for (j, tier) in m.tiers.iter().enumerate() {
            let tp = index(&child(&p, "tiers"), j);
            if tier.above_input_tokens == 0 || tier.above_input_tokens <= last {
                issues.error(
                    child(&tp, "above_input_tokens"),
                    "must be greater than 0 and than the previous tier's",
                );
            }
            last = tier.above_input_tokens;
            check_prices(&tier.prices, &child(&tp, "prices"), issues);
            check_service_prices(&tier.service_tier_prices, &m.prices, &tp, issues);
            for k in tier.prices.keys() {
                if !m.prices.contains_key(k) && Dim::from_name(k).is_some() {
                    issues.error(
                        child(&child(&tp, "prices"), k),
                        format!("`{k}` has a tier price but no base price"),
                    );
                }
            }
        }
        for (k, v) in &m.service_tiers {
            if let Err(e) = multiplier(v) {
                issues.error(child(&child(&p, "service_tiers"), k), e);
            }
        }
        check_service_prices(&m.service_tier_prices, &m.prices, &p, issues);
        let from = date(&m.effective_from, &child(&p, "effective_from"), issues);
        let to = date(&m.effective_to, &child(&p, "effective_to"), issues);
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                issues.error(child(&p, "effective_to"), "must be after effective_from");
            }
        }
        entries_ok &= issues.0.len() == before;
    }
    if entries_ok {
        check_overlaps(t, &models, issues);
    }
}

fn check_prices(
    prices: &std::collections::BTreeMap<String, super::Amount>,
    path: &str,
    issues: &mut Issues,
) {
    for (key, msg) in rates_of(prices, &Default::default()).1 {
        issues.error(child(path, key), msg);
    }
    if prices.contains_key("audio_minute") && prices.contains_key("audio_second") {
        issues.error(
            child(path, "audio_second"),
            "set either audio_minute or audio_second, not both",
        );
    }
}

/// `service_tier_prices` under `path`: tier names, prices, and a base price for each dimension.
fn check_service_prices(
    tiers: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, super::Amount>>,
    base: &std::collections::BTreeMap<String, super::Amount>,
    path: &str,
    issues: &mut Issues,
) {
    let sp = child(path, "service_tier_prices");
    for (tier, prices) in tiers {
        let tp = child(&sp, tier);
        if tier.trim().is_empty() {
            issues.error(&tp, "empty service tier name");
        }
        check_prices(prices, &tp, issues);
        for k in prices.keys() {
            if !base.contains_key(k) && Dim::from_name(k).is_some() {
                issues.error(
                    child(&tp, k),
                    format!("`{k}` has a service-tier price but no base price"),
                );
            }
        }
    }
}

fn date(d: &Option<String>, path: &str, issues: &mut Issues) -> Option<u64> {
    let s = d.as_deref()?;
    match parse_date(s) {
        Ok(v) => Some(v),
        Err(e) => {
            issues.error(path, e);
            None
        }
    }
}

fn ranges_overlap(a: (Option<u64>, Option<u64>), b: (Option<u64>, Option<u64>)) -> bool {
    let start = a.0.unwrap_or(0).max(b.0.unwrap_or(0));
    let end = a.1.unwrap_or(u64::MAX).min(b.1.unwrap_or(u64::MAX));
    start < end
}

/// Overlapping date ranges of one model, ambiguous names, and entries no name reaches. Names are
/// probed from the table's own vocabulary: each entry's model, exact patterns, and each glob with
/// its wildcards filled in.
fn check_overlaps(t: &PricingTable, models: &str, issues: &mut Issues) {
    let c = Compiled::new(t);
    let mut reported: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (i, a) in c.entries.iter().enumerate() {
        for b in c.entries.iter().skip(i + 1) {
            if a.provider == b.provider
                && a.model.to_lowercase() == b.model.to_lowercase()
                && a.layer == b.layer
                && ranges_overlap((a.from, a.to), (b.from, b.to))
            {
                issues.error(
                    child(&index(models, b.index), "effective_from"),
                    format!(
                        "effective dates overlap {} (same provider and model); end one with effective_to",
                        index(models, a.index)
                    ),
                );
                reported.insert((a.index, b.index));
            }
        }
    }
    for e in &c.entries {
        let names = probe_names(t, e.index);
        if names.is_empty() {
            continue;
        }
        // The times at which this entry competes: its start, and "now" when open-ended.
        let mut times: Vec<Option<u64>> = c
            .entries
            .iter()
            .filter(|o| o.provider == e.provider)
            .filter_map(|o| o.from)
            .map(Some)
            .chain([Some(e.from.unwrap_or(0)), None])
            .filter(|at| e.in_force(*at))
            .collect();
        times.dedup();
        let mut reaches = false;
        let mut shadowed_by = None;
        for name in &names {
            for at in &times {
                let cands = c.candidates(&e.provider, name, *at);
                let Some(&(best, _, _)) = cands.first() else {
                    continue;
                };
                if best == e.index {
                    reaches = true;
                } else if shadowed_by.is_none() && c.entries[best].layer == e.layer {
                    // Across layers, an override taking a base entry's names is the point.
                    shadowed_by = Some((best, name.clone()));
                }
                let top_layer = c.entries[best].layer;
                let tied: Vec<usize> = cands
                    .iter()
                    .map(|(k, _, _)| *k)
                    .filter(|k| c.entries[*k].layer == top_layer)
                    .collect();
                if tied.len() > 1 && tied.contains(&e.index) {
                    for &o in tied.iter().filter(|o| **o < e.index) {
                        if reported.insert((o, e.index)) {
                            issues.error(
                                child(&index(models, e.index), "match"),
                                format!(
                                    "ambiguous: `{name}` matches this entry and {} equally well; make one pattern more specific",
                                    index(models, o)
                                ),
                            );
                        }
                    }
                }
            }
        }
        if !reaches {
            if let Some((by, name)) = shadowed_by {
                if !reported.contains(&(by.min(e.index), by.max(e.index))) {
                    issues.error(
                        child(&index(models, e.index), "match"),
                        format!(
                            "shadowed: its names (e.g. `{name}`) resolve to {} instead",
                            index(models, by)
                        ),
                    );
                }
            }
        }
    }
}

fn probe_names(t: &PricingTable, i: usize) -> Vec<String> {
    let Some(m) = t.models.get(i) else {
        return Vec::new();
    };
    let mut names = BTreeSet::new();
    let pats: Vec<&str> = if m.patterns.is_empty() {
        vec![m.model.as_str()]
    } else {
        m.patterns.iter().map(String::as_str).collect()
    };
    for p in pats {
        if p.starts_with("regex:") {
            continue;
        }
        let p = p.to_lowercase();
        if p.contains(['*', '?']) {
            names.insert(p.replace('*', "").replace('?', "x"));
            names.insert(p.replace('*', "x9").replace('?', "x"));
        } else {
            names.insert(p);
        }
    }
    names.into_iter().collect()
}
