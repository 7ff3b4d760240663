//! The per-identity memo ([`cost::price_memo`]) answers exactly what [`cost::price`] does, for
//! any order of event times across effective dates, long-context tiers, service tiers and a
//! table reload.

use super::compile::parse_date;
use super::cost::{self, Memo};
use super::*;
use crate::config::load::load_str;
use crate::model::UsageEvent;
use proptest::prelude::*;
use std::sync::Arc;

const DATED: &str = r#"
service_tiers: {batch: 0.5}
models:
  - {provider: openai, model: gpt-4o, prices: {input: 5, output: 15}, effective_to: 2024-10-01}
  - {provider: openai, model: gpt-4o, prices: {input: 2.5, cached_input: 1.25, output: 10}, effective_from: 2024-10-01, effective_to: 2025-03-01}
  - {provider: openai, model: gpt-4o, prices: {input: 2, output: 8}, effective_from: 2025-03-01}
  - {provider: openai, model: gpt-4o-family, match: ["gpt-4o*"], prices: {input: 100, output: 100}, effective_from: 2024-06-01}
  - {provider: openai, model: old-family, match: ["gpt-4o*"], prices: {input: 50, output: 50}, effective_to: 2024-06-01}
  - provider: anthropic
    model: claude-sonnet-4
    prices: {input: 3, cached_input: 0.3, output: 15}
    tiers: [{above_input_tokens: 200000, prices: {input: 6, cached_input: 0.6, output: 22.5}}]
    service_tier_prices: {priority: {input: 9}}
    effective_from: 2025-01-01
  - {provider: anthropic, model: claude-sonnet-4, prices: {input: 4, output: 16}, effective_to: 2025-01-01}
"#;

const RELOADED: &str = r#"
models:
  - {provider: openai, model: gpt-4o, prices: {input: 3, output: 12}}
  - {provider: anthropic, model: claude-sonnet-4, prices: {input: 1, output: 2}, effective_from: 2024-12-01}
"#;

fn table(yaml: &str) -> Arc<Compiled> {
    let t: PricingTable =
        load_str(yaml, "t.yaml", &|_| None).unwrap_or_else(|e| panic!("table: {e}"));
    Compiled::new(&t)
}

fn nanos(date: &str) -> u64 {
    parse_date(date).unwrap_or_else(|e| panic!("{date}: {e}"))
}

/// Times on and beside every boundary of both tables, and no time at all.
fn times() -> Vec<u64> {
    let mut out = vec![0, 1, u64::MAX];
    for d in [
        "2024-06-01",
        "2024-10-01",
        "2024-12-01",
        "2025-01-01",
        "2025-03-01",
    ] {
        let t = nanos(d);
        out.extend([t - 1, t, t + 1, t + 86_400_000_000_000]);
    }
    out
}

fn answer(b: &cost::Breakdown<'_>) -> String {
    match b {
        cost::Breakdown::UnknownModel => "unknown".into(),
        cost::Breakdown::Priced(p) => format!(
            "{} {:?} {:?} {} {:?} {:?} {} {}",
            p.resolution.entry.index,
            p.resolution.how,
            p.tier,
            p.multiplier,
            p.lines,
            p.unpriced,
            p.total,
            p.overflow
        ),
    }
}

const MODELS: [(&str, &str); 5] = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-2024-08-06"),
    ("OpenAI", "GPT-4o-mini"),
    ("anthropic", "claude-sonnet-4"),
    ("anthropic", "not-a-model"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn memo_prices_every_event_as_the_table_does(
        calls in proptest::collection::vec(
            (0..MODELS.len(), 0usize..23, 0u64..400_000, 0u64..5_000, 0..3usize, any::<bool>()),
            1..40,
        )
    ) {
        let tables = [table(DATED), table(RELOADED)];
        let times = times();
        // One memo per identity, as each call identity's label sets hold one.
        let mut memos: Vec<Memo> = MODELS.iter().map(|_| Memo::default()).collect();
        for (m, t, input, output, tier, reload) in calls {
            let (provider, model) = MODELS[m];
            let mut ev = UsageEvent::new(provider, model);
            ev.unix_nanos = times[t % times.len()];
            ev.usage.requests = 1;
            ev.usage.input_tokens = input;
            ev.usage.cached_input_tokens = input / 3;
            ev.usage.output_tokens = output;
            ev.service_tier = [None, Some("batch"), Some("priority")][tier].map(Into::into);
            let table = &tables[usize::from(reload)];
            let want = answer(&cost::price(table, &ev));
            let got = answer(&cost::price_memo(table, &ev, &mut memos[m]));
            prop_assert_eq!(got, want, "{:?} at {}", MODELS[m], ev.unix_nanos);
        }
    }
}

/// The window a resolution holds over contains the event's time, and every time in it resolves
/// to the same entry; its ends are where the answer may change.
#[test]
fn a_resolution_holds_over_its_window() {
    let t = table(DATED);
    for (provider, model) in MODELS {
        for at in times() {
            let at = (at > 0).then_some(at);
            let (r, w) = t.resolve_window(provider, model, at);
            let at = at.unwrap_or(u64::MAX);
            assert!(w.contains(at), "{provider}/{model} {at} {w:?}");
            let index = r.map(|r| r.entry.index);
            for probe in [Some(w.lo), w.hi.map(|h| h - 1)].into_iter().flatten() {
                let again = t.resolve(provider, model, Some(probe));
                assert_eq!(
                    again.map(|r| r.entry.index),
                    index,
                    "{provider}/{model} {probe}"
                );
            }
        }
    }
    // A table not built by `Compiled::new` is never remembered against.
    assert_eq!(Compiled::default().id(), 0);
    assert_ne!(table(DATED).id(), table(DATED).id());
}
