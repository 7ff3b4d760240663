//! Hand-computed expectations. Money is femto-USD: $1 = 1e15, and a price of $P per 1M tokens is
//! P * 1e9 femto-USD per token.

use super::compile::{parse_date, strip_version};
use super::cost::{self, Breakdown, Priced};
use super::*;
use crate::config::load::load_str;
use crate::model::{Usage, UsageEvent, UsageSemantics};
use proptest::prelude::*;
use std::sync::Arc;

const TABLE: &str = r#"
service_tiers: {batch: 0.5}
provider_aliases: {gcp.gemini: google}
models:
  - provider: openai
    model: gpt-4o
    prices: {input: 2.50, cached_input: 1.25, output: 10.00}
    effective_from: 2024-10-01
  - provider: openai
    model: gpt-4o
    prices: {input: 5.00, output: 15.00}
    effective_to: 2024-10-01
  - provider: openai
    model: gpt-4o-family
    match: ["gpt-4o*"]
    prices: {input: 100, output: 100}
  - provider: openai
    model: o3
    prices: {input: 2, output: 8, reasoning: 9}
  - provider: openai
    model: whisper-1
    prices: {audio_minute: 0.006}
  - provider: openai
    model: speech-seconds
    prices: {audio_second: 0.0001}
  - provider: openai
    model: tts-1
    prices: {character: 15}
  - provider: openai
    model: dall-e-3
    prices: {image: 0.04}
  - provider: openai
    model: gpt-4o-audio
    prices: {input: 2.5, output: 10, audio_input: 40, audio_output: 80}
  - provider: openai
    model: fine-tunes
    match: ["regex:^ft:"]
    prices: {input: 1, output: 1}
  - provider: acme
    model: per-call
    prices: {request: 0.001, input: 1}
  - provider: anthropic
    model: claude-sonnet-4
    prices: {input: 3, cache_write_5m: 3.75, cache_write_1h: 6, cached_input: 0.3, output: 15}
    tiers:
      - above_input_tokens: 200000
        prices: {input: 6, cache_write_5m: 7.5, cache_write_1h: 12, cached_input: 0.6, output: 22.5}
  - provider: google
    model: gemini-2.5-flash
    prices: {input: 0.30, audio_input: 1.00, output: 2.50}
  - provider: azure
    model: gpt-4o
    prices: {input: 7}
"#;

fn table(yaml: &str) -> Arc<Compiled> {
    let t: PricingTable =
        load_str(yaml, "t.yaml", &|_| None).unwrap_or_else(|e| panic!("table: {e}"));
    Compiled::new(&t)
}

fn errors(yaml: &str) -> String {
    match load_str::<PricingTable>(yaml, "t.yaml", &|_| None) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

fn ev(provider: &str, model: &str, at: &str, f: impl FnOnce(&mut Usage)) -> UsageEvent {
    let mut e = UsageEvent::new(provider, model);
    e.unix_nanos = parse_date(at).expect("date");
    f(&mut e.usage);
    e
}

fn priced<'a>(t: &'a Compiled, e: &UsageEvent) -> Priced<'a> {
    match cost::price(t, e) {
        Breakdown::Priced(p) => p,
        Breakdown::UnknownModel => panic!("{}/{} unknown", e.provider, e.model),
    }
}

fn total(t: &Compiled, e: &UsageEvent) -> u128 {
    priced(t, e).total
}

fn line(p: &Priced<'_>, d: Dim) -> u128 {
    p.lines
        .iter()
        .find(|l| l.dim == d)
        .map(|l| l.femto)
        .unwrap_or_else(|| panic!("no {d:?} line in {:?}", p.lines))
}

const NOW: &str = "2025-01-01";

#[test]
fn chat_call_with_cache_reads_bills_each_part_once() {
    let t = table(TABLE);
    let e = ev("openai", "gpt-4o", NOW, |u| {
        u.input_tokens = 1200;
        u.cached_input_tokens = 200;
        u.output_tokens = 300;
    });
    let p = priced(&t, &e);
    assert_eq!(line(&p, Dim::Input), 1000 * 2_500_000_000);
    assert_eq!(line(&p, Dim::CachedInput), 200 * 1_250_000_000);
    assert_eq!(line(&p, Dim::Output), 300 * 10_000_000_000);
    // $0.0025 + $0.00025 + $0.003
    assert_eq!(p.total, 5_750_000_000_000);
    assert_eq!(decimal::format_usd(p.total), "0.00575");
}

#[test]
fn effective_date_switch_applies_by_event_time() {
    let t = table(TABLE);
    let usage = |u: &mut Usage| {
        u.input_tokens = 1200;
        u.cached_input_tokens = 200;
        u.output_tokens = 300;
    };
    // One nanosecond before the change: old prices, and no cached price (cached bills as input).
    let before = ev("openai", "gpt-4o", "2024-09-30T23:59:59.999999999Z", usage);
    let p = priced(&t, &before);
    assert_eq!(line(&p, Dim::CachedInput), 200 * 5_000_000_000);
    assert_eq!(p.total, 1200 * 5_000_000_000 + 300 * 15_000_000_000);
    let at = ev("openai", "gpt-4o", "2024-10-01T00:00:00Z", usage);
    assert_eq!(total(&t, &at), 5_750_000_000_000);
    // No timestamp: the current, open-ended price.
    let mut none = at.clone();
    none.unix_nanos = 0;
    assert_eq!(total(&t, &none), 5_750_000_000_000);
}

#[test]
fn exact_and_dated_names_beat_globs_and_globs_beat_regexes() {
    let t = table(TABLE);
    let out = |m: &str| {
        let e = ev("openai", m, NOW, |u| u.output_tokens = 1);
        priced(&t, &e).resolution.entry.model.to_string()
    };
    assert_eq!(out("gpt-4o"), "gpt-4o");
    assert_eq!(out("GPT-4o"), "gpt-4o");
    assert_eq!(out("gpt-4o-2024-08-06"), "gpt-4o");
    assert_eq!(out("gpt-4o-mini"), "gpt-4o-family");
    assert_eq!(out("gpt-4o-mini-2024-07-18"), "gpt-4o-family");
    assert_eq!(out("ft:gpt-4o:acme::123"), "fine-tunes");
    assert_eq!(out("o3-2025-04-16"), "o3");
}

#[test]
fn version_suffixes_strip_to_the_family() {
    for (name, family) in [
        ("gpt-4o-2024-08-06", Some("gpt-4o")),
        ("claude-3-5-sonnet-20241022", Some("claude-3-5-sonnet")),
        ("claude-3-5-sonnet@20240620", Some("claude-3-5-sonnet")),
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            Some("anthropic.claude-3-haiku-20240307"),
        ),
        ("gemini-1.5-pro-002", Some("gemini-1.5-pro")),
        ("mistral-large-2411", Some("mistral-large")),
        ("mistral-large-latest", None),
        ("gpt-4o", None),
        ("claude-sonnet-4-5", None),
    ] {
        assert_eq!(strip_version(name), family, "{name}");
    }
}

#[test]
fn providers_scope_matching_and_aliases_apply() {
    let t = table(TABLE);
    let e = ev("azure", "gpt-4o", NOW, |u| u.input_tokens = 1000);
    assert_eq!(total(&t, &e), 1000 * 7_000_000_000);
    let e = ev("mistral", "gpt-4o", NOW, |u| u.input_tokens = 1000);
    assert!(matches!(cost::price(&t, &e), Breakdown::UnknownModel));
    let e = ev("GCP.Gemini", "gemini-2.5-flash", NOW, |u| {
        u.input_tokens = 1000
    });
    assert_eq!(total(&t, &e), 1000 * 300_000_000);
}

#[test]
fn reasoning_is_part_of_output() {
    let t = table(TABLE);
    let e = ev("openai", "o3", NOW, |u| {
        u.output_tokens = 1000;
        u.reasoning_tokens = 600;
    });
    let p = priced(&t, &e);
    assert_eq!(line(&p, Dim::Output), 400 * 8_000_000_000);
    assert_eq!(line(&p, Dim::Reasoning), 600 * 9_000_000_000);
    assert_eq!(p.total, 8_600_000_000_000);
    // Without a reasoning price, reasoning tokens bill at the output rate: 1000 x $10/1M.
    let e = ev("openai", "gpt-4o", NOW, |u| {
        u.output_tokens = 1000;
        u.reasoning_tokens = 600;
    });
    let p = priced(&t, &e);
    assert_eq!(p.total, 10_000_000_000_000);
    assert!(p
        .lines
        .iter()
        .any(|l| l.dim == Dim::Reasoning && l.billed_as == Dim::Output));
}

#[test]
fn cache_writes_and_reads_are_part_of_input() {
    let t = table(TABLE);
    let e = ev("anthropic", "claude-sonnet-4-20250514", NOW, |u| {
        u.input_tokens = 10_000;
        u.cached_input_tokens = 2000;
        u.cache_write_5m_tokens = 1000;
        u.cache_write_1h_tokens = 500;
    });
    let p = priced(&t, &e);
    assert_eq!(line(&p, Dim::Input), 6500 * 3_000_000_000);
    assert_eq!(line(&p, Dim::CachedInput), 2000 * 300_000_000);
    assert_eq!(line(&p, Dim::CacheWrite5m), 1000 * 3_750_000_000);
    assert_eq!(line(&p, Dim::CacheWrite1h), 500 * 6_000_000_000);
    assert_eq!(p.total, 26_850_000_000_000);
    // Parts larger than the whole are raw usage: the whole is fresh input, billed besides them.
    let e = ev("anthropic", "claude-sonnet-4", NOW, |u| {
        u.input_tokens = 50;
        u.cached_input_tokens = 100;
    });
    assert_eq!(total(&t, &e), 50 * 3_000_000_000 + 100 * 300_000_000);
}

/// The reference call of issue #27: Claude Sonnet 4.5, 2k fresh input, 250k cache reads, 1k
/// output. The prompt is 252k, so the long-context tier applies: 2000 x $6 + 250000 x $0.60 +
/// 1000 x $22.50 per 1M = $0.1845, however the usage counts its parts.
#[test]
fn reference_call_prices_alike_inclusive_raw_declared_and_raw_detected() {
    let t = table(TABLE);
    let call = |input: u64, semantics: UsageSemantics| {
        let mut e = ev("anthropic", "claude-sonnet-4", NOW, |u| {
            u.input_tokens = input;
            u.cached_input_tokens = 250_000;
            u.output_tokens = 1000;
            u.requests = 1;
        });
        e.semantics = semantics;
        e
    };
    let want = 184_500_000_000_000;
    for (what, e) in [
        ("inclusive", call(252_000, UsageSemantics::Inclusive)),
        ("declared raw", call(2000, UsageSemantics::RawInput)),
        ("detected raw", call(2000, UsageSemantics::Inclusive)),
    ] {
        let p = priced(&t, &e);
        assert_eq!(p.tier, Some(200_000), "{what}");
        assert_eq!(line(&p, Dim::Input), 2000 * 6_000_000_000, "{what}");
        assert_eq!(line(&p, Dim::CachedInput), 250_000 * 600_000_000, "{what}");
        assert_eq!(p.total, want, "{what}: {}", decimal::format_usd(p.total));
    }
    // Raw StatsD lines (one dimension each, the tier from the request_input_tokens tag) add up
    // to the same figure: a raw cache line is not a part of an input already billed.
    let line_of = |f: fn(&mut Usage)| {
        let mut e = ev("anthropic", "claude-sonnet-4", NOW, f);
        e.semantics = UsageSemantics::RawInput;
        e.request_input_tokens = Some(252_000);
        e
    };
    let lines = [
        line_of(|u| u.input_tokens = 2000),
        line_of(|u| u.cached_input_tokens = 250_000),
        line_of(|u| u.output_tokens = 1000),
    ];
    assert_eq!(lines.iter().map(|e| total(&t, e)).sum::<u128>(), want);
}

#[test]
fn raw_gemini_thinking_bills_thoughts_besides_candidates() {
    let t = table(TABLE);
    // candidates_token_count 300 excludes 700 thinking tokens: 1000 output tokens at $2.50.
    let mut e = ev("google", "gemini-2.5-flash", NOW, |u| {
        u.input_tokens = 100;
        u.output_tokens = 300;
        u.reasoning_tokens = 700;
        u.requests = 1;
    });
    e.semantics = UsageSemantics::RawOutput;
    assert_eq!(total(&t, &e), 100 * 300_000_000 + 1000 * 2_500_000_000);
    // Read as inclusive, 700 of the 300 would be thinking: detected raw, the same figure.
    e.semantics = UsageSemantics::Inclusive;
    assert_eq!(total(&t, &e), 100 * 300_000_000 + 1000 * 2_500_000_000);
}

#[test]
fn parts_sent_alone_bill_only_their_premium_over_the_whole() {
    let t = table(TABLE);
    // StatsD: `input` (the whole, 1000) and `cache_write_5m` (1000 of it) on separate lines.
    let whole = ev("anthropic", "claude-sonnet-4", NOW, |u| {
        u.input_tokens = 1000
    });
    let part = ev("anthropic", "claude-sonnet-4", NOW, |u| {
        u.cache_write_5m_tokens = 1000
    });
    let together = ev("anthropic", "claude-sonnet-4", NOW, |u| {
        u.input_tokens = 1000;
        u.cache_write_5m_tokens = 1000;
    });
    let p = priced(&t, &part);
    assert_eq!(p.lines[0].premium_over, Some(Dim::Input));
    assert_eq!(p.total, 1000 * 750_000_000);
    assert_eq!(total(&t, &whole) + p.total, total(&t, &together));
    // A cache read alone cannot take its discount back from the input already billed: 0, and the
    // pair is billed at most the discount too much, never the cached tokens twice.
    let read = ev("anthropic", "claude-sonnet-4", NOW, |u| {
        u.cached_input_tokens = 1000
    });
    assert_eq!(total(&t, &read), 0);
    // Reasoning alone on a model pricing it above output: 600 x ($9 - $8)/1M.
    let r = ev("openai", "o3", NOW, |u| u.reasoning_tokens = 600);
    assert_eq!(total(&t, &r), 600 * 1_000_000_000);
    // Audio tokens alone on a model with audio prices: premium over text input.
    let a = ev("openai", "gpt-4o-audio", NOW, |u| {
        u.audio_input_tokens = 100
    });
    assert_eq!(total(&t, &a), 100 * 37_500_000_000);
    // Batch multiplies both rates before the difference: (3.75 - 3) x 0.5 per 1M.
    let mut b = part.clone();
    b.service_tier = Some("batch".into());
    assert_eq!(total(&t, &b), 1000 * 375_000_000);
}

#[test]
fn tier_boundary_is_exclusive() {
    let t = table(TABLE);
    let at = |n: u64| {
        let mut e = ev("anthropic", "claude-sonnet-4", NOW, |u| {
            u.input_tokens = n;
            u.output_tokens = 10;
        });
        e.request_input_tokens = Some(n);
        e
    };
    let p = priced(&t, &at(200_000));
    assert_eq!(p.tier, None);
    assert_eq!(p.total, 200_000 * 3_000_000_000 + 10 * 15_000_000_000);
    let p = priced(&t, &at(200_001));
    assert_eq!(p.tier, Some(200_000));
    assert_eq!(p.total, 200_001 * 6_000_000_000 + 10 * 22_500_000_000);
    // A whole-request event (a span) selects the tier by its own input; a StatsD-like line without
    // request_input_tokens stays at the base tier.
    let mut span = ev("anthropic", "claude-sonnet-4", NOW, |u| {
        u.input_tokens = 300_000;
        u.requests = 1;
    });
    assert_eq!(total(&t, &span), 300_000 * 6_000_000_000);
    span.usage.requests = 0;
    assert_eq!(total(&t, &span), 300_000 * 3_000_000_000);
}

#[test]
fn audio_per_minute_and_per_second() {
    let t = table(TABLE);
    // 63 s of whisper at $0.006/min = $0.0063.
    let e = ev("openai", "whisper-1", NOW, |u| u.audio_millis = 63_000);
    let p = priced(&t, &e);
    assert_eq!(p.total, 6_300_000_000_000);
    assert_eq!(p.lines[0].dim, Dim::AudioMinute);
    // 2.5 s at $0.0001/s = $0.00025.
    let e = ev("openai", "speech-seconds", NOW, |u| u.audio_millis = 2500);
    assert_eq!(total(&t, &e), 250_000_000_000);
}

#[test]
fn audio_tokens_characters_images_and_requests() {
    let t = table(TABLE);
    let e = ev("openai", "gpt-4o-audio", NOW, |u| {
        u.input_tokens = 1000;
        u.audio_input_tokens = 400;
        u.output_tokens = 500;
        u.audio_output_tokens = 200;
    });
    let p = priced(&t, &e);
    assert_eq!(line(&p, Dim::Input), 600 * 2_500_000_000);
    assert_eq!(line(&p, Dim::AudioInput), 400 * 40_000_000_000);
    assert_eq!(line(&p, Dim::Output), 300 * 10_000_000_000);
    assert_eq!(line(&p, Dim::AudioOutput), 200 * 80_000_000_000);
    // 2000 characters of TTS at $15 per 1M characters = $0.03.
    let e = ev("openai", "tts-1", NOW, |u| u.characters = 2000);
    assert_eq!(total(&t, &e), 30_000_000_000_000);
    // Three images at $0.04 = $0.12.
    let e = ev("openai", "dall-e-3", NOW, |u| u.images = 3);
    assert_eq!(total(&t, &e), 120_000_000_000_000);
    // Two requests at $0.001 plus 1000 tokens at $1/1M.
    let e = ev("acme", "per-call", NOW, |u| {
        u.requests = 2;
        u.input_tokens = 1000;
    });
    let p = priced(&t, &e);
    assert_eq!(line(&p, Dim::Request), 2_000_000_000_000);
    assert_eq!(p.total, 3_000_000_000_000);
    // A model without a request price has no per-request fee (not "unpriced").
    let e = ev("openai", "gpt-4o", NOW, |u| u.requests = 1);
    let p = priced(&t, &e);
    assert_eq!((p.total, p.unpriced.len()), (0, 0));
}

#[test]
fn usage_without_a_price_is_unpriced_not_free() {
    let t = table(TABLE);
    let e = ev("openai", "gpt-4o", NOW, |u| {
        u.input_tokens = 100;
        u.images = 1;
        u.audio_input_tokens = 50;
    });
    let p = priced(&t, &e);
    assert_eq!(p.unpriced, vec![Dim::AudioInput, Dim::Image]);
    assert_eq!(p.total, 50 * 2_500_000_000);
}

#[test]
fn service_tier_multiplies_rates() {
    let t = table(TABLE);
    let mut e = ev("openai", "gpt-4o", NOW, |u| u.input_tokens = 1000);
    e.service_tier = Some("Batch".into());
    assert_eq!(total(&t, &e), 1000 * 1_250_000_000);
    e.service_tier = Some("default".into());
    assert_eq!(total(&t, &e), 1000 * 2_500_000_000);
}

#[test]
fn weights_scale_exactly_when_integral() {
    assert_eq!(cost::weighted(7, 1.0), Ok(7));
    assert_eq!(cost::weighted(7, 4.0), Ok(28));
    assert_eq!(cost::weighted(10, 2.5), Ok(25));
    assert_eq!(cost::weighted(10, -1.0), Ok(0));
    assert_eq!(cost::weighted(10, f64::NAN), Ok(10));
    // Issue 17 item 2: past u128 the amount is refused, not saturated.
    assert_eq!(cost::weighted(u128::MAX / 2, 4.0), Err(cost::MoneyOverflow));
    assert_eq!(cost::weighted(u128::MAX / 2, 2.5), Err(cost::MoneyOverflow));
}

#[test]
fn validation_reports_every_problem_with_its_key() {
    let text = errors(
        "service_tiers: {batch: -1}\nmodels:\n  - provider: openai\n    model: a\n    prices: {input: -1, inptu: 2, output: 0.0000000001}\n  - provider: openai\n    model: b\n    prices: {audio_minute: 1, audio_second: 1}\n    tiers: [{above_input_tokens: 0, prices: {input: 1}}]\n    effective_from: 2025-02-01\n    effective_to: 2025-01-01\n  - provider: ''\n    model: c\n    match: ['regex:(']\n    prices: {}\n",
    );
    for needle in [
        "t.yaml:1:17: service_tiers.batch: multiplier -1 is negative",
        "t.yaml:5:14: models[0].prices.input: -1 is negative",
        "models[0].prices.inptu: unknown price dimension `inptu`",
        "models[0].prices.output: 0.0000000001 per 1M tokens has more than 9 decimal places",
        "models[1].prices.audio_second: set either audio_minute or audio_second",
        "models[1].tiers[0].above_input_tokens: must be greater than 0",
        "models[1].tiers[0].prices.input: `input` has a tier price but no base price",
        "models[1].effective_to: must be after effective_from",
        "models[2].provider: provider is required",
        "models[2].match[0]: invalid regex",
        "models[2].prices: no prices",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn ambiguous_overlapping_and_shadowed_entries_are_reported() {
    let text = errors(
        "models:\n  - {provider: openai, model: a, match: [x-1], prices: {input: 1}}\n  - {provider: openai, model: b, match: [X-1], prices: {input: 2}}\n",
    );
    assert!(text.contains("t.yaml:3:"), "{text}");
    assert!(
        text.contains("models[1].match: ambiguous: `x-1` matches this entry and models[0]"),
        "{text}"
    );

    let text = errors(
        "models:\n  - {provider: openai, model: a, prices: {input: 1}, effective_to: 2025-03-01}\n  - {provider: openai, model: a, prices: {input: 2}, effective_from: 2025-02-01}\n",
    );
    assert!(
        text.contains("models[1].effective_from: effective dates overlap models[0]"),
        "{text}"
    );

    let text = errors(
        "models:\n  - {provider: openai, model: wide, match: ['gpt-4o*'], prices: {input: 1}}\n  - {provider: openai, model: narrow, match: [gpt-4o, gpt-4ox9], prices: {input: 2}}\n",
    );
    assert!(text.contains("models[0].match: shadowed"), "{text}");

    // Consecutive dated versions, other providers, and globs of different specificity are fine.
    assert_eq!(
        errors("models:\n  - {provider: openai, model: a, prices: {input: 1}, effective_to: 2025-03-01}\n  - {provider: openai, model: a, prices: {input: 2}, effective_from: 2025-03-01}\n  - {provider: azure, model: a, prices: {input: 2}}\n  - {provider: openai, model: g, match: ['a*'], prices: {input: 3}}\n  - {provider: openai, model: h, match: ['ab*'], prices: {input: 3}}\n"),
        ""
    );
    assert_eq!(errors(TABLE), "");
}

#[test]
fn layering_replaces_by_provider_and_model_and_later_layer_wins_ties() {
    let base: PricingTable = load_str(TABLE, "base.yaml", &|_| None).expect("base");
    let top: PricingTable = load_str(
        "service_tiers: {flex: 0.5}\nmodels:\n  - {provider: openai, model: gpt-4o, prices: {input: 1}}\n  - {provider: openai, model: internal, match: [o3], prices: {input: 4}}\n",
        "top.yaml",
        &|_| None,
    )
    .expect("top");
    let merged = base.layer(top);
    // Both dated gpt-4o versions were replaced by the single override.
    assert_eq!(
        merged
            .models
            .iter()
            .filter(|m| m.model == "gpt-4o" && m.provider == "openai")
            .count(),
        1
    );
    let t = Compiled::new(&merged);
    let e = ev("openai", "gpt-4o", "2024-01-01", |u| u.input_tokens = 1000);
    assert_eq!(total(&t, &e), 1000 * 1_000_000_000);
    let e = ev("openai", "o3", NOW, |u| u.input_tokens = 1000);
    assert_eq!(priced(&t, &e).resolution.entry.model.as_ref(), "internal");
    let mut issues = crate::config::Issues::default();
    crate::config::Validate::validate(&merged, "", &mut issues);
    assert!(issues.is_empty(), "{issues}");
}

#[test]
fn shipped_table_loads_unambiguous_and_prices_its_models() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/pricing.yaml");
    let table = crate::config::load::load_pricing(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(table.models.len() >= 40, "{}", table.models.len());
    let t = Compiled::new(&table);
    for m in &table.models {
        assert!(
            m.source
                .as_deref()
                .is_some_and(|s| s.starts_with("https://")),
            "{} has no source",
            m.model
        );
        let checked = m.checked.as_deref().unwrap_or("");
        assert!(
            checked.starts_with("as published 20")
                || checked.starts_with("2026-")
                || checked.starts_with("litellm 1."),
            "{}: checked {checked:?}",
            m.model
        );
        // Each entry prices its own name (or its first pattern) for its main dimensions.
        let name = match m.patterns.first() {
            Some(p) if p.starts_with("regex:") => format!("us.{}-20241022-v1:0", m.model),
            Some(p) => p.clone(),
            None => m.model.clone(),
        };
        let at = m.effective_from.as_deref().unwrap_or("2025-01-01");
        let e = ev(&m.provider, &name, at, |u| {
            u.input_tokens = u64::from(m.prices.contains_key("input")) * 1000;
            u.output_tokens = u64::from(m.prices.contains_key("output")) * 1000;
            u.audio_millis = u64::from(
                m.prices.contains_key("audio_minute") || m.prices.contains_key("audio_second"),
            ) * 60_000;
            u.audio_input_tokens = u64::from(m.prices.contains_key("audio_input")) * 100;
            u.input_tokens += u.audio_input_tokens;
            u.characters = u64::from(m.prices.contains_key("character")) * 1000;
            u.images = u64::from(m.prices.contains_key("image"));
        });
        let p = priced(&t, &e);
        // A hand-kept entry of the top layer may take a generated entry's name on purpose.
        assert!(
            p.resolution.entry.model.as_ref() == m.model
                || p.resolution.entry.layer > m.origin.layer,
            "{name} resolved to {}",
            p.resolution.entry.model
        );
        assert!(p.unpriced.is_empty() && p.total > 0, "{name}: {p:?}");
    }
    // Names apps really send resolve to their family.
    for (provider, model, want) in [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("openai", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"),
        ("openai", "gpt-5-2025-08-07", "gpt-5-2025-08-07"),
        ("openai", "chatgpt-4o-latest", "chatgpt-4o-latest"),
        (
            "openai",
            "gpt-4o-realtime-preview-2024-12-17",
            "gpt-4o-realtime-preview",
        ),
        ("openai", "gpt-4o-audio-preview", "gpt-4o-audio-preview"),
        (
            "anthropic",
            "claude-sonnet-4-5-20250929",
            "claude-sonnet-4-5",
        ),
        ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("anthropic", "claude-3-7-sonnet-latest", "claude-3-5-sonnet"),
        ("anthropic", "claude-opus-4-1-20250805", "claude-opus-4"),
        ("gcp.gemini", "gemini-2.5-pro", "gemini-2.5-pro"),
        ("gcp.vertex_ai", "gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("mistral_ai", "mistral-large-2411", "mistral-large"),
        ("mistral_ai", "mistral-large-2512", "mistral-large-2512"),
        (
            "aws.bedrock",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        ),
        (
            "aws.bedrock",
            "apac.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
        ),
        ("azure.ai.openai", "gpt-4o", "gpt-4o"),
    ] {
        let e = ev(provider, model, "2025-09-01", |u| u.input_tokens = 1);
        assert_eq!(
            priced(&t, &e).resolution.entry.model.as_ref(),
            want,
            "{provider}/{model}"
        );
    }
    // The documented example: gpt-4o, 1200 input of which 200 cached, 300 output = $0.00575.
    let e = ev("openai", "gpt-4o", "2025-09-01", |u| {
        u.input_tokens = 1200;
        u.cached_input_tokens = 200;
        u.output_tokens = 300;
    });
    assert_eq!(total(&t, &e), 5_750_000_000_000);
}

fn arb_usage() -> impl Strategy<Value = Usage> {
    (
        (
            0u64..1_000_000,
            0u64..1_000_000,
            0u64..100_000,
            0u64..100_000,
            0u64..100_000,
        ),
        (0u64..1_000_000, 0u64..1_000_000, 0u64..100_000),
        (0u64..10_000_000, 0u64..100_000, 0u64..100, 0u64..10),
    )
        .prop_map(|((a, b, c, d, e), (f, g, h), (i, j, k, l))| Usage {
            cached_input_tokens: b,
            cache_write_5m_tokens: c,
            cache_write_1h_tokens: d,
            audio_input_tokens: e,
            // Consistent with the inclusion rule: the parts are inside the whole.
            input_tokens: a + b + c + d + e,
            reasoning_tokens: g,
            audio_output_tokens: h,
            output_tokens: f + g + h,
            audio_millis: i,
            characters: j,
            images: k,
            requests: l,
        })
}

fn add(a: &Usage, b: &Usage) -> Usage {
    Usage {
        input_tokens: a.input_tokens + b.input_tokens,
        output_tokens: a.output_tokens + b.output_tokens,
        cached_input_tokens: a.cached_input_tokens + b.cached_input_tokens,
        cache_write_5m_tokens: a.cache_write_5m_tokens + b.cache_write_5m_tokens,
        cache_write_1h_tokens: a.cache_write_1h_tokens + b.cache_write_1h_tokens,
        reasoning_tokens: a.reasoning_tokens + b.reasoning_tokens,
        audio_input_tokens: a.audio_input_tokens + b.audio_input_tokens,
        audio_output_tokens: a.audio_output_tokens + b.audio_output_tokens,
        audio_millis: a.audio_millis + b.audio_millis,
        characters: a.characters + b.characters,
        images: a.images + b.images,
        requests: a.requests + b.requests,
    }
}

proptest! {
    #[test]
    fn pricing_is_exactly_additive(
        a in arb_usage(),
        b in arb_usage(),
        model in prop::sample::select(vec![
            ("openai", "gpt-4o"), ("openai", "o3"), ("openai", "whisper-1"), ("openai", "gpt-4o-audio"),
            ("anthropic", "claude-sonnet-4"), ("acme", "per-call"), ("openai", "tts-1"),
        ]),
        // The parts of a split request carry the request's size (StatsD: the tag on every line).
        request_input in (0u64..400_000).prop_map(Some),
        batch in any::<bool>(),
    ) {
        let t = table(TABLE);
        let mk = |u: &Usage| {
            let mut e = ev(model.0, model.1, NOW, |x| *x = u.clone());
            e.request_input_tokens = request_input;
            e.service_tier = batch.then(|| "batch".into());
            e
        };
        let (pa, pb, pw) = (priced(&t, &mk(&a)), priced(&t, &mk(&b)), priced(&t, &mk(&add(&a, &b))));
        prop_assert_eq!(pa.total + pb.total, pw.total);
        for d in Dim::ALL {
            let get = |p: &Priced<'_>| p.lines.iter().filter(|l| l.dim == d).map(|l| l.femto).sum::<u128>();
            prop_assert_eq!(get(&pa) + get(&pb), get(&pw), "{:?}", d);
        }
        // Cost is never below the cheapest rate x quantity: nothing is dropped silently.
        prop_assert!(pw.lines.iter().all(|l| l.femto == l.rate * u128::from(l.quantity)));
    }

    #[test]
    fn any_name_and_usage_prices_without_panicking(
        provider in "[a-zA-Z.]{0,12}",
        model in "[ -~]{0,40}",
        u in arb_usage(),
        at in any::<u64>(),
    ) {
        let t = table(TABLE);
        let mut e = ev("x", "y", NOW, |x| *x = u);
        e.provider = provider.into();
        e.model = model.into();
        e.unix_nanos = at;
        let _ = cost::price(&t, &e);
    }

    #[test]
    fn decimal_text_round_trips_exactly(whole in 0u64..1_000_000, frac in 0u64..1_000_000_000) {
        let text = format!("{whole}.{frac:09}");
        let femto = Amount::new(&text).scaled().expect("decimal");
        prop_assert_eq!(femto, i128::from(whole) * 1_000_000_000_000_000 + i128::from(frac) * 1_000_000);
        prop_assert!(femto >= 0);
    }
}
