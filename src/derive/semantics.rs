//! Token semantics: every usage event is made *inclusive* (the GenAI conventions) before it is
//! priced, counted in `llm_tokens_total` or used to pick a long-context tier. Pure.
//!
//! Inclusive usage counts cache reads, cache writes and audio input inside `input_tokens`, and
//! reasoning and audio output inside `output_tokens`. A provider's *raw* usage object does not:
//! Anthropic's and Bedrock Converse's input excludes cache reads and writes, Gemini's candidates
//! exclude thinking. A raw whole is made inclusive by adding its parts to it, so each token is
//! billed once, at its own rate, and the input size that picks a tier is the whole prompt.
//!
//! Which events are raw:
//! - declared: the source is configured raw ([`UsageSemantics`], set at the edges);
//! - detected: an inclusive whole cannot be smaller than its parts, so usage whose parts exceed
//!   its whole is raw. That is *inconsistent* with the declared semantics and is reported (the
//!   caller counts `meterd_usage_inconsistent_total{provider,reason}`). A whole of zero is only
//!   inconsistent for an event that stands for a whole call (`requests > 0`: a span); a StatsD
//!   line or a metric point carrying one part alone is the "parts sent alone" case of
//!   [`crate::derive::pricing::cost`], not raw usage.

mod merge;

pub use merge::merge_lines;

use crate::model::{Usage, UsageSemantics};

/// Why usage was found inconsistent: the `reason` label of `meterd_usage_inconsistent_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inconsistency {
    /// Cache reads and writes alone exceed input.
    CacheExceedsInput,
    /// Cache and audio input tokens together exceed input.
    PartsExceedInput,
    /// Reasoning tokens alone exceed output.
    ReasoningExceedsOutput,
    /// Reasoning and audio output tokens together exceed output.
    PartsExceedOutput,
}

impl Inconsistency {
    pub fn reason(self) -> &'static str {
        match self {
            Inconsistency::CacheExceedsInput => "cache_exceeds_input",
            Inconsistency::PartsExceedInput => "parts_exceed_input",
            Inconsistency::ReasoningExceedsOutput => "reasoning_exceeds_output",
            Inconsistency::PartsExceedOutput => "parts_exceed_output",
        }
    }
}

/// The inclusive form of one event's usage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Normalized {
    /// `None` when the usage was inclusive already (the common case: nothing to copy).
    pub usage: Option<Usage>,
    /// At most one per side (input, output).
    pub inconsistent: [Option<Inconsistency>; 2],
}

/// Makes `usage` inclusive. `whole_call`: the event stands for a whole call (`requests > 0`), so
/// a zero whole beside nonzero parts is raw usage rather than a part sent alone.
pub fn normalize(usage: &Usage, semantics: UsageSemantics, whole_call: bool) -> Normalized {
    let cache = usage
        .cached_input_tokens
        .saturating_add(usage.cache_write_5m_tokens)
        .saturating_add(usage.cache_write_1h_tokens);
    let input_parts = cache.saturating_add(usage.audio_input_tokens);
    let output_parts = usage
        .reasoning_tokens
        .saturating_add(usage.audio_output_tokens);
    let input = side(
        usage.input_tokens,
        input_parts,
        semantics.raw_input(),
        whole_call,
        if cache > usage.input_tokens {
            Inconsistency::CacheExceedsInput
        } else {
            Inconsistency::PartsExceedInput
        },
    );
    let output = side(
        usage.output_tokens,
        output_parts,
        semantics.raw_output(),
        whole_call,
        if usage.reasoning_tokens > usage.output_tokens {
            Inconsistency::ReasoningExceedsOutput
        } else {
            Inconsistency::PartsExceedOutput
        },
    );
    let mut out = Normalized {
        usage: None,
        inconsistent: [input.1, output.1],
    };
    if input.0 != usage.input_tokens || output.0 != usage.output_tokens {
        let mut u = usage.clone();
        u.input_tokens = input.0;
        u.output_tokens = output.0;
        out.usage = Some(u);
    }
    out
}

/// One side (input or output): the inclusive whole, and the inconsistency found, if any.
fn side(
    whole: u64,
    parts: u64,
    declared_raw: bool,
    whole_call: bool,
    why: Inconsistency,
) -> (u64, Option<Inconsistency>) {
    if parts == 0 {
        return (whole, None);
    }
    if declared_raw {
        return (whole.saturating_add(parts), None);
    }
    if parts > whole && (whole > 0 || whole_call) {
        return (whole.saturating_add(parts), Some(why));
    }
    (whole, None)
}

#[cfg(test)]
mod tests;
