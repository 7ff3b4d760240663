//! GenAI spans -> usage events. Pure.
//!
//! Every convention that carries model-call usage on spans is read through one table
//! ([`conventions::TABLE`]): the GenAI semantic conventions (new names first, older ones as
//! fallback), OpenLLMetry's legacy names, OpenInference and the Vercel AI SDK, plus the provider
//! SDKs' own attributes. The response model is preferred to the requested one: it is the model
//! that was billed. Spans that wrap model calls are skipped: GenAI agent, workflow and tool
//! operations, OpenInference CHAIN/AGENT/TOOL/RETRIEVER/... spans, OpenLLMetry workflow/task
//! spans and the Vercel AI SDK's `ai.generateText`-style wrappers. Their tokens, when present,
//! aggregate the model calls beneath them, which are counted from their own spans.

pub mod conventions;
mod reader;

pub use reader::SpanReader;

pub use super::usage_metrics::{
    histogram_usage_value, usage_metric, StreamsFull, UsageMetric, UsagePoint, UsageStreams,
};
pub use conventions::is_genai;

use super::attrs::{first_str, get_str, hex_id, Attribute};
use super::spans::SpanData;
use crate::model::{CallStatus, Labels, Usage, UsageEvent, UsageSemantics};
use conventions::{vercel_provider, Field, Found};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// GenAI operations that wrap model calls rather than being one.
const NOT_MODEL_CALLS: &[&str] = &[
    "invoke_agent",
    "create_agent",
    "execute_tool",
    "invoke_workflow",
];

/// Where `service` is read from.
pub(super) const SERVICE_KEYS: &[&str] = &["service.name"];
/// Where `env` is read from, the first found.
pub(super) const ENV_KEYS: &[&str] = &["deployment.environment.name", "deployment.environment"];

/// A scope label [`assemble_scope`] asks its caller for.
pub(super) enum ScopeKey {
    Service,
    Env,
    /// The configured label at this position.
    Configured(usize),
}

/// The scope label set from the values `find` gives (span before resource, as each caller reads
/// them): `service`, `env`, then each configured label in order, skipping one already set (a
/// configured `env` or `service`, a repeat). The one statement of these rules for every reader.
pub(super) fn assemble_scope<'v>(
    configured: &[String],
    mut find: impl FnMut(ScopeKey) -> Option<Cow<'v, str>>,
) -> Labels {
    let mut pairs: Vec<(&str, Cow<'v, str>)> = Vec::with_capacity(configured.len() + 2);
    if let Some(s) = find(ScopeKey::Service) {
        pairs.push(("service", s));
    }
    if let Some(e) = find(ScopeKey::Env) {
        pairs.push(("env", e));
    }
    for (i, label) in configured.iter().enumerate() {
        if pairs.iter().any(|(k, _)| k == label) {
            continue;
        }
        if let Some(v) = find(ScopeKey::Configured(i)) {
            pairs.push((label, v));
        }
    }
    Labels::shared(pairs.iter().map(|(k, v)| (*k, &**v)))
}

/// Scope labels for a GenAI signal: `service` from `service.name`, `env` from
/// `deployment.environment[.name]`, and any configured scope label found under its own name on the
/// item (span, record, point) or, failing that, on the resource.
pub fn scope_labels<A: Attribute>(
    resource: &[KeyValue],
    attrs: &[A],
    configured: &[String],
) -> Labels {
    let find = |keys: &[&str]| first_str(attrs, keys).or_else(|| first_str(resource, keys));
    assemble_scope(configured, |key| match key {
        ScopeKey::Service => find(SERVICE_KEYS),
        ScopeKey::Env => find(ENV_KEYS),
        ScopeKey::Configured(i) => {
            let label = configured.get(i)?;
            get_str(attrs, label).or_else(|| get_str(resource, label))
        }
    })
}

/// Provider, model and operation of a GenAI item, as a [`UsageEvent`] holds them.
pub fn identity<A: Attribute>(attrs: &[A]) -> (Arc<str>, Arc<str>, Arc<str>) {
    let found = Found::read(attrs);
    let (provider, model, op) = call_identity(&found);
    (
        Arc::from(provider.as_deref().unwrap_or("unknown")),
        Arc::from(model.as_deref().unwrap_or("unknown")),
        Arc::from(op.as_deref().unwrap_or("")),
    )
}

/// Provider, model and operation, each when present.
type Identity<'a> = (
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
);

/// Provider, model and operation as the table gives them, with each convention's value rules.
fn call_identity<'a, A: Attribute>(f: &Found<'a, A>) -> Identity<'a> {
    let vercel =
        f.has(Field::VercelOperation) || f.source(Field::Provider) == Some("ai.model.provider");
    let provider = f.text(Field::Provider).map(|p| {
        if vercel {
            match p {
                Cow::Borrowed(b) => Cow::Borrowed(vercel_provider(b)),
                Cow::Owned(o) => Cow::Owned(vercel_provider(&o).to_owned()),
            }
        } else {
            p
        }
    });
    let op = match (f.text(Field::Operation), f.source(Field::Operation)) {
        (Some(o), Some("llm.request.type")) => Some(Cow::Borrowed(match &*o {
            "completion" => "text_completion",
            "embedding" => "embeddings",
            "chat" => "chat",
            "rerank" => "rerank",
            _ => "",
        }))
        .filter(|o| !o.is_empty())
        .or(Some(o)),
        (Some(o), _) => Some(o),
        (None, _) => implied_operation(f).map(Cow::Borrowed),
    };
    (provider, f.text(Field::Model), op)
}

/// The operation a span kind implies when no operation attribute names it.
fn implied_operation<A: Attribute>(f: &Found<'_, A>) -> Option<&'static str> {
    if let Some(kind) = f.text(Field::OpenInferenceKind) {
        return match &*kind {
            "LLM" => Some("chat"),
            "EMBEDDING" => Some("embeddings"),
            _ => None,
        };
    }
    let op = f.text(Field::VercelOperation)?;
    if op.ends_with(".doEmbed") {
        Some("embeddings")
    } else if op.ends_with(".doGenerate") || op.ends_with(".doStream") {
        Some("chat")
    } else {
        None
    }
}

/// Whether the span's kind, in any convention that marks it, says it wraps model calls.
fn wraps_model_calls<A: Attribute>(f: &Found<'_, A>) -> bool {
    if f.has(Field::TraceloopKind) {
        return true;
    }
    if let Some(kind) = f.text(Field::OpenInferenceKind) {
        if !matches!(&*kind, "LLM" | "EMBEDDING") {
            return true;
        }
    }
    if let Some(op) = f.text(Field::VercelOperation) {
        if ![".doGenerate", ".doStream", ".doEmbed"]
            .iter()
            .any(|s| op.ends_with(s))
        {
            return true;
        }
    }
    f.text(Field::Operation)
        .is_some_and(|o| NOT_MODEL_CALLS.contains(&&*o))
}

/// The provider's id of the call (`gen_ai.response.id`, Vercel's `ai.response.id`), which names
/// one call across emitters.
pub fn response_id<A: Attribute>(attrs: &[A]) -> Option<Cow<'_, str>> {
    Found::read(attrs).text(Field::ResponseId)
}

/// The adjusted count of a span sampled with the OTel probability-sampling threshold
/// (`tracestate: ot=th:<hex>`): 1 / (1 - threshold / 2^56). 1 when absent or unparsable.
pub fn sampling_weight(trace_state: &str) -> f64 {
    // Nearly every span: no trace state, nothing to split.
    if trace_state.is_empty() {
        return 1.0;
    }
    let ot = trace_state
        .split(',')
        .filter_map(|member| member.trim().split_once('='))
        .find(|(k, _)| *k == "ot")
        .map(|(_, v)| v);
    let Some(th) = ot.and_then(|v| {
        v.split(';')
            .filter_map(|kv| kv.split_once(':'))
            .find(|(k, _)| *k == "th")
            .map(|(_, v)| v)
    }) else {
        return 1.0;
    };
    if th.is_empty() || th.len() > 14 || !th.chars().all(|c| c.is_ascii_hexdigit()) {
        return 1.0;
    }
    // Trailing zeros may be omitted: the threshold is the 14-digit value padded on the right.
    let Ok(t) = u64::from_str_radix(&format!("{th:0<14}"), 16) else {
        return 1.0;
    };
    let p = 1.0 - (t as f64) / (1u64 << 56) as f64;
    if p > 0.0 {
        1.0 / p
    } else {
        1.0
    }
}

/// A usage event from one span, or `None` when the span is not a model call: it wraps model calls
/// (see [`wraps_model_calls`]), or it names neither usage nor an operation on a model (the
/// Anthropic SDK's `count_tokens` span has a model and no usage: it is free).
pub fn span_usage<S: SpanData>(
    resource: &[KeyValue],
    span: &S,
    configured: &[String],
) -> Option<UsageEvent> {
    usage_event(
        span,
        &mut (),
        |_, a| scope_labels(resource, a, configured),
        |_, s| Arc::from(s),
    )
}

/// [`span_usage`] with its scope labels and names made by the caller (see [`SpanReader`]).
fn usage_event<S: SpanData, C>(
    span: &S,
    ctx: &mut C,
    scope: impl FnOnce(&mut C, &[S::Attr]) -> Labels,
    mut name: impl FnMut(&mut C, &str) -> Arc<str>,
) -> Option<UsageEvent> {
    let a = span.attributes();
    if !is_genai(a) {
        return None;
    }
    let f = Found::read(a);
    if wraps_model_calls(&f) {
        return None;
    }
    let input = f.count(Field::Input);
    let output = f.count(Field::Output);
    let total = f.count(Field::Total);
    let (provider, model, operation) = call_identity(&f);
    let has_usage = input.is_some() || output.is_some() || total.is_some();
    if !has_usage && (model.is_none() || operation.is_none()) {
        return None;
    }
    let (start, end) = (span.start_time_unix_nano(), span.end_time_unix_nano());
    // Every field set here: `..UsageEvent::new(..)` would build (and drop) an empty label set.
    let mut ev = UsageEvent {
        unix_nanos: end,
        provider: name(ctx, provider.as_deref().unwrap_or("unknown")),
        model: name(ctx, model.as_deref().unwrap_or("unknown")),
        operation: name(ctx, operation.as_deref().unwrap_or("")),
        scope: scope(ctx, a),
        usage: Usage::default(),
        semantics: UsageSemantics::Inclusive,
        status: None,
        error_type: None,
        duration: None,
        time_to_first_token: None,
        service_tier: None,
        request_input_tokens: None,
        weight: 1.0,
        trace_id: None,
    };
    ev.usage.requests = 1;
    let output = output.unwrap_or(0);
    ev.usage.output_tokens = output;
    ev.usage.input_tokens = input
        .or_else(|| total.map(|t| t.saturating_sub(output)))
        .unwrap_or(0);
    ev.usage.cached_input_tokens = f.count(Field::CacheRead).unwrap_or(0);
    let write_1h = f.count(Field::CacheWrite1h).unwrap_or(0);
    ev.usage.cache_write_1h_tokens = write_1h;
    ev.usage.cache_write_5m_tokens = f
        .count(Field::CacheWrite5m)
        .or_else(|| {
            f.count(Field::CacheWrite)
                .map(|w| w.saturating_sub(write_1h))
        })
        .unwrap_or(0);
    ev.usage.reasoning_tokens = f.count(Field::Reasoning).unwrap_or(0);
    ev.usage.audio_input_tokens = f.count(Field::AudioInput).unwrap_or(0);
    ev.usage.audio_output_tokens = f.count(Field::AudioOutput).unwrap_or(0);
    let error_type = get_str(a, "error.type");
    let failed = span.status_is_error() || error_type.is_some();
    ev.error_type = error_type.filter(|_| failed).map(Box::from);
    ev.status = Some(if failed {
        CallStatus::Error
    } else {
        CallStatus::Ok
    });
    if end >= start && start > 0 {
        ev.duration = Some(Duration::from_nanos(end - start));
    }
    ev.service_tier = f.text(Field::ServiceTier).map(|s| s.into());
    ev.weight = sampling_weight(span.trace_state());
    ev.trace_id = hex_id(span.trace_id());
    Some(ev)
}

#[cfg(test)]
mod tests;
