use super::*;
use crate::model::UsageSemantics::{Inclusive, Raw, RawInput, RawOutput};
use Inconsistency::*;

/// (input, output, cached, cache_write_5m, cache_write_1h, reasoning, audio_in, audio_out)
type Tokens = [u64; 8];

fn usage(t: Tokens) -> Usage {
    Usage {
        input_tokens: t[0],
        output_tokens: t[1],
        cached_input_tokens: t[2],
        cache_write_5m_tokens: t[3],
        cache_write_1h_tokens: t[4],
        reasoning_tokens: t[5],
        audio_input_tokens: t[6],
        audio_output_tokens: t[7],
        requests: 1,
        ..Usage::default()
    }
}

struct Case {
    name: &'static str,
    semantics: UsageSemantics,
    whole_call: bool,
    tokens: Tokens,
    /// Inclusive (input, output) expected.
    want: (u64, u64),
    inconsistent: [Option<Inconsistency>; 2],
}

const M: u64 = u64::MAX;

fn cases() -> Vec<Case> {
    let case = |name, semantics, whole_call, tokens, want, inconsistent| Case {
        name,
        semantics,
        whole_call,
        tokens,
        want,
        inconsistent,
    };
    vec![
        case(
            "anthropic raw: input excludes cache reads and writes",
            RawInput,
            true,
            [2000, 1000, 250_000, 1000, 500, 0, 0, 0],
            (253_500, 1000),
            [None, None],
        ),
        case(
            "anthropic raw with fewer cached than fresh tokens: declared, so still added",
            RawInput,
            true,
            [5000, 100, 1000, 0, 0, 0, 0, 0],
            (6000, 100),
            [None, None],
        ),
        case(
            "bedrock converse raw: cacheRead and cacheWrite outside inputTokens",
            RawInput,
            true,
            [500, 40, 1000, 300, 0, 0, 0, 0],
            (1800, 40),
            [None, None],
        ),
        case(
            "gemini raw thinking: candidates exclude thoughts, prompt includes cached content",
            RawOutput,
            true,
            [10_000, 800, 4000, 0, 0, 1200, 0, 0],
            (10_000, 2000),
            [None, None],
        ),
        case(
            "gemini raw thinking smaller than candidates: only a declaration can tell",
            RawOutput,
            true,
            [100, 1000, 0, 0, 0, 500, 0, 0],
            (100, 1500),
            [None, None],
        ),
        case(
            "raw on both sides",
            Raw,
            true,
            [10, 20, 5, 0, 0, 7, 3, 2],
            (18, 29),
            [None, None],
        ),
        case(
            "openai inclusive: unchanged",
            Inclusive,
            true,
            [1200, 300, 200, 0, 0, 100, 0, 0],
            (1200, 300),
            [None, None],
        ),
        case(
            "inconsistent: cache reads exceed input, priced as raw",
            Inclusive,
            true,
            [2000, 1000, 250_000, 0, 0, 0, 0, 0],
            (252_000, 1000),
            [Some(CacheExceedsInput), None],
        ),
        case(
            "inconsistent: reasoning exceeds output",
            Inclusive,
            true,
            [100, 800, 0, 0, 0, 1200, 0, 0],
            (100, 2000),
            [None, Some(ReasoningExceedsOutput)],
        ),
        case(
            "inconsistent: cache and audio together exceed input, each alone does not",
            Inclusive,
            true,
            [100, 50, 60, 0, 0, 30, 60, 30],
            (220, 110),
            [Some(PartsExceedInput), Some(PartsExceedOutput)],
        ),
        case(
            "a span with cache reads and no input: raw",
            Inclusive,
            true,
            [0, 10, 1000, 0, 0, 0, 0, 0],
            (1000, 10),
            [Some(CacheExceedsInput), None],
        ),
        case(
            "a part sent alone (StatsD line, metric point): not raw, not inconsistent",
            Inclusive,
            false,
            [0, 0, 1000, 0, 0, 0, 0, 0],
            (0, 0),
            [None, None],
        ),
        case(
            "a part and a smaller whole in one partial event: inconsistent",
            Inclusive,
            false,
            [50, 0, 100, 0, 0, 0, 0, 0],
            (150, 0),
            [Some(CacheExceedsInput), None],
        ),
        case(
            "a raw part sent alone counts into its whole",
            RawInput,
            false,
            [0, 0, 250_000, 0, 0, 0, 0, 0],
            (250_000, 0),
            [None, None],
        ),
        case(
            "zero parts: nothing to do whatever the semantics",
            Raw,
            true,
            [1000, 500, 0, 0, 0, 0, 0, 0],
            (1000, 500),
            [None, None],
        ),
        case(
            "overflow: raw parts saturate instead of wrapping",
            Raw,
            true,
            [M, M, M, M, M, M, M, M],
            (M, M),
            [None, None],
        ),
        case(
            "overflow: inconsistent parts saturate",
            Inclusive,
            true,
            [5, 1, M, M, 0, M, 0, 0],
            (M, M),
            [Some(CacheExceedsInput), Some(ReasoningExceedsOutput)],
        ),
        case(
            "overflow: an inclusive whole at the maximum holds any parts",
            Inclusive,
            true,
            [M, M, M, 0, 0, M, 0, 0],
            (M, M),
            [None, None],
        ),
    ]
}

#[test]
fn normalization_table() {
    for c in cases() {
        let before = usage(c.tokens);
        let n = normalize(&before, c.semantics, c.whole_call);
        let after = n.usage.clone().unwrap_or_else(|| before.clone());
        assert_eq!(
            (after.input_tokens, after.output_tokens),
            c.want,
            "{}",
            c.name
        );
        assert_eq!(n.inconsistent, c.inconsistent, "{}", c.name);
        // Only the wholes change; a copy is made only when one does.
        assert_eq!(n.usage.is_some(), after != before, "{}", c.name);
        let mut parts_kept = after.clone();
        parts_kept.input_tokens = before.input_tokens;
        parts_kept.output_tokens = before.output_tokens;
        assert_eq!(parts_kept, before, "{}", c.name);
    }
}

#[test]
fn normalized_usage_is_inclusive_and_stays_put() {
    for c in cases() {
        let n = normalize(&usage(c.tokens), c.semantics, c.whole_call);
        let Some(u) = n.usage else { continue };
        // Once inclusive, normalizing again as inclusive changes nothing and finds nothing.
        let again = normalize(&u, Inclusive, c.whole_call);
        assert_eq!(again, Normalized::default(), "{}", c.name);
    }
}

#[test]
fn reasons_are_label_values() {
    for (i, r) in [
        CacheExceedsInput,
        PartsExceedInput,
        ReasoningExceedsOutput,
        PartsExceedOutput,
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            r.reason(),
            [
                "cache_exceeds_input",
                "parts_exceed_input",
                "reasoning_exceeds_output",
                "parts_exceed_output"
            ][i]
        );
    }
}

mod pricing {
    //! The same call priced whichever way its usage arrives, for any token counts.
    use super::super::merge_lines;
    use crate::config::load::load_str;
    use crate::derive::pricing::{cost, Breakdown, Compiled, PricingTable};
    use crate::model::{Usage, UsageEvent, UsageSemantics};
    use proptest::prelude::*;

    const TABLE: &str = r#"
models:
  - provider: anthropic
    model: sonnet
    prices: {input: 3, cache_write_5m: 3.75, cache_write_1h: 6, cached_input: 0.3, output: 15, reasoning: 16}
    tiers:
      - above_input_tokens: 200000
        prices: {input: 6, cache_write_5m: 7.5, cache_write_1h: 12, cached_input: 0.6, output: 22.5}
"#;

    fn total(t: &Compiled, e: &UsageEvent) -> u128 {
        match cost::price(t, e) {
            Breakdown::Priced(p) => p.total,
            Breakdown::UnknownModel => panic!("unknown model"),
        }
    }

    /// A call's raw figures: fresh input, cache reads, 5m and 1h writes, visible output, reasoning.
    fn arb_call() -> impl Strategy<Value = [u64; 6]> {
        [
            0u64..300_000,
            0u64..300_000,
            0u64..50_000,
            0u64..50_000,
            0u64..20_000,
            0u64..20_000,
        ]
    }

    fn event(u: Usage, semantics: UsageSemantics, prompt: u64) -> UsageEvent {
        let mut e = UsageEvent::new("anthropic", "sonnet");
        e.usage = u;
        e.semantics = semantics;
        // StatsD lines carry the prompt in a tag; a span's inclusive input is the same number.
        e.request_input_tokens = Some(prompt);
        e
    }

    proptest! {
        #[test]
        fn raw_declared_raw_lines_and_inclusive_lines_all_price_the_inclusive_call(
            c in arb_call(),
        ) {
            let t: PricingTable = load_str(TABLE, "t.yaml", &|_| None).expect("table");
            let t = Compiled::new(&t);
            let [fresh, read, w5, w1, visible, thinking] = c;
            let prompt = fresh + read + w5 + w1;
            let parts = Usage {
                cached_input_tokens: read,
                cache_write_5m_tokens: w5,
                cache_write_1h_tokens: w1,
                reasoning_tokens: thinking,
                ..Usage::default()
            };
            let inclusive = event(
                Usage { input_tokens: prompt, output_tokens: visible + thinking, ..parts.clone() },
                UsageSemantics::Inclusive,
                prompt,
            );
            let want = total(&t, &inclusive);
            let raw = event(
                Usage { input_tokens: fresh, output_tokens: visible, ..parts },
                UsageSemantics::Raw,
                prompt,
            );
            prop_assert_eq!(total(&t, &raw), want);
            // One dimension per event (StatsD lines), each on its own: raw lines add up exactly.
            let split = |e: &UsageEvent| -> Vec<UsageEvent> {
                let u = &e.usage;
                [
                    Usage { input_tokens: u.input_tokens, ..Usage::default() },
                    Usage { output_tokens: u.output_tokens, ..Usage::default() },
                    Usage { cached_input_tokens: u.cached_input_tokens, ..Usage::default() },
                    Usage { cache_write_5m_tokens: u.cache_write_5m_tokens, ..Usage::default() },
                    Usage { cache_write_1h_tokens: u.cache_write_1h_tokens, ..Usage::default() },
                    Usage { reasoning_tokens: u.reasoning_tokens, ..Usage::default() },
                ]
                .into_iter()
                .filter(|u| !u.is_empty())
                .map(|u| event(u, e.semantics, prompt))
                .collect()
            };
            let raw_lines: u128 = split(&raw).iter().map(|e| total(&t, e)).sum();
            prop_assert_eq!(raw_lines, want);
            // Inclusive lines of one datagram, summed before pricing: exact too.
            let merged = merge_lines(split(&inclusive));
            prop_assert!(merged.len() <= 1);
            let inclusive_lines: u128 = merged.iter().map(|e| total(&t, e)).sum();
            prop_assert_eq!(inclusive_lines, want);
            // Priced one by one they are never billed less than the call.
            let apart: u128 = split(&inclusive).iter().map(|e| total(&t, e)).sum();
            prop_assert!(apart >= want);
        }
    }
}
