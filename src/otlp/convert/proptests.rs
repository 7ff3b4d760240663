//! Hostile-input properties: whatever a sender puts in a request (NaN, huge exponents, unsorted
//! bounds, odd names and units, unknown enum values), translation never panics and only ever
//! produces valid Prometheus names.

use super::metrics::{convert, MetricsOut, Translation};
use super::{genai, logs};
use crate::names::{is_valid_label_name, is_valid_metric_name};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    ExponentialHistogram, ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use proptest::prelude::*;

fn kv(k: String, v: String) -> KeyValue {
    KeyValue {
        key: k,
        value: Some(AnyValue {
            value: Some(Value::StringValue(v)),
        }),
        ..Default::default()
    }
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0),
        -1e3..1e3f64
    ]
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((".{0,12}", ".{0,8}").prop_map(|(k, v)| kv(k, v)), 0..4)
}

prop_compose! {
    fn metric()(
        name in ".{0,20}",
        unit in prop_oneof![Just(String::new()), Just("1".to_owned()), Just("{x}/s".to_owned()), ".{0,6}"],
        kind in 0..3u8,
        temporality in -1..4i32,
        mono in any::<bool>(),
        v in any_f64(),
        int in any::<i64>(),
        a in attrs(),
        bounds in prop::collection::vec(any_f64(), 0..5),
        counts in prop::collection::vec(any::<u64>(), 0..6),
        scale in any::<i32>(),
        offset in any::<i32>(),
        start in any::<u64>(),
    ) -> Metric {
        let data = match kind {
            0 => Data::Sum(Sum {
                data_points: vec![
                    NumberDataPoint {
                        attributes: a.clone(),
                        start_time_unix_nano: start,
                        value: Some(number_data_point::Value::AsDouble(v)),
                        ..Default::default()
                    },
                    NumberDataPoint {
                        value: Some(number_data_point::Value::AsInt(int)),
                        ..Default::default()
                    },
                ],
                aggregation_temporality: temporality,
                is_monotonic: mono,
            }),
            1 => Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: a,
                    count: counts.iter().fold(0u64, |x, y| x.wrapping_add(*y)),
                    sum: Some(v),
                    bucket_counts: counts,
                    explicit_bounds: bounds,
                    ..Default::default()
                }],
                aggregation_temporality: temporality,
            }),
            _ => Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes: a,
                    scale,
                    zero_count: int.unsigned_abs(),
                    positive: Some(Buckets { offset, bucket_counts: counts.clone() }),
                    negative: Some(Buckets { offset, bucket_counts: counts }),
                    sum: Some(v),
                    ..Default::default()
                }],
                aggregation_temporality: temporality,
            }),
        };
        Metric { name, unit, data: Some(data), ..Default::default() }
    }
}

proptest! {
    #[test]
    fn metrics_translation_never_panics_and_names_are_valid(
        metrics in prop::collection::vec(metric(), 1..4),
        resource in attrs(),
        usage in any::<bool>(),
    ) {
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
                ..Default::default()
            }],
        };
        let mut out = MetricsOut::default();
        let promote = vec!["a".to_owned()];
        convert(&req, &Translation { promote: &promote, usage, scope_labels: &[] }, &mut out);
        for s in out.samples.iter().chain(&out.info) {
            prop_assert!(is_valid_metric_name(&s.name), "{:?}", s.name);
            for (k, _) in s.labels.iter() {
                prop_assert!(is_valid_label_name(k), "{k:?}");
            }
        }
        let store = crate::store::Store::default();
        for s in &out.samples {
            let _ = store.apply(s);
        }
    }

    #[test]
    fn spans_and_logs_never_panic(
        a in attrs(),
        tokens in any::<i64>(),
        start in any::<u64>(),
        end in any::<u64>(),
        trace_state in ".{0,30}",
        score in any_f64(),
    ) {
        let mut attributes = a;
        attributes.push(KeyValue {
            key: "gen_ai.usage.input_tokens".into(),
            value: Some(AnyValue { value: Some(Value::IntValue(tokens)) }),
            ..Default::default()
        });
        attributes.push(kv("gen_ai.request.model".into(), "m".into()));
        let span = Span {
            attributes: attributes.clone(),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            trace_state,
            ..Default::default()
        };
        if let Some(ev) = genai::span_usage(&[], &span, &["team".to_owned()]) {
            prop_assert!(ev.weight.is_finite() && ev.weight >= 1.0);
        }
        attributes.push(KeyValue {
            key: "gen_ai.evaluation.score.value".into(),
            value: Some(AnyValue { value: Some(Value::DoubleValue(score)) }),
            ..Default::default()
        });
        let rec = LogRecord {
            event_name: logs::EVALUATION_EVENT.into(),
            attributes,
            ..Default::default()
        };
        let _ = logs::evaluation(&[], &rec, &[]);
    }
}
