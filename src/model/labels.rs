//! [`Labels`]: a series' label set, sorted, de-duplicated, shared and hashed once.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A sorted, de-duplicated set of label pairs. Sorting at construction makes equal sets hash and
/// compare equal regardless of the order the sender used. Shared (`Arc`) so the store, snapshots
/// and exemplars can hold the same set without copying its text.
///
/// The hash is computed once, at construction: a series is looked up on every update, and hashing
/// every name and value each time was the largest single cost of a StatsD flush. Equal sets that
/// share one allocation (the usual case: receivers keep the set they first stored) compare by
/// pointer.
#[derive(Clone)]
pub struct Labels {
    hash: u64,
    pub(super) pairs: Arc<[(Box<str>, Box<str>)]>,
}

/// Seeded once per process, so label text cannot be chosen to collide on purpose.
fn label_hasher() -> &'static foldhash::fast::RandomState {
    static HASHER: std::sync::OnceLock<foldhash::fast::RandomState> = std::sync::OnceLock::new();
    HASHER.get_or_init(foldhash::fast::RandomState::default)
}

/// Shared sets (see [`Labels::shared`]) and the store's keys usually meet themselves: the hash
/// and one pointer compare.
impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.pairs, &other.pairs) || self.pairs == other.pairs)
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// By pairs, as `/metrics` orders series; the hash plays no part.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pairs.cmp(&other.pairs)
    }
}

impl Default for Labels {
    fn default() -> Self {
        Labels::empty()
    }
}

impl Labels {
    pub fn empty() -> Self {
        Labels::from_sorted(Arc::new([]))
    }

    pub(super) fn from_sorted(pairs: Arc<[(Box<str>, Box<str>)]>) -> Self {
        use std::hash::BuildHasher;
        Labels {
            hash: label_hasher().hash_one(&*pairs),
            pairs,
        }
    }

    /// Builds a label set; on duplicate names the last value wins (what a sender who repeats a tag
    /// most plausibly meant). Empty values are dropped: in Prometheus an empty label equals no label.
    pub fn new<K: Into<Box<str>>, V: Into<Box<str>>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut v: Vec<(Box<str>, Box<str>)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let n = normalize(&mut v);
        v.truncate(n);
        Labels::from_sorted(v.into())
    }

    /// The set of one pair, as [`Labels::new`] builds it (an empty value is no label), without
    /// the intermediate vector and the sort: a span's exemplar builds one per call.
    pub fn one(name: &str, value: &str) -> Self {
        if value.is_empty() {
            return Labels::empty();
        }
        Labels::from_sorted(Arc::new([(Box::from(name), Box::from(value))]))
    }

    /// A set from pairs already in [`Labels::normalize_borrowed`] form, whose
    /// [`Labels::hash_of`] the caller has computed: a store miss on a borrowed lookup builds its key
    /// without hashing the text a second time.
    pub(crate) fn from_normalized(pairs: &[(&str, &str)], hash: u64) -> Self {
        Labels {
            hash,
            pairs: pairs
                .iter()
                .map(|(k, v)| (Box::from(*k), Box::from(*v)))
                .collect(),
        }
    }

    /// The hash a set of these pairs has, without building it: `(&str, &str)` hashes as
    /// `(Box<str>, Box<str>)` does (both as `str`), so borrowed pairs find their owned key.
    pub(crate) fn hash_of(pairs: &[(&str, &str)]) -> u64 {
        use std::hash::BuildHasher;
        label_hasher().hash_one(pairs)
    }

    /// The hash computed at construction (the store's tables use it as is).
    pub(crate) fn hash_value(&self) -> u64 {
        self.hash
    }

    /// Whether this set holds exactly these pairs (in normalized form).
    pub(crate) fn equals(&self, pairs: &[(&str, &str)]) -> bool {
        self.pairs.len() == pairs.len() && self.iter().eq(pairs.iter().copied())
    }

    /// Brings borrowed pairs into the form [`Labels::new`] gives the same pairs: empty values
    /// dropped, then sorted by name with the last of equal names kept. Returns how many of the
    /// leading pairs make up the set.
    pub fn normalize_borrowed(pairs: &mut [(&str, &str)]) -> usize {
        let mut n = 0;
        for i in 0..pairs.len() {
            if !pairs[i].1.is_empty() {
                pairs.swap(n, i);
                n += 1;
            }
        }
        normalize(&mut pairs[..n])
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .map(|i| &*self.pairs[i].1)
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Label names joined, used to detect label-set conflicts within one family.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| &**k)
    }

    /// Text length of names and values: what a series costs beyond its fixed overhead.
    pub fn text_len(&self) -> usize {
        self.pairs.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// A copy with one more label (replacing an existing one of the same name).
    pub fn with(&self, name: &str, value: &str) -> Labels {
        Labels::new(
            self.iter()
                .filter(|(k, _)| *k != name)
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .chain(std::iter::once((name.to_owned(), value.to_owned()))),
        )
    }
}

/// Sorts pairs by name and keeps the last of equal names in the first `n` returned. The sort is
/// stable, so "last" is the sender's order: what a sender who repeats a tag most plausibly meant.
pub(super) fn normalize<K: Ord, V>(v: &mut [(K, V)]) -> usize {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    let mut n = 0;
    for i in 0..v.len() {
        if n > 0 && v[n - 1].0 == v[i].0 {
            v.swap(n - 1, i);
        } else {
            v.swap(n, i);
            n += 1;
        }
    }
    n
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_pairs_hash_and_compare_like_the_owned_set() {
        for pairs in [
            vec![("b", "1"), ("a", "2"), ("b", "3"), ("c", "")],
            vec![],
            vec![("x", ""), ("x", "1")],
            vec![("x", "1"), ("x", "")],
            vec![("ab", "c"), ("a", "bc")],
        ] {
            let owned = Labels::new(pairs.iter().copied());
            let mut borrowed = pairs.clone();
            let n = Labels::normalize_borrowed(&mut borrowed);
            let borrowed = &borrowed[..n];
            assert_eq!(owned.iter().collect::<Vec<_>>(), borrowed, "{pairs:?}");
            assert_eq!(Labels::hash_of(borrowed), owned.hash_value(), "{pairs:?}");
            assert!(owned.equals(borrowed));
            assert_eq!(Labels::from_normalized(borrowed, owned.hash_value()), owned);
        }
        assert_ne!(
            Labels::hash_of(&[("ab", "c")]),
            Labels::hash_of(&[("a", "bc")]),
            "a name's end is part of the hash"
        );
        assert!(!Labels::new([("a", "1")]).equals(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn one_pair_is_the_set_new_builds() {
        for (k, v) in [
            ("trace_id", "0af7651916cd43dd8448eb211c80319c"),
            ("a", ""),
            ("", "x"),
        ] {
            let one = Labels::one(k, v);
            let new = Labels::new([(k, v)]);
            assert_eq!(one, new);
            assert_eq!(one.hash_value(), new.hash_value());
            assert_eq!(
                one.iter().collect::<Vec<_>>(),
                new.iter().collect::<Vec<_>>()
            );
        }
    }
}
