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
