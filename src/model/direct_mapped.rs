//! [`DirectMapped`]: a bounded memo of recently built values, one per slot by hash.
//!
//! Used per thread where building a value (a label set, a call's label sets) costs more than the
//! work it feeds, and senders repeat a bounded number of them.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// A direct-mapped table: a full one overwrites a slot instead of growing, so more distinct keys
/// than slots cost a miss each, never unbounded memory. Slots are allocated as they are first
/// used, so an idle process pays nothing for the bound.
pub(crate) struct DirectMapped<V> {
    hasher: foldhash::fast::RandomState,
    slots: HashMap<usize, (u64, V), foldhash::fast::RandomState>,
    /// The hash last missed in each occupied slot: a key evicts another only on its second miss in
    /// a row there, so a flood of one-off keys costs a hash each instead of storing and evicting
    /// every one. A free slot is taken at once.
    missed: HashMap<usize, u64, foldhash::fast::RandomState>,
    /// Slots minus one; the count is a power of two so a slot is a mask, not a division.
    mask: usize,
}

impl<V> DirectMapped<V> {
    /// `capacity` is rounded up to a power of two.
    pub(crate) fn new(capacity: usize) -> Self {
        DirectMapped {
            hasher: foldhash::fast::RandomState::default(),
            slots: HashMap::default(),
            missed: HashMap::default(),
            mask: capacity.max(1).next_power_of_two() - 1,
        }
    }

    /// Seeded per table, so keys cannot be chosen to collide on purpose.
    pub(crate) fn hash(&self, key: impl Hash) -> u64 {
        self.hasher.hash_one(key)
    }

    fn slot(&self, hash: u64) -> usize {
        (hash as usize) & self.mask
    }

    /// The value in `hash`'s slot, if it has that hash and `matches` (the caller's equality check).
    pub(crate) fn get(&self, hash: u64, matches: impl FnOnce(&V) -> bool) -> Option<&V> {
        match self.slots.get(&self.slot(hash)) {
            Some((h, v)) if *h == hash && matches(v) => Some(v),
            _ => None,
        }
    }

    /// After a miss for `hash`: stores `make()` if its slot is free or this is the key's second
    /// miss in a row there. `make` runs only when the value is kept.
    pub(crate) fn offer(&mut self, hash: u64, make: impl FnOnce() -> V) {
        let slot = self.slot(hash);
        if self.slots.contains_key(&slot) && self.missed.insert(slot, hash) != Some(hash) {
            return;
        }
        self.slots.insert(slot, (hash, make()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_takes_an_occupied_slot_on_its_second_miss_in_a_row() {
        let mut table = DirectMapped::new(1);
        let (a, b, c) = (table.hash("a"), table.hash("b"), table.hash("c"));
        let same = |want: &'static str| move |v: &&str| *v == want;
        assert_eq!(table.get(a, same("a")), None);
        table.offer(a, || "a");
        assert_eq!(table.get(a, same("a")), Some(&"a"), "a free slot is taken");
        table.offer(b, || "b");
        assert_eq!(
            table.get(a, same("a")),
            Some(&"a"),
            "one miss evicts nothing"
        );
        table.offer(c, || "c");
        table.offer(b, || "b");
        assert_eq!(table.get(b, same("b")), None, "misses of others in between");
        table.offer(b, || "b");
        assert_eq!(table.get(b, same("b")), Some(&"b"), "second miss in a row");
        assert_eq!(table.get(a, same("a")), None);
        assert_eq!(table.get(b, same("x")), None, "the caller's check decides");
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let mut table = DirectMapped::new(8);
        for i in 0..1000u32 {
            let h = table.hash(i);
            table.offer(h, || i);
            table.offer(h, || i);
        }
        assert!(table.slots.len() <= 8 && table.missed.len() <= 8);
    }
}
