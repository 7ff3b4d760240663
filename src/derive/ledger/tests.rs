use super::query::{self, Dim, Format};
use super::row::{self, Gran, Totals, OTHER};
use super::*;
use crate::config::usage::UsageConfig;

/// 2026-12-06T10:20:00Z.
const NOW: i64 = 1_796_552_400;

fn ledger(max_rows: usize) -> Ledger {
    let c = UsageConfig {
        max_rows_per_bucket: max_rows,
        ..Default::default()
    };
    Ledger::new(Settings::new(&c), NOW)
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        requests: 1,
        ..Default::default()
    }
}

fn record(l: &mut Ledger, model: &str, team: &str, u: &Usage, cost: u128, now: i64) -> Recorded {
    let scope = Labels::new([("team", team)]);
    l.record(
        &Entry {
            provider: "openai",
            model,
            scope: &scope,
            usage: u,
            weight: 1.0,
            error: false,
            cost_femto: cost,
        },
        now,
    )
}

fn decoded(d: &LedgerDirty) -> Vec<(row::Key, Totals)> {
    d.puts
        .iter()
        .map(|(k, v)| (row::decode_key(k).unwrap(), Totals::decode(v).unwrap()))
        .collect()
}

#[test]
fn an_event_counts_into_its_hour_and_day_rows_and_rows_round_trip() {
    let mut l = ledger(100);
    let u = usage(1200, 300);
    record(&mut l, "gpt-4o", "search", &u, 6_000_000_000_000, NOW);
    record(&mut l, "gpt-4o", "search", &u, 6_000_000_000_000, NOW + 60);
    let d = l.take_dirty(NOW + 60);
    assert_eq!(d.seq, 2);
    let rows = decoded(&d);
    assert_eq!(rows.len(), 2);
    let (hour, day) = (&rows[1], &rows[0]);
    assert_eq!(day.0.gran, Gran::Day);
    assert_eq!(day.0.start, NOW - NOW.rem_euclid(86_400));
    assert_eq!(hour.0.gran, Gran::Hour);
    assert_eq!(hour.0.start, NOW - NOW.rem_euclid(3600));
    for (key, t) in &rows {
        assert_eq!(key.model, "gpt-4o");
        assert_eq!(key.labels, vec![("team".to_string(), "search".to_string())]);
        assert_eq!(t.requests, 2);
        assert_eq!(t.quantities[0], 2400);
        assert_eq!(t.quantities[1], 600);
        assert_eq!(t.cost_femto, 12_000_000_000_000);
    }
    // Nothing changed since: nothing to write (pruning aside).
    assert!(l.take_dirty(NOW + 61).puts.is_empty());
}

#[test]
fn weight_errors_and_huge_money_are_kept_exactly() {
    let mut l = ledger(100);
    let scope = Labels::empty();
    let u = usage(3, 1);
    l.record(
        &Entry {
            provider: "p",
            model: "m",
            scope: &scope,
            usage: &u,
            weight: 2.5,
            error: true,
            cost_femto: u128::from(u64::MAX) * 1000,
        },
        NOW,
    );
    let rows = decoded(&l.take_dirty(NOW));
    let t = rows[0].1;
    // 1 call x 2.5 rounds to 3 (half away from zero); 3 tokens x 2.5 = 7.5 -> 8.
    assert_eq!((t.requests, t.errors, t.quantities[0]), (3, 3, 8));
    assert_eq!(t.cost_femto, u128::from(u64::MAX) * 1000);
}

#[test]
fn past_the_cap_new_rows_fold_into_other_and_money_is_kept() {
    let mut l = ledger(2);
    let u = usage(10, 1);
    for (i, team) in ["a", "b", "c", "d"].iter().enumerate() {
        let r = record(&mut l, "m", team, &u, 1_000, NOW);
        assert_eq!(r.folded, if i < 2 { 0 } else { 2 }, "team {team}");
    }
    // An existing row keeps counting under its own name.
    assert_eq!(record(&mut l, "m", "a", &u, 1_000, NOW).folded, 0);
    let rows = decoded(&l.take_dirty(NOW));
    let hour: Vec<_> = rows.iter().filter(|(k, _)| k.gran == Gran::Hour).collect();
    assert_eq!(hour.len(), 3, "{hour:?}");
    let other = hour.iter().find(|(k, _)| k.model == OTHER).unwrap();
    assert_eq!(other.0.provider, OTHER);
    assert_eq!(other.1.requests, 2);
    let cost: u128 = hour.iter().map(|(_, t)| t.cost_femto).sum();
    assert_eq!(cost, 5_000, "the cap drops the breakdown, never the money");
}

#[test]
fn an_unencodable_key_folds_into_other_and_the_next_event_keys_right() {
    // The key buffer is reused across events: a text too long to encode (past 64 KiB) must
    // neither land under a half-written key nor leave one behind for the next event.
    let mut l = ledger(10);
    let u = usage(10, 1);
    let long = "m".repeat(70_000);
    assert_eq!(record(&mut l, &long, "a", &u, 1_000, NOW).folded, 2);
    assert_eq!(record(&mut l, "m", "a", &u, 2_000, NOW).folded, 0);
    assert_eq!(record(&mut l, "m", "a", &u, 3_000, NOW).folded, 0);
    let rows = decoded(&l.take_dirty(NOW));
    let mut seen: Vec<_> = rows
        .iter()
        .map(|(k, t)| (k.gran, k.model.clone(), t.requests, t.cost_femto))
        .collect();
    seen.sort();
    let day = Gran::Day;
    let hour = Gran::Hour;
    let mut want = vec![
        (hour, "m".to_string(), 2, 5_000),
        (hour, OTHER.to_string(), 1, 1_000),
        (day, "m".to_string(), 2, 5_000),
        (day, OTHER.to_string(), 1, 1_000),
    ];
    want.sort();
    assert_eq!(seen, want);
}

#[test]
fn a_restart_continues_the_live_buckets_and_keeps_their_cap() {
    let mut l = ledger(2);
    let u = usage(10, 1);
    record(&mut l, "m", "a", &u, 7, NOW);
    record(&mut l, "m", "b", &u, 7, NOW);
    let saved = l.take_dirty(NOW).puts;

    let mut again = ledger(2);
    assert_eq!(again.restore(&saved, NOW + 5), 0);
    assert_eq!(record(&mut again, "m", "a", &u, 7, NOW + 5).folded, 0);
    assert_eq!(record(&mut again, "m", "c", &u, 7, NOW + 5).folded, 2);
    let rows = decoded(&again.take_dirty(NOW + 5));
    let a = rows
        .iter()
        .find(|(k, _)| k.gran == Gran::Day && k.labels == vec![("team".into(), "a".into())])
        .unwrap();
    assert_eq!(a.1.requests, 2, "counting continued from the saved total");
    // A damaged record is reported and left out.
    assert_eq!(
        ledger(2).restore(&[(saved[0].0.clone(), vec![9, 9])], NOW),
        1
    );
}

#[test]
fn a_failed_commit_is_written_again_and_old_buckets_leave_memory_once_written() {
    let mut l = ledger(100);
    let u = usage(10, 1);
    record(&mut l, "m", "a", &u, 5, NOW);
    let failed = l.take_dirty(NOW);
    // The next hour starts before the retry.
    let later = NOW + 3600;
    record(&mut l, "m", "a", &u, 5, later);
    l.restore_dirty(failed);
    let retry = decoded(&l.take_dirty(later));
    let hours: Vec<i64> = retry
        .iter()
        .filter(|(k, _)| k.gran == Gran::Hour)
        .map(|(k, _)| k.start)
        .collect();
    assert_eq!(hours.len(), 2, "the old hour is rewritten with the new one");
    let day = retry.iter().find(|(k, _)| k.gran == Gran::Day).unwrap();
    assert_eq!(day.1.requests, 2);
    // Written now: the old hour leaves memory at the next take, the live rows stay.
    l.take_dirty(later);
    let (from, to) = (
        row::range_bound(Gran::Hour, i64::MIN),
        row::range_bound(Gran::Hour, i64::MAX),
    );
    assert_eq!(l.rows_in(&from, &to).len(), 1);
}

#[test]
fn pruning_is_asked_at_most_hourly_and_retried_after_a_failure() {
    let mut l = ledger(100);
    let d = l.take_dirty(NOW);
    assert_eq!(d.prune.len(), 2);
    let cutoff = NOW - 90 * 86_400;
    assert_eq!(d.prune[0].1, row::range_bound(Gran::Hour, cutoff - 3600));
    assert_eq!(d.prune[1].1, row::range_bound(Gran::Day, cutoff - 86_400));
    assert!(l.take_dirty(NOW + 60).prune.is_empty());
    l.restore_dirty(d);
    assert_eq!(l.take_dirty(NOW + 60).prune.len(), 2);
    assert!(l.take_dirty(NOW + 120).prune.is_empty());
    assert_eq!(l.take_dirty(NOW + 60 + 3600).prune.len(), 2);
}

#[test]
fn a_disabled_ledger_records_and_prunes_nothing() {
    let c = UsageConfig {
        enabled: false,
        ..Default::default()
    };
    let mut l = Ledger::new(Settings::new(&c), NOW);
    record(&mut l, "m", "a", &usage(1, 1), 5, NOW);
    assert!(l.take_dirty(NOW).is_empty());
    assert_eq!(l.seq(), 0);
}

#[test]
fn keys_sort_by_bucket_and_bad_bytes_are_errors_not_panics() {
    let a = row::encode_key(Gran::Hour, -5, "p", "m", std::iter::empty()).unwrap();
    let b = row::encode_key(Gran::Hour, 3, "a", "a", std::iter::empty()).unwrap();
    assert!(a < b, "negative starts sort first");
    for bad in [&[][..], b"h", &a[..12], &[b'x'; 20]] {
        assert!(row::decode_key(bad).is_err());
    }
    for bad in [&[][..], &[1], &[1, 0x80], &[2, 0, 0], &[1; 40]] {
        let _ = Totals::decode(bad);
    }
    assert!(Totals::decode(&[1, 0xff, 0xff]).is_err());
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn query_parameters_are_strict() {
    let tz = jiff::tz::TimeZone::UTC;
    let scope = vec!["team".to_string()];
    let parse = |p: &[(&str, &str)]| query::parse(&params(p), &scope, &tz, NOW);
    let q = parse(&[]).unwrap();
    assert_eq!(q.group_by, vec![Dim::Provider, Dim::Model]);
    assert_eq!(q.gran, Gran::Day);
    assert_eq!(
        q.from,
        query::parse(&params(&[("from", "2026-12-01")]), &scope, &tz, NOW)
            .unwrap()
            .from
    );
    let bad = parse(&[("tem", "search")]).unwrap_err();
    assert_eq!(bad.unknown, vec!["tem"]);
    assert!(parse(&[("team", "a"), ("team", "b")]).is_err());
    assert!(parse(&[("group_by", "user")]).is_err());
    assert!(parse(&[("format", "xml")]).is_err());
    assert!(parse(&[("from", "2026-12-06"), ("to", "2026-12-01")]).is_err());
    let q = parse(&[
        ("group_by", "team,hour"),
        ("group_by", "model"),
        ("format", "csv"),
    ])
    .unwrap();
    assert_eq!(
        q.group_by,
        vec![Dim::Label("team".into()), Dim::Hour, Dim::Model]
    );
    assert_eq!((q.gran, q.format), (Gran::Hour, Format::Csv));
    let q = parse(&[("from", "2026-12-06T10:00:00Z")]).unwrap();
    assert_eq!(
        q.gran,
        Gran::Hour,
        "a bound inside a day needs hour buckets"
    );
}

#[test]
fn aggregate_groups_filters_and_renders_csv() {
    let mut l = ledger(100);
    record(&mut l, "gpt-4o", "search", &usage(100, 10), 3_000, NOW);
    record(&mut l, "gpt-4o", "ads, \"EU\"", &usage(50, 5), 2_000, NOW);
    record(&mut l, "gpt-4o-mini", "search", &usage(10, 1), 1_000, NOW);
    let (rows, bad) = decode_rows(
        l.take_dirty(NOW)
            .puts
            .into_iter()
            .map(|(k, v)| (k, Totals::decode(&v).unwrap()))
            .collect(),
    );
    assert_eq!(bad, 0);
    let tz = jiff::tz::TimeZone::UTC;
    let scope = vec!["team".to_string()];
    let q = query::parse(&params(&[("group_by", "team")]), &scope, &tz, NOW).unwrap();
    let groups = query::aggregate(&rows, &q, &tz);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].values, vec!["ads, \"EU\""]);
    assert_eq!(groups[1].totals.cost_femto, 4_000);
    assert_eq!(query::sum(&groups).requests, 3);
    let csv = query::to_csv(&q, &groups);
    let mut lines = csv.split("\r\n");
    assert!(lines
        .next()
        .unwrap()
        .starts_with("team,requests,errors,input_tokens,"));
    assert_eq!(
        lines.next().unwrap(),
        "\"ads, \"\"EU\"\"\",1,0,50,5,0,0,0,0,0,0,0,0,0,0.000000000002"
    );
    let q = query::parse(
        &params(&[("group_by", "day"), ("model", "gpt-4o")]),
        &scope,
        &tz,
        NOW,
    )
    .unwrap();
    let groups = query::aggregate(&rows, &q, &tz);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].values, vec!["2026-12-06"]);
    assert_eq!(groups[0].totals.requests, 2);
    let json = query::to_json(&q, &groups, "UTC", &tz);
    assert_eq!(json["rows"][0]["cost_usd_exact"], "0.000000000005");
    assert_eq!(json["total"]["input_tokens"], 150);
}

#[test]
fn a_new_zone_takes_effect_at_once_and_hours_roll_at_their_end() {
    let mut l = ledger(100);
    let u = usage(1, 1);
    record(&mut l, "m", "a", &u, 1, NOW);
    let kolkata = UsageConfig {
        timezone: "Asia/Kolkata".into(),
        ..Default::default()
    };
    l.configure(Settings::new(&kolkata));
    record(&mut l, "m", "a", &u, 1, NOW + 1);
    // The last second of the local hour, then the first of the next.
    let hour_end = clock::hour_start(&l.settings().timezone, NOW) + 3600;
    record(&mut l, "m", "a", &u, 1, hour_end - 1);
    record(&mut l, "m", "a", &u, 1, hour_end);
    let rows = decoded(&l.take_dirty(hour_end));
    let starts = |g: Gran| -> Vec<i64> {
        let mut v: Vec<i64> = rows
            .iter()
            .filter(|(k, _)| k.gran == g)
            .map(|(k, _)| k.start)
            .collect();
        v.sort();
        v
    };
    // UTC day; Kolkata day (18:30Z the day before).
    assert_eq!(
        starts(Gran::Day),
        [NOW - NOW % 86_400 - 19_800, NOW - NOW % 86_400]
    );
    // UTC 10:00Z; Kolkata 15:00 (09:30Z), the hour ending at 10:30Z, and 10:30Z.
    assert_eq!(
        starts(Gran::Hour),
        [hour_end - 3600, NOW - NOW % 3600, hour_end]
    );
}
