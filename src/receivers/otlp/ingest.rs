//! The core both transports share: caps, concurrency, stream state, hand-off to the pipeline, and
//! the `meterd_otlp_*` counters. Decoding is the transports' job; everything after it is here, so
//! gRPC and HTTP behave identically.

use crate::derive::dedup::complete::most_complete;
use crate::derive::dedup::scopes::{group as scope_group, ScopeVerdict};
use crate::derive::dedup::{call_key, span_key, CallKey, SpanKey, Verdict};
use crate::derive::semantics::normalize;
use crate::model::{UsageEvent, UsageSemantics};
use crate::otlp::convert::attrs::{get_str, Attribute};
use crate::otlp::convert::spans::{SpanData, TraceRequest};
use crate::otlp::convert::{genai, logs, metrics, stage, ttft};
use crate::otlp::UsageSource;
use crate::pipeline::{Pipeline, Snapshot};
use crate::store::{FamilyCache, PairsTarget};
use crate::telemetry;
use crate::telemetry::catalogue;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Metrics,
    Traces,
    Logs,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
            Signal::Logs => "logs",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

/// What became of a request's items: `rejected` and `message` fill `partial_success`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub rejected: i64,
    pub message: String,
}

pub const PROTOCOL: &str = "otlp";

/// Usage events from spans derived together (see [`Ingest::traces`]).
const USAGE_CHUNK: usize = 256;

pub struct Ingest {
    pipeline: Arc<Pipeline>,
    permits: Arc<Semaphore>,
    streams: Mutex<genai::UsageStreams>,
}

impl Ingest {
    /// `started_unix_nanos`: when meterd started listening (see [`genai::UsageStreams`]).
    pub fn new(pipeline: Arc<Pipeline>, started_unix_nanos: u64) -> Arc<Self> {
        let cfg = pipeline.snapshot().config.otlp.clone();
        Arc::new(Ingest {
            pipeline,
            permits: Arc::new(Semaphore::new(cfg.max_concurrent_requests)),
            streams: Mutex::new(genai::UsageStreams::new(
                cfg.max_usage_streams,
                started_unix_nanos,
            )),
        })
    }

    /// A slot for one request, or `None` when `max_concurrent_requests` are in flight (the caller
    /// answers with its protocol's retryable overload code). The memory guard does not refuse
    /// requests: while it sheds, the store refuses new series only, so points of existing series and
    /// spend (which folds into the `_overflow` series) keep flowing.
    pub fn try_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// Where the budget write sequence stands: take it before handing a request to the pipeline.
    pub fn spend_mark(&self) -> u64 {
        self.pipeline.spend_mark()
    }

    /// Resolves once the budget spend of this request (started at `mark`) is committed to disk: a
    /// request is only acknowledged after that (one fsync serves every request waiting then).
    pub async fn durable(&self, mark: u64) -> Result<(), crate::state::durable::NotDurable> {
        // A hung disk must not hold requests (and their concurrency permits) forever: past
        // `state.commit_timeout` the client is told to retry, which OTLP clients do with backoff.
        let timeout = self.pipeline.snapshot().config.state.commit_timeout.0;
        self.pipeline.durable_since(mark, timeout).await
    }

    /// Whether an `Authorization` value is accepted by `otlp.auth` as configured now (so a reload
    /// rotates ingest credentials without a restart).
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        self.pipeline
            .snapshot()
            .config
            .otlp
            .auth
            .allows(authorization)
    }

    pub fn max_concurrent_requests(&self) -> usize {
        self.pipeline.snapshot().config.otlp.max_concurrent_requests
    }

    pub fn max_request_bytes(&self) -> usize {
        let l = &self.pipeline.snapshot().config.limits;
        usize::try_from(l.max_request_bytes.0).unwrap_or(usize::MAX)
    }

    pub fn body_timeout(&self) -> std::time::Duration {
        self.pipeline.snapshot().config.limits.otlp_body_timeout.0
    }

    /// Fixed when the listeners start, like the concurrency bound.
    pub fn max_buffered_body_bytes(&self) -> u64 {
        self.pipeline
            .snapshot()
            .config
            .limits
            .max_buffered_body_bytes
            .0
    }

    pub fn max_decompressed_bytes(&self) -> usize {
        let l = &self.pipeline.snapshot().config.limits;
        usize::try_from(l.max_decompressed_bytes.0).unwrap_or(usize::MAX)
    }

    /// Counts one request by transport, signal and result (`success`, `partial`, `invalid`,
    /// `too_large`, `overloaded`, `unsupported_media_type`, ...).
    pub fn request(&self, transport: Transport, signal: Signal, result: &str) {
        telemetry::count(
            self.pipeline.store(),
            &catalogue::OTLP_REQUESTS,
            &[
                ("transport", transport.as_str()),
                ("signal", signal.as_str()),
                ("result", result),
            ],
            1.0,
        );
    }

    fn received(&self, signal: Signal, n: u64) {
        telemetry::count(
            self.pipeline.store(),
            &catalogue::OTLP_ITEMS_RECEIVED,
            &[("signal", signal.as_str())],
            n as f64,
        );
    }

    fn rejected(&self, signal: Signal, reason: &str, n: u64) {
        telemetry::count(
            self.pipeline.store(),
            &catalogue::OTLP_ITEMS_REJECTED,
            &[("signal", signal.as_str()), ("reason", reason)],
            n as f64,
        );
    }

    /// Accounts for the items a lenient decode dropped ([`crate::otlp::lenient`]): counted as received
    /// and rejected (`invalid_encoding`), and reported in the request's `partial_success`.
    pub fn dropped_undecodable(&self, signal: Signal, outcome: &mut Outcome, n: i64) {
        let Ok(count) = u64::try_from(n) else {
            return;
        };
        if count == 0 {
            return;
        }
        self.received(signal, count);
        self.rejected(signal, "invalid_encoding", count);
        let what = item_name(signal);
        let note = format!(
            "{n} {what} rejected: not valid protobuf (e.g. a string that is not UTF-8); the rest \
             of the request was accepted"
        );
        outcome.rejected = outcome.rejected.saturating_add(n);
        if outcome.message.is_empty() {
            outcome.message = note;
        } else {
            outcome.message = format!("{}; {note}", outcome.message);
        }
    }

    /// The pure repair's name for a signal.
    pub fn lenient_signal(signal: Signal) -> crate::otlp::lenient::Signal {
        match signal {
            Signal::Metrics => crate::otlp::lenient::Signal::Metrics,
            Signal::Traces => crate::otlp::lenient::Signal::Traces,
            Signal::Logs => crate::otlp::lenient::Signal::Logs,
        }
    }

    /// `Some(outcome)` rejecting everything when a request carries more items than allowed.
    fn over_cap(&self, signal: Signal, n: u64) -> Option<Outcome> {
        self.received(signal, n);
        let max = self.pipeline.snapshot().config.otlp.max_items_per_request as u64;
        if n <= max {
            return None;
        }
        self.rejected(signal, "too_many_items", n);
        Some(Outcome {
            rejected: i64::try_from(n).unwrap_or(i64::MAX),
            message: format!(
                "request carries {n} {}; otlp.max_items_per_request is {max}: split the batch",
                item_name(signal)
            ),
        })
    }

    pub fn metrics(&self, req: &ExportMetricsServiceRequest) -> Outcome {
        let signal = Signal::Metrics;
        if let Some(o) = self.over_cap(signal, metrics::count_points(req)) {
            return o;
        }
        let runtime = self.pipeline.snapshot();
        let cfg = &runtime.config;
        let t = metrics::Translation {
            promote: &cfg.otlp.resource_attributes_as_labels,
            usage: cfg.otlp.usage_source == UsageSource::Metrics,
            scope_labels: &cfg.scope_labels,
        };
        self.store_metrics(
            &runtime,
            |info| metrics::target_infos(req, info),
            |out, sink| metrics::convert_points(req, &t, out, sink),
        )
    }

    /// Stores a metrics request's `target_info` samples, then its points through one
    /// [`StoreSink`], and answers with what was rejected (prost and in-place requests alike).
    fn store_metrics(
        &self,
        runtime: &Snapshot,
        infos: impl FnOnce(&mut Vec<crate::model::Sample>),
        points: impl FnOnce(&mut metrics::MetricsOut, &mut StoreSink<'_>),
    ) -> Outcome {
        let mut out = metrics::MetricsOut::default();
        infos(&mut out.info);
        for s in &out.info {
            self.pipeline.sample(PROTOCOL, s);
        }
        let mut sink = StoreSink {
            pipeline: &self.pipeline,
            runtime,
            cache: FamilyCache::default(),
            cached: None,
            rejected: 0,
        };
        points(&mut out, &mut sink);
        let store_rejected = sink.rejected;
        self.metrics_outcome(&out, store_rejected, runtime.config.otlp.max_usage_streams)
    }

    /// A protobuf metrics request read in place ([`crate::otlp::view`]): [`Self::metrics`]
    /// without a `String` per attribute. `None` when prost must decode it instead: an encoding
    /// the in-place reader leaves to prost (malformed ones included), or `usage_source: metrics`.
    pub fn metrics_in_place(&self, body: &[u8]) -> Option<Outcome> {
        let runtime = self.pipeline.snapshot();
        let cfg = &runtime.config;
        if cfg.otlp.usage_source == UsageSource::Metrics {
            return None;
        }
        let req = crate::otlp::view::decode(body).ok()?;
        if let Some(o) = self.over_cap(Signal::Metrics, metrics::count_points_view(&req)) {
            return Some(o);
        }
        let promote = &cfg.otlp.resource_attributes_as_labels;
        Some(self.store_metrics(
            &runtime,
            |info| metrics::target_infos_view(&req, info),
            |out, sink| metrics::convert_points_view(&req, promote, out, sink),
        ))
    }

    fn metrics_outcome(
        &self,
        out: &metrics::MetricsOut,
        store_rejected: u64,
        max_usage_streams: usize,
    ) -> Outcome {
        let signal = Signal::Metrics;
        if !out.usage.is_empty() || !out.ttft.is_empty() {
            self.usage_points(&out.usage, &out.ttft, max_usage_streams);
        }
        for (d, n) in &out.ttft_dropped {
            self.ttft_dropped(*d, *n);
        }
        let mut reasons: Vec<(&str, u64)> =
            out.errors.iter().map(|(e, n)| (e.reason(), *n)).collect();
        if store_rejected > 0 {
            reasons.push(("store", store_rejected));
        }
        self.outcome(signal, &reasons)
    }

    fn usage_points(
        &self,
        points: &[genai::UsagePoint],
        ttft_points: &[ttft::TtftPoint],
        max_streams: usize,
    ) {
        let mut events = Vec::with_capacity(points.len());
        let mut histograms = Vec::with_capacity(ttft_points.len());
        let mut full = 0u64;
        if let Ok(mut streams) = self.streams.lock() {
            streams.set_max(max_streams);
            for p in points {
                match streams.delta(p) {
                    Ok(d) => events.extend(p.event(d)),
                    Err(genai::StreamsFull) => full += 1,
                }
            }
            for p in ttft_points {
                let delta = if p.cumulative {
                    streams.advance(p.stream, p.start_unix_nanos, p.time_unix_nanos, &p.values)
                } else {
                    Ok(Some(p.values.clone()))
                };
                match delta {
                    Ok(d) => {
                        let h = d.as_deref().and_then(ttft::TtftPoint::histogram);
                        histograms.extend(h.map(|h| (p, h)));
                    }
                    Err(genai::StreamsFull) => full += 1,
                }
            }
        }
        if full > 0 {
            self.rejected(Signal::Metrics, "usage_stream_limit", full);
        }
        // One export's token points of a call identity are priced together, as StatsD lines are.
        let events = crate::derive::semantics::merge_lines(events);
        self.pipeline.usage_events(PROTOCOL, &events);
        for (p, h) in histograms {
            self.pipeline.ttft_histogram(PROTOCOL, &p.template, h);
        }
    }

    /// A time to first token that was not recorded although its item was accepted.
    fn ttft_dropped(&self, d: ttft::TtftDrop, n: u64) {
        telemetry::count(
            self.pipeline.store(),
            &catalogue::OTLP_TTFT_DROPPED,
            &[("reason", d.reason())],
            n as f64,
        );
    }

    pub fn traces(&self, req: &ExportTraceServiceRequest) -> Outcome {
        self.spans(req)
    }

    /// A protobuf trace request read in place ([`crate::otlp::view::traces`]): [`Self::traces`]
    /// without a `String` per attribute. `None` when prost must decode it instead (an encoding
    /// the in-place reader leaves to prost, malformed ones included).
    pub fn traces_in_place(&self, body: &[u8]) -> Option<Outcome> {
        let req = crate::otlp::view::traces::decode_traces(body).ok()?;
        Some(self.spans(&req))
    }

    /// Stage durations and GenAI usage from a trace request, decoded by prost or read in place.
    fn spans<R: TraceRequest>(&self, req: &R) -> Outcome {
        let signal = Signal::Traces;
        let n = req.span_count();
        if let Some(o) = self.over_cap(signal, n as u64) {
            return o;
        }
        let runtime = self.pipeline.snapshot();
        let cfg = &runtime.config;
        let usage = cfg.otlp.usage_source == UsageSource::Spans;
        let stage_attribute = cfg.otlp.stage_attribute.as_deref();
        if !usage && stage_attribute.is_none() {
            return Outcome::default();
        }
        let mut dropped: Vec<(ttft::TtftDrop, u64)> = Vec::new();
        // Decided and handed over in chunks: a bounded buffer, one lock and one usage count per
        // chunk, not per span.
        let mut chunk = SpanChunk::new(n.min(USAGE_CHUNK), crate::clock::unix_secs());
        let mut reader = genai::SpanReader::new(&cfg.scope_labels);
        for (resource, scope_name, spans) in req.scopes() {
            let service = get_str(resource, "service.name");
            let instance = get_str(resource, "service.instance.id");
            let semantics = cfg.otlp.raw_usage_scopes.get(scope_name).copied();
            // The arbitration group of the last provider seen here: spans of one scope mostly
            // name one provider, and the group hashes the resource's service and instance too.
            let mut last_group: Option<(String, u64)> = None;
            for span in spans {
                if let Some(attr) = stage_attribute {
                    if let Some(ev) = stage::span_stage(resource, span, attr, &cfg.scope_labels) {
                        self.pipeline.quality(PROTOCOL, &ev);
                    }
                }
                if !usage {
                    continue;
                }
                let Some(mut ev) = reader.span_usage(resource, span) else {
                    continue;
                };
                ev.semantics = semantics.unwrap_or_default();
                match ttft::span_ttft(span) {
                    Some(Ok(d)) => ev.time_to_first_token = Some(d),
                    Some(Err(d)) => match dropped.iter_mut().find(|(k, _)| *k == d) {
                        Some((_, n)) => *n += 1,
                        None => dropped.push((d, 1)),
                    },
                    None => {}
                }
                let call = response_id(span.attributes()).map(|id| call_key(&ev.provider, &id));
                let group = match &last_group {
                    Some((provider, group)) if **provider == *ev.provider => *group,
                    _ => {
                        let group = scope_group(
                            service.as_deref().unwrap_or(""),
                            instance.as_deref().unwrap_or(""),
                            &ev.provider,
                        );
                        last_group = Some((ev.provider.to_string(), group));
                        group
                    }
                };
                chunk.spans.push(Pending {
                    span: span_key(span.trace_id(), span.span_id()),
                    call,
                    group,
                    resource,
                    scope: scope_name,
                    priced: false,
                });
                chunk.events.push(ev);
                if chunk.spans.len() == USAGE_CHUNK {
                    self.price_chunk(&mut chunk);
                }
            }
        }
        self.price_chunk(&mut chunk);
        for (reason, n) in chunk.duplicates {
            if n > 0 {
                self.duplicates(reason, n);
            }
        }
        for (d, n) in dropped {
            self.ttft_dropped(d, n);
        }
        Outcome::default()
    }

    /// Decides a chunk of GenAI spans against the dedup window and prices what is left. The
    /// gate is held until their spend is recorded, so a state commit holds both or neither.
    fn price_chunk(&self, chunk: &mut SpanChunk<'_>) {
        if chunk.spans.is_empty() {
            return;
        }
        one_report_per_call(&chunk.spans, &mut chunk.events);
        let dedup = self.pipeline.dedup();
        let _admitted = dedup.admit();
        let mut evicted = 0;
        let keys;
        {
            let mut d = dedup.lock();
            // Once per run of spans of one group and scope, as the decisions below are asked.
            let mut noted: Option<(u64, &str, bool)> = None;
            for p in &chunk.spans {
                let run = (p.group, p.scope, p.call.is_some());
                if noted
                    .is_some_and(|(g, sc, id)| g == run.0 && std::ptr::eq(sc, run.1) && id == run.2)
                {
                    continue;
                }
                d.scopes.note(run.0, run.1, run.2, chunk.now);
                noted = Some(run);
            }
            // Spans of one scope come together: within a request (one clock second) the same
            // group, scope and kind of span get the same answer, so ask once per run of them.
            let mut last: Option<(u64, &str, bool, bool)> = None;
            // Each event stays where it was built; what is priced is kept in place below.
            for (p, ev) in chunk.spans.iter_mut().zip(chunk.events.iter_mut()) {
                // Two emitters may report one call with different semantics (an SDK's raw usage,
                // an instrumentation's inclusive one): compared and merged in the inclusive form.
                let normalized = normalize(&ev.usage, ev.semantics, true);
                let usage = normalized.usage.as_ref().unwrap_or(&ev.usage);
                match d.window.observe(p.span, p.call, usage, chunk.now) {
                    Verdict::Retry => {
                        chunk.duplicates[0].1 += 1;
                        continue;
                    }
                    Verdict::SameResponse { extra } => {
                        chunk.duplicates[1].1 += 1;
                        let Some(extra) = extra else { continue };
                        // The call and its latency were counted with the first span.
                        ev.usage = extra;
                        ev.semantics = UsageSemantics::Inclusive;
                        ev.status = None;
                        ev.duration = None;
                        ev.time_to_first_token = None;
                        p.priced = true;
                        continue;
                    }
                    Verdict::New => {}
                }
                let has_id = p.call.is_some();
                let verdict = match last {
                    Some((g, scope, id, price))
                        if g == p.group && std::ptr::eq(scope, p.scope) && id == has_id =>
                    {
                        if price {
                            ScopeVerdict::Price
                        } else {
                            ScopeVerdict::Drop { first: None }
                        }
                    }
                    _ => {
                        let v = d.scopes.observe(p.group, p.scope, has_id, chunk.now);
                        last = match v {
                            ScopeVerdict::Price => Some((p.group, p.scope, has_id, true)),
                            ScopeVerdict::Drop { .. } => Some((p.group, p.scope, has_id, false)),
                            ScopeVerdict::Untracked => None,
                        };
                        v
                    }
                };
                match verdict {
                    ScopeVerdict::Price => {}
                    ScopeVerdict::Untracked => chunk.untracked += 1,
                    ScopeVerdict::Drop { first } => {
                        chunk.duplicates[2].1 += 1;
                        if let Some((kept, dropped)) = first {
                            let service = get_str(p.resource, "service.name");
                            let instance = get_str(p.resource, "service.instance.id");
                            tracing::warn!(
                                service = service.as_deref().unwrap_or(""),
                                instance = instance.as_deref().unwrap_or(""),
                                provider = %ev.provider,
                                priced_scope = %kept,
                                dropped_scope = %dropped,
                                "two instrumentation scopes report the same calls; pricing one \
                                 (otlp.usage_scopes), dropping the other's spans"
                            );
                        }
                        continue;
                    }
                }
                p.priced = true;
            }
            keys = d.window.len();
            let e = d.window.evicted();
            if e > d.evictions_reported {
                evicted = e - d.evictions_reported;
                d.evictions_reported = e;
            }
        }
        let mut priced = chunk.spans.iter().map(|p| p.priced);
        chunk.events.retain(|_| priced.next().unwrap_or(false));
        chunk.spans.clear();
        self.pipeline.usage_events(PROTOCOL, &chunk.events);
        chunk.events.clear();
        drop(_admitted);
        telemetry::gauge(
            self.pipeline.store(),
            &catalogue::OTLP_DEDUP_KEYS,
            &[],
            keys as f64,
        );
        if evicted > 0 {
            telemetry::count(
                self.pipeline.store(),
                &catalogue::OTLP_DEDUP_EVICTED,
                &[],
                evicted as f64,
            );
        }
        if chunk.untracked > 0 {
            telemetry::count(
                self.pipeline.store(),
                &catalogue::OTLP_DEDUP_SCOPES_UNTRACKED,
                &[],
                std::mem::take(&mut chunk.untracked) as f64,
            );
        }
    }

    /// GenAI spans acknowledged but not priced (or priced only for usage a first span lacked).
    fn duplicates(&self, reason: &str, n: u64) {
        telemetry::count(
            self.pipeline.store(),
            &catalogue::OTLP_DUPLICATE_SPANS,
            &[("reason", reason)],
            n as f64,
        );
    }

    pub fn logs(&self, req: &ExportLogsServiceRequest) -> Outcome {
        let signal = Signal::Logs;
        let n: usize = req
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        if let Some(o) = self.over_cap(signal, n as u64) {
            return o;
        }
        let runtime = self.pipeline.snapshot();
        let cfg = &runtime.config;
        let mut bad = 0u64;
        for rl in &req.resource_logs {
            let resource = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes);
            for sl in &rl.scope_logs {
                for r in &sl.log_records {
                    match logs::evaluation(resource, r, &cfg.scope_labels) {
                        Ok(Some(ev)) => self.pipeline.quality(PROTOCOL, &ev),
                        Ok(None) => {}
                        Err(logs::EvaluationError::NoScore) => bad += 1,
                    }
                }
            }
        }
        self.outcome(signal, &[("evaluation_without_score", bad)])
    }

    fn outcome(&self, signal: Signal, reasons: &[(&str, u64)]) -> Outcome {
        let mut total = 0u64;
        let mut parts = Vec::new();
        for (reason, n) in reasons.iter().filter(|(_, n)| *n > 0) {
            self.rejected(signal, reason, *n);
            total += n;
            parts.push(format!("{n} {reason}"));
        }
        if total == 0 {
            return Outcome::default();
        }
        Outcome {
            rejected: i64::try_from(total).unwrap_or(i64::MAX),
            message: format!(
                "{total} {} rejected: {} (see meterd_otlp_items_rejected and meterd_samples_rejected)",
                item_name(signal),
                parts.join(", ")
            ),
        }
    }
}

/// Stores data points as they are translated, by their borrowed labels.
struct StoreSink<'a> {
    pipeline: &'a Pipeline,
    runtime: &'a Snapshot,
    /// The family of `cached`: a request's points come metric by metric, so most skip the family
    /// lookup.
    cache: FamilyCache,
    cached: Option<Arc<str>>,
    rejected: u64,
}

impl metrics::PointSink for StoreSink<'_> {
    fn point(&mut self, p: metrics::Point<'_>) {
        if self.cached.as_deref().is_none_or(|c| c != &**p.name) {
            self.cache = FamilyCache::default();
            self.cached = Some(p.name.clone());
        }
        let target = PairsTarget {
            name: p.name,
            pairs: p.labels,
            options: p.options,
        };
        let cache = &mut self.cache;
        if !self
            .pipeline
            .sample_pairs(PROTOCOL, self.runtime, cache, target, p.value, p.exemplar)
        {
            self.rejected += 1;
        }
    }
}

/// A GenAI span waiting for its dedup decision.
/// Spans of one response in one request (an SDK's own span and an instrumentation's, exported
/// together) all carry the most complete report of the call, whole, so the window prices it once
/// from that report (see `derive::dedup::complete`).
fn one_report_per_call(spans: &[Pending<'_>], events: &mut [UsageEvent]) {
    // Most requests report each response once: sorted key heads (the keys are digests, so
    // distinct heads mean distinct keys) show that with a sort of integers.
    let mut heads: Vec<u64> = spans
        .iter()
        .filter_map(|p| p.call.map(|k| key_head(&k)))
        .collect();
    heads.sort_unstable();
    if heads.windows(2).all(|w| w[0] != w[1]) {
        return;
    }
    // Sorted keys find the responses reported more than once without a table per request.
    let mut keyed: Vec<(CallKey, usize)> = spans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.call.map(|k| (k, i)))
        .collect();
    if keyed.len() < 2 {
        return;
    }
    keyed.sort_unstable();
    for group in keyed.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        let inclusive: Vec<_> = group
            .iter()
            .map(|&(_, i)| {
                let ev = &events[i];
                let n = normalize(&ev.usage, ev.semantics, true);
                n.usage.unwrap_or_else(|| ev.usage.clone())
            })
            .collect();
        let Some(best) = most_complete(&inclusive) else {
            continue;
        };
        for &(_, i) in group {
            events[i].usage = inclusive[best].clone();
            events[i].semantics = UsageSemantics::Inclusive;
        }
    }
}

fn key_head(k: &CallKey) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&k[..8]);
    u64::from_le_bytes(head)
}

struct Pending<'a> {
    span: Option<SpanKey>,
    call: Option<CallKey>,
    group: u64,
    resource: &'a [KeyValue],
    scope: &'a str,
    /// Decided to be priced (its event, at the same index in [`SpanChunk::events`], is kept).
    priced: bool,
}

struct SpanChunk<'a> {
    spans: Vec<Pending<'a>>,
    events: Vec<UsageEvent>,
    now: u64,
    duplicates: [(&'static str, u64); 3],
    untracked: u64,
}

impl SpanChunk<'_> {
    fn new(capacity: usize, now: u64) -> Self {
        SpanChunk {
            spans: Vec::with_capacity(capacity),
            events: Vec::with_capacity(capacity),
            now,
            duplicates: [("retry", 0), ("same_response", 0), ("overlapping_scope", 0)],
            untracked: 0,
        }
    }
}

/// The provider's id of the response a span describes (`gen_ai.response.id`).
fn response_id<A: Attribute>(attrs: &[A]) -> Option<std::borrow::Cow<'_, str>> {
    get_str(attrs, "gen_ai.response.id")
}

fn item_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Metrics => "data points",
        Signal::Traces => "spans",
        Signal::Logs => "log records",
    }
}
