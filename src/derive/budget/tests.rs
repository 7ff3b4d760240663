use super::engine::{Engine, Level, OVERFLOW};
use super::matcher::CallLabels;
use super::period::{calendar_bounds, Period};
use super::*;
use crate::model::Labels;
use jiff::{Timestamp, Zoned};

fn ts(s: &str) -> i64 {
    if s.contains('[') {
        s.parse::<Zoned>().unwrap().timestamp().as_second()
    } else {
        s.parse::<Timestamp>().unwrap().as_second()
    }
}

fn bounds(period: &str, tz: &str, now: &str) -> (i64, Option<i64>) {
    calendar_bounds(
        Period::parse(period).unwrap(),
        &TimeZone::get(tz).unwrap(),
        ts(now),
    )
    .unwrap()
}

const USD: u64 = 1_000_000_000;

#[test]
fn month_ends_and_leap_day() {
    assert_eq!(
        bounds("monthly", "UTC", "2024-02-29T12:00:00Z"),
        (ts("2024-02-01T00:00:00Z"), Some(ts("2024-03-01T00:00:00Z")))
    );
    assert_eq!(
        bounds("daily", "UTC", "2024-02-29T23:59:59Z"),
        (ts("2024-02-29T00:00:00Z"), Some(ts("2024-03-01T00:00:00Z")))
    );
    // The last second of January belongs to January, the next to February.
    assert_eq!(
        bounds("monthly", "UTC", "2026-01-31T23:59:59Z").1,
        Some(ts("2026-02-01T00:00:00Z"))
    );
    assert_eq!(
        bounds("monthly", "UTC", "2026-02-01T00:00:00Z").0,
        ts("2026-02-01T00:00:00Z")
    );
    assert_eq!(
        bounds("quarterly", "UTC", "2026-05-15T08:00:00Z"),
        (ts("2026-04-01T00:00:00Z"), Some(ts("2026-07-01T00:00:00Z")))
    );
    assert_eq!(
        bounds("yearly", "UTC", "2024-12-31T23:00:00Z"),
        (ts("2024-01-01T00:00:00Z"), Some(ts("2025-01-01T00:00:00Z")))
    );
    assert_eq!(bounds("total", "UTC", "2024-12-31T23:00:00Z"), (0, None));
}

#[test]
fn iso_week_53_spans_the_new_year() {
    // 2026 starts on a Thursday, so it has an ISO week 53: Mon 2026-12-28 .. Sun 2027-01-03.
    let sat = "2027-01-02T10:00:00Z".parse::<Timestamp>().unwrap();
    assert_eq!(
        sat.to_zoned(TimeZone::UTC).date().iso_week_date().week(),
        53
    );
    assert_eq!(
        bounds("weekly", "UTC", "2027-01-02T10:00:00Z"),
        (ts("2026-12-28T00:00:00Z"), Some(ts("2027-01-04T00:00:00Z")))
    );
    // A Monday starts its own week; a Sunday belongs to the week before.
    assert_eq!(
        bounds("weekly", "UTC", "2027-01-04T00:00:00Z").0,
        ts("2027-01-04T00:00:00Z")
    );
    assert_eq!(
        bounds("weekly", "UTC", "2027-01-03T23:59:59Z").0,
        ts("2026-12-28T00:00:00Z")
    );
}

#[test]
fn dst_days_are_23_and_25_hours_in_berlin() {
    let (s, e) = bounds(
        "daily",
        "Europe/Berlin",
        "2026-03-29T12:00:00+02:00[Europe/Berlin]",
    );
    assert_eq!(s, ts("2026-03-29T00:00:00+01:00[Europe/Berlin]"));
    assert_eq!(e.unwrap() - s, 23 * 3600);
    let (s, e) = bounds(
        "daily",
        "Europe/Berlin",
        "2026-10-25T12:00:00+01:00[Europe/Berlin]",
    );
    assert_eq!(e.unwrap() - s, 25 * 3600);
    // A month in a zone starts at local midnight, not UTC midnight.
    assert_eq!(
        bounds("monthly", "America/New_York", "2026-11-01T03:30:00Z").0,
        ts("2026-10-01T04:00:00Z")
    );
}

#[test]
fn a_missing_midnight_starts_the_day_at_the_first_real_instant() {
    // Sao Paulo moved clocks from 00:00 to 01:00 on 2018-11-04: that day began at 01:00 local.
    let (s, e) = bounds(
        "daily",
        "America/Sao_Paulo",
        "2018-11-04T12:00:00-02:00[America/Sao_Paulo]",
    );
    assert_eq!(s, ts("2018-11-04T01:00:00-02:00[America/Sao_Paulo]"));
    assert_eq!(e.unwrap() - s, 23 * 3600);
}

#[test]
fn rolling_windows_are_bucketed_and_bounded() {
    let Period::Rolling(r) = Period::parse("rolling_1h").unwrap() else {
        panic!("not rolling")
    };
    assert_eq!(r.window_secs(), 3600);
    assert_eq!(r.bounds(3600 + 30), (60, 3660));
    for name in ["rolling_24h", "rolling_7d", "rolling_30d"] {
        let Some(Period::Rolling(r)) = Period::parse(name) else {
            panic!("{name}")
        };
        assert!(r.buckets <= 200, "{name} keeps at most 200 buckets");
    }
    assert_eq!(Period::parse("fortnightly"), None);
}

fn budget(yaml_like: impl FnOnce(&mut BudgetConfig)) -> BudgetConfig {
    let mut c = BudgetConfig {
        name: "b".into(),
        period: "monthly".into(),
        limit_usd: 100.0,
        ..Default::default()
    };
    yaml_like(&mut c);
    c
}

fn engine(configs: &[BudgetConfig], now: i64) -> Engine {
    let defs = configs
        .iter()
        .map(|c| Arc::new(BudgetDef::compile(c).unwrap()))
        .collect();
    Engine::new(defs, &[], now).unwrap().0
}

fn call<'a>(scope: &'a Labels, model: &'a str) -> CallLabels<'a> {
    CallLabels {
        scope,
        provider: "openai",
        model,
    }
}

fn spend_of(e: &Engine, now: i64) -> Vec<u64> {
    e.statuses(now)
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| s.spend))
        .collect()
}

#[test]
fn thresholds_and_check_decisions() {
    let now = ts("2026-11-10T00:00:00Z");
    let none = Labels::empty();
    // (percent in 1/100 of a percent, level, threshold reached, allowed)
    let cases = [
        (4990, Level::Ok, None, true),
        (5000, Level::Warning, Some(0.5), true),
        (8000, Level::Warning, Some(0.8), true),
        (9000, Level::Critical, Some(0.9), true),
        (9999, Level::Critical, Some(0.9), true),
        (10000, Level::Exceeded, Some(1.0), false),
        (12000, Level::Exceeded, Some(1.0), false),
    ];
    for (bp, level, threshold, allowed) in cases {
        let mut e = engine(&[budget(|_| {})], now);
        // limit $100: 1 basis point = 1 cent.
        e.record(&call(&none, "m"), bp * USD / 100, now);
        let st = e.check(&call(&none, "m"), now);
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].level(), level, "at {bp} bp");
        assert_eq!(st[0].threshold_reached(), threshold, "at {bp} bp");
        assert_eq!(!st[0].denies(), allowed, "at {bp} bp");
    }
    // One nano-dollar under the limit still allows.
    let mut e = engine(&[budget(|_| {})], now);
    e.record(&call(&none, "m"), 100 * USD - 1, now);
    assert!(!e.check(&call(&none, "m"), now)[0].denies());
}

#[test]
fn matchers_pick_budgets_and_one_event_counts_toward_several() {
    let now = ts("2026-11-10T00:00:00Z");
    let mut e = engine(
        &[
            budget(|b| {
                b.name = "search".into();
                b.matchers.insert("team".into(), "search".into());
            }),
            budget(|b| {
                b.name = "gpt4".into();
                b.matchers.insert("model".into(), "=~gpt-4.*".into());
                b.matchers.insert("env".into(), "!=dev".into());
            }),
            budget(|b| b.name = "all".into()),
        ],
        now,
    );
    let search = Labels::new([("team", "search")]);
    let ads_dev = Labels::new([("team", "ads"), ("env", "dev")]);
    e.record(&call(&search, "gpt-4o"), 3, now);
    e.record(&call(&ads_dev, "gpt-4o"), 5, now);
    e.record(&call(&search, "o3"), 7, now);
    assert_eq!(spend_of(&e, now), vec![10, 3, 15]);
    let q = [
        ("team".to_string(), "search".to_string()),
        ("model".to_string(), "gpt-4o".to_string()),
    ];
    let names: Vec<String> = e
        .check(&q[..], now)
        .iter()
        .map(|s| s.def.name.to_string())
        .collect();
    assert_eq!(names, vec!["search", "gpt4", "all"]);
}

#[test]
fn calendar_rollover_while_running() {
    let jan = ts("2026-01-31T23:59:59Z");
    let feb = ts("2026-02-01T00:00:00Z");
    let none = Labels::empty();
    let mut e = engine(&[budget(|_| {})], jan);
    e.record(&call(&none, "m"), 40 * USD, jan);
    assert_eq!(spend_of(&e, jan), vec![40 * USD]);
    // Without any write, the new period already reads as zero.
    assert_eq!(spend_of(&e, feb), vec![0]);
    assert!(!e.check(&call(&none, "m"), feb)[0].denies());
    e.record(&call(&none, "m"), 2 * USD, feb);
    let st = &e.statuses(feb)[0].1[0];
    assert_eq!(
        (st.spend, st.start, st.end),
        (2 * USD, feb, Some(ts("2026-03-01T00:00:00Z")))
    );
}

#[test]
fn restart_keeps_spend_and_a_new_period_starts_at_zero() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let none = Labels::empty();
    let configs = [
        budget(|_| {}),
        budget(|b| {
            b.name = "r".into();
            b.period = "rolling_1h".into();
        }),
    ];
    let mut e = engine(&configs, t0);
    e.record(&call(&none, "m"), 123_456_789_012, t0);
    let d = e.take_dirty();
    assert_eq!(d.puts.len(), 2);
    let defs = || {
        configs
            .iter()
            .map(|c| Arc::new(BudgetDef::compile(c).unwrap()))
            .collect()
    };
    // Same month, 30 minutes later: both intact to the nano-dollar.
    let (e2, notes) = Engine::new(defs(), &d.puts, t0 + 1800).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(
        spend_of(&e2, t0 + 1800),
        vec![123_456_789_012, 123_456_789_012]
    );
    // Next month: the monthly budget is zero, the rolling window has long drained.
    let dec = ts("2026-12-01T00:00:00Z");
    let (mut e3, _) = Engine::new(defs(), &d.puts, dec).unwrap();
    assert_eq!(spend_of(&e3, dec), vec![0, 0]);
    // The reset is itself persisted, so the stale spend cannot come back.
    assert_eq!(e3.take_dirty().puts.len(), 2);
    // An undecodable record is an error, never a silent zero.
    let bad = vec![(d.puts[0].0.clone(), b"{not json".to_vec())];
    assert!(Engine::new(defs(), &bad, t0).is_err());
}

#[test]
fn rolling_window_drops_old_buckets() {
    let t0: i64 = 1_800_000_000; // a whole minute
    let none = Labels::empty();
    let mut e = engine(&[budget(|b| b.period = "rolling_1h".into())], t0);
    e.record(&call(&none, "m"), 5, t0);
    e.record(&call(&none, "m"), 7, t0 + 1800);
    assert_eq!(spend_of(&e, t0 + 3599), vec![12]);
    assert_eq!(spend_of(&e, t0 + 3600), vec![7]);
    assert_eq!(spend_of(&e, t0 + 1800 + 3600), vec![0]);
    // Memory stays bounded however long it runs.
    for i in 0..10_000 {
        e.record(&call(&none, "m"), 1, t0 + i * 60);
    }
    assert_eq!(spend_of(&e, t0 + 9999 * 60), vec![60]);
}

/// Issue 17 item 2: spend that would overflow u64 nano-USD is refused and reported, never
/// saturated (a saturated total is 18.4 billion USD that denies every check), for calendar and
/// rolling budgets alike; what was spent before stays exact.
#[test]
fn spend_that_would_overflow_is_refused_not_saturated() {
    let t0: i64 = 1_800_000_000;
    let none = Labels::empty();
    for period in ["total", "rolling_1h"] {
        let mut e = engine(&[budget(|b| b.period = period.into())], t0);
        let r = e.record(&call(&none, "m"), u64::MAX - 10, t0);
        assert!(r.money_overflow.is_empty(), "{period}");
        let seq = e.seq();
        let r = e.record(&call(&none, "m"), 11, t0 + 60);
        assert_eq!(r.money_overflow.len(), 1, "{period}");
        assert!(r.touched.is_empty(), "{period}");
        assert_eq!(
            e.seq(),
            seq,
            "{period}: nothing changed, nothing to persist"
        );
        assert_eq!(spend_of(&e, t0 + 60), vec![u64::MAX - 10], "{period}");
        // What still fits is applied.
        let r = e.record(&call(&none, "m"), 10, t0 + 120);
        assert!(r.money_overflow.is_empty(), "{period}");
        assert_eq!(spend_of(&e, t0 + 120), vec![u64::MAX], "{period}");
    }
}

#[test]
fn group_by_makes_instances_up_to_a_cap_then_overflows() {
    let now = ts("2026-11-10T00:00:00Z");
    let mut e = engine(
        &[budget(|b| {
            b.group_by = vec!["team".into()];
            b.max_groups = 2;
        })],
        now,
    );
    assert!(e.statuses(now)[0].1.is_empty());
    for (team, cost) in [("a", 1), ("b", 2), ("a", 4), ("c", 8), ("d", 16)] {
        let l = Labels::new([("team", team)]);
        let r = e.record(&call(&l, "m"), cost, now);
        assert_eq!(
            r.overflowed.len(),
            usize::from(team == "c" || team == "d"),
            "{team}"
        );
    }
    let st = &e.statuses(now)[0].1;
    let got: Vec<(String, u64)> = st
        .iter()
        .map(|s| (s.group[0].1.to_string(), s.spend))
        .collect();
    assert_eq!(
        got,
        vec![("_overflow".into(), 24), ("a".into(), 5), ("b".into(), 2)]
    );
    // A check for a new group past the cap answers for that group: zero, allowed, untracked
    // (it used to read `_overflow`'s 24, spend that is not the caller's).
    let q = [("team".to_string(), "zzz".to_string())];
    let st = &e.check(&q[..], now)[0];
    assert_eq!((st.spend, st.untracked, st.denies()), (0, true, false));
    assert_eq!(&*st.group[0].1, "zzz");
    let known = [("team".to_string(), "a".to_string())];
    assert!(!e.check(&known[..], now)[0].untracked);
    let _ = OVERFLOW;
}

#[test]
fn reload_keeps_spend_of_budgets_that_stay() {
    let now = ts("2026-11-10T00:00:00Z");
    let none = Labels::empty();
    let a = budget(|b| b.name = "a".into());
    let b = budget(|b| b.name = "b".into());
    let c = budget(|b| b.name = "c".into());
    let mut e = engine(&[a.clone(), b.clone(), c], now);
    e.record(&call(&none, "m"), 10, now);
    e.take_dirty();
    let mut a2 = a.clone();
    a2.limit_usd = 5.0;
    a2.thresholds = vec![0.7];
    let mut b2 = b;
    b2.period = "daily".into();
    let new = budget(|x| x.name = "new".into());
    let defs = [a2, b2, new]
        .iter()
        .map(|c| Arc::new(BudgetDef::compile(c).unwrap()))
        .collect();
    e.reconfigure(defs, now);
    assert_eq!(spend_of(&e, now), vec![10, 0, 0]);
    let d = e.take_dirty();
    // b (period changed) and c (removed) leave their usual keys for orphan keys: their spend is
    // kept, never deleted by a config edit.
    let mut deleted = d.deletes.clone();
    deleted.sort();
    assert_eq!(deleted, vec![saved::key("b", &[]), saved::key("c", &[])]);
    let orphaned: Vec<(String, u64)> = e
        .orphans(now)
        .into_iter()
        .map(|(s, n)| (format!("{} {}", s.budget, s.period), n))
        .collect();
    assert_eq!(
        orphaned,
        vec![("b monthly".to_string(), 10), ("c monthly".to_string(), 10)]
    );
    assert_eq!(
        d.puts.len(),
        2,
        "both orphans are written under their orphan keys"
    );
}

#[test]
fn forecast_is_linear_burn_since_period_start() {
    let start = ts("2026-11-01T00:00:00Z");
    let half = ts("2026-11-16T00:00:00Z");
    let none = Labels::empty();
    let mut e = engine(&[budget(|_| {})], start);
    e.record(&call(&none, "m"), 30 * USD, half);
    assert_eq!(e.statuses(half)[0].1[0].forecast, 60 * USD);
    // Right after the period starts, elapsed is floored at 1% of the period.
    let mut e = engine(&[budget(|_| {})], start);
    e.record(&call(&none, "m"), USD, start + 1);
    assert_eq!(e.statuses(start + 1)[0].1[0].forecast, 100 * USD);
}

#[test]
fn validation_reports_each_problem_by_path() {
    let mut issues = Issues::default();
    let configs = vec![
        budget(|b| {
            b.period = "fortnightly".into();
            b.timezone = "Mars/Olympus".into();
            b.limit_usd = -1.0;
            b.thresholds = vec![0.5, 1.5];
            b.matchers.insert("model".into(), "=~(".into());
            b.matchers.insert("user".into(), "x".into());
            b.group_by = vec!["customer".into()];
        }),
        budget(|_| {}),
    ];
    compile_all(&configs, &["team".to_string()], "budgets", &mut issues);
    let paths: Vec<&str> = issues.0.iter().map(|i| i.path.as_str()).collect();
    for p in [
        "budgets[0].period",
        "budgets[0].timezone",
        "budgets[0].limit_usd",
        "budgets[0].thresholds[1]",
        "budgets[0].match.model",
        "budgets[0].match.user",
        "budgets[0].group_by[0]",
        "budgets[1].name",
    ] {
        assert!(paths.contains(&p), "missing {p} in {issues}");
    }
}

#[test]
fn fleet_figures_count_while_fresh_and_within_the_period() {
    let t0 = ts("2026-11-30T23:00:00Z");
    let none = Labels::empty();
    let mut e = engine(
        &[
            budget(|b| b.fleet_query = Some("sum(x)".into())),
            budget(|b| {
                b.name = "g".into();
                b.group_by = vec!["team".into()];
            }),
        ],
        t0,
    );
    e.record(&call(&none, "m"), 10 * USD, t0);
    e.set_fleet("b", Ok(vec![(Labels::empty(), 99.5)]), t0, 600);
    let st = &e.check(&call(&none, "m"), t0)[0];
    assert_eq!(
        (st.spend, st.local_spend, st.fleet_spend),
        (99_500_000_000, 10 * USD, Some(99_500_000_000))
    );
    assert_eq!(st.level(), Level::Critical);
    // A query failure keeps the last figure (still fresh) and reports why.
    e.set_fleet("b", Err("connect refused".into()), t0 + 60, 600);
    let st = &e.check(&call(&none, "m"), t0 + 60)[0];
    assert_eq!(st.fleet_spend, Some(99_500_000_000));
    assert_eq!(st.fleet_error.as_deref(), Some("connect refused"));
    // Too old: back to local spend.
    let st = &e.check(&call(&none, "m"), t0 + 601)[0];
    assert_eq!((st.spend, st.fleet_spend), (10 * USD, None));
    // Fresh but from last month: not counted in December (local spend is zero there too).
    let dec = ts("2026-12-01T00:05:00Z");
    let st = &e.check(&call(&none, "m"), dec)[0];
    assert_eq!((st.spend, st.fleet_spend), (0, None));
    // Local spend larger than a lagging fleet figure wins.
    e.set_fleet("b", Ok(vec![(Labels::empty(), 1.0)]), t0, 600);
    assert_eq!(e.check(&call(&none, "m"), t0)[0].spend, 10 * USD);
    // Grouped: series map to groups by label; a group absent from the result has 0 fleet-wide.
    e.set_fleet(
        "g",
        Ok(vec![
            (Labels::new([("team", "a")]), 1.0),
            (Labels::new([("team", "a"), ("instance", "x")]), 2.0),
            (Labels::new([("team", "b")]), 4.0),
        ]),
        t0,
        600,
    );
    let q = [("team".to_string(), "a".to_string())];
    // (Budget "b" matches every call too: index 1 is "g".)
    let st = &e.check(&q[..], t0)[1];
    assert_eq!((&*st.def.name, st.fleet_spend), ("g", Some(3 * USD)));
    let q = [("team".to_string(), "c".to_string())];
    assert_eq!(e.check(&q[..], t0)[1].fleet_spend, Some(0));
}

#[test]
fn daily_rollover_in_berlin_follows_local_midnight_across_dst() {
    let cfg = budget(|b| {
        b.period = "daily".into();
        b.timezone = "Europe/Berlin".into();
    });
    let none = Labels::empty();
    // Saturday 23:30 CET, the night clocks spring forward.
    let sat = ts("2026-03-28T23:30:00+01:00[Europe/Berlin]");
    let mut e = engine(std::slice::from_ref(&cfg), sat);
    e.record(&call(&none, "m"), 7, sat);
    // One second before Berlin midnight (22:59:59 UTC): still Saturday.
    let before = ts("2026-03-28T23:59:59+01:00[Europe/Berlin]");
    assert_eq!(spend_of(&e, before), vec![7]);
    // Berlin midnight: a new day, at zero, lasting 23 hours.
    let sun = ts("2026-03-29T00:00:00+01:00[Europe/Berlin]");
    e.tick(sun);
    assert_eq!(spend_of(&e, sun), vec![0]);
    e.record(&call(&none, "m"), 5, sun + 3600 * 3);
    let st = &e.statuses(sun + 3600 * 3)[0].1[0];
    assert_eq!(
        (st.spend, st.start, st.end.unwrap() - st.start),
        (5, sun, 23 * 3600)
    );
    // 22:59 UTC on Sunday is 00:59 Monday in Berlin (CEST): a new day again.
    assert_eq!(spend_of(&e, ts("2026-03-29T22:59:00Z")), vec![0]);
}

#[test]
fn reset_zeroes_the_current_period_and_is_persisted() {
    use super::engine::ResetError;
    let t0 = ts("2026-11-10T00:00:00Z");
    let configs = [
        budget(|b| b.group_by = vec!["team".into()]),
        budget(|b| {
            b.name = "r".into();
            b.period = "rolling_1h".into();
        }),
    ];
    let mut e = engine(&configs, t0);
    let search = Labels::new([("team", "search")]);
    let ads = Labels::new([("team", "ads")]);
    e.record(&call(&search, "m"), 5 * USD, t0);
    e.record(&call(&ads, "m"), 3 * USD, t0);
    e.take_dirty();
    let one = [("team".to_string(), "search".to_string())];
    let reset = e.reset("b", Some(&one), t0 + 60).unwrap();
    assert_eq!(reset.len(), 1);
    assert_eq!((reset[0].0.spend, reset[0].1), (0, 5 * USD));
    // Grouped: [ads, search]; rolling: 8 USD, untouched.
    assert_eq!(spend_of(&e, t0 + 60), vec![3 * USD, 0, 8 * USD]);
    let seq = e.seq();
    let reset = e.reset("r", None, t0 + 60).unwrap();
    assert_eq!(reset[0].1, 8 * USD);
    assert!(e.seq() > seq, "a reset must wake durability waiters");
    assert_eq!(spend_of(&e, t0 + 60), vec![3 * USD, 0, 0]);
    // Both reset instances are written, so a restart cannot bring their spend back.
    let d = e.take_dirty();
    assert_eq!(d.puts.len(), 2);
    let defs = configs
        .iter()
        .map(|c| Arc::new(BudgetDef::compile(c).unwrap()))
        .collect();
    let (restored, _) = Engine::new(defs, &d.puts, t0 + 120).unwrap();
    assert_eq!(spend_of(&restored, t0 + 120), vec![0, 0]);

    assert!(matches!(
        e.reset("nope", None, t0),
        Err(ResetError::NoBudget)
    ));
    let unseen = [("team".to_string(), "never".to_string())];
    assert!(matches!(
        e.reset("b", Some(&unseen), t0),
        Err(ResetError::NoGroup)
    ));
    let wrong = [("model".to_string(), "m".to_string())];
    assert!(matches!(
        e.reset("b", Some(&wrong), t0),
        Err(ResetError::BadGroup(_))
    ));
}

mod orphaned;

#[test]
fn a_batch_writes_each_instance_gauges_once_with_its_last_spend() {
    // Spend of many spans in one request is recorded event by event, but each budget instance's
    // gauges are written once at the end: with the final spend, never an earlier one.
    let now = ts("2026-11-10T00:00:00Z");
    let defs: Vec<_> = [budget(|b| b.group_by = vec!["team".into()])]
        .iter()
        .map(|c| Arc::new(BudgetDef::compile(c).unwrap()))
        .collect();
    let b = Budgets::in_memory(&defs, now);
    let (search, ads) = (
        Labels::new([("team", "search")]),
        Labels::new([("team", "ads")]),
    );
    let mut touched = Touched::default();
    for (scope, usd) in [(&search, 1), (&ads, 2), (&search, 4), (&search, 8)] {
        b.record(&call(scope, "m"), usd * USD, now, &mut touched);
    }
    let mut out = Vec::new();
    b.touched_gauges(&mut touched, &mut out);
    assert!(touched.is_empty());
    let spend: Vec<(String, f64)> = out
        .iter()
        .filter(|s| &*s.name == "llm_budget_spend_usd")
        .map(|s| {
            let team = s.labels.iter().find(|(k, _)| *k == "team").unwrap().1;
            let crate::model::SampleValue::GaugeSet(v) = s.value else {
                panic!("{:?}", s.value)
            };
            (team.to_string(), v)
        })
        .collect();
    assert_eq!(spend.len(), 2, "{spend:?}");
    assert!(spend.contains(&("search".into(), 13.0)), "{spend:?}");
    assert!(spend.contains(&("ads".into(), 2.0)), "{spend:?}");
    let names: Vec<&str> = out.iter().map(|s| &*s.name).collect();
    let per_instance = names
        .iter()
        .filter(|n| **n == "llm_budget_limit_usd")
        .count();
    assert_eq!(per_instance, 2, "{names:?}");
}
