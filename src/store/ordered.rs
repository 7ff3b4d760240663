//! A family's series: hashed for ingest, plus the label order `/metrics` is written in, kept up to
//! date incrementally. Sorting 100,000 label sets on every scrape cost more than rendering them;
//! here a scrape sorts only the series created since the previous one and merges them in.

use super::series::Series;
use crate::model::Labels;
use hashbrown::hash_table::{Entry, HashTable};

/// Keys are placed by the hash `Labels` computed once at construction, not hashed again.
fn key_hash(entry: &(Labels, Series)) -> u64 {
    entry.0.hash_value()
}

#[derive(Default)]
pub(super) struct SeriesMap {
    /// A `HashTable`, not a `HashMap`: a data point's labels are looked up borrowed, as the pairs
    /// the receiver decoded, and a map keyed by `Labels` can only be asked with a `Labels`.
    map: HashTable<(Labels, Series)>,
    /// Every key of `map` (shared label sets, no copies): the first `sorted` in label order, then
    /// the keys inserted since the order was last brought up to date.
    order: Vec<Labels>,
    sorted: usize,
    /// Keys left `map` since the order was last pruned.
    removed: bool,
}

impl SeriesMap {
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn contains_key(&self, labels: &Labels) -> bool {
        self.get(labels).is_some()
    }

    pub(super) fn get(&self, labels: &Labels) -> Option<&Series> {
        self.map
            .find(labels.hash_value(), |(k, _)| k == labels)
            .map(|(_, s)| s)
    }

    pub(super) fn get_mut(&mut self, labels: &Labels) -> Option<&mut Series> {
        self.map
            .find_mut(labels.hash_value(), |(k, _)| k == labels)
            .map(|(_, s)| s)
    }

    /// The series under the label set these normalized pairs make (see
    /// [`Labels::normalize_borrowed`]); `hash` is their [`Labels::hash_of`].
    pub(super) fn get_pairs_mut(
        &mut self,
        hash: u64,
        pairs: &[(&str, &str)],
    ) -> Option<&mut Series> {
        self.map
            .find_mut(hash, |(k, _)| k.hash_value() == hash && k.equals(pairs))
            .map(|(_, s)| s)
    }

    /// Replaces the series of a key already present, as `HashMap::insert` does.
    pub(super) fn insert(&mut self, labels: Labels, series: Series) {
        match self
            .map
            .entry(labels.hash_value(), |(k, _)| *k == labels, key_hash)
        {
            Entry::Occupied(mut e) => e.get_mut().1 = series,
            Entry::Vacant(e) => {
                self.order.push(labels.clone());
                e.insert((labels, series));
            }
        }
    }

    /// The series under `labels`, created by `make` when absent.
    pub(super) fn get_or_insert_with(
        &mut self,
        labels: Labels,
        make: impl FnOnce() -> Series,
    ) -> &mut Series {
        match self
            .map
            .entry(labels.hash_value(), |(k, _)| *k == labels, key_hash)
        {
            Entry::Occupied(e) => &mut e.into_mut().1,
            Entry::Vacant(e) => {
                self.order.push(labels.clone());
                &mut e.insert((labels, make())).into_mut().1
            }
        }
    }

    pub(super) fn remove(&mut self, labels: &Labels) -> Option<Series> {
        let removed = self
            .map
            .find_entry(labels.hash_value(), |(k, _)| k == labels)
            .ok()
            .map(|e| e.remove().0 .1);
        self.removed |= removed.is_some();
        removed
    }

    pub(super) fn retain(&mut self, keep: impl FnMut(&Labels, &mut Series) -> bool) {
        let before = self.map.len();
        let mut keep = keep;
        self.map.retain(|(k, v)| keep(k, v));
        self.removed |= self.map.len() < before;
    }

    /// Every series in label order.
    pub(super) fn in_order(&mut self) -> impl Iterator<Item = (&Labels, &Series)> {
        self.bring_order_up_to_date();
        let map = &self.map;
        self.order.iter().filter_map(move |k| {
            map.find(k.hash_value(), |(key, _)| key == k)
                .map(|(_, s)| (k, s))
        })
    }

    fn bring_order_up_to_date(&mut self) {
        // A key removed and inserted again between two scrapes is listed twice until pruned.
        let may_repeat = self.removed;
        if self.removed {
            let mut tail = self.order.split_off(self.sorted);
            let mut order = std::mem::take(&mut self.order);
            order.retain(|k| self.contains_key(k));
            tail.retain(|k| self.contains_key(k));
            self.order = order;
            self.sorted = self.order.len();
            self.order.append(&mut tail);
            if self.order.capacity() > 2 * self.order.len() + 64 {
                self.order.shrink_to_fit();
            }
            self.removed = false;
        }
        if self.sorted == self.order.len() {
            return;
        }
        // Label sets are unique keys, so unstable sorting is deterministic.
        self.order[self.sorted..].sort_unstable();
        let runs_overlap = self.sorted > 0
            && self
                .order
                .get(self.sorted - 1..=self.sorted)
                .is_some_and(|pair| pair[0] > pair[1]);
        if runs_overlap {
            // Two sorted runs: the stable sort detects them and merges in linear time.
            self.order.sort();
        }
        if may_repeat {
            // Sorted, so repeats sit side by side.
            self.order.dedup();
        }
        self.sorted = self.order.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetricKind;

    fn empty_bounds() -> std::sync::Arc<[f64]> {
        std::sync::Arc::new([])
    }

    fn labels(v: &str) -> Labels {
        Labels::new([("k", v)])
    }

    fn series() -> Series {
        Series::new(MetricKind::Gauge, &empty_bounds(), None, 0)
    }

    fn order(m: &mut SeriesMap) -> Vec<String> {
        m.in_order()
            .map(|(l, _)| l.get("k").unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn order_follows_labels_across_inserts_and_removals() {
        let mut m = SeriesMap::default();
        for v in ["m", "c", "x"] {
            m.insert(labels(v), series());
        }
        assert_eq!(order(&mut m), ["c", "m", "x"]);
        // New keys on both sides of the sorted run, and inside it.
        for v in ["a", "z", "n"] {
            m.insert(labels(v), series());
        }
        assert_eq!(order(&mut m), ["a", "c", "m", "n", "x", "z"]);
        // Only-later keys need no merge.
        m.insert(labels("zz"), series());
        assert_eq!(order(&mut m), ["a", "c", "m", "n", "x", "z", "zz"]);
        assert!(m.remove(&labels("m")).is_some());
        m.retain(|l, _| l.get("k") != Some("a"));
        m.insert(labels("b"), series());
        assert_eq!(order(&mut m), ["b", "c", "n", "x", "z", "zz"]);
        assert_eq!(m.len(), 6);
    }

    #[test]
    fn reinserting_a_key_does_not_duplicate_it() {
        let mut m = SeriesMap::default();
        m.insert(labels("a"), series());
        m.insert(labels("a"), series());
        let _ = m.get_or_insert_with(labels("a"), series);
        let _ = m.get_or_insert_with(labels("b"), series);
        assert_eq!(order(&mut m), ["a", "b"]);
        // Removed and re-added before a scrape: listed once.
        assert!(m.remove(&labels("a")).is_some());
        m.insert(labels("a"), series());
        assert_eq!(order(&mut m), ["a", "b"]);
    }
}
