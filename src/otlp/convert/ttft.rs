//! Time to first token from OTLP -> `llm_time_to_first_token_seconds`. Pure.
//!
//! Two sources, never both for one app (the configured usage source picks one, see
//! [`crate::otlp::UsageSource`]):
//!
//! - **Metrics** (histograms, seconds): `gen_ai.client.operation.time_to_first_chunk` (the GenAI
//!   conventions' client metric), `gen_ai.server.time_to_first_token` (their server metric, which
//!   OpenLIT and OpenLLMetry also record client-side) and `gen_ai.client.time_to_first_token`
//!   (used by several SDKs before the conventions named one). Buckets are re-bucketed onto
//!   [`TTFT_BUCKETS`] so they merge with single observations in one series.
//! - **Spans**, first match wins: the `gen_ai.response.time_to_first_chunk` attribute (the
//!   conventions', seconds from request issuance), OpenLIT's `gen_ai.server.time_to_first_token`
//!   attribute (seconds), else the earliest first-chunk event: `ai.stream.firstChunk` (Vercel AI
//!   SDK) or `llm.content.completion.chunk` (OpenLLMetry, one per chunk), timed from span start.
//!   The conventions define no streaming event yet. An attribute wins over an event because it is
//!   the instrumentation's own measurement from request issuance, while span start may include
//!   work done before the request.

use super::attrs::get_f64;
use super::genai::{identity, scope_labels};
use super::spans::SpanData;
use super::usage_metrics::stream_key;
use crate::model::{HistogramData, UsageEvent, TTFT_BUCKETS};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint;
use std::sync::Arc;
use std::time::Duration;

pub const TTFT_METRICS: [&str; 3] = [
    "gen_ai.client.operation.time_to_first_chunk",
    "gen_ai.server.time_to_first_token",
    "gen_ai.client.time_to_first_token",
];

const TTFT_ATTRIBUTES: [&str; 2] = [
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.server.time_to_first_token",
];

const FIRST_CHUNK_EVENTS: [&str; 2] = ["ai.stream.firstChunk", "llm.content.completion.chunk"];

/// Nobody waits an hour for a first token: a larger value is a unit or clock error.
const MAX_TTFT_SECS: f64 = 3600.0;

/// Wall-clock span times and a monotonic TTFT measurement may disagree by a little.
const SPAN_TOLERANCE_SECS: f64 = 0.001;

const NO_RECORDED_VALUE: u32 = 1;

/// Why a time to first token was dropped. `reason()` is the `meterd_otlp_ttft_dropped_total` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtftDrop {
    /// Before the span started (event) or below zero (attribute).
    Negative,
    /// Later than the span's end: the call cannot have streamed after it finished.
    ExceedsSpan,
    /// Over an hour.
    TooLarge,
    /// A first-chunk event on a span without a start time.
    NoSpanStart,
    /// A TTFT metric in a unit other than seconds or milliseconds.
    Unit,
    /// A TTFT histogram with only count and sum: no distribution to merge.
    NoBuckets,
}

impl TtftDrop {
    pub fn reason(self) -> &'static str {
        match self {
            TtftDrop::Negative => "negative",
            TtftDrop::ExceedsSpan => "exceeds_span",
            TtftDrop::TooLarge => "too_large",
            TtftDrop::NoSpanStart => "no_span_start",
            TtftDrop::Unit => "unit",
            TtftDrop::NoBuckets => "no_buckets",
        }
    }
}

pub fn is_ttft_metric(name: &str) -> bool {
    TTFT_METRICS.contains(&name)
}

/// Units of a TTFT metric per second (a divisor: 250 / 1000 is exactly 0.25, 250 * 0.001 is not
/// always). The conventions say `s`; an empty unit is taken as theirs.
fn units_per_second(unit: &str) -> Option<f64> {
    match unit {
        "s" | "" => Some(1.0),
        "ms" => Some(1000.0),
        _ => None,
    }
}

/// The time to first token of a span, if it carries one.
pub fn span_ttft<S: SpanData>(span: &S) -> Option<Result<Duration, TtftDrop>> {
    let a = span.attributes();
    let (start, end) = (span.start_time_unix_nano(), span.end_time_unix_nano());
    let span_secs = (start > 0 && end >= start).then(|| (end - start) as f64 / 1e9);
    if let Some(secs) = TTFT_ATTRIBUTES.iter().find_map(|k| get_f64(a, k)) {
        return Some(checked(secs, span_secs));
    }
    let first = span
        .events()
        .filter(|(name, _)| FIRST_CHUNK_EVENTS.contains(name))
        .map(|(_, time)| time)
        .min()?;
    if start == 0 {
        return Some(Err(TtftDrop::NoSpanStart));
    }
    if first < start {
        return Some(Err(TtftDrop::Negative));
    }
    Some(checked((first - start) as f64 / 1e9, span_secs))
}

fn checked(secs: f64, span_secs: Option<f64>) -> Result<Duration, TtftDrop> {
    if secs < 0.0 {
        return Err(TtftDrop::Negative);
    }
    if span_secs.is_some_and(|d| secs > d + SPAN_TOLERANCE_SECS) {
        return Err(TtftDrop::ExceedsSpan);
    }
    if secs > MAX_TTFT_SECS {
        return Err(TtftDrop::TooLarge);
    }
    Duration::try_from_secs_f64(secs).map_err(|_| TtftDrop::TooLarge)
}

/// Counts of a histogram with upper `bounds` (plus the +Inf bucket) moved onto `target`'s buckets.
/// Each source bucket lands in the first target bucket holding its upper bound: exact when every
/// source bound is a target bound, otherwise observations can only move up a bucket, never down,
/// so a latency objective read from the result is never met on paper but missed in fact.
pub fn rebucket(bounds: &[f64], counts: &[u64], target: &[f64]) -> Vec<u64> {
    let mut out = vec![0u64; target.len() + 1];
    for (i, c) in counts.iter().enumerate() {
        let idx = match bounds.get(i) {
            Some(upper) => target.partition_point(|t| t < upper),
            None => target.len(),
        };
        if let Some(slot) = out.get_mut(idx) {
            *slot = slot.saturating_add(*c);
        }
    }
    out
}

/// One TTFT histogram point, already in seconds and on [`TTFT_BUCKETS`].
#[derive(Clone, Debug, PartialEq)]
pub struct TtftPoint {
    pub stream: u64,
    pub cumulative: bool,
    pub start_unix_nanos: u64,
    pub time_unix_nanos: u64,
    /// Count, sum, then one count per bucket of [`TTFT_BUCKETS`] and +Inf: the shape
    /// [`super::usage_metrics::UsageStreams::advance`] turns into increments.
    pub values: Vec<f64>,
    /// Provider, model, operation and scope of the histogram this point feeds.
    pub template: UsageEvent,
}

impl TtftPoint {
    /// `Ok(None)` for points that carry nothing (no recorded value, malformed buckets, which the
    /// pass-through translation already rejects and counts).
    pub fn new(
        metric: &str,
        unit: &str,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        p: &HistogramDataPoint,
        configured: &[String],
        cumulative: bool,
    ) -> Result<Option<Self>, TtftDrop> {
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Ok(None);
        }
        let per_second = units_per_second(unit).ok_or(TtftDrop::Unit)?;
        if p.bucket_counts.is_empty() {
            return if p.count == 0 {
                Ok(None)
            } else {
                Err(TtftDrop::NoBuckets)
            };
        }
        let ordered = p.explicit_bounds.windows(2).all(|w| w[0] < w[1])
            && p.explicit_bounds.iter().all(|b| !b.is_nan());
        if p.bucket_counts.len() != p.explicit_bounds.len() + 1 || !ordered {
            return Ok(None);
        }
        let sum = p.sum.unwrap_or(0.0) / per_second;
        if !sum.is_finite() {
            return Ok(None);
        }
        if sum < 0.0 {
            return Err(TtftDrop::Negative);
        }
        let bounds: Vec<f64> = p.explicit_bounds.iter().map(|b| b / per_second).collect();
        let counts = rebucket(&bounds, &p.bucket_counts, &TTFT_BUCKETS);
        let mut values = Vec::with_capacity(counts.len() + 2);
        values.push(p.count as f64);
        values.push(sum);
        values.extend(counts.iter().map(|c| *c as f64));
        let (provider, model, operation) = identity(&p.attributes);
        let mut template = UsageEvent::named(provider, model);
        template.operation = operation;
        template.scope = scope_labels(resource, &p.attributes, configured);
        template.unix_nanos = p.time_unix_nano;
        Ok(Some(TtftPoint {
            stream: stream_key(metric, resource, scope, &p.attributes),
            cumulative,
            start_unix_nanos: p.start_time_unix_nano,
            time_unix_nanos: p.time_unix_nano,
            values,
            template,
        }))
    }

    /// The histogram increment `delta` (in [`TtftPoint::values`]' shape) stands for, if any.
    pub fn histogram(delta: &[f64]) -> Option<HistogramData> {
        let (count, rest) = delta.split_first()?;
        let (sum, buckets) = rest.split_first()?;
        let count = count.round();
        if !(count.is_finite() && count >= 1.0) || buckets.len() != TTFT_BUCKETS.len() + 1 {
            return None;
        }
        Some(HistogramData {
            bounds: Arc::new(TTFT_BUCKETS),
            counts: buckets.iter().map(|c| c.round().max(0.0) as u64).collect(),
            sum: sum.max(0.0),
            count: count as u64,
        })
    }
}

#[cfg(test)]
mod tests;
