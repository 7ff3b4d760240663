use super::*;
use crate::otlp::convert::exponential::{classic_index, EXP_MIN_EXPONENT};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, Exemplar as OtlpExemplar, ExponentialHistogram,
    Gauge, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn point(v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: 100,
        time_unix_nano: 200,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "api"),
                    kv("service.namespace", "shop"),
                    kv("service.instance.id", "i-1"),
                    kv("host.name", "h1"),
                    kv("cloud.region", "eu-west-1"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "my.lib".into(),
                    version: "1.2.0".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        description: "desc".into(),
        data: Some(data),
        ..Default::default()
    }
}

fn run(req: &ExportMetricsServiceRequest, promote: &[String]) -> MetricsOut {
    let mut out = MetricsOut::default();
    convert(
        req,
        &Translation {
            promote,
            usage: false,
            scope_labels: &[],
        },
        &mut out,
    );
    out
}

fn labels_of(s: &Sample) -> Vec<(String, String)> {
    s.labels
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn golden_counter_labels_and_target_info() {
    let req = request(vec![metric(
        "http.server.requests",
        "{request}",
        Data::Sum(Sum {
            data_points: vec![point(7.0, vec![kv("http.method", "GET"), kv("1st", "x")])],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
    )]);
    let out = run(&req, &["cloud.region".to_owned()]);
    assert_eq!(out.samples.len(), 1);
    let s = &out.samples[0];
    assert_eq!(&*s.name, "http_server_requests");
    assert_eq!(
        s.value,
        SampleValue::CounterSet {
            value: 7.0,
            start_unix_nanos: 100
        }
    );
    let want: Vec<(String, String)> = [
        ("cloud_region", "eu-west-1"),
        ("http_method", "GET"),
        ("instance", "i-1"),
        ("job", "shop/api"),
        ("key_1st", "x"),
        ("otel_scope_name", "my.lib"),
        ("otel_scope_version", "1.2.0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(labels_of(s), want);
    assert_eq!(s.options.help.as_deref(), Some("desc"));
    assert_eq!(out.info.len(), 1);
    let info = labels_of(&out.info[0]);
    assert!(info.contains(&("host_name".into(), "h1".into())));
    assert!(info.contains(&("job".into(), "shop/api".into())));
    assert!(!info.iter().any(|(k, _)| k == "service_name"));
}

#[test]
fn golden_temporality_and_monotonicity() {
    let sum = |temporality: AggregationTemporality, mono: bool| {
        Data::Sum(Sum {
            data_points: vec![point(3.0, vec![])],
            aggregation_temporality: temporality as i32,
            is_monotonic: mono,
        })
    };
    let req = request(vec![
        metric("a", "", sum(AggregationTemporality::Delta, true)),
        metric("b", "", sum(AggregationTemporality::Cumulative, false)),
        metric("c", "", sum(AggregationTemporality::Delta, false)),
        metric(
            "d",
            "1",
            Data::Gauge(Gauge {
                data_points: vec![point(0.5, vec![])],
            }),
        ),
        metric("e", "", sum(AggregationTemporality::Unspecified, true)),
    ]);
    let out = run(&req, &[]);
    let got: Vec<(&str, &SampleValue)> = out.samples.iter().map(|s| (&*s.name, &s.value)).collect();
    assert_eq!(
        got,
        vec![
            ("a", &SampleValue::CounterAdd(3.0)),
            ("b", &SampleValue::GaugeSet(3.0)),
            ("c", &SampleValue::GaugeAdd(3.0)),
            ("d_ratio", &SampleValue::GaugeSet(0.5)),
        ]
    );
    assert_eq!(out.errors, vec![(PointError::NoTemporality, 1)]);
    assert_eq!(out.points, 5);
    assert_eq!(count_points(&req), 5);
}

#[test]
fn histograms_summaries_and_bad_buckets() {
    let hp = |bounds: Vec<f64>, counts: Vec<u64>| HistogramDataPoint {
        start_time_unix_nano: 1,
        count: counts.iter().sum(),
        sum: Some(4.5),
        bucket_counts: counts,
        explicit_bounds: bounds,
        exemplars: vec![OtlpExemplar {
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            value: Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(0.7)),
            time_unix_nano: 2_000_000_000,
            ..Default::default()
        }],
        ..Default::default()
    };
    let req = request(vec![
        metric(
            "rpc.duration",
            "s",
            Data::Histogram(Histogram {
                data_points: vec![hp(vec![0.5, 1.0], vec![1, 2, 0]), hp(vec![1.0], vec![1])],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        ),
        metric(
            "q",
            "ms",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    count: 3,
                    sum: 9.0,
                    quantile_values: vec![
                        opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile {
                            quantile: 0.5,
                            value: 2.0,
                        },
                    ],
                    ..Default::default()
                }],
            }),
        ),
    ]);
    let out = run(&req, &[]);
    assert_eq!(out.errors, vec![(PointError::BadBuckets, 1)]);
    assert_eq!(&*out.samples[0].name, "rpc_duration_seconds");
    match &out.samples[0].value {
        SampleValue::HistogramSet {
            data,
            start_unix_nanos,
        } => {
            assert_eq!(*start_unix_nanos, 1);
            assert_eq!(&*data.bounds, &[0.5, 1.0]);
            assert_eq!(data.counts, vec![1, 2, 0]);
            assert_eq!(data.count, 3);
        }
        v => panic!("unexpected {v:?}"),
    }
    let ex = out.samples[0].exemplar.as_ref().expect("exemplar");
    assert_eq!(
        ex.labels.get("trace_id"),
        Some("abababababababababababababababab")
    );
    assert_eq!(ex.labels.get("span_id"), Some("cdcdcdcdcdcdcdcd"));
    assert_eq!(ex.timestamp, Some(2.0));
    assert_eq!(&*out.samples[1].name, "q_milliseconds");
    assert!(matches!(out.samples[1].value, SampleValue::SummarySet(_)));
}

#[test]
fn exponential_histogram_rebuckets_to_powers_of_two() {
    // scale 1: bucket i covers (2^(i/2), 2^((i+1)/2)]. Offset 0: (1, 1.41], (1.41, 2], (2, 2.83].
    let p = ExponentialHistogramDataPoint {
        scale: 1,
        count: 10,
        sum: Some(12.0),
        zero_count: 1,
        positive: Some(Buckets {
            offset: 0,
            bucket_counts: vec![2, 3, 4],
        }),
        negative: Some(Buckets {
            offset: 0,
            bucket_counts: vec![0],
        }),
        ..Default::default()
    };
    let h = exponential_to_classic(&p);
    let at = |bound: f64| {
        let i = h.bounds.iter().position(|b| *b == bound).expect("bound");
        h.counts[i]
    };
    assert_eq!(at(2f64.powi(-10)), 1);
    assert_eq!(at(2.0), 5);
    assert_eq!(at(4.0), 4);
    assert_eq!(h.counts.iter().sum::<u64>(), 10);
    // Huge and tiny indexes clamp to +Inf and the first bucket; negative scales are handled.
    assert_eq!(classic_index(0, 1000), h.bounds.len());
    assert_eq!(classic_index(0, -1000), 0);
    assert_eq!(classic_index(-1, 0), (2 - EXP_MIN_EXPONENT) as usize);
    assert_eq!(
        classic_index(i32::MAX, i64::MAX),
        classic_index(62, i64::MAX)
    );
    let req = request(vec![metric(
        "latency",
        "s",
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![p],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        }),
    )]);
    let out = run(&req, &[]);
    assert!(matches!(out.samples[0].value, SampleValue::HistogramAdd(_)));
}

#[test]
fn no_recorded_value_points_are_skipped_not_rejected() {
    let mut p = point(1.0, vec![]);
    p.flags = NO_RECORDED_VALUE;
    let mut empty = point(1.0, vec![]);
    empty.value = None;
    let req = request(vec![metric(
        "g",
        "",
        Data::Gauge(Gauge {
            data_points: vec![p, empty],
        }),
    )]);
    let out = run(&req, &[]);
    assert!(out.samples.is_empty());
    assert_eq!(out.errors, vec![(PointError::NoValue, 1)]);
}

#[test]
fn scope_and_resource_labels_win_over_point_attributes() {
    let req = request(vec![metric(
        "g",
        "",
        Data::Gauge(Gauge {
            data_points: vec![point(
                1.0,
                vec![kv("job", "spoof"), kv("a.b", "1"), kv("a_b", "2")],
            )],
        }),
    )]);
    let out = run(&req, &[]);
    assert_eq!(out.samples[0].labels.get("job"), Some("shop/api"));
    assert_eq!(out.samples[0].labels.get("a_b"), Some("1;2"));
}
