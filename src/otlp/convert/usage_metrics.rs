//! GenAI token metrics -> usage events. Pure, with explicit state: cumulative points become
//! per-stream deltas in a bounded [`UsageStreams`] table.
//!
//! Sources: `gen_ai.client.token.usage` (histogram; the sum of a stream is its tokens, by
//! `gen_ai.token.type`), `gen_ai.client.inference.usage.*` (counters, one per token kind) and
//! `gen_ai.client.operation.duration` (histogram; its count is the number of calls, with
//! `error.type` marking failures).

use super::genai::{identity, scope_labels};
use crate::model::{CallStatus, UsageEvent};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageMetric {
    /// `gen_ai.client.token.usage`: the token kind is in `gen_ai.token.type`.
    TokenHistogram,
    Tokens(TokenKind),
    Requests,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Input,
    Output,
    CachedInput,
    CacheWrite,
    Reasoning,
}

pub fn usage_metric(name: &str) -> Option<UsageMetric> {
    Some(match name {
        "gen_ai.client.token.usage" => UsageMetric::TokenHistogram,
        "gen_ai.client.operation.duration" => UsageMetric::Requests,
        "gen_ai.client.inference.usage.input_tokens" => UsageMetric::Tokens(TokenKind::Input),
        "gen_ai.client.inference.usage.output_tokens" => UsageMetric::Tokens(TokenKind::Output),
        "gen_ai.client.inference.usage.cache_read.input_tokens" => {
            UsageMetric::Tokens(TokenKind::CachedInput)
        }
        "gen_ai.client.inference.usage.cache_write.input_tokens"
        | "gen_ai.client.inference.usage.cache_creation.input_tokens" => {
            UsageMetric::Tokens(TokenKind::CacheWrite)
        }
        "gen_ai.client.inference.usage.reasoning.output_tokens" => {
            UsageMetric::Tokens(TokenKind::Reasoning)
        }
        _ => return None,
    })
}

fn token_type(attrs: &[KeyValue]) -> Option<TokenKind> {
    Some(
        match super::attrs::get_str(attrs, "gen_ai.token.type")?.as_ref() {
            "input" => TokenKind::Input,
            "output" => TokenKind::Output,
            "cached_input" | "cache_read" => TokenKind::CachedInput,
            "cache_write" | "cache_creation" => TokenKind::CacheWrite,
            "reasoning" => TokenKind::Reasoning,
            _ => return None,
        },
    )
}

/// What a histogram point contributes: its sum for token histograms, its count for durations.
pub fn histogram_usage_value(kind: UsageMetric, p: &HistogramDataPoint) -> f64 {
    match kind {
        UsageMetric::Requests => p.count as f64,
        _ => p.sum.unwrap_or(0.0),
    }
}

/// Identity of one metric stream (name, resource, scope and point attributes): the key its last
/// cumulative value is remembered under.
pub fn stream_key(
    metric: &str,
    resource: &[KeyValue],
    scope: Option<&InstrumentationScope>,
    attrs: &[KeyValue],
) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x6d65_7465_7264).build_hasher();
    metric.hash(&mut h);
    for kv in resource.iter().chain(attrs) {
        kv.key.hash(&mut h);
        if let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            super::attrs::value_text(v).hash(&mut h);
        }
    }
    if let Some(s) = scope {
        s.name.hash(&mut h);
    }
    h.finish()
}

/// One GenAI metric data point, resolved to what it measures.
#[derive(Clone, Debug, PartialEq)]
pub struct UsagePoint {
    pub stream: u64,
    /// `None` for token histograms with an unknown `gen_ai.token.type`.
    pub kind: Option<UsageMetric>,
    pub cumulative: bool,
    pub start_unix_nanos: u64,
    pub time_unix_nanos: u64,
    pub value: f64,
    /// Provider, model, operation, scope and status of the events this point yields.
    pub template: UsageEvent,
}

impl UsagePoint {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        metric: &str,
        kind: UsageMetric,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        attrs: &[KeyValue],
        configured: &[String],
        cumulative: bool,
        start_unix_nanos: u64,
        time_unix_nanos: u64,
        value: f64,
    ) -> Self {
        let kind = match kind {
            UsageMetric::TokenHistogram => token_type(attrs).map(UsageMetric::Tokens),
            k => Some(k),
        };
        let (provider, model, operation) = identity(attrs);
        let mut template = UsageEvent::named(provider, model);
        template.operation = operation;
        template.scope = scope_labels(resource, attrs, configured);
        template.unix_nanos = time_unix_nanos;
        if kind == Some(UsageMetric::Requests) {
            let error_type = super::attrs::get_str(attrs, "error.type");
            let failed = error_type.is_some();
            template.error_type = error_type.map(Box::from);
            template.status = Some(if failed {
                CallStatus::Error
            } else {
                CallStatus::Ok
            });
        }
        UsagePoint {
            stream: stream_key(metric, resource, scope, attrs),
            kind,
            cumulative,
            start_unix_nanos,
            time_unix_nanos,
            value,
            template,
        }
    }

    /// The usage event for `delta` units of this point's metric, if any.
    pub fn event(&self, delta: f64) -> Option<UsageEvent> {
        let n = delta.round();
        if !(n.is_finite() && n >= 1.0) {
            return None;
        }
        let n = n as u64;
        let mut ev = self.template.clone();
        let u = &mut ev.usage;
        match self.kind? {
            UsageMetric::Requests => u.requests = n,
            UsageMetric::Tokens(TokenKind::Input) => u.input_tokens = n,
            UsageMetric::Tokens(TokenKind::Output) => u.output_tokens = n,
            UsageMetric::Tokens(TokenKind::CachedInput) => u.cached_input_tokens = n,
            UsageMetric::Tokens(TokenKind::CacheWrite) => u.cache_write_5m_tokens = n,
            UsageMetric::Tokens(TokenKind::Reasoning) => u.reasoning_tokens = n,
            UsageMetric::TokenHistogram => return None,
        }
        Some(ev)
    }
}

/// The last cumulative values of a stream: one for a counter, count, sum and buckets for a
/// histogram.
#[derive(Clone, Debug)]
struct Prev {
    start: u64,
    values: Box<[f64]>,
    last_time: u64,
}

/// The stream table is full of streams seen within the last hour.
#[derive(Debug, PartialEq, Eq)]
pub struct StreamsFull;

/// Last cumulative value per stream, to turn totals into deltas. Bounded: when full, streams idle
/// for an hour (by their senders' clocks) are forgotten; if none are, new streams are refused.
pub struct UsageStreams {
    map: HashMap<u64, Prev, foldhash::fast::RandomState>,
    max: usize,
    /// Unix nanos when meterd started: a stream whose start time is later began while we were
    /// listening, so its first total is all new usage; an older stream's first total is a baseline
    /// (usage before meterd started is not ours to count).
    since_unix_nanos: u64,
    newest: u64,
}

const IDLE_NANOS: u64 = 3600 * 1_000_000_000;

impl UsageStreams {
    pub fn new(max: usize, since_unix_nanos: u64) -> Self {
        UsageStreams {
            map: HashMap::default(),
            max,
            since_unix_nanos,
            newest: 0,
        }
    }

    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The increment this point adds.
    pub fn delta(&mut self, p: &UsagePoint) -> Result<f64, StreamsFull> {
        if !p.value.is_finite() || p.value < 0.0 {
            return Ok(0.0);
        }
        if !p.cumulative {
            return Ok(p.value);
        }
        let d = self.advance(p.stream, p.start_unix_nanos, p.time_unix_nanos, &[p.value])?;
        Ok(d.and_then(|d| d.first().copied()).unwrap_or(0.0))
    }

    /// The increments of a cumulative stream of several values (a histogram's count, sum and
    /// buckets), component by component; `None` when this point is only a baseline or was seen
    /// already (a retried export). A new start
    /// time or any value going down is a restart: the point's values are all new.
    pub fn advance(
        &mut self,
        stream: u64,
        start_unix_nanos: u64,
        time_unix_nanos: u64,
        values: &[f64],
    ) -> Result<Option<Vec<f64>>, StreamsFull> {
        self.newest = self.newest.max(time_unix_nanos);
        if let Some(prev) = self.map.get_mut(&stream) {
            // A point of the same run of the stream no newer than the last one seen is an
            // exporter's retry (or a reordering), never new usage: a restart has a new start time,
            // or at least a later timestamp.
            let same_run = start_unix_nanos == prev.start || start_unix_nanos == 0;
            if same_run
                && time_unix_nanos != 0
                && time_unix_nanos <= prev.last_time
                && prev.values.len() == values.len()
            {
                return Ok(None);
            }
            let reset = (start_unix_nanos != prev.start && start_unix_nanos != 0)
                || prev.values.len() != values.len()
                || values.iter().zip(prev.values.iter()).any(|(v, p)| v < p);
            let d = if reset {
                values.to_vec()
            } else {
                values
                    .iter()
                    .zip(prev.values.iter())
                    .map(|(v, p)| v - p)
                    .collect()
            };
            if prev.values.len() == values.len() {
                prev.values.copy_from_slice(values);
            } else {
                prev.values = values.into();
            }
            prev.start = start_unix_nanos;
            prev.last_time = time_unix_nanos;
            return Ok(Some(d));
        }
        if self.map.len() >= self.max {
            let cutoff = self.newest.saturating_sub(IDLE_NANOS);
            self.map.retain(|_, prev| prev.last_time >= cutoff);
            if self.map.len() >= self.max {
                return Err(StreamsFull);
            }
        }
        self.map.insert(
            stream,
            Prev {
                start: start_unix_nanos,
                values: values.into(),
                last_time: time_unix_nanos,
            },
        );
        let fresh = start_unix_nanos != 0 && start_unix_nanos >= self.since_unix_nanos;
        Ok(fresh.then(|| values.to_vec()))
    }
}

#[cfg(test)]
mod tests;
