//! The same translation as [`super::convert_points`], of a request read in place
//! ([`crate::otlp::view`]): point labels borrow from the request buffer. GenAI usage and time to
//! first token points are not collected here: with `usage_source: metrics` the receiver decodes
//! with prost and takes the general path.

use super::{exemplar, metric_name, Ctx, HistogramParts, MetricsOut, PointError, PointSink, Shape};
use crate::model::{FamilyOptions, LabelPolicy, Sample, SampleValue};
use crate::otlp::convert::resource::common_labels;
use crate::otlp::view::{self, DataView, MetricsView};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
use std::sync::Arc;

/// [`super::count_points`] of a request read in place.
pub fn count_points_view(req: &MetricsView<'_>) -> u64 {
    let mut n = 0u64;
    for rm in &req.resource_metrics {
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                n += match &m.data {
                    Some(DataView::Gauge(p)) | Some(DataView::Sum { points: p, .. }) => p.len(),
                    Some(DataView::Histogram { points, .. }) => points.len(),
                    Some(DataView::Exponential { points, .. }) => points.len(),
                    Some(DataView::Summary(p)) => p.len(),
                    None => 1,
                } as u64;
            }
        }
    }
    n
}

/// [`super::target_infos`] of a request read in place.
pub fn target_infos_view(req: &MetricsView<'_>, info: &mut Vec<Sample>) {
    super::resource_infos(
        req.resource_metrics
            .iter()
            .map(|rm| rm.resource.as_ref().map_or(&[][..], |r| &r.attributes[..])),
        info,
    );
}

/// [`super::convert_points`] without usage points, of a request read in place.
pub fn convert_points_view(
    req: &MetricsView<'_>,
    promote: &[String],
    out: &mut MetricsOut,
    sink: &mut dyn PointSink,
) {
    for rm in &req.resource_metrics {
        let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
        for sm in &rm.scope_metrics {
            let common = common_labels(resource, sm.scope.as_ref(), promote);
            for m in &sm.metrics {
                let mut ctx = Ctx {
                    common: &common,
                    options: Arc::new(FamilyOptions {
                        help: (!m.description.is_empty()).then(|| Arc::from(m.description)),
                        label_policy: LabelPolicy::Any,
                        ..Default::default()
                    }),
                    out,
                    sink,
                };
                metric(&mut ctx, m);
            }
        }
    }
}

fn temporality(t: i32) -> (bool, bool) {
    (
        t == AggregationTemporality::Cumulative as i32,
        t == AggregationTemporality::Delta as i32,
    )
}

fn metric(ctx: &mut Ctx<'_>, m: &view::MetricView<'_>) {
    match &m.data {
        None => ctx.out.error(PointError::NoValue),
        Some(DataView::Gauge(points)) => {
            let name: Arc<str> = metric_name(m.name, m.unit, Shape::Gauge).into();
            for p in points {
                let ex = || exemplar(&view::exemplars(&p.exemplars));
                let to_value = |v| Some(SampleValue::GaugeSet(v));
                ctx.number_parts(&name, p.flags, p.value, &p.attributes, ex, to_value);
            }
        }
        Some(DataView::Sum {
            points,
            temporality: t,
            monotonic,
        }) => {
            let (cumulative, delta) = temporality(*t);
            let shape = if *monotonic {
                Shape::Counter
            } else {
                Shape::Gauge
            };
            let name: Arc<str> = metric_name(m.name, m.unit, shape).into();
            for p in points {
                if !cumulative && !delta {
                    ctx.out.points += 1;
                    ctx.out.error(PointError::NoTemporality);
                    continue;
                }
                let start = p.start_time_unix_nano;
                let to_value = |v| {
                    Some(match (*monotonic, cumulative) {
                        (true, true) => SampleValue::CounterSet {
                            value: v,
                            start_unix_nanos: start,
                        },
                        (true, false) => SampleValue::CounterAdd(v),
                        (false, true) => SampleValue::GaugeSet(v),
                        (false, false) => SampleValue::GaugeAdd(v),
                    })
                };
                let ex = || exemplar(&view::exemplars(&p.exemplars));
                ctx.number_parts(&name, p.flags, p.value, &p.attributes, ex, to_value);
            }
        }
        Some(DataView::Histogram {
            points,
            temporality: t,
        }) => {
            let (cumulative, delta) = temporality(*t);
            let name: Arc<str> = metric_name(m.name, m.unit, Shape::Other).into();
            for p in points {
                if !cumulative && !delta {
                    ctx.out.points += 1;
                    ctx.out.error(PointError::NoTemporality);
                    continue;
                }
                let parts = HistogramParts {
                    flags: p.flags,
                    count: p.count,
                    sum: p.sum,
                    bucket_counts: &p.bucket_counts,
                    explicit_bounds: &p.explicit_bounds,
                    start_unix_nanos: p.start_time_unix_nano,
                };
                let ex = || exemplar(&view::exemplars(&p.exemplars));
                ctx.histogram_parts(&name, &parts, &p.attributes, ex, cumulative);
            }
        }
        Some(DataView::Exponential {
            points,
            temporality: t,
        }) => {
            let (cumulative, delta) = temporality(*t);
            let name: Arc<str> = metric_name(m.name, m.unit, Shape::Other).into();
            for p in points {
                if !cumulative && !delta {
                    ctx.out.points += 1;
                    ctx.out.error(PointError::NoTemporality);
                    continue;
                }
                ctx.exponential(&name, p, cumulative);
            }
        }
        Some(DataView::Summary(points)) => {
            let name: Arc<str> = metric_name(m.name, m.unit, Shape::Other).into();
            ctx.summaries(&name, points);
        }
    }
}
