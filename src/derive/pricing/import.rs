//! Price layers generated from maintained public lists (`meterd pricing import`): LiteLLM's
//! `model_prices_and_context_window.json` (USD per token, as JSON floats) and pydantic's
//! genai-prices `data.json` (USD per 1M tokens). Pure: text in, a table and the skipped items out.
//!
//! Floats are never used for money: each JSON number is turned into the shortest decimal text
//! that reads back as the same float (what the list's authors wrote), and a per-token price
//! becomes a per-1M price by moving the decimal point, exactly. A price meterd cannot bill
//! exactly (more decimals than the unit allows) is skipped and reported, never rounded.

use super::compile::rate;
use super::{Dim, ModelEntry, PricingTable, TierEntry};
use crate::model::money::Amount;
use serde_json::Value;
use std::collections::BTreeMap;

/// The list a file comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Litellm,
    GenaiPrices,
}

impl Source {
    pub fn parse(s: &str) -> Result<Source, String> {
        match s {
            "litellm" => Ok(Source::Litellm),
            "genai-prices" => Ok(Source::GenaiPrices),
            _ => Err(format!(
                "unknown source {s:?}; known: litellm, genai-prices"
            )),
        }
    }
}

/// A generated layer and what was left out of it (with the reason).
#[derive(Debug, Default)]
pub struct Imported {
    pub table: PricingTable,
    pub skipped: Vec<String>,
}

/// Converts `text` (the list's JSON) to a pricing layer; `checked` goes on every entry.
pub fn import(source: Source, text: &str, checked: &str) -> Result<Imported, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut out = match source {
        Source::Litellm => super::import_litellm::convert(&v, checked)?,
        Source::GenaiPrices => super::import_genai::convert(&v, checked)?,
    };
    dedupe(&mut out);
    out.table.models.sort_by(|a, b| {
        (&a.provider, &a.model, &a.effective_from).cmp(&(&b.provider, &b.model, &b.effective_from))
    });
    Ok(out)
}

/// The exact decimal text of a JSON number (`3e-06` -> `0.000003`), or of a decimal string.
pub fn decimal_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Amount::new(s).scaled().ok().map(|_| s.trim().to_string()),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                return Some(i.to_string());
            }
            let f = n.as_f64()?;
            if !f.is_finite() || f < 0.0 {
                return None;
            }
            // Rust prints the shortest text that parses back to the same float, never with an
            // exponent; check the round trip anyway, since money depends on it.
            let text = format!("{f}");
            (text.parse::<f64>().ok()? == f).then_some(text)
        }
        _ => None,
    }
}

/// `text` times 10^`places`, as canonical decimal text (no exponent, no trailing zeros).
pub fn shift(text: &str, places: u32) -> Option<String> {
    let t = text.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    let point = int.len() + places as usize;
    let padded = if digits.len() < point {
        format!("{digits}{}", "0".repeat(point - digits.len()))
    } else {
        digits
    };
    let (i, f) = padded.split_at(point);
    let i = i.trim_start_matches('0');
    let f = f.trim_end_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    Some(if f.is_empty() {
        i.to_string()
    } else {
        format!("{i}.{f}")
    })
}

/// Adds `price` (decimal text) for `dim` to `prices` if meterd can bill it exactly; else records
/// why not. Zero prices are left out: the table's fallbacks (cache reads at the input rate, ...)
/// are what a zero in these lists means.
pub fn put(
    prices: &mut BTreeMap<String, Amount>,
    dim: Dim,
    price: &str,
    what: &str,
    skipped: &mut Vec<String>,
) {
    let amount = Amount::new(price);
    match rate(dim, &amount) {
        Ok(0) => {}
        Ok(_) => {
            prices.insert(dim.name().to_string(), amount);
        }
        Err(e) => skipped.push(format!("{what}: {e}")),
    }
}

/// Builds an entry from its parts, or `None` (recorded) when it has no price at all.
#[allow(clippy::too_many_arguments)]
pub fn entry(
    provider: &str,
    model: &str,
    prices: BTreeMap<String, Amount>,
    tiers: BTreeMap<u64, TierEntry>,
    service_tier_prices: BTreeMap<String, BTreeMap<String, Amount>>,
    source: String,
    checked: &str,
    notes: String,
    skipped: &mut Vec<String>,
) -> Option<ModelEntry> {
    if prices.is_empty() {
        skipped.push(format!("{notes}: no price meterd can bill"));
        return None;
    }
    // A tier or service-tier price needs its base price (validation's rule).
    let mut tiers: Vec<TierEntry> = tiers.into_values().collect();
    for t in &mut tiers {
        t.prices.retain(|k, _| prices.contains_key(k));
        for p in t.service_tier_prices.values_mut() {
            p.retain(|k, _| prices.contains_key(k));
        }
        t.service_tier_prices.retain(|_, p| !p.is_empty());
    }
    tiers.retain(|t| !t.prices.is_empty());
    let mut service_tier_prices = service_tier_prices;
    for p in service_tier_prices.values_mut() {
        p.retain(|k, _| prices.contains_key(k));
    }
    service_tier_prices.retain(|_, p| !p.is_empty());
    Some(ModelEntry {
        provider: provider.to_string(),
        model: model.to_string(),
        prices,
        tiers,
        service_tier_prices,
        source: Some(source),
        checked: Some(checked.to_string()),
        notes: Some(notes),
        ..Default::default()
    })
}

/// One entry per provider, model and start date: the one with the most prices is kept (lists
/// repeat a model under several keys); a dropped duplicate with other prices is reported.
fn dedupe(out: &mut Imported) {
    let mut seen: BTreeMap<(String, String, Option<String>), usize> = BTreeMap::new();
    let mut keep: Vec<ModelEntry> = Vec::new();
    for m in std::mem::take(&mut out.table.models) {
        let key = (
            m.provider.to_lowercase(),
            m.model.to_lowercase(),
            m.effective_from.clone(),
        );
        match seen.get(&key) {
            None => {
                seen.insert(key, keep.len());
                keep.push(m);
            }
            Some(&i) => {
                let kept = &mut keep[i];
                let differs = kept.prices != m.prices || kept.tiers != m.tiers;
                let (winner, loser) = if m.prices.len() > kept.prices.len() {
                    (m, std::mem::take(kept))
                } else {
                    (std::mem::take(kept), m)
                };
                if differs {
                    out.skipped.push(format!(
                        "{}: duplicate of {}/{} with other prices; kept {}",
                        loser.notes.as_deref().unwrap_or(""),
                        winner.provider,
                        winner.model,
                        winner.notes.as_deref().unwrap_or("")
                    ));
                }
                *kept = winner;
            }
        }
    }
    out.table.models = keep;
}

/// The layer as YAML that `extends:` and `pricing_file` read back to the same table: names
/// quoted, prices as their exact decimal text.
pub fn to_yaml(t: &PricingTable, header: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
    let map = |p: &BTreeMap<String, Amount>| {
        let parts: Vec<String> = p.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("{{{}}}", parts.join(", "))
    };
    let svc = |s: &BTreeMap<String, BTreeMap<String, Amount>>, indent: &str| {
        let mut o = format!("{indent}service_tier_prices:\n");
        for (k, p) in s {
            o.push_str(&format!("{indent}  {}: {}\n", q(k), map(p)));
        }
        o
    };
    let mut o = String::new();
    for line in header.lines() {
        o.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
    }
    o.push_str("models:\n");
    for m in &t.models {
        o.push_str(&format!(
            "  - provider: {}\n    model: {}\n",
            q(&m.provider),
            q(&m.model)
        ));
        o.push_str(&format!("    prices: {}\n", map(&m.prices)));
        if !m.tiers.is_empty() {
            o.push_str("    tiers:\n");
            for tier in &m.tiers {
                o.push_str(&format!(
                    "      - above_input_tokens: {}\n        prices: {}\n",
                    tier.above_input_tokens,
                    map(&tier.prices)
                ));
                if !tier.service_tier_prices.is_empty() {
                    o.push_str(&svc(&tier.service_tier_prices, "        "));
                }
            }
        }
        if !m.service_tier_prices.is_empty() {
            o.push_str(&svc(&m.service_tier_prices, "    "));
        }
        for (k, v) in [
            ("effective_from", &m.effective_from),
            ("effective_to", &m.effective_to),
            ("source", &m.source),
            ("checked", &m.checked),
            ("notes", &m.notes),
        ] {
            if let Some(v) = v {
                o.push_str(&format!("    {k}: {}\n", q(v)));
            }
        }
    }
    o
}
