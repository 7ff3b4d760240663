//! [`SharedLedger`]: the ledger behind a mutex, shared by the pipeline (records), the state
//! flusher (takes dirty rows) and the API (reads live rows). Like budgets, it outlives config
//! snapshots: a reload reconfigures it in place. The lock covers a few hash lookups per event.

use super::batch::Batch;
use super::{Entry, Ledger, LedgerDirty, Recorded, Settings};
use crate::config::usage::UsageConfig;
use std::sync::{Mutex, MutexGuard};

pub struct SharedLedger {
    inner: Mutex<Ledger>,
}

impl SharedLedger {
    pub fn new(config: &UsageConfig, now: i64) -> SharedLedger {
        SharedLedger {
            inner: Mutex::new(Ledger::new(Settings::new(config), now)),
        }
    }

    /// The engine's state is consistent between statements: a panic elsewhere while holding the
    /// lock leaves it usable, so recover rather than stop counting.
    pub fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn configure(&self, config: &UsageConfig) {
        self.lock().configure(Settings::new(config));
    }

    pub fn record(&self, e: &Entry<'_>, now: i64) -> Recorded {
        self.lock().record(e, now)
    }

    /// Records a batch of events summed per row identity (see [`Batch`]), under one lock;
    /// returns the buckets folded into `_other`, counted per event as [`Self::record`] does.
    pub fn record_batch(&self, batch: &Batch<'_>, now: i64) -> u64 {
        if batch.is_empty() {
            return 0;
        }
        record_groups(&mut self.lock(), batch, now)
    }

    pub fn seq(&self) -> u64 {
        self.lock().seq()
    }

    pub fn take_dirty(&self, now: i64) -> LedgerDirty {
        self.lock().take_dirty(now)
    }

    pub fn restore_dirty(&self, d: LedgerDirty) {
        self.lock().restore_dirty(d);
    }

    pub fn mark_all_dirty(&self) {
        self.lock().mark_all_dirty();
    }

    pub fn settings(&self) -> Settings {
        self.lock().settings().clone()
    }
}

pub(super) fn record_groups(ledger: &mut Ledger, batch: &Batch<'_>, now: i64) -> u64 {
    batch
        .groups()
        .iter()
        .map(|g| {
            let rec = ledger.record_totals(g.provider, g.model, g.scope, &g.totals, now);
            u64::from(rec.folded) * u64::from(g.events)
        })
        .sum()
}
