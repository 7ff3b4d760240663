//! The state flusher: one task that commits dirty budget spend to the state file every
//! `state.flush_interval` (StatsD has no acknowledgement, so this bounds what a crash can lose),
//! immediately when an OTLP handler waits for durability, and once more at shutdown.
//!
//! The redb commit (with its fsync) runs on the blocking pool, never on an async worker. A failed
//! commit keeps the changes dirty for the next attempt, fails the waiters it covered, marks
//! `/readyz` not ready (`state` check) and is counted.

use super::durable::Durability;
use super::{KeyChanges, StateFile};
use crate::derive::budget::Budgets;
use crate::derive::dedup::Dedup;
use crate::derive::ledger::SharedLedger;
use crate::health::Health;
use crate::store::Store;
use crate::telemetry;
use crate::telemetry::catalogue;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct Flusher {
    pub budgets: Arc<Budgets>,
    /// Span and response keys, committed with the spend they caused.
    pub dedup: Arc<Dedup>,
    /// Usage ledger rows, committed with the spend of the same events.
    pub ledger: Arc<SharedLedger>,
    pub durability: Arc<Durability>,
    pub file: Arc<StateFile>,
    pub store: Arc<Store>,
    pub health: Arc<Health>,
}

impl Flusher {
    /// Runs until `shutdown` turns true, then flushes a last time and closes the barrier.
    pub async fn run(self, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.durability.requested() => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            self.flush_once().await;
        }
        if self.flush_once().await {
            tracing::info!(file = %self.file.path().display(), "budget state flushed at shutdown");
        }
        self.durability.close();
    }

    /// The state file held all spend as of this instant: alert when this stops moving.
    fn mark_current(&self) {
        let now = crate::clock::unix_secs_f64();
        telemetry::gauge(
            &self.store,
            &catalogue::STATE_LAST_FLUSH_SUCCESS_TIMESTAMP_SECONDS,
            &[],
            now,
        );
    }

    fn count_rows(&self, n: usize) {
        telemetry::count(&self.store, &catalogue::USAGE_ROWS_WRITTEN, &[], n as f64);
    }

    /// Commits everything dirty now. Returns whether the state file is up to date.
    pub async fn flush_once(&self) -> bool {
        // One instant for both: no span is between "key decided" and "spend recorded" now (see
        // `Dedup`), so this commit holds a span's key and spend together or neither.
        let now = jiff::Timestamp::now().as_second();
        let (dirty, keys, rows) = {
            let _paused = self.dedup.pause();
            (
                self.budgets.take_dirty(),
                self.dedup.take_dirty(),
                self.ledger.take_dirty(now),
            )
        };
        let seq = dirty.seq.wrapping_add(keys.seq).wrapping_add(rows.seq);
        if dirty.is_empty() && keys.is_empty() && rows.is_empty() {
            self.durability.committed(seq);
            self.mark_current();
            return true;
        }
        let started = Instant::now();
        let records = dirty.puts.len() + dirty.deletes.len();
        let file = self.file.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let changes = KeyChanges {
                clear: keys.clear,
                puts: &keys.puts,
                deletes: &keys.deletes,
            };
            let usage = crate::state::usage::UsageChanges {
                puts: &rows.puts,
                prune: &rows.prune,
            };
            let r = file.commit_all(&dirty.puts, &dirty.deletes, changes, usage);
            (dirty, keys, rows, r)
        })
        .await;
        let result = match joined {
            Ok((_, _, rows, Ok(()))) => {
                self.count_rows(rows.puts.len());
                Ok(())
            }
            Ok((dirty, keys, rows, Err(e))) => {
                self.budgets.restore_dirty(dirty);
                self.dedup.restore_dirty(keys);
                self.ledger.restore_dirty(rows);
                Err(e)
            }
            Err(e) => {
                // The batch went down with the task: rewrite everything next time.
                self.budgets.mark_all_dirty();
                self.dedup.lock().window.mark_all_dirty();
                self.ledger.mark_all_dirty();
                Err(format!("state commit task failed: {e}"))
            }
        };
        telemetry::gauge(
            &self.store,
            &catalogue::STATE_FLUSH_DURATION_SECONDS,
            &[],
            started.elapsed().as_secs_f64(),
        );
        let ok = result.is_ok();
        telemetry::count(
            &self.store,
            &catalogue::STATE_FLUSHES,
            &[("result", if ok { "success" } else { "failure" })],
            1.0,
        );
        match result {
            Ok(()) => {
                telemetry::count(
                    &self.store,
                    &catalogue::STATE_RECORDS_WRITTEN,
                    &[],
                    records as f64,
                );
                self.durability.committed(seq);
                self.mark_current();
                self.health.set("state", Ok(()));
            }
            Err(e) => {
                tracing::error!(error = %e, "budget state commit failed; will retry");
                self.durability.failed(seq, &e);
                self.health
                    .set("state", Err(format!("state file not writable: {e}")));
            }
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::budget::matcher::CallLabels;
    use crate::derive::budget::{saved, BudgetConfig, BudgetDef};
    use crate::model::Labels;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_waiters_share_one_commit_and_the_file_holds_the_spend() {
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = StateFile::open(dir.path()).unwrap();
        let config = BudgetConfig {
            name: "all".into(),
            period: "total".into(),
            limit_usd: 1.0,
            ..Default::default()
        };
        let budgets = Arc::new(Budgets::in_memory(
            &[Arc::new(BudgetDef::compile(&config).expect("valid"))],
            1_000,
        ));
        let store = Arc::new(Store::default());
        let f = Flusher {
            budgets: budgets.clone(),
            dedup: Arc::new(Dedup::new(&Default::default(), &[])),
            ledger: Arc::new(SharedLedger::new(&Default::default(), 0)),
            durability: Arc::new(Durability::persistent()),
            file: Arc::new(file),
            store: store.clone(),
            health: Arc::new(Health::default()),
        };
        let scope = Labels::empty();
        let call = CallLabels {
            scope: &scope,
            provider: "p",
            model: "m",
        };
        for i in 0..50 {
            budgets.record(
                &call,
                1_000 + i,
                1_000,
                &mut crate::derive::budget::Touched::default(),
            );
        }
        let target = budgets.seq();
        let waiters: Vec<_> = (0..50)
            .map(|_| {
                let d = f.durability.clone();
                tokio::spawn(async move { d.wait(target).await })
            })
            .collect();
        assert!(f.flush_once().await);
        for w in waiters {
            w.await.unwrap().unwrap();
        }
        let ok = Labels::new([("result", "success")]);
        assert_eq!(store.value("meterd_state_flushes", &ok), Some(1.0));
        // Nothing dirty: a second flush writes nothing (and is not counted as a commit).
        assert!(f.flush_once().await);
        assert_eq!(store.value("meterd_state_flushes", &ok), Some(1.0));
        drop(f);
        let (_, records) = StateFile::open(dir.path()).unwrap();
        assert_eq!(records.len(), 1);
        let s = saved::decode(&records[0].1).unwrap();
        assert_eq!(s.spend_nanos, (0..50).map(|i| 1_000 + i).sum::<u64>());
    }
    /// The keys of priced spans reach the file in the commit of their spend and come back on
    /// reopen; an overflowing journal is one rewrite holding exactly the live keys.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn span_keys_are_committed_with_their_spend_and_come_back_on_reopen() {
        use crate::config::HumanDuration;
        use crate::derive::dedup::{span_key, DedupConfig, Verdict};
        use crate::model::Usage;
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = StateFile::open(dir.path()).unwrap();
        let config = BudgetConfig {
            name: "all".into(),
            period: "total".into(),
            limit_usd: 1.0,
            ..Default::default()
        };
        let budgets = Arc::new(Budgets::in_memory(
            &[Arc::new(BudgetDef::compile(&config).expect("valid"))],
            1_000,
        ));
        let cfg = DedupConfig {
            window: HumanDuration(std::time::Duration::from_secs(600)),
            max_entries: 3,
        };
        let dedup = Arc::new(Dedup::new(&cfg, &[]));
        let f = Flusher {
            budgets: budgets.clone(),
            dedup: dedup.clone(),
            ledger: Arc::new(SharedLedger::new(&Default::default(), 0)),
            durability: Arc::new(Durability::persistent()),
            file: Arc::new(file),
            store: Arc::new(Store::default()),
            health: Arc::new(Health::default()),
        };
        let scope = Labels::empty();
        let call = CallLabels {
            scope: &scope,
            provider: "p",
            model: "m",
        };
        let key = |n: u8| span_key(&[n; 16], &[n; 8]);
        let now = 1_000;
        let price = |n: u8| {
            let _admitted = dedup.admit();
            let v = dedup
                .lock()
                .window
                .observe(key(n), None, &Usage::default(), now);
            if v == Verdict::New {
                budgets.record(
                    &call,
                    1_000,
                    1_000,
                    &mut crate::derive::budget::Touched::default(),
                );
            }
            v
        };
        assert_eq!(price(1), Verdict::New);
        let mark = budgets.seq() + dedup.seq();
        assert!(f.flush_once().await);
        f.durability.wait(mark).await.unwrap();
        // Five more through a window of three: the journal overflows into one rewrite.
        for n in 2..=6 {
            assert_eq!(price(n), Verdict::New);
        }
        assert!(f.flush_once().await);
        drop(f);

        let (file, records) = StateFile::open(dir.path()).unwrap();
        assert_eq!(saved::decode(&records[0].1).unwrap().spend_nanos, 6_000);
        let stored = file.dedup_records().unwrap();
        assert_eq!(stored.len(), 1, "the rewrite replaced every earlier record");
        let again = Dedup::new(&cfg, &[]);
        assert_eq!(
            again.restore(&stored, now).loaded,
            3,
            "only the live keys are kept"
        );
        let mut w = again.lock();
        for n in 4..=6 {
            assert_eq!(
                w.window.observe(key(n), None, &Usage::default(), now),
                Verdict::Retry
            );
        }
        assert_eq!(
            w.window.observe(key(1), None, &Usage::default(), now),
            Verdict::New
        );
    }
}
