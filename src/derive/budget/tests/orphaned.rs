//! Spend outlives config: a budget missing from the config (an edit in progress, a truncated file,
//! a start with another config) keeps its records until its period ends or an admin forgets them.
//! Each test runs the engine through a simulated state file, as restarts do.

use super::super::engine::Engine;
use super::super::*;
use super::{budget, call, spend_of, ts, USD};
use crate::model::Labels;
use std::collections::BTreeMap;

/// The state file: what `take_dirty` batches leave behind.
#[derive(Default)]
struct File(BTreeMap<String, Vec<u8>>);

impl File {
    fn flush(&mut self, e: &mut Engine) {
        // In the order `StateFile::commit` applies them: puts, then deletes.
        let d = e.take_dirty();
        for (k, v) in &d.puts {
            self.0.insert(k.clone(), v.clone());
        }
        for k in &d.deletes {
            self.0.remove(k);
        }
    }

    fn records(&self) -> Vec<(String, Vec<u8>)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn start(&self, configs: &[BudgetConfig], now: i64) -> Engine {
        Engine::new(defs(configs), &self.records(), now).unwrap().0
    }
}

fn defs(configs: &[BudgetConfig]) -> Vec<Arc<BudgetDef>> {
    configs
        .iter()
        .map(|c| Arc::new(BudgetDef::compile(c).unwrap()))
        .collect()
}

fn search() -> Labels {
    Labels::new([("team", "search")])
}

/// Regression (#17.1): removing `budgets:` erased the records of every budget; restoring the file
/// brought them back at 0, and a restart kept 0.
#[test]
fn a_config_without_the_budget_keeps_its_spend_for_when_it_returns() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let b = budget(|b| b.group_by = vec!["team".into()]);
    let mut file = File::default();
    let mut e = file.start(std::slice::from_ref(&b), t0);
    e.record(&call(&search(), "m"), 7 * USD, t0);
    file.flush(&mut e);

    // The watcher applies a config caught mid-edit, without budgets.
    e.reconfigure(vec![], t0 + 1);
    file.flush(&mut e);
    assert_eq!(e.orphan_count(), 1);
    assert_eq!(e.orphans(t0 + 1)[0].1, 7 * USD);
    // A restart on that config keeps the orphan too.
    let mut e = file.start(&[], t0 + 2);
    file.flush(&mut e);
    assert_eq!(e.orphan_count(), 1);
    // The full file again: same name, same spend, by reload...
    e.reconfigure(defs(std::slice::from_ref(&b)), t0 + 3);
    assert_eq!(spend_of(&e, t0 + 3), vec![7 * USD]);
    assert_eq!(e.orphan_count(), 0);
    file.flush(&mut e);
    // ...and after a restart, with the record back under its usual key and no orphan left over.
    let mut e = file.start(std::slice::from_ref(&b), t0 + 4);
    assert_eq!(spend_of(&e, t0 + 4), vec![7 * USD]);
    assert_eq!(e.orphan_count(), 0);
    file.flush(&mut e);
    assert_eq!(file.0.len(), 1, "{:?}", file.0.keys());
}

#[test]
fn a_restart_with_another_config_keeps_orphans_and_the_budget_back_restores_them() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let b = budget(|_| {});
    let mut file = File::default();
    let mut e = file.start(std::slice::from_ref(&b), t0);
    e.record(&call(&Labels::empty(), "m"), 3 * USD, t0);
    file.flush(&mut e);
    let mut other = file.start(&[budget(|b| b.name = "other".into())], t0 + 1);
    file.flush(&mut other);
    assert_eq!(other.orphan_count(), 1);
    let e = file.start(std::slice::from_ref(&b), t0 + 2);
    assert_eq!(spend_of(&e, t0 + 2), vec![3 * USD]);
}

#[test]
fn orphans_expire_with_their_period_and_are_deleted_from_the_file() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let b = budget(|_| {});
    let mut file = File::default();
    let mut e = file.start(std::slice::from_ref(&b), t0);
    e.record(&call(&Labels::empty(), "m"), USD, t0);
    e.reconfigure(vec![], t0);
    file.flush(&mut e);
    assert_eq!(file.0.len(), 1);
    e.tick(ts("2026-11-30T23:59:59Z"));
    assert_eq!(
        e.orphan_count(),
        1,
        "November's spend is kept through November"
    );
    let seq = e.seq();
    e.tick(ts("2026-12-01T00:00:00Z"));
    assert_eq!(e.orphan_count(), 0);
    assert!(e.seq() > seq, "the deletion must be flushed");
    file.flush(&mut e);
    assert!(file.0.is_empty());
    // A start after the period ended does not keep it either.
    let mut e = file.start(&[], t0);
    e.record(&call(&Labels::empty(), "m"), USD, t0);
    let mut file = File::default();
    let mut e2 = file.start(std::slice::from_ref(&b), t0);
    e2.record(&call(&Labels::empty(), "m"), USD, t0);
    file.flush(&mut e2);
    e = file.start(&[], ts("2026-12-02T00:00:00Z"));
    file.flush(&mut e);
    assert_eq!(e.orphan_count(), 0);
    assert!(file.0.is_empty());
}

#[test]
fn a_period_change_and_back_keeps_both_shapes_apart() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let monthly = budget(|_| {});
    let daily = budget(|b| b.period = "daily".into());
    let none = Labels::empty();
    let mut file = File::default();
    let mut e = file.start(std::slice::from_ref(&monthly), t0);
    e.record(&call(&none, "m"), 10 * USD, t0);
    file.flush(&mut e);
    e.reconfigure(defs(std::slice::from_ref(&daily)), t0 + 1);
    assert_eq!(spend_of(&e, t0 + 1), vec![0]);
    e.record(&call(&none, "m"), 2 * USD, t0 + 2);
    file.flush(&mut e);
    // Back to monthly: the month's 10 USD return; the day's 2 USD wait as an orphan.
    let mut e = file.start(std::slice::from_ref(&monthly), t0 + 3);
    assert_eq!(spend_of(&e, t0 + 3), vec![10 * USD]);
    let orphaned: Vec<(String, u64)> = e
        .orphans(t0 + 3)
        .into_iter()
        .map(|(s, n)| (s.period, n))
        .collect();
    assert_eq!(orphaned, vec![("daily".to_string(), 2 * USD)]);
    file.flush(&mut e);
    assert_eq!(file.0.len(), 2);
}

#[test]
fn forget_deletes_an_orphan_for_good() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let b = budget(|b| b.period = "total".into());
    let mut file = File::default();
    let mut e = file.start(std::slice::from_ref(&b), t0);
    e.record(&call(&Labels::empty(), "m"), USD, t0);
    e.reconfigure(vec![], t0);
    file.flush(&mut e);
    assert!(e.forget("nope", t0).is_empty());
    let gone = e.forget("b", t0);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].1, USD);
    file.flush(&mut e);
    assert!(file.0.is_empty());
    let e = file.start(std::slice::from_ref(&b), t0);
    assert_eq!(spend_of(&e, t0), vec![0]);
}

#[test]
fn a_failed_flush_of_an_orphan_is_retried() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let mut e = File::default().start(&[budget(|_| {})], t0);
    e.record(&call(&Labels::empty(), "m"), USD, t0);
    e.reconfigure(vec![], t0);
    let lost = e.take_dirty();
    assert_eq!(lost.puts.len(), 1);
    e.restore_dirty(lost);
    let mut file = File::default();
    file.flush(&mut e);
    assert_eq!(file.0.len(), 1);
    let e = file.start(&[], t0);
    assert_eq!(e.orphan_count(), 1);
}

/// Regression (#17.5): calls without the `group_by` label were lumped with overflow users once
/// `max_groups` was reached.
#[test]
fn calls_without_the_group_label_are_their_own_group_outside_the_cap() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let mut e = File::default().start(
        &[budget(|b| {
            b.group_by = vec!["user".into()];
            b.max_groups = 1;
        })],
        t0,
    );
    let alice = Labels::new([("user", "alice")]);
    assert!(e.record(&call(&alice, "m"), USD, t0).overflowed.is_empty());
    let r = e.record(&call(&Labels::empty(), "m"), 2 * USD, t0);
    assert!(r.overflowed.is_empty(), "no user label is not an overflow");
    let bob = Labels::new([("user", "bob")]);
    assert_eq!(e.record(&call(&bob, "m"), 4 * USD, t0).overflowed.len(), 1);
    let groups: Vec<(String, u64)> = e.statuses(t0)[0]
        .1
        .iter()
        .map(|s| (s.group[0].1.to_string(), s.spend))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("".into(), 2 * USD),
            ("_overflow".into(), 4 * USD),
            ("alice".into(), USD)
        ]
    );
    let unlabelled: [(String, String); 0] = [];
    let st = &e.check(&unlabelled[..], t0)[0];
    assert_eq!((st.spend, st.untracked), (2 * USD, false));
}

/// A flush that fails while a reload reshapes the budget: the batch put back must not delete the
/// new shape's record, nor lose the old shape's spend.
#[test]
fn a_failed_flush_across_a_reshape_loses_neither_shape() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let monthly = budget(|_| {});
    let daily = budget(|b| b.period = "daily".into());
    let none = Labels::empty();
    let mut file = File::default();
    let mut e = file.start(std::slice::from_ref(&monthly), t0);
    e.record(&call(&none, "m"), 10 * USD, t0);
    file.flush(&mut e);
    e.reconfigure(defs(std::slice::from_ref(&daily)), t0 + 1);
    // The batch moving the month's record to its orphan key fails...
    let lost = e.take_dirty();
    assert_eq!(lost.deletes.len(), 1);
    // ...while the new shape spends under the usual key.
    e.record(&call(&none, "m"), 2 * USD, t0 + 2);
    e.restore_dirty(lost);
    file.flush(&mut e);
    let e = file.start(std::slice::from_ref(&daily), t0 + 3);
    assert_eq!(spend_of(&e, t0 + 3), vec![2 * USD]);
    let orphaned: Vec<u64> = e.orphans(t0 + 3).into_iter().map(|(_, n)| n).collect();
    assert_eq!(orphaned, vec![10 * USD]);
}

/// An API budget's definition, compiled as the admin API compiles it (matchers in the shape).
fn api_def(c: &BudgetConfig) -> Arc<BudgetDef> {
    let body = serde_json::to_value(c).unwrap();
    Arc::new(api::definition(&body, &["team".to_string()]).unwrap().1)
}

/// Issue #26: an API budget's match is part of its shape: a new match starts new records, the old
/// ones wait as orphaned and come back with the match, across a restart too; a config budget of
/// the same name (no match shape) never takes the API budget's records, nor the reverse.
#[test]
fn an_api_budgets_match_is_its_shape_across_reloads_and_restarts() {
    let t0 = ts("2026-11-10T00:00:00Z");
    let search_b = budget(|b| {
        b.matchers.insert("team".into(), "search".into());
    });
    let ads_b = budget(|b| {
        b.matchers.insert("team".into(), "ads".into());
    });
    let mut file = File::default();
    let mut e = Engine::new(vec![api_def(&search_b)], &[], t0).unwrap().0;
    e.record(&call(&search(), "m"), 5 * USD, t0);
    file.flush(&mut e);

    // A limit change keeps the spend.
    let mut higher = search_b.clone();
    higher.limit_usd = 500.0;
    e.reconfigure(vec![api_def(&higher)], t0 + 1);
    assert_eq!(spend_of(&e, t0 + 1), vec![5 * USD]);
    // A match change starts at zero and keeps the old spend apart.
    e.reconfigure(vec![api_def(&ads_b)], t0 + 2);
    assert_eq!(spend_of(&e, t0 + 2), vec![0]);
    assert_eq!(e.orphans(t0 + 2)[0].1, 5 * USD);
    file.flush(&mut e);
    // A restart on the new match keeps it apart; the old match back restores it.
    let mut e = Engine::new(vec![api_def(&ads_b)], &file.records(), t0 + 3)
        .unwrap()
        .0;
    assert_eq!(spend_of(&e, t0 + 3), vec![0]);
    assert_eq!(e.orphan_count(), 1);
    e.reconfigure(vec![api_def(&search_b)], t0 + 4);
    assert_eq!(spend_of(&e, t0 + 4), vec![5 * USD]);
    assert_eq!(e.orphan_count(), 0);
    file.flush(&mut e);
    // The config defines the name: its budget starts at zero, the API spend waits.
    e.reconfigure(defs(std::slice::from_ref(&search_b)), t0 + 5);
    assert_eq!(spend_of(&e, t0 + 5), vec![0]);
    assert_eq!(e.orphans(t0 + 5)[0].1, 5 * USD);
    file.flush(&mut e);
    let e = Engine::new(vec![api_def(&search_b)], &file.records(), t0 + 6)
        .unwrap()
        .0;
    assert_eq!(spend_of(&e, t0 + 6), vec![5 * USD]);
}
