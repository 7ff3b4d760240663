//! `ExportMetricsServiceRequest` -> samples, per the OTel "Prometheus and OpenMetrics
//! compatibility" spec. Pure. Temporality is handed to the store as it arrives: delta points add
//! (`CounterAdd`, `HistogramAdd`, `GaugeAdd`), cumulative points set with their start time
//! (`CounterSet`, `HistogramSet`) so the store keeps totals monotonic across sender restarts.
//!
//! GenAI usage metrics are also collected as [`genai::UsagePoint`]s, and time-to-first-token
//! histograms as [`ttft::TtftPoint`]s, when metrics are the usage source.

pub use super::exponential::{exponential_bounds, exponential_to_classic};
pub use borrowed::{convert_points_view, count_points_view, target_infos_view};
pub use sink::{Point, PointSink};

mod borrowed;
mod sink;

use super::attrs::Attribute;
use super::genai;
use super::names::{metric_name, Shape};
use super::resource::{common_labels, sanitized, sanitized_borrowed, sanitized_plain, target_info};
use super::ttft;
use crate::model::{
    Exemplar, FamilyOptions, HistogramData, LabelPolicy, Labels, Sample, SampleValue, SummaryData,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Exemplar as OtlpExemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, SummaryDataPoint,
};
use std::sync::Arc;

const NO_RECORDED_VALUE: u32 = 1;

/// How a whole request is translated (from the config snapshot).
#[derive(Clone, Debug, Default)]
pub struct Translation<'a> {
    pub promote: &'a [String],
    /// Collect GenAI usage points (when metrics are the usage source).
    pub usage: bool,
    /// The configured scope labels, looked up on GenAI usage points.
    pub scope_labels: &'a [String],
}

/// Why a data point was not turned into a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointError {
    /// No value, an unknown value type, or a metric with no data.
    NoValue,
    /// Sum or histogram with unspecified aggregation temporality.
    NoTemporality,
    /// Bucket counts and bounds disagree, or bounds are not increasing.
    BadBuckets,
}

impl PointError {
    pub fn reason(self) -> &'static str {
        match self {
            PointError::NoValue => "no_value",
            PointError::NoTemporality => "no_temporality",
            PointError::BadBuckets => "bad_buckets",
        }
    }
}

#[derive(Debug, Default)]
pub struct MetricsOut {
    pub samples: Vec<Sample>,
    /// `target_info` samples: metadata, not counted as accepted or rejected points.
    pub info: Vec<Sample>,
    pub usage: Vec<genai::UsagePoint>,
    /// Time-to-first-token histogram points (collected with usage points, from the same source).
    pub ttft: Vec<ttft::TtftPoint>,
    pub ttft_dropped: Vec<(ttft::TtftDrop, u64)>,
    pub points: u64,
    pub errors: Vec<(PointError, u64)>,
}

impl MetricsOut {
    fn error(&mut self, e: PointError) {
        match self.errors.iter_mut().find(|(k, _)| *k == e) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((e, 1)),
        }
    }

    fn ttft_drop(&mut self, d: ttft::TtftDrop) {
        match self.ttft_dropped.iter_mut().find(|(k, _)| *k == d) {
            Some((_, n)) => *n += 1,
            None => self.ttft_dropped.push((d, 1)),
        }
    }

    pub fn rejected(&self) -> u64 {
        self.errors.iter().map(|(_, n)| n).sum()
    }
}

/// Data points in a request (for the per-request cap, before any work is done).
pub fn count_points(req: &ExportMetricsServiceRequest) -> u64 {
    let mut n = 0u64;
    for rm in &req.resource_metrics {
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                n += match &m.data {
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                    None => 1,
                } as u64;
            }
        }
    }
    n
}

fn target_info_options() -> Arc<FamilyOptions> {
    Arc::new(FamilyOptions {
        help: Some(Arc::from(
            "Target metadata: the OTLP resource attributes of each sender.",
        )),
        label_policy: LabelPolicy::Any,
        ..Default::default()
    })
}

/// The whole translation, data point samples collected in `out.samples`.
pub fn convert(req: &ExportMetricsServiceRequest, t: &Translation<'_>, out: &mut MetricsOut) {
    target_infos(req, &mut out.info);
    let mut samples = std::mem::take(&mut out.samples);
    convert_points(req, t, out, &mut samples);
    out.samples = samples;
}

/// The `target_info` sample of each resource that has one.
pub fn target_infos(req: &ExportMetricsServiceRequest, info: &mut Vec<Sample>) {
    resource_infos(
        req.resource_metrics
            .iter()
            .map(|rm| rm.resource.as_ref().map_or(&[][..], |r| &r.attributes[..])),
        info,
    );
}

/// `target_info` samples of resources given by their attributes (the prost request's and the
/// in-place one's alike).
pub(crate) fn resource_infos<'a>(
    resources: impl Iterator<Item = &'a [KeyValue]>,
    info: &mut Vec<Sample>,
) {
    let info_options = target_info_options();
    for resource in resources {
        if let Some(labels) = target_info(resource) {
            info.push(Sample {
                name: "target_info".into(),
                labels,
                value: SampleValue::GaugeSet(1.0),
                options: info_options.clone(),
                exemplar: None,
            });
        }
    }
}

/// Everything but `target_info`, data point samples handed to `sink` as they are translated.
pub fn convert_points(
    req: &ExportMetricsServiceRequest,
    t: &Translation<'_>,
    out: &mut MetricsOut,
    sink: &mut dyn PointSink,
) {
    for rm in &req.resource_metrics {
        let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
        for sm in &rm.scope_metrics {
            let common = common_labels(resource, sm.scope.as_ref(), t.promote);
            for m in &sm.metrics {
                let mut ctx = Ctx {
                    common: &common,
                    options: Arc::new(FamilyOptions {
                        help: (!m.description.is_empty())
                            .then(|| Arc::from(m.description.as_str())),
                        label_policy: LabelPolicy::Any,
                        ..Default::default()
                    }),
                    out,
                    sink,
                };
                let usage = if t.usage {
                    genai::usage_metric(&m.name)
                } else {
                    None
                };
                let is_ttft = t.usage && ttft::is_ttft_metric(&m.name);
                match &m.data {
                    None => ctx.out.error(PointError::NoValue),
                    Some(Data::Gauge(g)) => {
                        let name: Arc<str> = metric_name(&m.name, &m.unit, Shape::Gauge).into();
                        for p in &g.data_points {
                            ctx.number(&name, p, |v| Some(SampleValue::GaugeSet(v)));
                        }
                    }
                    Some(Data::Sum(s)) => {
                        let temporality = s.aggregation_temporality;
                        let cumulative = temporality == AggregationTemporality::Cumulative as i32;
                        let delta = temporality == AggregationTemporality::Delta as i32;
                        let shape = if s.is_monotonic {
                            Shape::Counter
                        } else {
                            Shape::Gauge
                        };
                        let name: Arc<str> = metric_name(&m.name, &m.unit, shape).into();
                        for p in &s.data_points {
                            if !cumulative && !delta {
                                ctx.out.points += 1;
                                ctx.out.error(PointError::NoTemporality);
                                continue;
                            }
                            if let Some(kind) = usage {
                                if let Some(v) = number(p) {
                                    ctx.out.usage.push(genai::UsagePoint::new(
                                        &m.name,
                                        kind,
                                        resource,
                                        sm.scope.as_ref(),
                                        &p.attributes,
                                        t.scope_labels,
                                        cumulative,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        v,
                                    ));
                                }
                            }
                            let start = p.start_time_unix_nano;
                            ctx.number(&name, p, |v| {
                                Some(match (s.is_monotonic, cumulative) {
                                    (true, true) => SampleValue::CounterSet {
                                        value: v,
                                        start_unix_nanos: start,
                                    },
                                    (true, false) => SampleValue::CounterAdd(v),
                                    (false, true) => SampleValue::GaugeSet(v),
                                    (false, false) => SampleValue::GaugeAdd(v),
                                })
                            });
                        }
                    }
                    Some(Data::Histogram(h)) => {
                        let temporality = h.aggregation_temporality;
                        let cumulative = temporality == AggregationTemporality::Cumulative as i32;
                        let delta = temporality == AggregationTemporality::Delta as i32;
                        let name: Arc<str> = metric_name(&m.name, &m.unit, Shape::Other).into();
                        for p in &h.data_points {
                            if !cumulative && !delta {
                                ctx.out.points += 1;
                                ctx.out.error(PointError::NoTemporality);
                                continue;
                            }
                            if let Some(kind) = usage {
                                let v = genai::histogram_usage_value(kind, p);
                                ctx.out.usage.push(genai::UsagePoint::new(
                                    &m.name,
                                    kind,
                                    resource,
                                    sm.scope.as_ref(),
                                    &p.attributes,
                                    t.scope_labels,
                                    cumulative,
                                    p.start_time_unix_nano,
                                    p.time_unix_nano,
                                    v,
                                ));
                            }
                            if is_ttft {
                                match ttft::TtftPoint::new(
                                    &m.name,
                                    &m.unit,
                                    resource,
                                    sm.scope.as_ref(),
                                    p,
                                    t.scope_labels,
                                    cumulative,
                                ) {
                                    Ok(Some(point)) => ctx.out.ttft.push(point),
                                    Ok(None) => {}
                                    Err(d) => ctx.out.ttft_drop(d),
                                }
                            }
                            ctx.histogram(&name, p, cumulative);
                        }
                    }
                    Some(Data::ExponentialHistogram(h)) => {
                        let temporality = h.aggregation_temporality;
                        let cumulative = temporality == AggregationTemporality::Cumulative as i32;
                        let delta = temporality == AggregationTemporality::Delta as i32;
                        let name: Arc<str> = metric_name(&m.name, &m.unit, Shape::Other).into();
                        for p in &h.data_points {
                            if !cumulative && !delta {
                                ctx.out.points += 1;
                                ctx.out.error(PointError::NoTemporality);
                                continue;
                            }
                            ctx.exponential(&name, p, cumulative);
                        }
                    }
                    Some(Data::Summary(s)) => {
                        let name: Arc<str> = metric_name(&m.name, &m.unit, Shape::Other).into();
                        ctx.summaries(&name, &s.data_points);
                    }
                }
            }
        }
    }
}

fn number(p: &NumberDataPoint) -> Option<f64> {
    match p.value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

/// What a histogram point's conversion reads, from either decoder.
struct HistogramParts<'p> {
    flags: u32,
    count: u64,
    sum: Option<f64>,
    bucket_counts: &'p [u64],
    explicit_bounds: &'p [f64],
    start_unix_nanos: u64,
}

struct Ctx<'a> {
    common: &'a [(String, String)],
    options: Arc<FamilyOptions>,
    out: &'a mut MetricsOut,
    sink: &'a mut dyn PointSink,
}

/// Label pairs of a point gathered on the stack: points carry a handful of attributes plus the
/// resource and scope labels, and a buffer per point cost an allocation each.
const INLINE_PAIRS: usize = 16;

impl Ctx<'_> {
    fn push<A: Attribute>(
        &mut self,
        name: &Arc<str>,
        attrs: &[A],
        value: SampleValue,
        exemplar: Option<Exemplar>,
    ) {
        // Resource and scope labels come last so they win over a point attribute of the same name:
        // they say which target the series belongs to.
        let mut buf = [("", ""); INLINE_PAIRS];
        let room = INLINE_PAIRS.saturating_sub(self.common.len());
        if let Some(n) = sanitized_plain(attrs, &mut buf[..room]) {
            let len = n + self.common.len();
            for (slot, (k, v)) in buf[n..len].iter_mut().zip(self.common) {
                *slot = (k.as_str(), v.as_str());
            }
            return self.emit(name, &mut buf[..len], value, exemplar);
        }
        // Names to sanitize, values to render as text, repeated names: rare enough to allocate.
        let point = sanitized_borrowed(attrs);
        let pairs = point
            .iter()
            .map(|(k, v)| (&**k, &**v))
            .chain(self.common.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let len = point.len() + self.common.len();
        if len <= INLINE_PAIRS {
            for (slot, pair) in buf.iter_mut().zip(pairs) {
                *slot = pair;
            }
            self.emit(name, &mut buf[..len], value, exemplar);
        } else {
            self.emit(name, &mut pairs.collect::<Vec<_>>(), value, exemplar);
        }
    }

    /// Hands a point to the sink once its pairs are normalized.
    fn emit(
        &mut self,
        name: &Arc<str>,
        pairs: &mut [(&str, &str)],
        value: SampleValue,
        exemplar: Option<Exemplar>,
    ) {
        let n = Labels::normalize_borrowed(pairs);
        self.sink.point(Point {
            name,
            labels: &pairs[..n],
            value,
            options: &self.options,
            exemplar,
        });
    }

    fn number(
        &mut self,
        name: &Arc<str>,
        p: &NumberDataPoint,
        to_value: impl FnOnce(f64) -> Option<SampleValue>,
    ) {
        let ex = || exemplar(&p.exemplars);
        self.number_parts(name, p.flags, number(p), &p.attributes, ex, to_value);
    }

    /// A number point from its parts, decoded by prost or read in place.
    fn number_parts<A: Attribute>(
        &mut self,
        name: &Arc<str>,
        flags: u32,
        v: Option<f64>,
        attrs: &[A],
        exemplar: impl FnOnce() -> Option<Exemplar>,
        to_value: impl FnOnce(f64) -> Option<SampleValue>,
    ) {
        self.out.points += 1;
        if flags & NO_RECORDED_VALUE != 0 {
            return;
        }
        let Some(v) = v else {
            self.out.error(PointError::NoValue);
            return;
        };
        let Some(value) = to_value(v) else { return };
        let ex = exemplar();
        self.push(name, attrs, value, ex);
    }

    fn histogram(&mut self, name: &Arc<str>, p: &HistogramDataPoint, cumulative: bool) {
        let parts = HistogramParts {
            flags: p.flags,
            count: p.count,
            sum: p.sum,
            bucket_counts: &p.bucket_counts,
            explicit_bounds: &p.explicit_bounds,
            start_unix_nanos: p.start_time_unix_nano,
        };
        let ex = || exemplar(&p.exemplars);
        self.histogram_parts(name, &parts, &p.attributes, ex, cumulative);
    }

    fn histogram_parts<A: Attribute>(
        &mut self,
        name: &Arc<str>,
        p: &HistogramParts<'_>,
        attrs: &[A],
        exemplar: impl FnOnce() -> Option<Exemplar>,
        cumulative: bool,
    ) {
        self.out.points += 1;
        if p.flags & NO_RECORDED_VALUE != 0 {
            return;
        }
        let data = if p.bucket_counts.is_empty() {
            // Count and sum only: one +Inf bucket holds everything.
            HistogramData {
                bounds: Arc::new([]),
                counts: vec![p.count],
                sum: p.sum.unwrap_or(0.0),
                count: p.count,
            }
        } else {
            let ordered = p.explicit_bounds.windows(2).all(|w| w[0] < w[1])
                && p.explicit_bounds.iter().all(|b| !b.is_nan());
            if p.bucket_counts.len() != p.explicit_bounds.len() + 1 || !ordered {
                self.out.error(PointError::BadBuckets);
                return;
            }
            HistogramData {
                bounds: Arc::from(p.explicit_bounds),
                counts: p.bucket_counts.to_vec(),
                sum: p.sum.unwrap_or(0.0),
                count: p.count,
            }
        };
        let value = if cumulative {
            SampleValue::HistogramSet {
                data,
                start_unix_nanos: p.start_unix_nanos,
            }
        } else {
            SampleValue::HistogramAdd(data)
        };
        let ex = exemplar();
        self.push(name, attrs, value, ex);
    }

    /// Summary points (decoded by prost on both paths: they are rare): each sets its series'
    /// quantiles, sum and count; a point flagged as holding no value only counts.
    fn summaries(&mut self, name: &Arc<str>, points: &[SummaryDataPoint]) {
        for p in points {
            self.out.points += 1;
            if p.flags & NO_RECORDED_VALUE != 0 {
                continue;
            }
            let data = SummaryData {
                quantiles: p
                    .quantile_values
                    .iter()
                    .map(|q| (q.quantile, q.value))
                    .collect(),
                sum: p.sum,
                count: p.count,
            };
            self.push(name, &p.attributes, SampleValue::SummarySet(data), None);
        }
    }

    fn exponential(
        &mut self,
        name: &Arc<str>,
        p: &ExponentialHistogramDataPoint,
        cumulative: bool,
    ) {
        self.out.points += 1;
        if p.flags & NO_RECORDED_VALUE != 0 {
            return;
        }
        let data = exponential_to_classic(p);
        let value = if cumulative {
            SampleValue::HistogramSet {
                data,
                start_unix_nanos: p.start_time_unix_nano,
            }
        } else {
            SampleValue::HistogramAdd(data)
        };
        let ex = exemplar(&p.exemplars);
        self.push(name, &p.attributes, value, ex);
    }
}

/// The last exemplar with a valid trace: OpenMetrics keeps one per series (or bucket).
fn exemplar(exemplars: &[OtlpExemplar]) -> Option<Exemplar> {
    let e = exemplars
        .iter()
        .rev()
        .find(|e| super::attrs::hex_id(&e.trace_id).is_some())?;
    let value = match e.value? {
        opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(d) => d,
        opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsInt(i) => i as f64,
    };
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(3);
    pairs.push((
        "trace_id".to_owned(),
        super::attrs::hex_id(&e.trace_id)?.into(),
    ));
    if let Some(span) = super::attrs::hex_id(&e.span_id) {
        pairs.push(("span_id".to_owned(), span.into()));
    }
    // OpenMetrics caps an exemplar's label set at 128 characters; extra attributes go first.
    let mut len: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    for (k, v) in sanitized(&e.filtered_attributes) {
        if len + k.len() + v.len() <= 128 {
            len += k.len() + v.len();
            pairs.push((k, v));
        }
    }
    Some(Exemplar {
        labels: Labels::new(pairs),
        value,
        timestamp: (e.time_unix_nano > 0).then(|| e.time_unix_nano as f64 / 1e9),
    })
}

#[cfg(test)]
mod tests;
