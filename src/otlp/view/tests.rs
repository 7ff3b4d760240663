//! The in-place reader against prost: on every request prost encodes, the view is read and
//! translates to exactly what prost's decode translates to; on mangled bytes, whatever the view
//! accepts prost accepts, with the same translation (what it refuses goes to prost anyway).

use super::*;
use crate::otlp::convert::metrics::{
    convert_points, convert_points_view, count_points, count_points_view, target_infos,
    target_infos_view, MetricsOut, Translation,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value, ArrayValue, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile, ExponentialHistogram, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
};
use proptest::prelude::*;

/// Everything a metrics request translates to, as text (NaN compares equal to itself there).
fn prost_path(body: &[u8], promote: &[String]) -> Option<String> {
    let req = ExportMetricsServiceRequest::decode(body).ok()?;
    let t = Translation {
        promote,
        usage: false,
        scope_labels: &[],
    };
    let mut out = MetricsOut::default();
    target_infos(&req, &mut out.info);
    let mut samples = Vec::new();
    convert_points(&req, &t, &mut out, &mut samples);
    out.samples = samples;
    Some(format!("{} {out:?}", count_points(&req)))
}

fn view_path(body: &[u8], promote: &[String]) -> Result<String, Bail> {
    let req = decode(body)?;
    let mut out = MetricsOut::default();
    target_infos_view(&req, &mut out.info);
    let mut samples = Vec::new();
    convert_points_view(&req, promote, &mut out, &mut samples);
    out.samples = samples;
    Ok(format!("{} {out:?}", count_points_view(&req)))
}

fn any_value() -> impl Strategy<Value = Option<Value>> {
    let leaf = prop_oneof![
        ".{0,6}".prop_map(Value::StringValue),
        any::<bool>().prop_map(Value::BoolValue),
        any::<i64>().prop_map(Value::IntValue),
        prop_oneof![any::<f64>(), Just(f64::NAN), Just(1.5)].prop_map(Value::DoubleValue),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(Value::BytesValue),
        any::<i32>().prop_map(Value::StringValueStrindex),
    ];
    let value = leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| Value::ArrayValue(
                ArrayValue {
                    values: v.into_iter().map(|v| AnyValue { value: Some(v) }).collect(),
                }
            )),
            prop::collection::vec(("[a-c.]{0,3}", inner), 0..3).prop_map(|v| {
                Value::KvlistValue(KeyValueList {
                    values: v
                        .into_iter()
                        .map(|(key, v)| KeyValue {
                            key,
                            value: Some(AnyValue { value: Some(v) }),
                            ..Default::default()
                        })
                        .collect(),
                })
            }),
        ]
    });
    prop_oneof![4 => value.prop_map(Some), 1 => Just(None)]
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    // Few distinct keys, so repeated and colliding names (`a.b`, `a_b`) happen.
    let kv = (
        prop_oneof![
            "[ab][._]?[ab]?",
            "[a-z0-9 ]{0,5}",
            Just("service.name".to_owned())
        ],
        prop_oneof![4 => any_value().prop_map(|v| Some(AnyValue { value: v })), 1 => Just(None)],
        prop_oneof![5 => Just(0), 1 => any::<i32>()],
    )
        .prop_map(|(key, value, key_strindex)| KeyValue {
            key,
            value,
            key_strindex,
        });
    prop::collection::vec(kv, 0..5)
}

fn exemplars() -> impl Strategy<Value = Vec<opentelemetry_proto::tonic::metrics::v1::Exemplar>> {
    let e = (
        attrs(),
        any::<u64>(),
        0..3usize,
        any::<bool>(),
        any::<f64>(),
    )
        .prop_map(|(filtered_attributes, time_unix_nano, ids, int, v)| {
            opentelemetry_proto::tonic::metrics::v1::Exemplar {
                filtered_attributes,
                time_unix_nano,
                span_id: vec![ids as u8; 8 * ids.min(1)],
                trace_id: vec![7; 16 * ids.min(1)],
                value: Some(if int {
                    exemplar::Value::AsInt(v as i64)
                } else {
                    exemplar::Value::AsDouble(v)
                }),
            }
        });
    prop::collection::vec(e, 0..2)
}

prop_compose! {
    fn number_point()(
        attributes in attrs(),
        start in any::<u64>(),
        value in prop_oneof![
            any::<f64>().prop_map(|v| Some(number_data_point::Value::AsDouble(v))),
            any::<i64>().prop_map(|v| Some(number_data_point::Value::AsInt(v))),
            Just(None),
        ],
        flags in prop_oneof![Just(0u32), Just(1), any::<u32>()],
        exemplars in exemplars(),
    ) -> NumberDataPoint {
        NumberDataPoint { attributes, start_time_unix_nano: start, time_unix_nano: start / 2, exemplars, flags, value }
    }
}

prop_compose! {
    fn histogram_point()(
        attributes in attrs(),
        counts in prop::collection::vec(0..100u64, 0..4),
        bounds in prop::collection::vec(prop_oneof![-10.0..10.0f64, Just(f64::NAN)], 0..4),
        sum in prop::option::of(any::<f64>()),
        flags in 0..3u32,
        exemplars in exemplars(),
        min in prop::option::of(any::<f64>()),
    ) -> HistogramDataPoint {
        HistogramDataPoint {
            attributes,
            count: counts.iter().sum(),
            sum,
            bucket_counts: counts,
            explicit_bounds: bounds,
            flags,
            exemplars,
            min,
            max: min,
            ..Default::default()
        }
    }
}

prop_compose! {
    fn metric()(
        name in "[a-z._]{0,8}",
        description in prop_oneof![Just(String::new()), ".{0,6}"],
        unit in prop_oneof![Just(String::new()), Just("ms".to_owned()), Just("{x}".to_owned())],
        kind in 0..6u8,
        temporality in -1..4i32,
        monotonic in any::<bool>(),
        numbers in prop::collection::vec(number_point(), 0..3),
        histograms in prop::collection::vec(histogram_point(), 0..3),
        a in attrs(),
        counts in prop::collection::vec(0..100u64, 0..4),
        scale in -3..3i32,
        metadata in attrs(),
    ) -> Metric {
        let data = match kind {
            0 => Some(Data::Gauge(Gauge { data_points: numbers })),
            1 => Some(Data::Sum(Sum { data_points: numbers, aggregation_temporality: temporality, is_monotonic: monotonic })),
            2 => Some(Data::Histogram(Histogram { data_points: histograms, aggregation_temporality: temporality })),
            3 => Some(Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes: a.clone(),
                    scale,
                    count: counts.iter().sum(),
                    positive: Some(Buckets { offset: scale, bucket_counts: counts.clone() }),
                    negative: (scale > 0).then(|| Buckets { offset: -1, bucket_counts: counts.clone() }),
                    ..Default::default()
                }],
                aggregation_temporality: temporality,
            })),
            4 => Some(Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    attributes: a,
                    count: counts.len() as u64,
                    sum: 1.5,
                    quantile_values: counts.iter().map(|c| ValueAtQuantile { quantile: *c as f64 / 100.0, value: *c as f64 }).collect(),
                    flags: (scale == 2) as u32,
                    ..Default::default()
                }],
            })),
            _ => None,
        };
        Metric { name, description, unit, metadata, data }
    }
}

prop_compose! {
    fn request()(
        resources in prop::collection::vec(
            (
                prop::option::of(attrs()),
                prop::collection::vec(
                    (prop::option::of(("[a-z]{0,4}", "[0-9.]{0,3}", attrs())), prop::collection::vec(metric(), 0..3)),
                    0..3,
                ),
            ),
            0..3,
        ),
    ) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: resources.into_iter().map(|(resource, scopes)| ResourceMetrics {
                resource: resource.map(|attributes| Resource { attributes, ..Default::default() }),
                scope_metrics: scopes.into_iter().map(|(scope, metrics)| ScopeMetrics {
                    scope: scope.map(|(name, version, attributes)| InstrumentationScope {
                        name, version, attributes, ..Default::default()
                    }),
                    metrics,
                    schema_url: String::new(),
                }).collect(),
                schema_url: "s".into(),
            }).collect(),
        }
    }
}

/// Byte-level damage: what a broken or hostile sender (or a fuzzer) sends.
#[derive(Clone, Debug)]
pub(super) enum Mangle {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    /// A copy of a stretch appended: repeated fields and singular messages seen twice.
    Repeat(usize, usize),
}

pub(super) fn mangle() -> impl Strategy<Value = Mangle> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mangle::Set(i, b)),
        (
            any::<usize>(),
            prop_oneof![Just(0x80u8), Just(0xff), Just(0x0b), any::<u8>()]
        )
            .prop_map(|(i, b)| Mangle::Insert(i, b)),
        any::<usize>().prop_map(Mangle::Remove),
        any::<usize>().prop_map(Mangle::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mangle::Repeat(a, b)),
    ]
}

pub(super) fn apply(body: &mut Vec<u8>, m: &Mangle) {
    if body.is_empty() {
        return;
    }
    let at = |i: usize| i % body.len();
    match *m {
        Mangle::Set(i, b) => {
            let i = at(i);
            body[i] = b;
        }
        Mangle::Insert(i, b) => {
            let i = at(i);
            body.insert(i, b);
        }
        Mangle::Remove(i) => {
            let i = at(i);
            body.remove(i);
        }
        Mangle::Truncate(i) => {
            let i = at(i);
            body.truncate(i);
        }
        Mangle::Repeat(a, b) => {
            let (a, b) = (at(a), at(b));
            let stretch = body[a.min(b)..a.max(b)].to_vec();
            body.extend_from_slice(&stretch);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_encoded_request_reads_in_place_as_prost_reads_it(req in request()) {
        let body = req.encode_to_vec();
        let promote = ["a.b".to_owned(), "service.name".to_owned()];
        let want = prost_path(&body, &promote).expect("prost decodes what it encoded");
        let got = view_path(&body, &promote).expect("an encoded request reads in place");
        prop_assert_eq!(got, want);
    }

    #[test]
    fn mangled_bytes_read_in_place_only_as_prost_reads_them(
        req in request(),
        damage in prop::collection::vec(mangle(), 1..4),
    ) {
        let mut body = req.encode_to_vec();
        for m in &damage {
            apply(&mut body, m);
        }
        if let Ok(got) = view_path(&body, &[]) {
            let want = prost_path(&body, &[]);
            prop_assert_eq!(Some(got), want);
        }
    }
}

/// `tag` and `payload` as a length-delimited field.
pub(super) fn field(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_key(number, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A one-point gauge request whose point has `point` as its encoding.
fn gauge_request(point: &[u8]) -> Vec<u8> {
    let metric = [field(1, b"g"), field(5, &field(1, point))].concat();
    field(1, &field(2, &field(2, &metric)))
}

#[test]
fn invalid_utf8_anywhere_is_left_to_prost() {
    let point = field(7, &[field(1, b"k"), field(2, &field(1, b"\xff"))].concat());
    let body = gauge_request(&point);
    assert!(prost_path(&body, &[]).is_none(), "prost refuses it");
    assert_eq!(decode(&body).err(), Some(Bail));
    // Deep in a map value, and in an exemplar's attributes.
    let deep = field(
        6,
        &field(1, &[field(1, b"k"), field(2, &field(1, b"\xc3"))].concat()),
    );
    let point = field(7, &[field(1, b"k"), field(2, &deep)].concat());
    assert_eq!(decode(&gauge_request(&point)).err(), Some(Bail));
    let ex = field(5, &field(7, &field(1, b"\xfe")));
    assert_eq!(decode(&gauge_request(&ex)).err(), Some(Bail));
}

#[test]
fn unknown_fields_and_unpacked_repeats_read_as_prost_reads_them() {
    use prost::encoding::{encode_key, encode_varint, WireType};
    let mut point = Vec::new();
    // Unknown fields of every wire type prost skips.
    encode_key(99, WireType::Varint, &mut point);
    encode_varint(u64::MAX, &mut point);
    encode_key(98, WireType::SixtyFourBit, &mut point);
    point.extend_from_slice(&[1; 8]);
    encode_key(97, WireType::ThirtyTwoBit, &mut point);
    point.extend_from_slice(&[1; 4]);
    point.extend(field(96, b"\xff not utf-8, but unknown"));
    // Bucket counts unpacked then packed, bounds packed; the same string field twice (last wins).
    for c in [1u64, 2] {
        encode_key(6, WireType::SixtyFourBit, &mut point);
        point.extend_from_slice(&c.to_le_bytes());
    }
    point.extend(field(6, &3u64.to_le_bytes()));
    point.extend(field(
        7,
        &[1.0f64.to_le_bytes(), 2.0f64.to_le_bytes()].concat(),
    ));
    encode_key(4, WireType::SixtyFourBit, &mut point);
    point.extend_from_slice(&6u64.to_le_bytes());
    let metric = [
        field(1, b"first"),
        field(1, b"h"),
        field(9, &[field(1, &point), vec![0x10, 0x02]].concat()),
    ]
    .concat();
    let body = field(1, &field(2, &field(2, &metric)));
    let got = view_path(&body, &[]).expect("reads in place");
    assert_eq!(Some(got.clone()), prost_path(&body, &[]));
    assert!(got.contains("counts: [1, 2, 3]"), "{got}");
    assert!(got.contains("\"h\""), "{got}");
}

#[test]
fn what_prost_would_merge_is_left_to_prost() {
    // A metric with two data fields, a point attribute with two values, a resource twice.
    let metric = [field(1, b"g"), field(5, b""), field(5, b"")].concat();
    assert_eq!(
        decode(&field(1, &field(2, &field(2, &metric)))).err(),
        Some(Bail)
    );
    let kv = [
        field(1, b"k"),
        field(2, &field(1, b"x")),
        field(2, &field(1, b"y")),
    ]
    .concat();
    assert_eq!(decode(&gauge_request(&field(7, &kv))).err(), Some(Bail));
    let rm = [field(1, b""), field(1, b"")].concat();
    assert_eq!(decode(&field(1, &rm)).err(), Some(Bail));
    // Groups, the wire types prost refuses, a key of tag 0.
    for bad in [&[0x0b, 0x0c][..], &[0x0e, 0x00], &[0x00, 0x00]] {
        assert_eq!(decode(&gauge_request(bad)).err(), Some(Bail), "{bad:?}");
    }
}

#[test]
fn nesting_beyond_the_bound_is_left_to_prost() {
    let mut v = field(1, b"leaf");
    for _ in 0..30 {
        v = field(5, &field(1, &v));
    }
    let point = field(7, &[field(1, b"k"), field(2, &v)].concat());
    let body = gauge_request(&point);
    assert_eq!(decode(&body).err(), Some(Bail));
    assert!(
        prost_path(&body, &[]).is_some(),
        "prost still reads it (fallback)"
    );
}

/// A `KeyValue` near the shape [`wire::plain_attr`] reads: key and string or integer value, with
/// one-byte lengths that may be wrong or continued, stray bytes, bytes that are not UTF-8.
fn near_plain_attr() -> impl Strategy<Value = Vec<u8>> {
    let text = prop_oneof![
        ".{0,20}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..20),
        Just(vec![b'a'; 130]),
    ];
    let value = prop_oneof![
        text.clone().prop_map(|s| field(1, &s)),
        any::<u64>().prop_map(|v| {
            let mut out = vec![0x18];
            prost::encoding::encode_varint(v, &mut out);
            out
        }),
        prop::collection::vec(any::<u8>(), 0..6),
    ];
    (
        text,
        value,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(key, value, edits)| {
            let mut buf = field(1, &key);
            buf.extend(field(2, &value));
            for (at, b) in edits {
                let i = at.index(buf.len());
                buf[i] = b;
            }
            buf
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn plain_attributes_read_as_field_by_field(buf in near_plain_attr()) {
        if let Some(plain) = wire::plain_attr(&buf) {
            let plain = plain.map(|(key, v)| Attr {
                key,
                value: match v {
                    wire::Plain::Str(s) => AttrValue::Str(s),
                    wire::Plain::Int(i) => AttrValue::Int(i),
                },
            });
            prop_assert_eq!(plain, attr_fields(&buf), "{:?}", buf);
        }
        prop_assert_eq!(attr(&buf), attr_fields(&buf));
    }
}

#[test]
fn plain_attributes_are_read_without_the_field_loop() {
    let str_attr = [field(1, b"gen_ai.system"), field(2, &field(1, b"openai"))].concat();
    assert_eq!(
        wire::plain_attr(&str_attr),
        Some(Ok(("gen_ai.system", wire::Plain::Str("openai"))))
    );
    let mut int = vec![0x18];
    prost::encoding::encode_varint(1200, &mut int);
    let int_attr = [field(1, b"n"), field(2, &int)].concat();
    assert_eq!(
        wire::plain_attr(&int_attr),
        Some(Ok(("n", wire::Plain::Int(1200))))
    );
    let bad = [field(1, b"k\xff"), field(2, &field(1, b"v"))].concat();
    assert_eq!(wire::plain_attr(&bad), Some(Err(Bail)));
    assert_eq!(attr_fields(&bad), Err(Bail));
}
