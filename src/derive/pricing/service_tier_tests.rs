//! Service tiers: explicit per-tier prices, multipliers, and their interplay with long-context
//! tiers. Money is femto-USD: a price of $P per 1M tokens is P * 1e9 femto-USD per token.

use super::compile::parse_date;
use super::cost::{self, Breakdown, Priced};
use super::*;
use crate::config::load::load_str;
use crate::model::{Usage, UsageEvent};
use std::sync::Arc;

const TABLE: &str = r#"
service_tiers: {batch: 0.5, flex: 0.5, priority: 3}
models:
  - provider: openai
    model: gpt-5.1
    prices: {input: 1.25, cached_input: 0.125, output: 10.00}
    service_tier_prices:
      priority: {input: 2.50, cached_input: 0.25, output: 20.00}
      flex: {input: 0.625}
  - provider: google
    model: gemini-2.5-pro
    prices: {input: 1.25, cached_input: 0.125, output: 10.00}
    service_tiers: {priority: 1.8}
    tiers:
      - above_input_tokens: 200000
        prices: {input: 2.50, cached_input: 0.25, output: 15.00}
        service_tier_prices:
          priority: {input: 4.50, output: 27.00}
"#;

fn table(yaml: &str) -> Arc<Compiled> {
    let t: PricingTable =
        load_str(yaml, "t.yaml", &|_| None).unwrap_or_else(|e| panic!("table: {e}"));
    Compiled::new(&t)
}

fn ev(provider: &str, model: &str, tier: Option<&str>, f: impl FnOnce(&mut Usage)) -> UsageEvent {
    let mut e = UsageEvent::new(provider, model);
    e.unix_nanos = parse_date("2025-12-01").expect("date");
    e.service_tier = tier.map(Box::from);
    e.usage.requests = 1;
    f(&mut e.usage);
    e
}

fn priced<'a>(t: &'a Compiled, e: &UsageEvent) -> Priced<'a> {
    match cost::price(t, e) {
        Breakdown::Priced(p) => p,
        Breakdown::UnknownModel => panic!("{}/{} unknown", e.provider, e.model),
    }
}

#[test]
fn explicit_tier_prices_replace_base_rates_without_the_multiplier() {
    let t = table(TABLE);
    let call = |tier| {
        ev("openai", "gpt-5.1", tier, |u| {
            u.input_tokens = 10_000;
            u.cached_input_tokens = 4_000;
            u.output_tokens = 1_000;
        })
    };
    // standard: 6000 x 1.25 + 4000 x 0.125 + 1000 x 10 = 7500 + 500 + 10000 = 18000 per 1M
    // -> $0.018.
    assert_eq!(priced(&t, &call(None)).total, 18_000_000_000_000);
    // priority, explicit (not 3x): 6000 x 2.50 + 4000 x 0.25 + 1000 x 20 = 15000 + 1000 + 20000
    // = 36000 per 1M -> $0.036.
    assert_eq!(
        priced(&t, &call(Some("priority"))).total,
        36_000_000_000_000
    );
    // Tier names are case-insensitive.
    assert_eq!(
        priced(&t, &call(Some("PRIORITY"))).total,
        36_000_000_000_000
    );
    // flex: input explicit 0.625; cached_input and output at base x 0.5:
    // 6000 x 0.625 + 4000 x 0.0625 + 1000 x 5 = 3750 + 250 + 5000 = 9000 -> $0.009.
    assert_eq!(priced(&t, &call(Some("flex"))).total, 9_000_000_000_000);
    // default / auto / standard are 1x.
    for name in ["default", "auto", "standard"] {
        assert_eq!(priced(&t, &call(Some(name))).total, 18_000_000_000_000);
    }
}

#[test]
fn long_context_tiers_take_their_own_service_tier_prices() {
    let t = table(TABLE);
    let call = |input, tier| {
        ev("google", "gemini-2.5-pro", tier, |u| {
            u.input_tokens = input;
            u.output_tokens = 1_000;
        })
    };
    // Base tier, priority 1.8x: 100000 x 1.25 x 1.8 + 1000 x 10 x 1.8 = 225000 + 18000 = 243000
    // per 1M -> $0.243.
    assert_eq!(
        priced(&t, &call(100_000, Some("priority"))).total,
        243_000_000_000_000
    );
    // Above 200k, explicit priority prices of that tier: 250000 x 4.50 + 1000 x 27 = 1125000 +
    // 27000 = 1152000 per 1M -> $1.152.
    assert_eq!(
        priced(&t, &call(250_000, Some("priority"))).total,
        1_152_000_000_000_000
    );
    // Above 200k, batch (no explicit prices): 250000 x 2.50 x 0.5 + 1000 x 15 x 0.5 = 312500 +
    // 7500 = 320000 -> $0.32.
    assert_eq!(
        priced(&t, &call(250_000, Some("batch"))).total,
        320_000_000_000_000
    );
}

#[test]
fn service_tier_prices_are_validated() {
    let bad = r#"
models:
  - provider: openai
    model: m
    prices: {input: 1}
    service_tier_prices:
      priority: {input: abc, output: 2, bogus: 1}
      "": {input: 1}
"#;
    let err = match load_str::<PricingTable>(bad, "t.yaml", &|_| None) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    for needle in [
        "service_tier_prices.priority.input",
        "service_tier_prices.priority.output",
        "no base price",
        "service_tier_prices.priority.bogus",
        "empty service tier name",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    }
}
