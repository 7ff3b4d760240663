use super::*;
use crate::model::MetricKind;
use crate::store::{Store, StoreLimits};
use proptest::prelude::*;
use std::collections::BTreeMap;

type Seen = Vec<(
    Box<str>,
    MetricKind,
    Vec<(Labels, crate::store::SeriesSnapshot)>,
)>;

fn seen(store: &Store) -> Seen {
    store
        .snapshot()
        .into_iter()
        .map(|f| (f.name, f.kind, f.series))
        .collect()
}

fn store() -> Store {
    Store::new(StoreLimits {
        max_series_per_metric: 3,
        max_set_members: 2,
        ..StoreLimits::default()
    })
}

fn exemplar(n: u8) -> Exemplar {
    Exemplar {
        labels: Labels::new([("trace_id", format!("{n:02x}"))]),
        value: f64::from(n),
        timestamp: Some(f64::from(n)),
    }
}

/// Refusals by (name, reason), counted per sample.
type Refused = BTreeMap<(String, &'static str), u64>;

fn one_by_one(samples: &[Sample]) -> (Seen, Refused) {
    let st = store();
    let mut refused = Refused::new();
    for s in samples {
        if let Err(r) = st.apply(s) {
            *refused.entry((s.name.to_string(), r.reason())).or_default() += 1;
        }
    }
    (seen(&st), refused)
}

fn combined(samples: &[Sample]) -> (Seen, Refused) {
    let st = store();
    let mut refused = Refused::new();
    let mut c = Combined::default();
    samples.iter().cloned().for_each(|s| c.push(s));
    c.apply(&st, &mut |name, r, n| {
        *refused.entry((name.to_string(), r.reason())).or_default() += n
    });
    assert!(c.is_empty());
    (seen(&st), refused)
}

/// Values as derived usage sends them and as a hostile caller could: whole and fractional
/// increments, negative and NaN ones, money, observations, gauges, set members, with or without
/// exemplars, under caps small enough to refuse series and set members.
fn sample() -> impl Strategy<Value = Sample> {
    let value = prop_oneof![
        (0u32..5).prop_map(|v| SampleValue::CounterAdd(f64::from(v))),
        // Large, but the series' totals stay below 2^53 (past it a float counter rounds every
        // addition, and a sum rounds once: see the module's note).
        Just(SampleValue::CounterAdd(1e12)),
        Just(SampleValue::CounterAdd(0.25)),
        Just(SampleValue::CounterAdd(-1.0)),
        Just(SampleValue::CounterAdd(f64::NAN)),
        (0u64..1_000_000_000).prop_map(|v| SampleValue::CounterAddFemtoUsd(u128::from(v))),
        (0u32..300).prop_map(|v| SampleValue::Observe {
            value: f64::from(v) / 100.0,
            weight: 1.0
        }),
        Just(SampleValue::Observe {
            value: f64::NAN,
            weight: 1.0
        }),
        (0u32..4).prop_map(|v| SampleValue::GaugeSet(f64::from(v))),
        (0u32..4).prop_map(|v| SampleValue::GaugeAdd(f64::from(v) - 1.5)),
        (0u64..4).prop_map(SampleValue::SetInsert),
    ];
    (0usize..4, 0usize..5, value, any::<Option<u8>>()).prop_map(|(name, set, v, ex)| {
        let name = ["tokens", "cost", "latency", "mixed"][name];
        let labels = Labels::new([("model", format!("m{set}"))]);
        let mut s = Sample::new(name, labels, v);
        s.exemplar = ex.map(exemplar);
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the samples, combining them gives the store and the refusal counts that
    /// writing them one by one gives.
    #[test]
    fn combined_writes_equal_one_by_one(samples in prop::collection::vec(sample(), 0..80)) {
        prop_assert_eq!(combined(&samples), one_by_one(&samples));
    }
}

#[test]
fn a_batch_of_one_models_calls_writes_each_series_once_with_the_sums() {
    let labels = Labels::new([("model", "gpt-4o")]);
    let mut c = Combined::default();
    for i in 0..1000u32 {
        c.push(Sample::new(
            "tokens",
            labels.clone(),
            SampleValue::CounterAdd(3.0),
        ));
        c.push(Sample::new(
            "cost",
            labels.clone(),
            SampleValue::CounterAddFemtoUsd(7),
        ));
        let mut s = Sample::new(
            "latency",
            labels.clone(),
            SampleValue::Observe {
                value: f64::from(i % 3),
                weight: 1.0,
            },
        );
        s.exemplar = Some(exemplar((i % 251) as u8));
        c.push(s);
    }
    assert_eq!(c.entries.len(), 3);
    assert_eq!(c.entries[0].values, [SampleValue::CounterAdd(3000.0)]);
    assert_eq!(c.entries[1].values, [SampleValue::CounterAddFemtoUsd(7000)]);
    assert_eq!(c.entries[2].values.len(), 1000);
    let st = Store::default();
    c.apply(&st, &mut |_, r, _| panic!("refused: {r}"));
    assert_eq!(st.value("tokens", &labels), Some(3000.0));
    assert_eq!(st.money_femto("cost", &labels), Some(7000));
    let latency = st
        .snapshot()
        .into_iter()
        .find(|f| &*f.name == "latency")
        .and_then(|f| f.series.into_iter().next())
        .map(|(_, s)| s);
    assert_eq!(
        latency.and_then(|s| s.exemplar),
        Some(exemplar((999 % 251) as u8))
    );
}

#[test]
fn increments_past_exact_whole_numbers_stay_apart() {
    let mut c = Combined::default();
    for v in [1.0, 0.5, 0.25, 2.0, 9_007_199_254_740_990.0, 4.0] {
        c.push(Sample::new(
            "c",
            Labels::empty(),
            SampleValue::CounterAdd(v),
        ));
    }
    // 1 | 0.5 | 0.25 | 2 + 9007199254740990 | 4 (the sum would pass 2^53)
    assert_eq!(c.entries[0].values.len(), 5);
    assert_eq!(c.entries[0].samples, [1, 1, 1, 2, 1]);
}

#[test]
fn more_series_than_the_table_holds_are_written_through() {
    let mut c = Combined::default();
    for i in 0..MAX_SERIES + 10 {
        c.push(Sample::new(
            "c",
            Labels::new([("i", i.to_string())]),
            SampleValue::CounterAdd(1.0),
        ));
    }
    assert_eq!(c.entries.len(), MAX_SERIES);
    assert_eq!(c.overflow.len(), 10);
    let st = Store::new(StoreLimits {
        max_series_per_metric: 100_000,
        ..StoreLimits::default()
    });
    c.apply(&st, &mut |_, r, _| panic!("refused: {r}"));
    assert_eq!(st.family_len("c"), MAX_SERIES + 10);
}
