//! `meterd pricing diff A B`: what changes between two price tables, entry by entry and price by
//! price (numerically: `2.50` and `2.5` are the same price). Pure.

use super::{Amount, ModelEntry, PricingTable};
use std::collections::BTreeMap;

/// One difference, as a line a reviewer reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    Changed {
        entry: String,
        field: String,
        from: String,
        to: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(e) => write!(f, "+ {e}"),
            Change::Removed(e) => write!(f, "- {e}"),
            Change::Changed {
                entry,
                field,
                from,
                to,
            } => write!(f, "~ {entry} {field}: {from} -> {to}"),
        }
    }
}

/// A value compared by number when it is one.
fn norm(a: &Amount) -> String {
    match a.scaled() {
        Ok(v) => v.to_string(),
        Err(_) => a.0.to_string(),
    }
}

/// An entry's priced facts, flattened to `field -> (comparable, shown)`.
pub fn facts(m: &ModelEntry) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, a: &Amount| {
        out.insert(k, (norm(a), a.0.to_string()));
    };
    for (k, v) in &m.prices {
        put(k.clone(), v);
    }
    for (t, p) in &m.service_tier_prices {
        for (k, v) in p {
            put(format!("service_tier_prices.{t}.{k}"), v);
        }
    }
    for (t, v) in &m.service_tiers {
        put(format!("service_tiers.{t}"), v);
    }
    for tier in &m.tiers {
        let at = format!("tiers[above {}]", tier.above_input_tokens);
        for (k, v) in &tier.prices {
            put(format!("{at}.{k}"), v);
        }
        for (t, p) in &tier.service_tier_prices {
            for (k, v) in p {
                put(format!("{at}.service_tier_prices.{t}.{k}"), v);
            }
        }
    }
    let mut text = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.insert(k.to_string(), (v.clone(), v));
        }
    };
    text("effective_to", m.effective_to.clone());
    text(
        "match",
        (!m.patterns.is_empty()).then(|| m.patterns.join(", ")),
    );
    out
}

fn key(m: &ModelEntry) -> (String, String, String) {
    (
        m.provider.to_lowercase(),
        m.model.to_lowercase(),
        m.effective_from.clone().unwrap_or_default(),
    )
}

fn label(m: &ModelEntry) -> String {
    match &m.effective_from {
        Some(f) => format!("{}/{} (from {f})", m.provider, m.model),
        None => format!("{}/{}", m.provider, m.model),
    }
}

/// Every difference from `a` to `b`, in a stable order. Empty means the tables price alike.
pub fn diff(a: &PricingTable, b: &PricingTable) -> Vec<Change> {
    let mut out = Vec::new();
    let table = |t: &PricingTable| {
        let mut m: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (k, v) in &t.service_tiers {
            m.insert(format!("service_tiers.{k}"), (norm(v), v.0.to_string()));
        }
        for (k, v) in &t.provider_aliases {
            let v = v.to_lowercase();
            m.insert(
                format!("provider_aliases.{}", k.to_lowercase()),
                (v.clone(), v),
            );
        }
        m
    };
    compare("table", &table(a), &table(b), &mut out);
    let (ia, ib) = (index(a), index(b));
    for (k, ma) in &ia {
        match ib.get(k) {
            None => out.push(Change::Removed(label(ma))),
            Some(mb) => compare(&label(ma), &facts(ma), &facts(mb), &mut out),
        }
    }
    for (k, mb) in &ib {
        if !ia.contains_key(k) {
            out.push(Change::Added(label(mb)));
        }
    }
    out
}

fn index(t: &PricingTable) -> BTreeMap<(String, String, String), &ModelEntry> {
    t.models.iter().map(|m| (key(m), m)).collect()
}

fn compare(
    entry: &str,
    a: &BTreeMap<String, (String, String)>,
    b: &BTreeMap<String, (String, String)>,
    out: &mut Vec<Change>,
) {
    let none = || "(none)".to_string();
    for (field, (va, sa)) in a {
        match b.get(field) {
            Some((vb, _)) if vb == va => {}
            other => out.push(Change::Changed {
                entry: entry.to_string(),
                field: field.clone(),
                from: sa.clone(),
                to: other.map_or_else(none, |(_, s)| s.clone()),
            }),
        }
    }
    for (field, (_, sb)) in b {
        if !a.contains_key(field) {
            out.push(Change::Changed {
                entry: entry.to_string(),
                field: field.clone(),
                from: none(),
                to: sb.clone(),
            });
        }
    }
}
