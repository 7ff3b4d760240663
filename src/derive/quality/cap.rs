//! Caps on the distinct label values senders invent (outcomes, stages, event names, ...): known
//! values always pass, up to `max` others are admitted on first sight, and everything after that
//! is recorded as `other`, so a buggy or hostile sender cannot mint unbounded series.

use std::collections::HashSet;
use std::sync::RwLock;

/// Where values past a cap go. Always admitted, so it never counts against the cap.
pub const OTHER: &str = "other";

pub struct ValueCap {
    known: HashSet<Box<str>>,
    max: usize,
    /// Admitted unknown values, carried across reloads (see [`ValueCap::carry_over`]).
    seen: RwLock<HashSet<Box<str>>>,
}

impl ValueCap {
    pub fn new<S: Into<Box<str>>>(known: impl IntoIterator<Item = S>, max: usize) -> Self {
        let mut known: HashSet<Box<str>> = known.into_iter().map(Into::into).collect();
        known.insert(OTHER.into());
        ValueCap {
            known,
            max,
            seen: RwLock::new(HashSet::new()),
        }
    }

    /// `Some(value)` when it may have its own series; `None` when the cap is reached and the
    /// caller must use [`OTHER`] (and count the overflow).
    pub fn admit<'a>(&self, value: &'a str) -> Option<&'a str> {
        if self.known.contains(value) {
            return Some(value);
        }
        // A poisoned lock only means another thread panicked mid-insert; the set is still sound.
        if self
            .seen
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(value)
        {
            return Some(value);
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if seen.contains(value) {
            return Some(value);
        }
        if seen.len() < self.max {
            seen.insert(value.into());
            Some(value)
        } else {
            None
        }
    }

    /// Takes over the values `prev` admitted (up to this cap, which a reload may have lowered),
    /// so values keep their series across reloads and the cap stays a cap.
    pub fn carry_over(&self, prev: &ValueCap) {
        let prev = prev.seen.read().unwrap_or_else(|e| e.into_inner());
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        let mut carried: Vec<&Box<str>> = prev
            .iter()
            .filter(|v| !self.known.contains(&***v))
            .collect();
        // Deterministic choice when the cap shrank.
        carried.sort();
        for v in carried {
            if seen.len() >= self.max {
                break;
            }
            seen.insert(v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_holds_under_concurrent_first_sightings() {
        let cap = ValueCap::new(["known"], 10);
        let admitted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let cap = &cap;
                    s.spawn(move || {
                        (0..50)
                            .filter(|i| cap.admit(&format!("v{t}-{i}")).is_some())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).sum()
        });
        assert_eq!(admitted, 10);
        assert_eq!(cap.admit("known"), Some("known"));
        assert_eq!(cap.admit(OTHER), Some(OTHER));
        assert_eq!(cap.admit("new"), None);
    }
}
