//! The window at its bound and the state file beside it, across commits, failed commits and
//! restarts (kill -9: memory is lost, the file holds what the last commit left).

use super::{cfg, usage};
use crate::derive::dedup::*;
use std::collections::{BTreeMap, HashMap};

/// The state file's dedup table: record id -> batch.
type Disk = BTreeMap<Vec<u8>, Vec<u8>>;

/// Takes the window's changes and applies them as a commit does; returns whether it rewrote.
fn commit(w: &mut Window, disk: &mut Disk) -> bool {
    let d = w.take_dirty();
    if d.clear {
        disk.clear();
    }
    for id in &d.deletes {
        disk.remove(id);
    }
    for (id, blob) in d.puts {
        disk.insert(id, blob);
    }
    d.clear
}

fn restart(disk: &Disk, c: &DedupConfig, now: u64) -> Window {
    let records: Vec<(Vec<u8>, Vec<u8>)> =
        disk.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut w = Window::new(c);
    let r = w.restore(&records, now);
    assert_eq!(r.malformed, 0);
    w
}

/// A live key's first sight and, for a call, what was priced and by which span.
type Held = (u64, Option<(Parts, Option<SpanKey>)>);

/// Every live key and what it holds.
fn live(w: &Window) -> HashMap<Key, Held> {
    w.order
        .iter()
        .map(|(_, key)| {
            let v = match key {
                Key::Span(k) => (w.spans[k], None),
                Key::Call(k) => {
                    let e = w.call(k).copied().expect("a live call has an entry");
                    (e.seen, Some((e.priced, e.first)))
                }
            };
            (*key, v)
        })
        .collect()
}

fn span_n(n: u64) -> Option<SpanKey> {
    let mut t = [0u8; 16];
    t[8..].copy_from_slice(&n.to_be_bytes());
    span_key(&t, &(n | 1 << 63).to_be_bytes())
}

/// A busy agent: every span new, the window full, one commit per request. The records of
/// evicted keys are deleted as their keys go, so the file holds about the live keys and is never
/// rewritten whole; a restart brings back every live key.
#[test]
fn at_the_bound_the_file_follows_the_live_keys_without_whole_rewrites() {
    let c = cfg(3600, 100);
    let mut w = Window::new(&c);
    let mut disk = Disk::new();
    let mut now = 1_000;
    for request in 0..60u64 {
        for i in 0..40u64 {
            now += 1;
            let n = request * 40 + i + 1;
            let call = (n % 3 == 0).then(|| call_key("openai", &format!("r{n}")));
            assert_eq!(
                w.observe(span_n(n), call, &usage(5, 5, 0), now),
                Verdict::New
            );
        }
        assert!(
            !commit(&mut w, &mut disk),
            "request {request}: whole rewrite"
        );
        assert_eq!(disk.len(), w.batches.len());
        assert!(w.stored <= 100 + 2 * 40, "{} entries stored", w.stored);
    }
    assert_eq!(w.len(), 100);
    assert!(w.evicted() >= 2_300);
    let before = live(&w);
    let after = restart(&disk, &c, now);
    assert_eq!(live(&after), before);
}

/// Random traffic against a small window, with commits, failed commits, clock jumps and
/// restarts at any point: after a restart the window holds exactly what it held at the last
/// successful commit, minus what expired since (and nothing priced is priced again).
#[test]
fn a_restart_at_any_point_brings_back_the_window_of_the_last_commit() {
    let c = cfg(500, 50);
    let mut w = Window::new(&c);
    let mut disk = Disk::new();
    let mut committed = live(&w);
    let mut now = 10_000u64;
    let mut next = 1u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let (mut restarts, mut rewrites, mut retries) = (0, 0, 0);
    for step in 0..20_000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        now += 1;
        // Keys past the window at `now` are not live any more.
        w.clock(now);
        let live_keys: Vec<Key> = w.order.iter().map(|(_, k)| *k).collect();
        match rng % 100 {
            0..=39 => {
                next += 1;
                w.observe(span_n(next), None, &usage(1, 1, 0), now);
            }
            40..=59 => {
                next += 1;
                let call = call_key("anthropic", &format!("msg_{next}"));
                w.observe(span_n(next), Some(call), &usage(10, 5, 0), now);
            }
            60..=74 => {
                // Another report of a live call (sometimes with more usage), or a retry of a
                // live span: never new.
                let Some(key) = live_keys.get((rng >> 8) as usize % live_keys.len().max(1)) else {
                    continue;
                };
                let more = usage(10, 5, (rng >> 20) % 3);
                let v = match key {
                    Key::Span(k) => w.observe(Some(*k), None, &more, now),
                    Key::Call(k) => {
                        next += 1;
                        w.observe(span_n(next), Some(*k), &more, now)
                    }
                };
                assert_ne!(v, Verdict::New, "step {step}: a live key priced again");
                retries += 1;
            }
            75..=89 => {
                rewrites += usize::from(commit(&mut w, &mut disk));
                committed = live(&w);
            }
            90..=93 => {
                let failed = w.take_dirty();
                w.restore_dirty(failed);
            }
            94..=96 => now += 200,
            _ => {
                // kill -9: what was not committed is lost.
                restarts += 1;
                w = restart(&disk, &c, now);
                let limit = now.saturating_sub(500);
                let want: HashMap<_, _> = committed
                    .iter()
                    .filter(|(_, (seen, _))| *seen > limit)
                    .map(|(k, v)| (*k, *v))
                    .collect();
                assert_eq!(live(&w), want, "step {step}: restored window");
                committed = want;
            }
        }
        assert!(w.len() <= 50);
        assert!(
            w.stored <= 2 * 50 + 50,
            "step {step}: {} entries stored",
            w.stored
        );
    }
    assert!(restarts > 100 && retries > 1_000, "{restarts} {retries}");
    println!("{restarts} restarts, {rewrites} whole rewrites, {retries} repeats");
}

/// Keys seen in the same second come back in the order the window evicts them: a record that
/// still holds a live key keeps its evicted neighbours on disk, and a restart must keep the
/// newest keys, not whichever sort last by their bytes (span keys here sort in reverse of their
/// arrival, call keys at random).
#[test]
fn a_restart_keeps_the_newest_keys_of_one_second() {
    let c = cfg(600, 10);
    let mut w = Window::new(&c);
    let mut disk = Disk::new();
    for n in 0..25u64 {
        let call = (n % 2 == 0).then(|| call_key("openai", &format!("r{n}")));
        w.observe(span_n(1_000 - n), call, &usage(1, 1, 0), 5_000);
        if n % 4 == 3 {
            commit(&mut w, &mut disk);
        }
    }
    commit(&mut w, &mut disk);
    assert!(w.stored > 10, "{} entries stored", w.stored);
    let before = live(&w);
    assert_eq!(before.len(), 10);
    assert_eq!(live(&restart(&disk, &c, 5_000)), before);
}
