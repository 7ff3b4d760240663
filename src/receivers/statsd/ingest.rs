//! One parser worker's path from a batch of lines to the pipeline: parse, resolve the name (cached
//! per worker, so mapping rules run once per name), enforce label limits, hand samples and
//! convention events on, and count. No sockets: a batch is bytes in, effects on the pipeline out.
//!
//! Counts are kept locally and flushed by the caller ([`Worker::flush`]) when its queue runs dry
//! or every few batches: one store update per counter per flush instead of per line.

mod aggregate;
mod fast;

use crate::model::Labels;
use crate::names::sanitize_label_name;
use crate::pipeline::{Pipeline, Snapshot};
use crate::statsd::convention::{self, Event};
use crate::statsd::mapping::Resolved;
use crate::statsd::parse::{self, MetricType, ParseError, Value};
use crate::telemetry::catalogue;
use crate::telemetry::{self, RateLimit};
use aggregate::{Aggregator, Pending, SeriesKey, Verdict};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Why a line (or one sample of it) was not ingested; `reason()` labels
/// `meterd_statsd_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Convention(#[from] convention::ConventionError),
    #[error("more labels than limits.max_labels_per_series")]
    TooManyLabels,
    #[error("a label value is longer than limits.max_label_value_bytes")]
    LabelValueTooLong,
    #[error("tag `le` is reserved on timers, histograms and distributions")]
    ReservedLabel,
    #[error("names starting with meterd_ are reserved for meterd's own metrics")]
    ReservedName,
    #[error("sample rate below limits.min_sample_rate")]
    SampleRateTooLow,
}

impl LineError {
    pub fn reason(self) -> &'static str {
        match self {
            LineError::Parse(e) => e.reason(),
            LineError::Convention(e) => e.reason(),
            LineError::TooManyLabels => "too_many_labels",
            LineError::LabelValueTooLong => "label_value_too_long",
            LineError::ReservedLabel => "reserved_label",
            LineError::ReservedName => "reserved_name",
            LineError::SampleRateTooLow => "sample_rate_too_low",
        }
    }
}

#[derive(Default)]
struct Counts {
    packets: u64,
    lines: u64,
    mapping_drops: u64,
    /// Few distinct reasons ever occur together: a short list beats a map.
    errors: Vec<(&'static str, u64)>,
    /// Lines kept despite a malformed part, by [`parse::Warning`] reason.
    warnings: Vec<(&'static str, u64)>,
}

fn bump(list: &mut Vec<(&'static str, u64)>, reason: &'static str) {
    match list.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, n)) => *n += 1,
        None => list.push((reason, 1)),
    }
}

/// Counts a refused line and logs it (rate limited).
#[cold]
fn report(errors: &mut Vec<(&'static str, u64)>, line: &[u8], e: LineError) {
    bump(errors, e.reason());
    telemetry::rate_limited_warn(
        &INVALID_LINE_LOG,
        format_args!(
            "invalid StatsD line ({}: {e}): {:?}",
            e.reason(),
            String::from_utf8_lossy(line.get(..line.len().min(200)).unwrap_or_default())
        ),
    );
}

static INVALID_LINE_LOG: RateLimit = RateLimit::new();

/// Per-worker state: the mapping cache of the current config snapshot, and pending counts.
pub struct Worker {
    runtime: Option<Arc<Snapshot>>,
    /// One map per StatsD type (a rule may filter on type), keyed by the StatsD name.
    cache: [FastMap<Box<str>, Resolved>; 6],
    series: Aggregator,
    counts: [Counts; 2],
    set_hasher: foldhash::fast::FixedState,
    /// Tests turn the known-series fast path (`fast`) off to compare it with the full path.
    #[cfg(test)]
    full_only: bool,
}

impl Default for Worker {
    fn default() -> Self {
        Worker {
            runtime: None,
            cache: Default::default(),
            series: Aggregator::default(),
            counts: Default::default(),
            set_hasher: foldhash::fast::FixedState::with_seed(0x5e7),
            #[cfg(test)]
            full_only: false,
        }
    }
}

impl Worker {
    /// Ingests one packet (UDP) or batch of complete lines (TCP).
    pub fn batch(
        &mut self,
        pipeline: &Pipeline,
        transport: Transport,
        data: &[u8],
        now_unix_nanos: u64,
    ) {
        self.datagrams(pipeline, transport, data, 1, now_unix_nanos);
    }

    /// Ingests `packets` datagrams packed back to back, each ending in a newline.
    pub fn datagrams(
        &mut self,
        pipeline: &Pipeline,
        transport: Transport,
        data: &[u8],
        packets: usize,
        now_unix_nanos: u64,
    ) {
        self.each_datagram(pipeline, transport, [data], packets, now_unix_nanos);
    }

    /// Ingests UDP datagrams each in a buffer of its own (a receive thread that parses what it
    /// receives: the `recvmmsg` slots, not copied). The snapshot is read once for all of them.
    pub fn udp_datagrams<'d>(
        &mut self,
        pipeline: &Pipeline,
        datagrams: impl IntoIterator<Item = &'d [u8]>,
        now_unix_nanos: u64,
    ) {
        let mut n = 0;
        let counted = datagrams.into_iter().inspect(|_| n += 1);
        self.each_datagram(pipeline, Transport::Udp, counted, 0, now_unix_nanos);
        self.counts[Transport::Udp as usize].packets += n;
    }

    fn each_datagram<'d>(
        &mut self,
        pipeline: &Pipeline,
        transport: Transport,
        data: impl IntoIterator<Item = &'d [u8]>,
        packets: usize,
        now_unix_nanos: u64,
    ) {
        // Read per batch, so a reload applies from the next packet on; rules compiled per
        // snapshot, results cached until the snapshot changes.
        let rt = pipeline.snapshot();
        if !self.runtime.as_ref().is_some_and(|r| Arc::ptr_eq(r, &rt)) {
            // What is pending was resolved under the old snapshot, as it would have been applied.
            self.series.flush(pipeline);
            self.series.clear();
            self.cache.iter_mut().for_each(FastMap::clear);
            self.runtime = Some(rt.clone());
        }
        let counts = &mut self.counts[transport as usize];
        counts.packets += packets as u64;
        // Usage lines are priced at the end of the batch, a call's lines together (see
        // `derive::semantics::merge_lines`).
        let mut usage = Vec::new();
        #[cfg(test)]
        let fast = !self.full_only;
        #[cfg(not(test))]
        let fast = true;
        let mut w = Scope {
            cache: &mut self.cache,
            series: &mut self.series,
            set_hasher: &self.set_hasher,
            mapping_drops: &mut counts.mapping_drops,
            warnings: &mut counts.warnings,
            pipeline,
            rt: &rt,
            usage: &mut usage,
        };
        let (lines, errors) = (&mut counts.lines, &mut counts.errors);
        for chunk in data {
            // UTF-8 checked once per datagram (or batch); only a batch holding an invalid line
            // is checked line by line, so that line alone is refused.
            let Ok(text) = std::str::from_utf8(chunk) else {
                for line in parse::lines(chunk) {
                    *lines += 1;
                    if let Err(e) = ingest_line(&mut w, line, None, now_unix_nanos) {
                        report(errors, line, e);
                    }
                }
                continue;
            };
            let mut rest = parse::str_lines(text);
            loop {
                let mut group = [fast::Looked::NONE; fast::GROUP];
                let mut n = 0;
                for (looked, line) in group.iter_mut().zip(rest.by_ref()) {
                    *looked = if fast {
                        fast::look_up(&w, line)
                    } else {
                        fast::Looked::full(line)
                    };
                    n += 1;
                }
                for looked in group.get(..n).unwrap_or_default() {
                    *lines += 1;
                    let line = looked.line;
                    let result = match fast::merge(&mut w, looked) {
                        Some(result) => result,
                        None => ingest_line(&mut w, line.as_bytes(), Some(line), now_unix_nanos),
                    };
                    if let Err(e) = result {
                        report(errors, line.as_bytes(), e);
                    }
                }
                if n < fast::GROUP {
                    break;
                }
            }
        }
        if !usage.is_empty() {
            pipeline.usage_events("statsd", &crate::derive::semantics::merge_lines(usage));
        }
    }

    /// Publishes pending values and counts to the store.
    pub fn flush(&mut self, pipeline: &Pipeline) {
        self.series.flush(pipeline);
        let store = pipeline.store();
        for (i, transport) in [Transport::Udp, Transport::Tcp].into_iter().enumerate() {
            let c = std::mem::take(&mut self.counts[i]);
            let t = [("transport", transport.as_str())];
            telemetry::count(
                store,
                &catalogue::STATSD_PACKETS_RECEIVED,
                &t,
                c.packets as f64,
            );
            telemetry::count(store, &catalogue::STATSD_LINES_RECEIVED, &t, c.lines as f64);
            for (reason, n) in c.errors {
                telemetry::count(
                    store,
                    &catalogue::STATSD_ERRORS,
                    &[("reason", reason)],
                    n as f64,
                );
            }
            for (reason, n) in c.warnings {
                telemetry::count(
                    store,
                    &catalogue::STATSD_WARNINGS,
                    &[("reason", reason)],
                    n as f64,
                );
            }
            count_samples_dropped(pipeline, "mapping_drop", c.mapping_drops);
        }
    }
}

pub(crate) fn count_samples_dropped(pipeline: &Pipeline, reason: &str, n: u64) {
    telemetry::count(
        pipeline.store(),
        &catalogue::STATSD_SAMPLES_DROPPED,
        &[("reason", reason)],
        n as f64,
    );
}

fn resolve<'c>(
    cache: &'c mut [FastMap<Box<str>, Resolved>; 6],
    rt: &Snapshot,
    name: &str,
    kind: MetricType,
) -> &'c Resolved {
    let map = &mut cache[kind.index()];
    if !map.contains_key(name) {
        // Bounded: a flood of distinct names empties the cache rather than growing it.
        if map.len() >= rt.statsd.cache_size {
            map.clear();
        }
        map.insert(name.into(), rt.statsd.resolve(name, kind));
    }
    match map.get(name) {
        Some(r) => r,
        None => &Resolved::Drop,
    }
}

/// What one line needs besides its bytes.
struct Scope<'w> {
    cache: &'w mut [FastMap<Box<str>, Resolved>; 6],
    series: &'w mut Aggregator,
    set_hasher: &'w foldhash::fast::FixedState,
    mapping_drops: &'w mut u64,
    warnings: &'w mut Vec<(&'static str, u64)>,
    pipeline: &'w Pipeline,
    rt: &'w Snapshot,
    usage: &'w mut Vec<crate::model::UsageEvent>,
}

/// `text`: the same line, when its UTF-8 is already checked.
fn ingest_line(
    w: &mut Scope<'_>,
    line: &[u8],
    text: Option<&str>,
    now_unix_nanos: u64,
) -> Result<(), LineError> {
    let rt = w.rt;
    let limits = &rt.config.limits;
    if line.len() > limits.max_line_bytes {
        return Err(ParseError::LineTooLong.into());
    }
    // Tags are checked once per distinct tag text, when `verdict` settles a new series key.
    let parsed = match text {
        Some(text) => parse::parse_str_unchecked_tags(text)?,
        None => parse::parse_line_unchecked_tags(line)?,
    };
    // Before anything is applied: a rate of 1e-300 turns any value, generic or usage, into an
    // absurd one, and one sample of a line is as suspect as the others.
    if parsed.samples().any(|s| s.rate < limits.min_sample_rate) {
        return Err(LineError::SampleRateTooLow);
    }
    let mut first_error = None;
    let mut warned = false;
    for sample in parsed.samples() {
        let cache = &mut *w.cache;
        let container = sample
            .container
            .filter(|_| rt.config.statsd.container_id_label);
        let i = w.series.entry(
            w.pipeline,
            rt.config.statsd.series_cache_size,
            SeriesKey {
                kind: sample.kind,
                name: &parsed.name,
                tags: &parsed.tags,
                container,
            },
            || {
                verdict(
                    cache,
                    rt,
                    &parsed.name,
                    &parsed.tags,
                    container,
                    sample.kind,
                )
            },
        );
        let settled = match w.series.non_metric(i) {
            None => None,
            // `non_metric` never yields a metric; were it to, dropping is the safe reading.
            Some(Verdict::Metric { .. }) | Some(Verdict::Drop) => {
                *w.mapping_drops += 1;
                Some(Ok(()))
            }
            Some(Verdict::Reject(e)) => Some(Err(*e)),
            // What statsd_exporter tolerates (a rate read as 1, a dropped tag) must not reach
            // money or quality figures: the convention takes only well-formed lines.
            Some(Verdict::Convention(_)) if !parsed.warnings.is_empty() => Some(Err(parsed
                .warnings
                .strict_error()
                .unwrap_or(ParseError::BadTags)
                .into())),
            Some(Verdict::Convention(kind)) => Some(
                convention::convert(
                    *kind,
                    &parsed.tags,
                    sample,
                    now_unix_nanos,
                    limits.max_usage_per_line,
                )
                .map(|event| match event {
                    Event::Usage(mut ev) => {
                        ev.semantics = rt.config.statsd.usage_semantics(&ev.provider);
                        w.usage.push(ev);
                    }
                    Event::Quality { event, repeat } => {
                        for _ in 0..repeat {
                            w.pipeline.quality("statsd", &event);
                        }
                    }
                })
                .map_err(LineError::from),
            ),
        };
        let result = match settled {
            Some(r) => r,
            None => to_value(w.set_hasher, sample).map(|v| {
                warned = true;
                w.series.merge(i, v)
            }),
        };
        // One bad sample does not stop the others of a multi-value line; the line counts once.
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    if warned {
        for warning in parsed.warnings.iter() {
            bump(w.warnings, warning.reason());
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Everything about a sample that follows from its type, name and tags alone: decided once per
/// series key, in the order the checks always ran (tag limits, then the mapping, then labels).
fn verdict(
    cache: &mut [FastMap<Box<str>, Resolved>; 6],
    rt: &Snapshot,
    name: &str,
    tags: &parse::Tags<'_>,
    container: Option<&str>,
    kind: MetricType,
) -> Verdict {
    let limits = &rt.config.limits;
    if let Err(e) = tags.validate() {
        return Verdict::Reject(e.into());
    }
    let mut tag_count = 0;
    for (_, v) in tags.iter() {
        tag_count += 1;
        if v.len() > limits.max_label_value_bytes {
            return Verdict::Reject(LineError::LabelValueTooLong);
        }
    }
    if tag_count > limits.max_labels_per_series {
        return Verdict::Reject(LineError::TooManyLabels);
    }
    match resolve(cache, rt, name, kind) {
        Resolved::Drop => Verdict::Drop,
        Resolved::Reserved => Verdict::Reject(LineError::ReservedName),
        Resolved::Convention(kind) => Verdict::Convention(*kind),
        Resolved::Metric {
            name,
            labels,
            options,
        } => match to_labels(limits, tags, container, kind, labels) {
            Ok(labels) => Verdict::Metric {
                name: name.clone(),
                labels: rt.deriver.redact(&labels).unwrap_or(labels),
                options: options.clone(),
            },
            Err(e) => Verdict::Reject(e),
        },
    }
}

fn to_labels(
    limits: &crate::config::Limits,
    tags: &parse::Tags<'_>,
    container: Option<&str>,
    kind: MetricType,
    mapped: &[(Box<str>, Box<str>)],
) -> Result<Labels, LineError> {
    use std::borrow::Cow;
    // The container id wins over a tag of its name, mapping labels over both (they come last).
    let labels = Labels::new(
        tags.iter()
            .map(|(k, v)| (sanitize_label_name(k), v))
            .chain(container.map(|c| (Cow::Borrowed(CONTAINER_LABEL), c)))
            .chain(mapped.iter().map(|(k, v)| (Cow::Borrowed(&**k), &**v))),
    );
    if labels.len() > limits.max_labels_per_series {
        return Err(LineError::TooManyLabels);
    }
    if labels
        .iter()
        .any(|(_, v)| v.len() > limits.max_label_value_bytes)
    {
        return Err(LineError::LabelValueTooLong);
    }
    if kind.is_observation() && labels.get("le").is_some() {
        return Err(LineError::ReservedLabel);
    }
    Ok(labels)
}

/// The label of DogStatsD's `|c:<id>` field when `statsd.container_id_label` is on (the name
/// statsd_exporter gives it).
const CONTAINER_LABEL: &str = "container_id";

fn to_value(
    set_hasher: &foldhash::fast::FixedState,
    sample: &parse::Sample<'_>,
) -> Result<Pending, LineError> {
    let weight = 1.0 / sample.rate;
    Ok(match (sample.kind, sample.value) {
        (MetricType::Counter, Value::Number(v)) => Pending::CounterAdd(v * weight),
        (MetricType::Gauge, Value::Number(v)) => Pending::GaugeSet(v),
        (MetricType::Gauge, Value::Delta(v)) => Pending::GaugeAdd(v),
        (MetricType::Timer, Value::Number(v)) => Pending::Observe {
            value: v / 1000.0,
            weight,
        },
        (MetricType::Histogram | MetricType::Distribution, Value::Number(v)) => {
            Pending::Observe { value: v, weight }
        }
        (MetricType::Set, Value::Member(m)) => Pending::SetInsert(set_hasher.hash_one(m)),
        _ => return Err(ParseError::BadValue.into()),
    })
}

#[cfg(test)]
mod fast_path_tests;
#[cfg(test)]
mod parity_tests;
#[cfg(test)]
mod tests;
