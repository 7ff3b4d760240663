//! The one table of span attribute names that carry model-call usage, for every convention meterd
//! understands, and the single pass over a span's attributes that reads them. Pure.
//!
//! Each row is one usage field with its names in precedence order: the current GenAI conventions
//! first, their older names next, then the neighbouring conventions (OpenLLMetry's legacy names,
//! OpenInference, the Vercel AI SDK) and the provider SDKs' own attributes. A span may carry
//! several conventions at once (Vercel's call spans carry `gen_ai.*` and `ai.*`, OpenLLMetry adds
//! `llm.usage.total_tokens` to `gen_ai.*`): the first name present with a usable value wins, and
//! values are never added across names. README's list of understood attributes is rendered from
//! this table (see `render_markdown` and its test).

use super::super::attrs::{Attribute, Scalar};
use std::borrow::Cow;
use std::sync::LazyLock;

/// A usage field, or a span-kind marker that decides whether a span is a model call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Provider,
    Model,
    Operation,
    Input,
    Output,
    /// Input + output; only used to derive input when no input name is present.
    Total,
    CacheRead,
    /// Cache writes of any duration; the part not reported as 1-hour writes is priced as 5-minute.
    CacheWrite,
    CacheWrite5m,
    CacheWrite1h,
    Reasoning,
    AudioInput,
    AudioOutput,
    ServiceTier,
    ResponseId,
    /// OpenInference `openinference.span.kind`: only LLM and EMBEDDING spans are model calls.
    OpenInferenceKind,
    /// Vercel AI SDK `ai.operationId`: only the inner provider calls (`*.doGenerate`,
    /// `*.doStream`, `*.doEmbed`) are model calls; `ai.generateText` and friends wrap them.
    VercelOperation,
    /// OpenLLMetry `traceloop.span.kind` (workflow, task, agent, tool): never a model call.
    TraceloopKind,
}

const FIELDS: usize = Field::TraceloopKind as usize + 1;

/// Where a name comes from, for README and for value rules tied to one convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convention {
    GenAi,
    GenAiOld,
    OpenLlmetry,
    OpenInference,
    Vercel,
    AnthropicSdk,
    OpenAi,
}

impl Convention {
    pub fn label(self) -> &'static str {
        match self {
            Convention::GenAi => "GenAI",
            Convention::GenAiOld => "GenAI, older name",
            Convention::OpenLlmetry => "OpenLLMetry",
            Convention::OpenInference => "OpenInference",
            Convention::Vercel => "Vercel AI SDK",
            Convention::AnthropicSdk => "Anthropic SDK",
            Convention::OpenAi => "OpenAI extension",
        }
    }
}

pub struct Row {
    pub field: Field,
    /// What the field is, for README.
    pub doc: &'static str,
    /// Attribute names, first present wins.
    pub names: &'static [(&'static str, Convention)],
}

use Convention::{AnthropicSdk, GenAi, GenAiOld, OpenAi, OpenInference, OpenLlmetry, Vercel};

pub const TABLE: &[Row] = &[
    Row {
        field: Field::Provider,
        doc: "provider (Vercel's `openai.chat`-style values become `openai`)",
        names: &[
            ("gen_ai.provider.name", GenAi),
            ("gen_ai.system", GenAiOld),
            ("llm.provider", OpenInference),
            ("llm.system", OpenInference),
            ("ai.model.provider", Vercel),
        ],
    },
    Row {
        field: Field::Model,
        doc: "model (the response's model first: it is the one billed)",
        names: &[
            ("gen_ai.response.model", GenAi),
            ("gen_ai.request.model", GenAi),
            ("llm.response.model", OpenLlmetry),
            ("llm.request.model", OpenLlmetry),
            ("llm.response.model_name", OpenInference),
            ("llm.model_name", OpenInference),
            ("llm.request.model_name", OpenInference),
            ("embedding.model_name", OpenInference),
            ("ai.response.model", Vercel),
            ("ai.model.id", Vercel),
        ],
    },
    Row {
        field: Field::Operation,
        doc: "operation (OpenLLMetry's `completion`/`embedding` become `text_completion`/`embeddings`; \
              without one, an OpenInference LLM span or a Vercel `doGenerate`/`doStream` span is `chat`, \
              an EMBEDDING span or `doEmbed` span is `embeddings`)",
        names: &[
            ("gen_ai.operation.name", GenAi),
            ("llm.request.type", OpenLlmetry),
        ],
    },
    Row {
        field: Field::Input,
        doc: "input tokens (inclusive of cache reads and writes under the GenAI convention)",
        names: &[
            ("gen_ai.usage.input_tokens", GenAi),
            ("gen_ai.usage.prompt_tokens", GenAiOld),
            ("llm.usage.prompt_tokens", OpenLlmetry),
            ("llm.token_count.prompt", OpenInference),
            ("ai.usage.inputTokens", Vercel),
            ("ai.usage.promptTokens", Vercel),
            ("ai.usage.tokens", Vercel),
        ],
    },
    Row {
        field: Field::Output,
        doc: "output tokens (inclusive of reasoning under the GenAI convention)",
        names: &[
            ("gen_ai.usage.output_tokens", GenAi),
            ("gen_ai.usage.completion_tokens", GenAiOld),
            ("llm.usage.completion_tokens", OpenLlmetry),
            ("llm.token_count.completion", OpenInference),
            ("ai.usage.outputTokens", Vercel),
            ("ai.usage.completionTokens", Vercel),
        ],
    },
    Row {
        field: Field::Total,
        doc: "total tokens: input is total minus output when no input name is present",
        names: &[
            ("gen_ai.usage.total_tokens", OpenLlmetry),
            ("llm.usage.total_tokens", OpenLlmetry),
            ("llm.token_count.total", OpenInference),
            ("ai.usage.totalTokens", Vercel),
        ],
    },
    Row {
        field: Field::CacheRead,
        doc: "cache read input tokens",
        names: &[
            ("gen_ai.usage.cache_read.input_tokens", GenAi),
            ("gen_ai.usage.cache_read_input_tokens", OpenLlmetry),
            ("llm.token_count.prompt_details.cache_read", OpenInference),
            ("ai.usage.inputTokenDetails.cacheReadTokens", Vercel),
            ("ai.usage.cachedInputTokens", Vercel),
        ],
    },
    Row {
        field: Field::CacheWrite,
        doc: "cache write input tokens, any duration (5-minute unless split below)",
        names: &[
            ("gen_ai.usage.cache_creation.input_tokens", GenAi),
            ("gen_ai.usage.cache_write.input_tokens", AnthropicSdk),
            ("gen_ai.usage.cache_creation_input_tokens", OpenLlmetry),
            ("llm.token_count.prompt_details.cache_write", OpenInference),
            ("ai.usage.inputTokenDetails.cacheWriteTokens", Vercel),
        ],
    },
    Row {
        field: Field::CacheWrite5m,
        doc: "5-minute cache write input tokens",
        names: &[(
            "anthropic.usage.cache_creation.ephemeral_5m_input_tokens",
            AnthropicSdk,
        )],
    },
    Row {
        field: Field::CacheWrite1h,
        doc: "1-hour cache write input tokens",
        names: &[(
            "anthropic.usage.cache_creation.ephemeral_1h_input_tokens",
            AnthropicSdk,
        )],
    },
    Row {
        field: Field::Reasoning,
        doc: "reasoning (thinking) output tokens",
        names: &[
            ("gen_ai.usage.reasoning.output_tokens", GenAi),
            ("gen_ai.usage.reasoning_tokens", OpenLlmetry),
            ("llm.token_count.completion_details.reasoning", OpenInference),
            ("ai.usage.outputTokenDetails.reasoningTokens", Vercel),
            ("ai.usage.reasoningTokens", Vercel),
        ],
    },
    Row {
        field: Field::AudioInput,
        doc: "audio input tokens",
        names: &[("llm.token_count.prompt_details.audio", OpenInference)],
    },
    Row {
        field: Field::AudioOutput,
        doc: "audio output tokens",
        names: &[("llm.token_count.completion_details.audio", OpenInference)],
    },
    Row {
        field: Field::ServiceTier,
        doc: "service tier (the tier the response was served at first)",
        names: &[
            ("gen_ai.response.service_tier", GenAi),
            ("openai.response.service_tier", OpenAi),
            ("gen_ai.openai.response.service_tier", GenAiOld),
            ("anthropic.response.service_tier", AnthropicSdk),
            ("gen_ai.request.service_tier", GenAi),
            ("openai.request.service_tier", OpenAi),
            ("gen_ai.openai.request.service_tier", GenAiOld),
            ("anthropic.request.service_tier", AnthropicSdk),
        ],
    },
    Row {
        field: Field::ResponseId,
        doc: "response id (the provider's id of the call)",
        names: &[("gen_ai.response.id", GenAi), ("ai.response.id", Vercel)],
    },
    Row {
        field: Field::OpenInferenceKind,
        doc: "span kind: only `LLM` and `EMBEDDING` are model calls (CHAIN, AGENT, TOOL, RETRIEVER, ... wrap them)",
        names: &[("openinference.span.kind", OpenInference)],
    },
    Row {
        field: Field::VercelOperation,
        doc: "span kind: only `*.doGenerate`, `*.doStream`, `*.doEmbed` are model calls (`ai.generateText` and the other wrappers repeat their usage)",
        names: &[("ai.operationId", Vercel)],
    },
    Row {
        field: Field::TraceloopKind,
        doc: "span kind: workflow, task, agent and tool spans are not model calls",
        names: &[("traceloop.span.kind", OpenLlmetry)],
    },
];

/// Counted fields hold integers; the others text.
fn is_count(f: Field) -> bool {
    matches!(
        f,
        Field::Input
            | Field::Output
            | Field::Total
            | Field::CacheRead
            | Field::CacheWrite
            | Field::CacheWrite5m
            | Field::CacheWrite1h
            | Field::Reasoning
            | Field::AudioInput
            | Field::AudioOutput
    )
}

/// Name -> (field, precedence), built once from `TABLE`, by the name's length: a key is compared
/// with the few names of its length (cheaper than hashing it).
/// A convention name, its field and its precedence among the field's names.
type Entry = (&'static str, Field, u8);

static INDEX: LazyLock<Vec<Vec<Entry>>> = LazyLock::new(|| {
    let mut by_len: Vec<Vec<Entry>> = Vec::new();
    for row in TABLE {
        for (rank, (name, _)) in row.names.iter().enumerate() {
            let entry = (*name, row.field, u8::try_from(rank).unwrap_or(u8::MAX));
            if by_len.len() <= name.len() {
                by_len.resize_with(name.len() + 1, Vec::new);
            }
            // Each name is in one row (a test holds the table to that).
            by_len[name.len()].push(entry);
        }
    }
    by_len
});

/// The table's entry for `key`.
fn lookup(key: &str) -> Option<Entry> {
    INDEX
        .get(key.len())?
        .iter()
        .find(|(name, _, _)| *name == key)
        .copied()
}

/// Namespaces that hold usage: any GenAI-like span has a key in one of them. Matched before the
/// table lookup so that ordinary attributes (`http.*`, `team`, ...) are never hashed.
fn may_be_named(key: &str) -> bool {
    let Some(first) = key.as_bytes().first() else {
        return false;
    };
    match first {
        b'g' => key.starts_with("gen_ai."),
        b'l' => key.starts_with("llm."),
        b'a' => key.starts_with("ai.") || key.starts_with("anthropic."),
        b'o' => key.starts_with("openai.") || key.starts_with("openinference."),
        b'e' => key.starts_with("embedding."),
        b't' => key.starts_with("traceloop."),
        _ => false,
    }
}

/// Cheap pre-check: does any attribute use a namespace that carries model-call usage (`gen_ai.`,
/// `llm.`, `ai.`)? No allocation: a non-GenAI span costs one pass over its keys' first bytes.
pub fn is_genai<A: Attribute>(attrs: &[A]) -> bool {
    attrs.iter().any(|kv| {
        let key = kv.key();
        match key.as_bytes().first() {
            Some(b'g') => key.starts_with("gen_ai."),
            Some(b'l') => key.starts_with("llm."),
            Some(b'a') => key.starts_with("ai."),
            _ => false,
        }
    })
}

enum Slot<'a, A> {
    Count(u64),
    /// The attribute itself: its text is only made when asked for.
    Text(&'a A),
}

impl<A> Clone for Slot<'_, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for Slot<'_, A> {}

/// What one pass over an item's attributes (prost's or read in place) found: per field, the
/// best-ranked usable value and the name it came from.
pub struct Found<'a, A> {
    slots: [Option<(u8, &'static str, Slot<'a, A>)>; FIELDS],
}

impl<'a, A: Attribute> Found<'a, A> {
    pub fn read(attrs: &'a [A]) -> Found<'a, A> {
        let mut slots = [None; FIELDS];
        for kv in attrs {
            let key = kv.key();
            if !may_be_named(key) {
                continue;
            }
            let Some((name, field, rank)) = lookup(key) else {
                continue;
            };
            let slot: &mut Option<(u8, &'static str, Slot<'a, A>)> = &mut slots[field as usize];
            if slot.is_some_and(|(r, _, _)| r <= rank) {
                continue;
            }
            let Some(v) = kv.scalar() else {
                continue;
            };
            let value = if is_count(field) {
                match v.count() {
                    Some(n) => Slot::Count(n),
                    None => continue,
                }
            } else {
                if matches!(&v, Scalar::Str(s) if s.is_empty()) {
                    continue;
                }
                Slot::Text(kv)
            };
            *slot = Some((rank, name, value));
        }
        Found { slots }
    }

    pub fn count(&self, f: Field) -> Option<u64> {
        match self.slots[f as usize] {
            Some((_, _, Slot::Count(n))) => Some(n),
            _ => None,
        }
    }

    pub fn text(&self, f: Field) -> Option<Cow<'a, str>> {
        match self.slots[f as usize] {
            Some((_, _, Slot::Text(a))) => a.text().filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    /// The attribute name a field's value came from.
    pub fn source(&self, f: Field) -> Option<&'static str> {
        self.slots[f as usize].map(|(_, name, _)| name)
    }

    pub fn has(&self, f: Field) -> bool {
        self.slots[f as usize].is_some()
    }
}

/// The provider from a Vercel AI SDK provider id (`openai.chat`, `anthropic.messages`,
/// `google.generative-ai`, `amazon-bedrock`, `azure-openai.chat`): the part before the first dot,
/// with the SDK's package names mapped to meterd's provider names.
pub fn vercel_provider(id: &str) -> &str {
    let head = id.split('.').next().unwrap_or(id);
    match head {
        "amazon-bedrock" => "bedrock",
        "azure-openai" => "azure",
        "vertex" | "google-vertex" => "vertex_ai",
        other => other,
    }
}

/// The table as README's list of understood attributes (between the `genai-attributes` markers).
pub fn render_markdown() -> String {
    let mut out = String::from("| usage | attributes, first present wins |\n|---|---|\n");
    for row in TABLE {
        let names: Vec<String> = row
            .names
            .iter()
            .map(|(n, c)| format!("`{n}` ({})", c.label()))
            .collect();
        out.push_str(&format!("| {} | {} |\n", row.doc, names.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests;
