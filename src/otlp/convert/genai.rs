//! GenAI spans -> usage events. Pure.
//!
//! Attribute names follow the GenAI semantic conventions, new names first and the older ones as
//! fallback (`gen_ai.provider.name`/`gen_ai.system`, `gen_ai.usage.input_tokens`/`prompt_tokens`,
//! ...). The response model is preferred to the requested one: it is the model that was billed.
//! Agent, workflow and tool spans are skipped: their tokens, when present, aggregate the model
//! calls beneath them, which are counted from their own spans.

pub use super::usage_metrics::{
    histogram_usage_value, usage_metric, StreamsFull, UsageMetric, UsagePoint, UsageStreams,
};

use super::attrs::{first_str, first_u64, get, get_str, hex_id};
use crate::model::{CallStatus, Labels, UsageEvent};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};
use std::borrow::Cow;
use std::time::Duration;

const PROVIDER: &[&str] = &["gen_ai.provider.name", "gen_ai.system"];
const INPUT: &[&str] = &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"];
const OUTPUT: &[&str] = &[
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
];
const CACHE_READ: &[&str] = &[
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
];
const CACHE_WRITE: &[&str] = &[
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
];
const REASONING: &[&str] = &[
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
];
const SERVICE_TIER: &[&str] = &[
    "openai.response.service_tier",
    "gen_ai.openai.response.service_tier",
    "openai.request.service_tier",
    "gen_ai.openai.request.service_tier",
];
/// Operations that wrap model calls rather than being one.
const NOT_MODEL_CALLS: &[&str] = &[
    "invoke_agent",
    "create_agent",
    "execute_tool",
    "invoke_workflow",
];

/// Cheap pre-check: does any attribute use the GenAI namespace? No allocation, so the common
/// non-GenAI span costs one pass over its attribute keys.
pub fn is_genai(attrs: &[KeyValue]) -> bool {
    attrs.iter().any(|kv| kv.key.starts_with("gen_ai."))
}

/// Scope labels for a GenAI signal: `service` from `service.name`, `env` from
/// `deployment.environment[.name]`, and any configured scope label found under its own name on the
/// item (span, record, point) or, failing that, on the resource.
pub fn scope_labels(resource: &[KeyValue], attrs: &[KeyValue], configured: &[String]) -> Labels {
    let find = |keys: &[&str]| first_str(attrs, keys).or_else(|| first_str(resource, keys));
    let mut pairs: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(configured.len() + 2);
    if let Some(s) = find(&["service.name"]) {
        pairs.push(("service", s));
    }
    if let Some(e) = find(&["deployment.environment.name", "deployment.environment"]) {
        pairs.push(("env", e));
    }
    for label in configured {
        if pairs.iter().any(|(k, _)| k == label) {
            continue;
        }
        if let Some(v) = get_str(attrs, label).or_else(|| get_str(resource, label)) {
            pairs.push((label, v));
        }
    }
    Labels::shared(pairs.iter().map(|(k, v)| (*k, &**v)))
}

/// Provider, model and operation of a GenAI item.
pub fn identity(attrs: &[KeyValue]) -> (Box<str>, Box<str>, Box<str>) {
    let provider = first_str(attrs, PROVIDER).map_or(Box::from("unknown"), |s| s.into());
    let model = first_str(attrs, &["gen_ai.response.model", "gen_ai.request.model"])
        .map_or(Box::from("unknown"), |s| s.into());
    let op = get_str(attrs, "gen_ai.operation.name").map_or(Box::from(""), |s| s.into());
    (provider, model, op)
}

/// The adjusted count of a span sampled with the OTel probability-sampling threshold
/// (`tracestate: ot=th:<hex>`): 1 / (1 - threshold / 2^56). 1 when absent or unparsable.
pub fn sampling_weight(trace_state: &str) -> f64 {
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

/// A usage event from one span, or `None` when the span is not a model call.
pub fn span_usage(resource: &[KeyValue], span: &Span, configured: &[String]) -> Option<UsageEvent> {
    let a = &span.attributes;
    if !is_genai(a) {
        return None;
    }
    let op = get_str(a, "gen_ai.operation.name");
    if op.as_deref().is_some_and(|o| NOT_MODEL_CALLS.contains(&o)) {
        return None;
    }
    let has_model =
        get(a, "gen_ai.request.model").is_some() || get(a, "gen_ai.response.model").is_some();
    let input = first_u64(a, INPUT);
    let output = first_u64(a, OUTPUT);
    if !has_model && input.is_none() && output.is_none() {
        return None;
    }
    let (provider, model, operation) = identity(a);
    let mut ev = UsageEvent {
        provider,
        model,
        operation,
        ..UsageEvent::new("", "")
    };
    ev.unix_nanos = span.end_time_unix_nano;
    ev.scope = scope_labels(resource, a, configured);
    ev.usage.requests = 1;
    ev.usage.input_tokens = input.unwrap_or(0);
    ev.usage.output_tokens = output.unwrap_or(0);
    ev.usage.cached_input_tokens = first_u64(a, CACHE_READ).unwrap_or(0);
    ev.usage.cache_write_5m_tokens = first_u64(a, CACHE_WRITE).unwrap_or(0);
    ev.usage.reasoning_tokens = first_u64(a, REASONING).unwrap_or(0);
    let failed = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32)
        || get_str(a, "error.type").is_some();
    ev.status = Some(if failed {
        CallStatus::Error
    } else {
        CallStatus::Ok
    });
    if span.end_time_unix_nano >= span.start_time_unix_nano && span.start_time_unix_nano > 0 {
        ev.duration = Some(Duration::from_nanos(
            span.end_time_unix_nano - span.start_time_unix_nano,
        ));
    }
    ev.service_tier = first_str(a, SERVICE_TIER).map(|s| s.into());
    ev.weight = sampling_weight(&span.trace_state);
    ev.trace_id = hex_id(&span.trace_id);
    Some(ev)
}

#[cfg(test)]
mod tests;
