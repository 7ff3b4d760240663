//! A family's series: hashed for ingest, plus the label order `/metrics` is written in, kept up to
//! date incrementally. Sorting 100,000 label sets on every scrape cost more than rendering them;
//! here a scrape sorts only the series created since the previous one and merges them in.

use super::series::Series;
use crate::model::Labels;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
pub(super) struct SeriesMap {
    map: FastMap<Labels, Series>,
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

    pub(super) fn get(&self, labels: &Labels) -> Option<&Series> {
        self.map.get(labels)
    }

    pub(super) fn get_mut(&mut self, labels: &Labels) -> Option<&mut Series> {
        self.map.get_mut(labels)
    }

    pub(super) fn insert(&mut self, labels: Labels, series: Series) {
        if self.map.insert(labels.clone(), series).is_none() {
            self.order.push(labels);
        }
    }

    /// The series under `labels`, created by `make` when absent.
    pub(super) fn get_or_insert_with(
        &mut self,
        labels: Labels,
        make: impl FnOnce() -> Series,
    ) -> &mut Series {
        match self.map.entry(labels) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                self.order.push(e.key().clone());
                e.insert(make())
            }
        }
    }

    pub(super) fn remove(&mut self, labels: &Labels) -> Option<Series> {
        let removed = self.map.remove(labels);
        self.removed |= removed.is_some();
        removed
    }

    pub(super) fn retain(&mut self, keep: impl FnMut(&Labels, &mut Series) -> bool) {
        let before = self.map.len();
        let mut keep = keep;
        self.map.retain(|k, v| keep(k, v));
        self.removed |= self.map.len() < before;
    }

    /// Every series in label order.
    pub(super) fn in_order(&mut self) -> impl Iterator<Item = (&Labels, &Series)> {
        self.bring_order_up_to_date();
        let map = &self.map;
        self.order
            .iter()
            .filter_map(move |k| map.get(k).map(|s| (k, s)))
    }

    fn bring_order_up_to_date(&mut self) {
        // A key removed and inserted again between two scrapes is listed twice until pruned.
        let may_repeat = self.removed;
        if self.removed {
            let map = &self.map;
            let mut tail = self.order.split_off(self.sorted);
            self.order.retain(|k| map.contains_key(k));
            tail.retain(|k| map.contains_key(k));
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
        Series::new(MetricKind::Gauge, &empty_bounds(), 0)
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
