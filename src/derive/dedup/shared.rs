//! [`Dedup`]: the window and the scope arbiter behind one lock, shared by OTLP ingest, the state
//! flusher and start-up.
//!
//! The gate keeps "key on disk" and "spend on disk" in step: ingest holds it (shared) from the
//! moment it decides a batch of spans until their spend is recorded; the flusher holds it
//! (exclusive) while it takes both the budgets' and the window's changes. So one commit has
//! either a span's key and its spend or neither: after a crash a retry is neither priced twice
//! (spend and key both stored) nor lost (neither stored, and the request was not acknowledged).

use super::scopes::Scopes;
use super::{DedupConfig, DirtyKeys, Restored, Window};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub struct Inner {
    pub window: Window,
    pub scopes: Scopes,
    /// `window.evicted()` already reported.
    pub evictions_reported: u64,
}

pub struct Dedup {
    inner: Mutex<Inner>,
    gate: RwLock<()>,
}

impl Dedup {
    pub fn new(cfg: &DedupConfig, usage_scopes: &[String]) -> Dedup {
        Dedup {
            inner: Mutex::new(Inner {
                window: Window::new(cfg),
                scopes: Scopes::new(usage_scopes, cfg.window.0.as_secs()),
                evictions_reported: 0,
            }),
            gate: RwLock::new(()),
        }
    }

    /// Applies a reloaded config.
    pub fn configure(&self, cfg: &DedupConfig, usage_scopes: &[String]) {
        let mut i = self.lock();
        i.window.configure(cfg);
        i.scopes.configure(usage_scopes, cfg.window.0.as_secs());
    }

    // The window's invariants hold between statements: a panic elsewhere leaves it usable.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Held (shared) from deciding spans until their spend is recorded.
    pub fn admit(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Held (exclusive) while the flusher takes every change that goes into one commit.
    pub fn pause(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The window's write sequence number (see [`crate::pipeline::Pipeline::spend_mark`]).
    pub fn seq(&self) -> u64 {
        self.lock().window.seq()
    }

    pub fn take_dirty(&self) -> DirtyKeys {
        self.lock().window.take_dirty()
    }

    pub fn restore_dirty(&self, d: DirtyKeys) {
        self.lock().window.restore_dirty(d);
    }

    /// Loads the keys stored by the previous run.
    pub fn restore(&self, records: &[(Vec<u8>, Vec<u8>)], now: u64) -> Restored {
        self.lock().window.restore(records, now)
    }

    pub fn len(&self) -> usize {
        self.lock().window.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
