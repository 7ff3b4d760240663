//! Importing public price lists and diffing tables: exact decimals, every field, round trips.

use super::diff::{diff, Change};
use super::import::{decimal_text, import, shift, to_yaml, Source};
use super::*;
use crate::config::load::load_str;
use serde_json::json;

fn load(yaml: &str) -> PricingTable {
    load_str(yaml, "t.yaml", &|_| None).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn amount(m: &ModelEntry, k: &str) -> String {
    m.prices.get(k).map(|a| a.0.to_string()).unwrap_or_default()
}

#[test]
fn per_token_floats_become_exact_per_million_decimals() {
    for (v, want) in [
        (json!(3e-06), "3"),
        (json!(1.25e-07), "0.125"),
        (json!(2.5e-06), "2.5"),
        (json!(3.75e-06), "3.75"),
        (json!(6.875e-06), "6.875"),
        (json!(2.8e-08), "0.028"),
        (json!(5.5e-09), "0.0055"),
        (json!(0.00018), "180"),
        (json!("0.000003"), "3"),
        (json!(7), "7000000"),
    ] {
        let text = decimal_text(&v).unwrap_or_else(|| panic!("{v}"));
        assert_eq!(shift(&text, 6).as_deref(), Some(want), "{v}");
        // Round trip: the per-1M text read back and divided is the float the list wrote.
        if let Some(f) = v.as_f64() {
            let back: f64 = want.parse::<f64>().expect("float") / 1e6;
            assert!((back - f).abs() <= f * 1e-15, "{v} -> {want}");
        }
    }
    assert_eq!(shift("0.5", 0).as_deref(), Some("0.5"));
    assert_eq!(shift("12", 2).as_deref(), Some("1200"));
    assert_eq!(decimal_text(&json!(-1.0)), None);
    assert_eq!(decimal_text(&json!("abc")), None);
}

const LITELLM: &str = r#"{
  "sample_spec": {"input_cost_per_token": 0},
  "gpt-5.1": {"litellm_provider": "openai", "mode": "chat",
    "input_cost_per_token": 1.25e-06, "cache_read_input_token_cost": 1.25e-07, "output_cost_per_token": 1e-05,
    "input_cost_per_token_priority": 2.5e-06, "output_cost_per_token_priority": 2e-05,
    "cache_read_input_token_cost_flex": 6.25e-08, "input_cost_per_token_batches": 6.25e-07,
    "source": "https://openai.com/api/pricing"},
  "vertex_ai/claude-sonnet-4-5@20250929": {"litellm_provider": "vertex_ai-anthropic_models",
    "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
    "cache_creation_input_token_cost": 3.75e-06, "cache_creation_input_token_cost_above_1hr": 6e-06,
    "input_cost_per_token_above_200k_tokens": 6e-06, "output_cost_per_token_above_200k_tokens": 2.25e-05,
    "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.2e-05,
    "input_cost_per_token_above_200k_tokens_priority": 9e-06},
  "deepseek-chat": {"litellm_provider": "deepseek", "input_cost_per_token": 2.8e-07, "output_cost_per_token": 4.2e-07},
  "deepseek/deepseek-chat": {"litellm_provider": "deepseek", "input_cost_per_token": 2.8e-07,
    "output_cost_per_token": 4.2e-07, "cache_read_input_token_cost": 2.8e-08, "cache_creation_input_token_cost": 0.0},
  "gpt-image-1": {"litellm_provider": "openai", "input_cost_per_token": 5e-06, "output_cost_per_image_token": 4e-05},
  "whisper-1": {"litellm_provider": "openai", "mode": "audio_transcription", "input_cost_per_second": 0.0001},
  "groq/whisper-odd": {"litellm_provider": "groq", "mode": "audio_transcription", "input_cost_per_second": 0.0001111111111111},
  "bedrock/us-east-1/anthropic.claude-x": {"litellm_provider": "bedrock", "input_cost_per_token": 1e-06},
  "gemini/gemini-3-pro-preview": {"litellm_provider": "gemini", "input_cost_per_token": 2e-06,
    "input_cost_per_token_above_200k_tokens": 4e-06, "output_cost_per_token": 1.2e-05,
    "output_cost_per_token_above_200k_tokens": 1.8e-05}
}"#;

#[test]
fn litellm_fields_map_to_prices_tiers_and_service_tiers() {
    let out = import(Source::Litellm, LITELLM, "2026-12-06").unwrap_or_else(|e| panic!("{e}"));
    let find = |p: &str, m: &str| {
        out.table
            .models
            .iter()
            .find(|e| e.provider == p && e.model == m)
            .unwrap_or_else(|| panic!("{p}/{m} missing: {:#?}", out.table.models))
    };
    let g = find("openai", "gpt-5.1");
    assert_eq!(amount(g, "input"), "1.25");
    assert_eq!(amount(g, "cached_input"), "0.125");
    assert_eq!(amount(g, "output"), "10");
    let svc = |t: &str, k: &str| g.service_tier_prices[t][k].0.to_string();
    assert_eq!(svc("priority", "input"), "2.5");
    assert_eq!(svc("priority", "output"), "20");
    assert_eq!(svc("flex", "cached_input"), "0.0625");
    assert_eq!(svc("batch", "input"), "0.625");
    assert_eq!(g.source.as_deref(), Some("https://openai.com/api/pricing"));
    assert_eq!(g.checked.as_deref(), Some("2026-12-06"));

    let c = find("google", "claude-sonnet-4-5@20250929");
    assert_eq!(amount(c, "cache_write_5m"), "3.75");
    assert_eq!(amount(c, "cache_write_1h"), "6");
    assert_eq!(c.tiers.len(), 1);
    assert_eq!(c.tiers[0].above_input_tokens, 200_000);
    assert_eq!(c.tiers[0].prices["output"].0.as_ref(), "22.5");
    assert_eq!(c.tiers[0].prices["cache_write_1h"].0.as_ref(), "12");
    assert_eq!(
        c.tiers[0].service_tier_prices["priority"]["input"]
            .0
            .as_ref(),
        "9"
    );
    assert!(c
        .source
        .as_deref()
        .is_some_and(|s| s.starts_with("https://")));

    // Two keys for one model: the fuller one wins; a zero price is left to the fallbacks.
    let d = find("deepseek", "deepseek-chat");
    assert_eq!(amount(d, "cached_input"), "0.028");
    assert!(!d.prices.contains_key("cache_write_5m"));
    assert_eq!(
        out.table
            .models
            .iter()
            .filter(|m| m.model == "deepseek-chat")
            .count(),
        1
    );
    assert_eq!(
        amount(find("openai", "whisper-1"), "audio_second"),
        "0.0001"
    );
    // Not billable exactly per ms, region-specific ids: skipped, and said so.
    assert!(out.table.models.iter().all(|m| m.model != "whisper-odd"));
    let skipped = out.skipped.join("\n");
    for needle in [
        "groq/whisper-odd.input_cost_per_second",
        "bedrock/us-east-1/anthropic.claude-x",
    ] {
        assert!(skipped.contains(needle), "{needle} not in\n{skipped}");
    }
}

#[test]
fn the_generated_layer_loads_back_to_the_same_table_and_validates() {
    let out = import(Source::Litellm, LITELLM, "2026-12-06").unwrap_or_else(|e| panic!("{e}"));
    let yaml = to_yaml(&out.table, "generated\n\nby a test");
    let back = load(&yaml);
    assert_eq!(back.models.len(), out.table.models.len());
    assert!(diff(&out.table, &back).is_empty(), "{yaml}");
    // It prices: gemini-3-pro-preview above 200k at 4 / 18.
    let t = Compiled::new(&back);
    let mut e = crate::model::UsageEvent::new("gcp.gemini", "gemini-3-pro-preview");
    e.provider = "google".into();
    e.usage.input_tokens = 300_000;
    e.usage.output_tokens = 1_000;
    e.usage.requests = 1;
    // 300000 x 4 + 1000 x 18 = 1218000 per 1M -> $1.218.
    match cost::price(&t, &e) {
        cost::Breakdown::Priced(p) => assert_eq!(p.total, 1_218_000_000_000_000),
        cost::Breakdown::UnknownModel => panic!("unknown"),
    }
}

#[test]
fn genai_prices_sets_dates_tiers_and_variants() {
    let data = json!([{
        "id": "google", "pricing_urls": ["https://ai.google.dev/pricing"],
        "models": [{
            "id": "gemini-2.5-pro",
            "prices": {"input_mtok": {"base": 1.25, "tiers": [{"start": 200000, "price": 2.5}]},
                       "output_mtok": {"base": 10, "tiers": [{"start": 200000, "price": 15}]},
                       "cache_read_mtok": 0.125},
            "price_variants": [{"when": {"processing": "priority"}, "prices": {"input_mtok": 2.25, "output_mtok": 18}}]
        }, {
            "id": "o3",
            "prices": [{"prices": {"input_mtok": 10, "output_mtok": 40}},
                       {"constraint": {"start_date": "2025-06-10"}, "prices": {"input_mtok": 2, "output_mtok": 8}}]
        }]
    }, {"id": "x-ai", "models": [{"id": "grok-4", "prices": {"input_mtok": "3", "output_mtok": 15}}]}]);
    let out = import(Source::GenaiPrices, &data.to_string(), "2026-12-06")
        .unwrap_or_else(|e| panic!("{e}"));
    let yaml = to_yaml(&out.table, "");
    let back = load(&yaml);
    let pro = &back
        .models
        .iter()
        .find(|m| m.model == "gemini-2.5-pro")
        .expect("pro");
    assert_eq!(amount(pro, "input"), "1.25");
    assert_eq!(pro.tiers[0].prices["output"].0.as_ref(), "15");
    assert_eq!(
        pro.service_tier_prices["priority"]["output"].0.as_ref(),
        "18"
    );
    assert_eq!(pro.source.as_deref(), Some("https://ai.google.dev/pricing"));
    let o3: Vec<_> = back.models.iter().filter(|m| m.model == "o3").collect();
    assert_eq!(o3.len(), 2, "{yaml}");
    assert_eq!(o3[0].effective_to.as_deref(), Some("2025-06-10"));
    assert_eq!(o3[1].effective_from.as_deref(), Some("2025-06-10"));
    assert!(back
        .models
        .iter()
        .any(|m| m.provider == "xai" && m.model == "grok-4"));
}

#[test]
fn diff_reports_added_removed_and_changed_prices_numerically() {
    let a = load(
        "service_tiers: {batch: 0.5}\nmodels:\n  - {provider: openai, model: gpt-4o, prices: {input: 2.50, output: 10}}\n  - {provider: openai, model: old, prices: {input: 1}}\n",
    );
    let b = load(
        "service_tiers: {batch: 0.50}\nmodels:\n  - {provider: openai, model: gpt-4o, prices: {input: 2.5, output: 8, cached_input: 1.25}, service_tier_prices: {priority: {input: 4.25}}}\n  - {provider: openai, model: new, prices: {input: 1}}\n",
    );
    let lines: Vec<String> = diff(&a, &b).iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "~ openai/gpt-4o output: 10 -> 8",
            "~ openai/gpt-4o cached_input: (none) -> 1.25",
            "~ openai/gpt-4o service_tier_prices.priority.input: (none) -> 4.25",
            "- openai/old",
            "+ openai/new",
        ]
    );
    assert!(diff(&a, &a).is_empty());
    assert!(matches!(diff(&b, &a).last(), Some(Change::Added(_))));
}
