use super::*;
use crate::model::{HistogramData, SampleValue};
use std::sync::Arc;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied())
}

fn s(name: &str, l: &[(&str, &str)], v: SampleValue) -> Sample {
    Sample::new(name, labels(l), v)
}

#[test]
fn counter_adds_and_rejects_negative_and_nan() {
    let st = Store::default();
    st.apply(&s("c", &[("a", "1")], SampleValue::CounterAdd(2.0)))
        .unwrap();
    st.apply(&s("c", &[("a", "1")], SampleValue::CounterAdd(3.5)))
        .unwrap();
    assert_eq!(
        st.apply(&s("c", &[("a", "1")], SampleValue::CounterAdd(-1.0))),
        Err(Reject::InvalidValue)
    );
    assert_eq!(
        st.apply(&s("c", &[("a", "1")], SampleValue::CounterAdd(f64::NAN))),
        Err(Reject::InvalidValue)
    );
    assert_eq!(st.value("c", &labels(&[("a", "1")])), Some(5.5));
}

#[test]
fn cumulative_counter_stays_monotonic_across_sender_restart() {
    let st = Store::default();
    let set = |v, start| {
        s(
            "c",
            &[],
            SampleValue::CounterSet {
                value: v,
                start_unix_nanos: start,
            },
        )
    };
    st.apply(&set(10.0, 1)).unwrap();
    st.apply(&set(15.0, 1)).unwrap();
    st.apply(&set(4.0, 2)).unwrap(); // restart: new start time, lower value
    assert_eq!(st.value("c", &Labels::empty()), Some(19.0));
    st.apply(&set(2.0, 2)).unwrap(); // value went down without a new start time: also a reset
    assert_eq!(st.value("c", &Labels::empty()), Some(21.0));
}

#[test]
fn gauge_set_and_delta() {
    let st = Store::default();
    st.apply(&s("g", &[], SampleValue::GaugeSet(10.0))).unwrap();
    st.apply(&s("g", &[], SampleValue::GaugeAdd(-4.0))).unwrap();
    st.apply(&s("g", &[], SampleValue::GaugeAdd(1.5))).unwrap();
    assert_eq!(st.value("g", &Labels::empty()), Some(7.5));
}

#[test]
fn type_conflict_is_rejected_and_existing_family_unharmed() {
    let st = Store::default();
    st.apply(&s("m", &[], SampleValue::CounterAdd(1.0)))
        .unwrap();
    assert_eq!(
        st.apply(&s("m", &[], SampleValue::GaugeSet(1.0))),
        Err(Reject::TypeConflict)
    );
    assert_eq!(st.snapshot().len(), 1);
    assert_eq!(st.snapshot()[0].kind, MetricKind::Counter);
}

#[test]
fn label_name_conflict_rejected_for_consistent_families_only() {
    let st = Store::default();
    st.apply(&s("m", &[("a", "1")], SampleValue::CounterAdd(1.0)))
        .unwrap();
    assert_eq!(
        st.apply(&s("m", &[("b", "1")], SampleValue::CounterAdd(1.0))),
        Err(Reject::LabelConflict)
    );
    let mut open = s("o", &[("a", "1")], SampleValue::CounterAdd(1.0));
    open.options = Arc::new(FamilyOptions {
        label_policy: LabelPolicy::Any,
        ..Default::default()
    });
    st.apply(&open).unwrap();
    open.labels = labels(&[("b", "2")]);
    st.apply(&open).unwrap();
    assert_eq!(st.family_len("o"), 2);
}

#[test]
fn a_name_cache_applies_like_apply_and_keeps_every_check() {
    // Families remembered by name across a batch must not let a sample past a check `apply`
    // makes: label names of a consistent family, the family's type, and values keep adding up
    // in the series each sample names.
    let st = Store::default();
    let mut cache = NameCache::default();
    let any = Arc::new(FamilyOptions {
        label_policy: LabelPolicy::Any,
        ..Default::default()
    });
    let open = |l: &[(&str, &str)], v: f64| {
        let mut x = s("open", l, SampleValue::CounterAdd(v));
        x.options = any.clone();
        x
    };
    for _ in 0..3 {
        st.apply_cached(&mut cache, &open(&[("a", "1")], 1.0))
            .unwrap();
        st.apply_cached(&mut cache, &open(&[("b", "2")], 2.0))
            .unwrap();
        st.apply_cached(
            &mut cache,
            &s("strict", &[("a", "1")], SampleValue::CounterAdd(1.0)),
        )
        .unwrap();
    }
    assert_eq!(st.value("open", &labels(&[("a", "1")])), Some(3.0));
    assert_eq!(st.value("open", &labels(&[("b", "2")])), Some(6.0));
    assert_eq!(st.value("strict", &labels(&[("a", "1")])), Some(3.0));
    assert_eq!(
        st.apply_cached(
            &mut cache,
            &s("strict", &[("b", "1")], SampleValue::CounterAdd(1.0))
        ),
        Err(Reject::LabelConflict)
    );
    let mut gauge = open(&[("a", "1")], 1.0);
    gauge.value = SampleValue::GaugeSet(1.0);
    assert_eq!(
        st.apply_cached(&mut cache, &gauge),
        Err(Reject::TypeConflict)
    );
    // More names than the cache holds are applied uncached, not refused.
    for i in 0..NAME_CACHE_MAX + 5 {
        let mut x = open(&[("a", "1")], 1.0);
        x.name = format!("n{i}").into();
        st.apply_cached(&mut cache, &x).unwrap();
    }
    assert_eq!(st.value("n36", &labels(&[("a", "1")])), Some(1.0));
}

#[test]
fn series_cap_drops_new_series_but_existing_keep_updating() {
    let st = Store::new(StoreLimits {
        max_series_per_metric: 2,
        ..Default::default()
    });
    for v in ["1", "2"] {
        st.apply(&s("m", &[("a", v)], SampleValue::CounterAdd(1.0)))
            .unwrap();
    }
    assert_eq!(
        st.apply(&s("m", &[("a", "3")], SampleValue::CounterAdd(1.0))),
        Err(Reject::SeriesLimit)
    );
    st.apply(&s("m", &[("a", "1")], SampleValue::CounterAdd(1.0)))
        .unwrap();
    assert_eq!(st.value("m", &labels(&[("a", "1")])), Some(2.0));
    assert_eq!(st.series_count(), 2);
}

#[test]
fn total_cap_applies_across_families() {
    let st = Store::new(StoreLimits {
        max_series_total: 1,
        ..Default::default()
    });
    st.apply(&s("a", &[], SampleValue::GaugeSet(1.0))).unwrap();
    assert_eq!(
        st.apply(&s("b", &[], SampleValue::GaugeSet(1.0))),
        Err(Reject::TotalSeriesLimit)
    );
}

#[test]
fn histogram_observe_uses_le_buckets_and_weights() {
    let st = Store::default();
    let mut obs = s(
        "h",
        &[],
        SampleValue::Observe {
            value: 0.5,
            weight: 1.0,
        },
    );
    obs.options = Arc::new(FamilyOptions {
        buckets: Some(Arc::new([0.5, 1.0])),
        ..Default::default()
    });
    st.apply(&obs).unwrap(); // exactly on a bound: counts in le="0.5"
    obs.value = SampleValue::Observe {
        value: 2.0,
        weight: 10.0,
    };
    st.apply(&obs).unwrap();
    let snap = st.snapshot();
    match &snap[0].series[0].1.value {
        SeriesValue::Histogram {
            cumulative,
            sum,
            count,
            ..
        } => {
            assert_eq!(cumulative, &vec![1.0, 1.0, 11.0]);
            assert_eq!(*sum, 20.5);
            assert_eq!(*count, 11.0);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn cumulative_histogram_reset_keeps_totals() {
    let st = Store::default();
    let bounds: Arc<[f64]> = Arc::new([1.0]);
    let set = |counts: Vec<u64>, sum, start| {
        let count = counts.iter().sum();
        s(
            "h",
            &[],
            SampleValue::HistogramSet {
                data: HistogramData {
                    bounds: bounds.clone(),
                    counts,
                    sum,
                    count,
                },
                start_unix_nanos: start,
            },
        )
    };
    st.apply(&set(vec![2, 1], 4.0, 1)).unwrap();
    st.apply(&set(vec![1, 0], 0.5, 2)).unwrap();
    match &st.snapshot()[0].series[0].1.value {
        SeriesValue::Histogram {
            cumulative, count, ..
        } => {
            assert_eq!(cumulative, &vec![3.0, 4.0]);
            assert_eq!(*count, 4.0);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn sets_count_distinct_members_up_to_cap() {
    let st = Store::new(StoreLimits {
        max_set_members: 2,
        ..Default::default()
    });
    for h in [1, 2, 2, 1] {
        st.apply(&s("u", &[], SampleValue::SetInsert(h))).unwrap();
    }
    assert_eq!(
        st.apply(&s("u", &[], SampleValue::SetInsert(3))),
        Err(Reject::SetLimit)
    );
    assert_eq!(st.value("u", &Labels::empty()), Some(2.0));
}

#[test]
fn idle_series_expire_and_free_their_family_name() {
    let st = Store::new(StoreLimits {
        series_ttl: Duration::from_secs(10),
        ..Default::default()
    });
    st.set_now_ms(1_000);
    st.apply(&s("m", &[("a", "old")], SampleValue::CounterAdd(1.0)))
        .unwrap();
    st.set_now_ms(8_000);
    st.apply(&s("m", &[("a", "new")], SampleValue::CounterAdd(1.0)))
        .unwrap();
    st.set_now_ms(12_000);
    assert_eq!(st.sweep(), 1);
    assert_eq!(st.family_len("m"), 1);
    st.set_now_ms(30_000);
    assert_eq!(st.sweep(), 1);
    assert_eq!(st.series_count(), 0);
    // The name is free again, now as a gauge.
    st.apply(&s("m", &[], SampleValue::GaugeSet(1.0))).unwrap();
}

#[test]
fn zero_ttl_family_never_expires() {
    let st = Store::default();
    let mut keep = s("k", &[], SampleValue::GaugeSet(1.0));
    keep.options = Arc::new(FamilyOptions {
        ttl: Some(Duration::ZERO),
        ..Default::default()
    });
    st.apply(&keep).unwrap();
    st.set_now_ms(u64::MAX / 2);
    assert_eq!(st.sweep(), 0);
    assert_eq!(st.family_len("k"), 1);
}

/// Issue 17 item 4: derived `llm_*` counters stay monotonic for the life of the process. Two calls
/// of one model 30 minutes apart, past a 10-minute TTL, must read 2 (not restart at 1, which
/// `increase()` sees as no increase at all); generic pass-through series still expire.
#[test]
fn derived_llm_series_outlive_the_ttl_and_pass_through_series_do_not() {
    use crate::config::Config;
    use crate::derive::Deriver;
    use crate::model::{QualityEvent, QualitySignal, UsageEvent};
    let st = Store::new(StoreLimits {
        series_ttl: Duration::from_secs(600),
        ..Default::default()
    });
    let config = Config {
        pricing: Some(
            crate::config::load::load_str(
                "models:\n  - {provider: openai, model: gpt-4o, prices: {input: 2.5, output: 10}}\n",
                "p.yaml",
                &|_| None,
            )
            .unwrap(),
        ),
        ..Config::default()
    };
    let d = Deriver::new(&config);
    let mut ev = UsageEvent::new("openai", "gpt-4o");
    ev.usage.requests = 1;
    ev.usage.input_tokens = 4000;
    ev.duration = Some(Duration::from_millis(500));
    let quality = QualityEvent {
        unix_nanos: 0,
        evaluation: "".into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        scope: Labels::empty(),
        signal: QualitySignal::Outcome("accepted".into()),
        trace_id: None,
    };
    let call = |now_ms: u64| {
        st.set_now_ms(now_ms);
        let mut out = Vec::new();
        d.usage(&ev, &mut out).unwrap();
        d.quality(&quality, &mut out);
        for s in &out {
            st.apply(s).unwrap();
        }
        st.apply(&s("app_hits", &[], SampleValue::CounterAdd(1.0)))
            .unwrap();
    };
    call(0);
    let derived = st.snapshot().len() - 1;
    assert!(derived >= 5, "requests, tokens, cost, duration, outcomes");
    st.set_now_ms(30 * 60 * 1000);
    assert_eq!(st.sweep(), 1, "only the pass-through series expires");
    assert_eq!(st.snapshot().len(), derived);
    call(30 * 60 * 1000);
    let call_labels = labels(&[
        ("model", "gpt-4o"),
        ("operation", ""),
        ("provider", "openai"),
        ("status", "ok"),
    ]);
    assert_eq!(st.value("llm_requests", &call_labels), Some(2.0));
    assert_eq!(
        st.money_femto(
            "llm_cost_usd",
            &labels(&[
                ("cost_type", "input"),
                ("model", "gpt-4o"),
                ("provider", "openai")
            ])
        ),
        Some(2 * 4000 * 2_500_000_000)
    );
    assert_eq!(st.value("app_hits", &Labels::empty()), Some(1.0));
}

#[test]
fn shedding_rejects_new_series_but_existing_ones_keep_updating() {
    let store = Store::default();
    let a = Sample::new("m", Labels::new([("k", "a")]), SampleValue::CounterAdd(1.0));
    let b = Sample::new("m", Labels::new([("k", "b")]), SampleValue::CounterAdd(1.0));
    store.apply(&a).expect("first series");
    store.set_shedding(true);
    assert_eq!(store.apply(&b), Err(Reject::MemoryLimit));
    store.apply(&a).expect("existing series still updates");
    assert_eq!(store.value("m", &Labels::new([("k", "a")])), Some(2.0));
    store.set_shedding(false);
    store.apply(&b).expect("new series accepted again");
}

#[test]
fn money_counter_is_exact_where_floats_drift() {
    let st = Store::default();
    let tenth = 100_000_000_000_000u128; // $0.10 in femto-USD
    let mut float = 0.0f64;
    for _ in 0..10 {
        st.apply(&s(
            "cost",
            &[("a", "1")],
            SampleValue::CounterAddFemtoUsd(tenth),
        ))
        .unwrap();
        float += 0.1;
    }
    assert_ne!(
        float, 1.0,
        "the float sum drifts; the money counter must not"
    );
    assert_eq!(st.value("cost", &labels(&[("a", "1")])), Some(1.0));
    assert_eq!(
        st.money_femto("cost", &labels(&[("a", "1")])),
        Some(1_000_000_000_000_000)
    );
}

#[test]
fn money_and_float_increments_do_not_mix_in_one_series() {
    let st = Store::default();
    st.apply(&s("c", &[], SampleValue::CounterAddFemtoUsd(5)))
        .unwrap();
    assert_eq!(
        st.apply(&s("c", &[], SampleValue::CounterAdd(1.0))),
        Err(Reject::TypeConflict)
    );
    st.apply(&s("f", &[], SampleValue::CounterAdd(1.0)))
        .unwrap();
    assert_eq!(
        st.apply(&s("f", &[], SampleValue::CounterAddFemtoUsd(5))),
        Err(Reject::TypeConflict)
    );
    assert_eq!(st.money_femto("c", &Labels::empty()), Some(5));
    assert_eq!(st.money_femto("f", &Labels::empty()), None);
}

/// Issue 17 item 2: an increment that would overflow the money total is refused and reported;
/// the total is kept exactly, never saturated.
#[test]
fn money_overflow_is_refused_not_saturated() {
    let st = Store::default();
    st.apply(&s("c", &[], SampleValue::CounterAddFemtoUsd(u128::MAX - 1)))
        .unwrap();
    assert_eq!(
        st.apply(&s("c", &[], SampleValue::CounterAddFemtoUsd(2))),
        Err(Reject::MoneyOverflow)
    );
    assert_eq!(Reject::MoneyOverflow.reason(), "money_overflow");
    assert_eq!(st.money_femto("c", &Labels::empty()), Some(u128::MAX - 1));
    st.apply(&s("c", &[], SampleValue::CounterAddFemtoUsd(1)))
        .unwrap();
    assert_eq!(st.money_femto("c", &Labels::empty()), Some(u128::MAX));
}

#[test]
fn money_counter_renders_in_usd() {
    let st = Store::default();
    st.apply(&s(
        "llm_cost_usd",
        &[],
        SampleValue::CounterAddFemtoUsd(5_750_000_000_000),
    ))
    .unwrap();
    let text = crate::expose::text::render(&st.snapshot(), crate::expose::text::Format::Text);
    assert!(text.contains("llm_cost_usd_total 0.00575\n"), "{text}");
}

#[test]
fn removed_series_disappears_and_frees_its_slot() {
    let st = Store::default();
    st.apply(&s("info", &[("hash", "a")], SampleValue::GaugeSet(1.0)))
        .unwrap();
    assert_eq!(st.series_count(), 1);
    assert!(st.remove("info", &labels(&[("hash", "a")])));
    assert!(!st.remove("info", &labels(&[("hash", "a")])));
    assert!(!st.remove("nothing", &Labels::empty()));
    assert_eq!(st.series_count(), 0);
    assert_eq!(st.value("info", &labels(&[("hash", "a")])), None);
}

#[test]
fn new_names_past_the_total_cap_create_no_family() {
    let store = Store::new(StoreLimits {
        max_series_total: 2,
        ..StoreLimits::default()
    });
    for i in 0..10 {
        let r = store.apply(&Sample::new(
            format!("flood_{i}"),
            Labels::new([("k", "v")]),
            SampleValue::CounterAdd(1.0),
        ));
        assert_eq!(r.is_ok(), i < 2, "sample {i}: {r:?}");
    }
    assert_eq!(store.snapshot().len(), 2, "no empty families left behind");
}

/// Series `c{l}`, for the family-cache tests.
fn target_c<'a>(l: &'a Labels, opts: &'a Arc<FamilyOptions>) -> Target<'a> {
    Target {
        name: "c",
        labels: l,
        options: opts,
    }
}

#[test]
fn a_cached_family_swept_away_is_found_again_and_nothing_is_lost() {
    let st = Store::default();
    let (l, opts) = (labels(&[("a", "1")]), Arc::new(FamilyOptions::default()));
    let target = target_c(&l, &opts);
    let mut cache = FamilyCache::default();
    let mut add = |v| {
        st.apply_values_cached(
            &mut cache,
            target,
            &[SampleValue::CounterAdd(v)],
            &mut |r| panic!("{r}"),
        )
    };
    assert_eq!(add(1.0), Ok(()));
    assert_eq!(add(2.0), Ok(()), "through the cached family");
    st.set_now_ms(3_600_000);
    assert_eq!(
        st.sweep(),
        1,
        "the series expires and its family leaves the store"
    );
    assert_eq!(add(4.0), Ok(()), "the stale family is not written to");
    assert_eq!(st.value("c", &l), Some(4.0));
    assert_eq!(st.family_len("c"), 1);
}

#[test]
fn a_cached_family_still_refuses_another_type() {
    let st = Store::default();
    let (l, opts) = (labels(&[]), Arc::new(FamilyOptions::default()));
    let target = target_c(&l, &opts);
    let mut cache = FamilyCache::default();
    let mut ignore = |_| {};
    let ok = st.apply_values_cached(
        &mut cache,
        target,
        &[SampleValue::CounterAdd(1.0)],
        &mut ignore,
    );
    assert_eq!(ok, Ok(()));
    let gauge = st.apply_values_cached(
        &mut cache,
        target,
        &[SampleValue::GaugeSet(1.0)],
        &mut ignore,
    );
    assert_eq!(gauge, Err(Reject::TypeConflict));
    assert_eq!(st.value("c", &l), Some(1.0));
}

/// Regression (H1's note on #17.4): derived series never expire, so a family at its cap refused
/// new ones and their cost vanished from `llm_cost_usd_total` (budgets still counted it). Past a
/// cap, or under the memory guard, derived counters fold into `_overflow`; gauges are refused.
#[test]
fn derived_money_past_a_cap_folds_into_overflow_and_the_total_stays_whole() {
    let st = Store::new(StoreLimits {
        max_series_per_metric: 2,
        ..Default::default()
    });
    let derived = Arc::new(FamilyOptions {
        label_policy: LabelPolicy::Any,
        fold_overflow: true,
        ..Default::default()
    });
    let cost = |user: &str, femto: u128| {
        let mut x = s(
            "llm_cost_usd",
            &[("model", "m"), ("user", user)],
            SampleValue::CounterAddFemtoUsd(femto),
        );
        x.options = derived.clone();
        x
    };
    for (user, femto) in [("a", 1), ("b", 10), ("c", 100), ("d", 1000), ("a", 10_000)] {
        st.apply(&cost(user, femto * 1_000_000)).unwrap();
    }
    let overflow = labels(&[("model", "_overflow"), ("user", "_overflow")]);
    assert_eq!(st.family_len("llm_cost_usd"), 3);
    assert_eq!(st.value("llm_cost_usd", &overflow), Some(1.1e-6));
    assert_eq!(
        st.value("llm_cost_usd", &labels(&[("model", "m"), ("user", "a")])),
        Some(1.0001e-5)
    );
    // Under the memory guard a new derived series folds too, rather than losing its money.
    st.set_shedding(true);
    st.apply(&cost("e", 1_000_000)).unwrap();
    assert_eq!(st.value("llm_cost_usd", &overflow), Some(1.101e-6));
    st.set_shedding(false);
    // A gauge cannot be summed: past the cap it is refused, as before.
    let mut gauge = s(
        "llm_budget_spend_usd",
        &[("budget", "x")],
        SampleValue::GaugeSet(1.0),
    );
    gauge.options = derived.clone();
    st.apply(&gauge).unwrap();
    gauge.labels = labels(&[("budget", "y")]);
    st.apply(&gauge).unwrap();
    gauge.labels = labels(&[("budget", "z")]);
    assert_eq!(st.apply(&gauge), Err(Reject::SeriesLimit));
}
