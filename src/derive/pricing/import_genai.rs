//! pydantic's genai-prices `data.json`: providers, each with models whose `prices` are USD per 1M
//! tokens (`input_mtok`), either one set or a list of sets with a `start_date` constraint; a
//! price may be tiered by prompt size (`{base, tiers: [{start, price}]}`), and `price_variants`
//! give batch/priority/flex prices (`when: {processing: batch}`).

use super::import::{decimal_text, entry, put, Imported};
use super::{Amount, Dim, ModelEntry, TierEntry};
use serde_json::Value;
use std::collections::BTreeMap;

const LIST: &str = "https://github.com/pydantic/genai-prices/blob/main/prices/data.json";

const FIELDS: [(&str, Dim); 8] = [
    ("input_mtok", Dim::Input),
    ("output_mtok", Dim::Output),
    ("cache_read_mtok", Dim::CachedInput),
    ("cache_write_mtok", Dim::CacheWrite5m),
    ("cache_write_1h_mtok", Dim::CacheWrite1h),
    ("input_audio_mtok", Dim::AudioInput),
    ("output_audio_mtok", Dim::AudioOutput),
    ("output_reasoning_mtok", Dim::Reasoning),
];

fn provider(id: &str) -> String {
    match id {
        "aws" => "bedrock",
        "x-ai" => "xai",
        other => other,
    }
    .to_string()
}

type Svc = BTreeMap<String, BTreeMap<String, Amount>>;

/// Base prices and long-context tiers from one genai-prices price set.
fn price_set(
    p: &Value,
    what: &str,
    skipped: &mut Vec<String>,
) -> (BTreeMap<String, Amount>, BTreeMap<u64, TierEntry>) {
    let mut prices = BTreeMap::new();
    let mut tiers: BTreeMap<u64, TierEntry> = BTreeMap::new();
    let Some(obj) = p.as_object() else {
        return (prices, tiers);
    };
    for (field, dim) in FIELDS {
        let Some(v) = obj.get(field) else { continue };
        let w = format!("{what}.{field}");
        match v {
            Value::Object(t) => {
                match t.get("base").and_then(decimal_text) {
                    Some(b) => put(&mut prices, dim, &b, &w, skipped),
                    None => skipped.push(format!("{w}: tiered price without a base")),
                }
                for tier in t
                    .get("tiers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let start = tier.get("start").and_then(Value::as_u64);
                    let price = tier.get("price").and_then(decimal_text);
                    match (start, price) {
                        (Some(s), Some(pr)) => {
                            let e = tiers.entry(s).or_default();
                            e.above_input_tokens = s;
                            put(&mut e.prices, dim, &pr, &w, skipped);
                        }
                        _ => skipped.push(format!("{w}: a tier without start and price")),
                    }
                }
            }
            v => match decimal_text(v) {
                Some(t) => put(&mut prices, dim, &t, &w, skipped),
                None => skipped.push(format!("{w}: not a price ({v})")),
            },
        }
    }
    (prices, tiers)
}

/// Batch / priority / flex prices from `price_variants` (the base set of each; their own tiers
/// are not carried over).
fn variants(model: &Value, what: &str, skipped: &mut Vec<String>) -> Svc {
    let mut out = Svc::new();
    for v in model
        .get("price_variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let tier = v
            .get("when")
            .and_then(|w| w.get("processing").or_else(|| w.get("service_tier")))
            .and_then(Value::as_str);
        let Some(tier) = tier else { continue };
        let (p, _) = price_set(v.get("prices").unwrap_or(&Value::Null), what, skipped);
        out.insert(tier.to_lowercase(), p);
    }
    out
}

pub(super) fn convert(v: &Value, checked: &str) -> Result<Imported, String> {
    let providers = v
        .as_array()
        .ok_or("expected a JSON list of providers (genai-prices data.json)")?;
    let mut out = Imported::default();
    for p in providers {
        let Some(pid) = p.get("id").and_then(Value::as_str) else {
            continue;
        };
        let source = p
            .get("pricing_urls")
            .and_then(Value::as_array)
            .and_then(|u| u.first())
            .and_then(Value::as_str)
            .filter(|s| s.starts_with("https://"))
            .unwrap_or(LIST)
            .to_string();
        for m in p
            .get("models")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(mid) = m.get("id").and_then(Value::as_str) else {
                continue;
            };
            let what = format!("genai-prices {pid}/{mid}");
            let svc = variants(m, &what, &mut out.skipped);
            // A list of price sets: each starts at its constraint's date and ends at the next.
            let sets: Vec<(Option<String>, &Value)> = match m.get("prices") {
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|c| {
                        let start = c
                            .get("constraint")
                            .and_then(|k| k.get("start_date"))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        (start, c.get("prices").unwrap_or(&Value::Null))
                    })
                    .collect(),
                Some(p) => vec![(None, p)],
                None => Vec::new(),
            };
            let mut dated: Vec<ModelEntry> = Vec::new();
            for (i, (start, set)) in sets.iter().enumerate() {
                let (prices, tiers) = price_set(set, &what, &mut out.skipped);
                let last = i + 1 == sets.len();
                let Some(mut e) = entry(
                    &provider(pid),
                    mid,
                    prices,
                    tiers,
                    if last { svc.clone() } else { Svc::new() },
                    source.clone(),
                    checked,
                    what.clone(),
                    &mut out.skipped,
                ) else {
                    continue;
                };
                e.effective_from = start.clone();
                e.effective_to = sets.get(i + 1).and_then(|(s, _)| s.clone());
                dated.push(e);
            }
            out.table.models.extend(dated);
        }
    }
    Ok(out)
}
