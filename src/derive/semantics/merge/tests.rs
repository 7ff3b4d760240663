use super::*;
use crate::model::{CallStatus, UsageSemantics};

fn line(f: impl FnOnce(&mut Usage)) -> UsageEvent {
    let mut e = UsageEvent::new("anthropic", "claude-sonnet-4-5");
    e.unix_nanos = 1_700_000_000_000_000_000;
    e.request_input_tokens = Some(252_000);
    f(&mut e.usage);
    e
}

fn inclusive_call() -> Vec<UsageEvent> {
    vec![
        line(|u| u.input_tokens = 252_000),
        line(|u| u.cached_input_tokens = 250_000),
        line(|u| u.output_tokens = 1000),
    ]
}

#[test]
fn lines_of_one_call_become_one_event() {
    let out = merge_lines(inclusive_call());
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].usage.input_tokens, 252_000);
    assert_eq!(out[0].usage.cached_input_tokens, 250_000);
    assert_eq!(out[0].usage.output_tokens, 1000);
    assert_eq!(out[0].usage.requests, 0);
    assert_eq!(out[0].request_input_tokens, Some(252_000));
}

#[test]
fn part_before_its_whole_merges_too() {
    let mut lines = inclusive_call();
    lines.reverse();
    let out = merge_lines(lines);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].usage.input_tokens, 252_000);
}

#[test]
fn different_identities_stay_apart() {
    let mut lines = inclusive_call();
    let mut other_team = line(|u| u.output_tokens = 5);
    other_team.scope = crate::model::Labels::new([("team", "b")]);
    let mut batch = line(|u| u.output_tokens = 7);
    batch.service_tier = Some("batch".into());
    let mut untiered = line(|u| u.cached_input_tokens = 9);
    untiered.request_input_tokens = None;
    let mut sampled = line(|u| u.output_tokens = 11);
    sampled.weight = 10.0;
    let mut raw = line(|u| u.cached_input_tokens = 13);
    raw.semantics = UsageSemantics::RawInput;
    let mut next_second = line(|u| u.output_tokens = 15);
    next_second.unix_nanos += 1_000_000_000;
    let mut same_second = line(|u| u.output_tokens = 17);
    same_second.unix_nanos += 999_999_999;
    lines.extend([
        other_team,
        batch,
        untiered,
        sampled,
        raw,
        next_second,
        same_second,
    ]);
    let out = merge_lines(lines);
    assert_eq!(out.len(), 7, "{out:?}");
    assert_eq!(
        out[0].usage.output_tokens, 1017,
        "the same second is one identity"
    );
    assert_eq!(out[0].usage.input_tokens, 252_000);
    assert_eq!(out[1].usage.output_tokens, 5);
}

#[test]
fn request_lines_are_never_merged() {
    let mut lines = inclusive_call();
    let mut req = line(|u| u.requests = 1);
    req.status = Some(CallStatus::Ok);
    let mut req2 = req.clone();
    req2.duration = Some(std::time::Duration::from_millis(5));
    lines.insert(1, req.clone());
    lines.push(req2.clone());
    let out = merge_lines(lines);
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[1], req);
    assert_eq!(out[2], req2);
}

#[test]
fn an_inconsistent_sum_is_left_line_by_line() {
    // A cache read whose input line came in an earlier datagram, beside a smaller call's input:
    // summed, the cache reads would exceed the input and read as raw usage; priced one by one,
    // the cache line bills only its premium, as before.
    let lines = vec![
        line(|u| u.cached_input_tokens = 250_000),
        line(|u| u.input_tokens = 1000),
    ];
    assert_eq!(merge_lines(lines.clone()), lines);
}

#[test]
fn declared_raw_lines_merge_whatever_their_sizes() {
    let raw = |f: fn(&mut Usage)| {
        let mut e = line(f);
        e.semantics = UsageSemantics::RawInput;
        e
    };
    let out = merge_lines(vec![
        raw(|u| u.input_tokens = 2000),
        raw(|u| u.cached_input_tokens = 250_000),
    ]);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].usage.input_tokens, out[0].usage.cached_input_tokens),
        (2000, 250_000)
    );
}

#[test]
fn groups_are_bounded_and_sums_saturate() {
    let mut lines: Vec<UsageEvent> = (0..(MAX_GROUPS as u64 + 10))
        .map(|i| {
            let mut e = line(|u| u.output_tokens = 1);
            e.unix_nanos = i * 1_000_000_000;
            e
        })
        .collect();
    for _ in 0..2 {
        let mut e = line(|u| u.output_tokens = u64::MAX);
        e.unix_nanos = 999_999_999;
        lines.push(e);
    }
    let out = merge_lines(lines);
    // The first group took both maxima (saturating); the ten lines past the bound stand alone.
    assert_eq!(out.len(), MAX_GROUPS + 10);
    assert_eq!(out[0].usage.output_tokens, u64::MAX);
    assert_eq!(out[MAX_GROUPS + 9].usage.output_tokens, 1);
}
