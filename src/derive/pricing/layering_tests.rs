//! Loading pricing through the config: files, `extends`, inline overrides, positions, and the
//! deriver's samples.

use crate::config::load::load_config;
use crate::derive::Deriver;
use crate::model::{Labels, SampleValue, UsageEvent};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

const BASE: &str = "service_tiers: {batch: 0.5}\nmodels:\n  - {provider: openai, model: gpt-4o, prices: {input: 2.50, output: 10}}\n  - {provider: openai, model: o3, prices: {input: 2, output: 8}}\n";

#[test]
fn inline_pricing_layers_over_the_pricing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pricing.yaml", BASE);
    let cfg = write(
        dir.path(),
        "meterd.yaml",
        "pricing_file: pricing.yaml\npricing:\n  models:\n    - {provider: openai, model: gpt-4o, prices: {input: 1.00, output: 4}}\n    - {provider: acme, model: internal-llm, prices: {input: 0.5}}\n",
    );
    let c = load_config(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let t = c.pricing.expect("pricing");
    assert_eq!(t.models.len(), 3);
    assert_eq!(t.sources, vec![dir.path().join("pricing.yaml")]);
    let gpt = t
        .models
        .iter()
        .find(|m| m.model == "gpt-4o")
        .expect("gpt-4o");
    assert_eq!(gpt.prices["input"].to_string(), "1.00");
    assert_eq!(gpt.origin.path, "pricing.models[0]");
    assert!(t.service_tiers.contains_key("batch"));
}

#[test]
fn own_file_extends_the_shipped_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "base.yaml", BASE);
    write(
        dir.path(),
        "ours.yaml",
        "extends: base.yaml\nmodels:\n  - {provider: openai, model: o3, prices: {input: 1, output: 4}}\n",
    );
    let cfg = write(dir.path(), "meterd.yaml", "pricing_file: ours.yaml\n");
    let t = load_config(&cfg)
        .unwrap_or_else(|e| panic!("{e}"))
        .pricing
        .expect("pricing");
    assert_eq!(t.models.len(), 2);
    assert_eq!(t.sources.len(), 2);
    let o3 = t.models.iter().find(|m| m.model == "o3").expect("o3");
    assert_eq!(o3.prices["input"].to_string(), "1");
    assert_eq!(o3.origin.layer, 1);
}

#[test]
fn extends_loop_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.yaml", "extends: b.yaml\n");
    write(dir.path(), "b.yaml", "extends: a.yaml\n");
    let cfg = write(dir.path(), "meterd.yaml", "pricing_file: a.yaml\n");
    let err = load_config(&cfg).expect_err("loop");
    assert!(err.to_string().contains("does it loop?"), "{err}");
}

#[test]
fn errors_in_a_pricing_file_point_into_that_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "pricing.yaml",
        "models:\n  - provider: openai\n    model: x\n    prices:\n      input: -2\n",
    );
    let cfg = write(dir.path(), "meterd.yaml", "pricing_file: pricing.yaml\n");
    let err = load_config(&cfg).expect_err("negative").to_string();
    assert!(
        err.contains("pricing.yaml:5:7: models[0].prices.input: -2 is negative"),
        "{err}"
    );
}

#[test]
fn ambiguity_across_inline_entries_points_at_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pricing.yaml", BASE);
    let cfg = write(
        dir.path(),
        "meterd.yaml",
        "pricing_file: pricing.yaml\npricing:\n  models:\n    - {provider: openai, model: a, match: [z-1], prices: {input: 1}}\n    - {provider: openai, model: b, match: [z-1], prices: {input: 1}}\n",
    );
    let err = load_config(&cfg).expect_err("ambiguous").to_string();
    assert!(err.contains("meterd.yaml:5:"), "{err}");
    assert!(err.contains("pricing.models[1].match: ambiguous"), "{err}");
}

#[test]
fn deriver_emits_exact_cost_per_type_and_returns_nano_usd() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pricing.yaml", BASE);
    let cfg = write(dir.path(), "meterd.yaml", "pricing_file: pricing.yaml\n");
    let config = load_config(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let d = Deriver::new(&config);
    let mut e = UsageEvent::new("openai", "gpt-4o");
    e.scope = Labels::new([("team", "search"), ("user", "dropped")]);
    e.usage.input_tokens = 1200;
    e.usage.output_tokens = 300;
    e.trace_id = Some("0af7651916cd43dd8448eb211c80319c".into());
    let mut out = Vec::new();
    // 1200 x $2.50/1M + 300 x $10/1M = $0.006 = 6,000,000 nano-USD.
    assert_eq!(d.usage(&e, &mut out), Ok(6_000_000));
    let cost: Vec<_> = out.iter().filter(|s| &*s.name == "llm_cost_usd").collect();
    assert_eq!(cost.len(), 2);
    let input = cost
        .iter()
        .find(|s| s.labels.get("cost_type") == Some("input"))
        .expect("input cost");
    assert_eq!(
        input.value,
        SampleValue::CounterAddFemtoUsd(3_000_000_000_000)
    );
    assert_eq!(input.labels.get("team"), Some("search"));
    assert_eq!(input.labels.get("user"), None);
    assert!(input.exemplar.is_some());

    let mut unknown = UsageEvent::new("openai", "gpt-9");
    unknown.usage.input_tokens = 5;
    out.clear();
    assert_eq!(d.usage(&unknown, &mut out), Ok(0));
    let u = out
        .iter()
        .find(|s| &*s.name == "llm_unpriced_requests")
        .expect("unpriced");
    assert_eq!(u.labels.get("reason"), Some("unknown_model"));
    assert_eq!(u.labels.get("model"), Some("gpt-9"));
    // Tokens are still counted.
    assert!(out.iter().any(|s| &*s.name == "llm_tokens"));
}
