//! LiteLLM's `model_prices_and_context_window.json`: one object per model key, prices in USD per
//! token (`input_cost_per_token`), with `_above_<N>k_tokens` long-context and `_priority`,
//! `_flex`, `_batches` service-tier variants of each field.

use super::import::{decimal_text, entry, put, shift, Imported};
use super::{Dim, TierEntry};
use serde_json::Value;
use std::collections::BTreeMap;

const LIST: &str =
    "https://github.com/BerriAI/litellm/blob/main/model_prices_and_context_window.json";

/// LiteLLM field (without tier and service-tier suffixes) -> dimension, and how many decimal
/// places turn its unit into meterd's (per token -> per 1M: 6).
const FIELDS: [(&str, Dim, u32); 11] = [
    ("input_cost_per_token", Dim::Input, 6),
    ("output_cost_per_token", Dim::Output, 6),
    ("cache_read_input_token_cost", Dim::CachedInput, 6),
    ("cache_creation_input_token_cost", Dim::CacheWrite5m, 6),
    (
        "cache_creation_input_token_cost_above_1hr",
        Dim::CacheWrite1h,
        6,
    ),
    ("output_cost_per_reasoning_token", Dim::Reasoning, 6),
    ("input_cost_per_audio_token", Dim::AudioInput, 6),
    ("output_cost_per_audio_token", Dim::AudioOutput, 6),
    ("input_cost_per_character", Dim::Character, 6),
    ("output_cost_per_image", Dim::Image, 0),
    ("input_cost_per_second", Dim::AudioSecond, 0),
];

/// `litellm_provider` -> meterd provider (the names `provider_aliases` maps apps' names to).
fn provider(p: &str) -> String {
    match p {
        "text-completion-openai" => "openai",
        "gemini" => "google",
        // Claude on Vertex: `gcp.vertex_ai` is an alias of google; Claude names do not collide
        // with Gemini's.
        "vertex_ai-anthropic_models" | "vertex_ai-language-models" => "google",
        "bedrock" | "bedrock_converse" => "bedrock",
        "together_ai" => "together",
        other => other,
    }
    .to_string()
}

/// Key prefixes that name LiteLLM's route, not the model.
const ROUTES: [&str; 12] = [
    "openai/",
    "anthropic/",
    "gemini/",
    "vertex_ai/",
    "mistral/",
    "xai/",
    "deepseek/",
    "groq/",
    "together_ai/",
    "azure/",
    "bedrock/",
    "bedrock_converse/",
];

/// Splits a field into (base field, long-context threshold, service tier).
fn parse_field(key: &str) -> Option<(Dim, u32, Option<u64>, Option<&'static str>)> {
    let (rest, svc) = [
        ("_priority", "priority"),
        ("_flex", "flex"),
        ("_batches", "batch"),
    ]
    .into_iter()
    .find_map(|(s, name)| key.strip_suffix(s).map(|r| (r, Some(name))))
    .unwrap_or((key, None));
    let (rest, above) = match rest.rfind("_above_") {
        Some(i) if rest.ends_with("k_tokens") => {
            let n: u64 = rest[i + 7..rest.len() - 8].parse().ok()?;
            (&rest[..i], Some(n * 1000))
        }
        _ => (rest, None),
    };
    let (_, dim, places) = FIELDS.iter().find(|(f, _, _)| *f == rest)?;
    Some((*dim, *places, above, svc))
}

pub(super) fn convert(v: &Value, checked: &str) -> Result<Imported, String> {
    let obj = v
        .as_object()
        .ok_or("expected a JSON object of model keys (model_prices_and_context_window.json)")?;
    let mut out = Imported::default();
    for (key, spec) in obj {
        let Some(spec) = spec.as_object() else {
            continue;
        };
        let Some(lp) = spec.get("litellm_provider").and_then(Value::as_str) else {
            out.skipped
                .push(format!("litellm {key}: no litellm_provider"));
            continue;
        };
        let model = ROUTES
            .iter()
            .find_map(|r| key.strip_prefix(r))
            .unwrap_or(key);
        if model.contains('/') && ["bedrock", "bedrock_converse", "azure"].contains(&lp) {
            out.skipped.push(format!(
                "litellm {key}: a region-specific id (prices per region)"
            ));
            continue;
        }
        let audio_by_time = spec.get("mode").and_then(Value::as_str) == Some("audio_transcription");
        let mut prices = BTreeMap::new();
        let mut tiers: BTreeMap<u64, TierEntry> = BTreeMap::new();
        let mut svc: BTreeMap<String, BTreeMap<String, super::Amount>> = BTreeMap::new();
        for (field, value) in spec {
            let Some((dim, places, above, tier)) = parse_field(field) else {
                continue;
            };
            if dim == Dim::AudioSecond && !audio_by_time {
                continue;
            }
            let what = format!("litellm {key}.{field}");
            let Some(text) = decimal_text(value).and_then(|t| shift(&t, places)) else {
                out.skipped.push(format!("{what}: not a price ({value})"));
                continue;
            };
            let target = match (above, tier) {
                (None, None) => &mut prices,
                (None, Some(t)) => svc.entry(t.to_string()).or_default(),
                (Some(n), None) => &mut tiers.entry(n).or_default().prices,
                (Some(n), Some(t)) => tiers
                    .entry(n)
                    .or_default()
                    .service_tier_prices
                    .entry(t.to_string())
                    .or_default(),
            };
            put(target, dim, &text, &what, &mut out.skipped);
        }
        // Image models (gpt-image-1) bill their output tokens as image tokens: with no text
        // output price, that is the output price.
        if !prices.contains_key("output") {
            if let Some(text) = spec
                .get("output_cost_per_image_token")
                .and_then(decimal_text)
                .and_then(|t| shift(&t, 6))
            {
                let what = format!("litellm {key}.output_cost_per_image_token");
                put(&mut prices, Dim::Output, &text, &what, &mut out.skipped);
            }
        }
        for (n, t) in &mut tiers {
            t.above_input_tokens = *n;
        }
        let source = spec
            .get("source")
            .and_then(Value::as_str)
            .filter(|s| s.starts_with("https://"))
            .unwrap_or(LIST)
            .to_string();
        if let Some(e) = entry(
            &provider(lp),
            model,
            prices,
            tiers,
            svc,
            source,
            checked,
            format!("litellm {key}"),
            &mut out.skipped,
        ) {
            out.table.models.push(e);
        }
    }
    Ok(out)
}
