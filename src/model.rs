//! The hand-off types between stages. Receivers decode into these; derive and store consume them.
//!
//! `Sample` is one update to one Prometheus series. `UsageEvent` is one model call (or a part of one)
//! as seen by StatsD or OTLP: the single type that pricing, budgets and the `llm_*` families are
//! derived from. `QualityEvent` carries evaluations and user outcomes.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

mod direct_mapped;
mod labels;
pub mod money;
mod shared;
mod summary;

pub(crate) use direct_mapped::DirectMapped;

pub use labels::Labels;
pub use summary::SummaryOptions;

/// An OpenMetrics exemplar: the trace that contributed a value, so a spike links to its cause.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    /// Unix time in seconds (fractional), when known.
    pub timestamp: Option<f64>,
}

/// An exemplar naming its trace by a borrowed id: a batch of spans offers one per value, keeps
/// one per series, and builds the label set (three allocations) only for those it keeps.
#[derive(Clone, Copy, Debug)]
pub struct TraceExemplar<'a> {
    pub trace_id: &'a str,
    pub value: f64,
    pub timestamp: Option<f64>,
}

impl TraceExemplar<'_> {
    pub fn build(&self) -> Exemplar {
        Exemplar {
            labels: Labels::one("trace_id", self.trace_id),
            value: self.value,
            timestamp: self.timestamp,
        }
    }
}

/// Bucket bounds of `llm_time_to_first_token_seconds` (the store's latency buckets). Fixed here
/// because pre-aggregated TTFT histograms (OTLP metrics) must be re-bucketed onto them to merge
/// with single observations (StatsD, spans) in one series.
pub const TTFT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// A histogram's content as OTLP delivers it: explicit upper bounds and one count per bucket
/// (the last bucket is the overflow to +Inf, so `counts.len() == bounds.len() + 1`).
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramData {
    pub bounds: Arc<[f64]>,
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SummaryData {
    /// (quantile, value) pairs.
    pub quantiles: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: u64,
}

/// How one sample changes its series.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleValue {
    /// Add to a counter (StatsD `c`, OTLP delta sums). Negative additions are rejected by the store.
    CounterAdd(f64),
    /// Add money to a counter, in femto-USD (1e-15 USD). Accumulated as an exact integer and
    /// rendered in USD, so a cost total never drifts however many small amounts it sums. A series
    /// takes money only while it holds no float value, and vice versa.
    CounterAddFemtoUsd(u128),
    /// Replace a counter's value with a cumulative total (OTLP cumulative sums). `start_unix_nanos`
    /// changing means the sender restarted; the store keeps the value monotonic across such resets.
    CounterSet {
        value: f64,
        start_unix_nanos: u64,
    },
    GaugeSet(f64),
    GaugeAdd(f64),
    /// One observation into a histogram, weighted (StatsD sampling: `@0.1` counts ten times).
    Observe {
        value: f64,
        weight: f64,
    },
    /// Merge a delta histogram (OTLP delta temporality). Bounds must equal the family's bounds.
    HistogramAdd(HistogramData),
    /// Replace with a cumulative histogram (OTLP cumulative temporality).
    HistogramSet {
        data: HistogramData,
        start_unix_nanos: u64,
    },
    SummarySet(SummaryData),
    /// One observation into a summary whose quantiles meterd computes (a StatsD mapping with
    /// `observer_type: summary`), weighted as [`SampleValue::Observe`].
    SummaryObserve {
        value: f64,
        weight: f64,
    },
    /// A StatsD set member, already hashed: the series exposes the count of distinct members.
    SetInsert(u64),
}

impl SampleValue {
    pub fn kind(&self) -> MetricKind {
        match self {
            SampleValue::CounterAdd(_)
            | SampleValue::CounterAddFemtoUsd(_)
            | SampleValue::CounterSet { .. } => MetricKind::Counter,
            SampleValue::GaugeSet(_) | SampleValue::GaugeAdd(_) | SampleValue::SetInsert(_) => {
                MetricKind::Gauge
            }
            SampleValue::Observe { .. }
            | SampleValue::HistogramAdd(_)
            | SampleValue::HistogramSet { .. } => MetricKind::Histogram,
            SampleValue::SummarySet(_) | SampleValue::SummaryObserve { .. } => MetricKind::Summary,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        }
    }
}

/// Whether every series of a family must carry the same label names. StatsD families insist
/// (as statsd_exporter users expect); OTLP attributes are legitimately optional per point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LabelPolicy {
    #[default]
    Consistent,
    Any,
}

/// Per-family settings that the first sample of a family fixes (mapping rules supply them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FamilyOptions {
    pub help: Option<Arc<str>>,
    /// Histogram bucket upper bounds; `None` means the store's default buckets.
    pub buckets: Option<Arc<[f64]>>,
    /// Idle expiry for this family's series; `None` means the store default. `Some(ZERO)`: never.
    pub ttl: Option<Duration>,
    pub label_policy: LabelPolicy,
    /// Per-family series cap overriding the store-wide one.
    pub max_series: Option<usize>,
    /// meterd's own families: exempt from the total series cap, so a flood that fills the store
    /// can still be seen in the counters that report it.
    pub internal: bool,
    /// Derived `llm_*` families: a counter or histogram past a series cap (or memory limit) adds
    /// to an `_overflow` series instead of being refused, so `sum(llm_cost_usd_total)` stays the
    /// whole spend however many label combinations arrive.
    pub fold_overflow: bool,
    /// Summaries fed by [`SampleValue::SummaryObserve`]: their quantiles and window.
    pub summary: Option<Arc<SummaryOptions>>,
}

/// One update to one series. `name` is the Prometheus family name; counters are named without the
/// `_total` suffix, which exposition adds.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Shared: derived families and OTLP metrics name many samples alike.
    pub name: Arc<str>,
    pub labels: Labels,
    pub value: SampleValue,
    pub options: Arc<FamilyOptions>,
    pub exemplar: Option<Exemplar>,
}

impl Sample {
    pub fn new(name: impl Into<Arc<str>>, labels: Labels, value: SampleValue) -> Self {
        Sample {
            name: name.into(),
            labels,
            value,
            options: Arc::default(),
            exemplar: None,
        }
    }
}

/// Token, media and request quantities of one model call. All fields are additive, so an event
/// split in parts prices the same as the whole (StatsD sends one dimension per line).
///
/// GenAI inclusion rule: `cached_input`, `cache_write_*` and `audio_input` are *part of* `input`,
/// `reasoning` and `audio_output` are *part of* `output`. Pricing bills each part at its own rate
/// and only the remainder at the base rate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_5m_tokens: u64,
    pub cache_write_1h_tokens: u64,
    pub reasoning_tokens: u64,
    pub audio_input_tokens: u64,
    pub audio_output_tokens: u64,
    /// Audio duration (speech-to-text input or speech output), in milliseconds to stay integral.
    pub audio_millis: u64,
    pub characters: u64,
    pub images: u64,
    /// Billable requests (1 for a call; 0 when this event carries only extra tokens of a call).
    pub requests: u64,
}

impl Usage {
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }

    /// Every quantity but requests, tokens first, in a fixed order (see [`Usage::TOKEN_PARTS`]).
    pub fn quantities(&self) -> [u64; 11] {
        [
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
            self.reasoning_tokens,
            self.audio_input_tokens,
            self.audio_output_tokens,
            self.audio_millis,
            self.characters,
            self.images,
        ]
    }

    /// How many leading entries of [`Usage::quantities`] are token counts.
    pub const TOKEN_PARTS: usize = 8;
}

/// How an event's usage counts its parts; set at the edges (config per source), read by derive,
/// which converts everything to inclusive before pricing or counting (`derive::semantics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSemantics {
    /// The GenAI conventions: cache reads/writes and audio input inside `input_tokens`, reasoning
    /// and audio output inside `output_tokens` (what current emitters send for every provider).
    #[default]
    Inclusive,
    /// `input_tokens` excludes its parts: Anthropic's and Bedrock Converse's raw usage.
    RawInput,
    /// `output_tokens` excludes its parts: Gemini's raw `candidates_token_count` (no thinking).
    RawOutput,
    /// Both wholes exclude their parts.
    Raw,
}

impl UsageSemantics {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "inclusive" => UsageSemantics::Inclusive,
            "raw_input" => UsageSemantics::RawInput,
            "raw_output" => UsageSemantics::RawOutput,
            "raw" => UsageSemantics::Raw,
            _ => return None,
        })
    }

    pub fn raw_input(self) -> bool {
        matches!(self, UsageSemantics::RawInput | UsageSemantics::Raw)
    }

    pub fn raw_output(self) -> bool {
        matches!(self, UsageSemantics::RawOutput | UsageSemantics::Raw)
    }
}

/// Outcome of a call when the event describes a whole request (spans, `llm.requests`).
#[derive(Clone, Debug, PartialEq, Eq, Copy)]
pub enum CallStatus {
    Ok,
    Error,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ok => "ok",
            CallStatus::Error => "error",
        }
    }
}

/// One model call (or a part of one), whatever protocol it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageEvent {
    /// When the usage happened (Unix nanoseconds): prices and budget periods in force at that time
    /// apply, not those at arrival.
    pub unix_nanos: u64,
    /// Shared (`Arc`): a request's spans name a few providers, models and operations many times,
    /// so a receiver can hand each event a clone of one string instead of a copy.
    pub provider: Arc<str>,
    pub model: Arc<str>,
    /// `gen_ai.operation.name` (chat, text_completion, embeddings, ...); empty when unknown.
    pub operation: Arc<str>,
    /// Scope labels (the configured allow-list: service, env, team, project, stage, ...).
    pub scope: Labels,
    pub usage: Usage,
    /// Whether `usage` is inclusive (the default) or a provider's raw figures.
    pub semantics: UsageSemantics,
    /// Set when this event stands for a whole request: status and latency are known.
    pub status: Option<CallStatus>,
    /// What kind of failure, as sent (`error_type` tag, `error.type` attribute); only with
    /// `status` error. Canonicalised and capped when derived.
    pub error_type: Option<Box<str>>,
    pub duration: Option<Duration>,
    pub time_to_first_token: Option<Duration>,
    /// Request attributes that select price variants: service tier (batch, priority, flex) and,
    /// for StatsD where one line carries one dimension, the request's total input size for tiers.
    pub service_tier: Option<Box<str>>,
    pub request_input_tokens: Option<u64>,
    /// How many real calls this event stands for (head sampling: 1 / sampling probability).
    pub weight: f64,
    /// Hex trace id of the span this came from, for exemplars.
    pub trace_id: Option<Box<str>>,
}

impl UsageEvent {
    pub fn new(provider: &str, model: &str) -> Self {
        Self::named(provider.into(), model.into())
    }

    /// [`UsageEvent::new`] with names the caller already holds as shared strings.
    pub fn named(provider: Arc<str>, model: Arc<str>) -> Self {
        UsageEvent {
            unix_nanos: 0,
            provider,
            model,
            operation: "".into(),
            scope: Labels::empty(),
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
        }
    }
}

/// What a user or evaluator said about a model's output.
#[derive(Clone, Debug, PartialEq)]
pub enum QualitySignal {
    /// An evaluation score on the evaluation's declared scale (normalized by the quality stage).
    Score { value: f64, label: Option<Box<str>> },
    /// Only a label (e.g. `relevant`, `pass`) with no numeric score.
    Label(Box<str>),
    /// accepted, edited, regenerated, abandoned (and user-defined ones up to a cap).
    Outcome(Box<str>),
    /// A user's rating, 1 to 5 stars (NPS-style classes are derived from it).
    Rating(f64),
    /// The model's or a judge's confidence, 0 to 1.
    Confidence(f64),
    /// Edits a user made before approving one output.
    EditsPerApproval(f64),
    /// Seconds from output shown to user approval.
    TimeToApproval(f64),
    /// A call escalated to a stronger model (`model` is the original, this is the new one).
    ModelUpgrade { to: Box<str> },
    /// One pipeline stage's wall time (`llm.stage.duration`, spans with a stage attribute).
    StageDuration { stage: Box<str>, seconds: f64 },
    /// An app-side cache lookup (semantic cache, prompt cache, ...): hit or miss.
    Cache { cache: Box<str>, hit: bool },
    /// A typed app event: retry_attempted, fallback_triggered, circuit_breaker_opened, ...
    AppEvent(Box<str>),
}

/// One quality or app signal, from StatsD (`llm.quality.score`, `llm.outcome`, `llm.stage.duration`,
/// ...) or OTLP (evaluation log events, spans). `evaluation` is empty for signals that are not an
/// evaluation. The single hand-off type both receivers produce for the quality stage.
#[derive(Clone, Debug, PartialEq)]
pub struct QualityEvent {
    pub unix_nanos: u64,
    pub evaluation: Box<str>,
    pub provider: Box<str>,
    pub model: Box<str>,
    pub scope: Labels,
    pub signal: QualitySignal,
    pub trace_id: Option<Box<str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_dedup_last_wins_and_drop_empty() {
        let l = Labels::new([("b", "1"), ("a", "2"), ("b", "3"), ("c", "")]);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("a", "2"), ("b", "3")]);
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn labels_equal_regardless_of_order() {
        assert_eq!(
            Labels::new([("x", "1"), ("y", "2")]),
            Labels::new([("y", "2"), ("x", "1")])
        );
    }

    #[test]
    fn labels_with_replaces() {
        let l = Labels::new([("a", "1")]).with("a", "2").with("b", "3");
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("a", "2"), ("b", "3")]);
    }

    #[test]
    fn ttft_buckets_are_the_store_defaults_it_always_had() {
        assert_eq!(TTFT_BUCKETS, crate::store::DEFAULT_BUCKETS);
    }
}
