//! [`Labels::shared`]: label sets shared through a per-thread table instead of built again.

use super::direct_mapped::DirectMapped;
use super::labels::{normalize, Labels};
use std::cell::RefCell;

/// Longer label sets are not shared; the derived and OTLP ones are far shorter.
const SHARED_MAX_PAIRS: usize = 16;
/// Per thread. A sender with more distinct label sets than this costs a lookup miss each.
const SHARED_SLOTS: usize = 1 << 14;

thread_local! {
    /// The first set built for a key is the one the store keeps as the series key, so later
    /// lookups of a shared set compare by pointer.
    static SHARED: RefCell<DirectMapped<Labels>> = RefCell::new(DirectMapped::new(SHARED_SLOTS));
}

impl Labels {
    /// The same set as [`Labels::new`] builds, shared with an equal set recently built this way on
    /// this thread. Derived families and OTLP points repeat a bounded number of label sets, and
    /// building one (an allocation per name and value) cost more than updating its series.
    pub fn shared<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut buf = [("", ""); SHARED_MAX_PAIRS];
        let mut n = 0;
        let mut rest = pairs.into_iter().filter(|(_, v)| !v.is_empty());
        for pair in rest.by_ref() {
            if n == SHARED_MAX_PAIRS {
                let all = buf.into_iter().chain(std::iter::once(pair)).chain(rest);
                return Labels::new(all);
            }
            buf[n] = pair;
            n += 1;
        }
        let set = &mut buf[..n];
        let n = normalize(set);
        let set = &set[..n];
        let build = || {
            Labels::from_sorted(
                set.iter()
                    .map(|(k, v)| (Box::from(*k), Box::from(*v)))
                    .collect(),
            )
        };
        SHARED
            .try_with(|shared| {
                let Ok(mut shared) = shared.try_borrow_mut() else {
                    return build();
                };
                let hash = shared.hash(&*set);
                if let Some(l) = shared.get(hash, |l| l.iter().eq(set.iter().copied())) {
                    return l.clone();
                }
                let l = build();
                shared.offer(hash, || l.clone());
                l
            })
            .unwrap_or_else(|_| build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn shared_labels_equal_new_ones() {
        for pairs in [
            vec![("b", "1"), ("a", "2"), ("b", "3"), ("c", "")],
            vec![],
            vec![("x", "1"), ("x", "2"), ("x", "3"), ("a", "0")],
            (0..20).map(|i| (["p", "q", "r"][i % 3], "v")).collect(),
        ] {
            let new = Labels::new(pairs.iter().copied());
            assert_eq!(Labels::shared(pairs.iter().copied()), new);
            assert_eq!(
                Labels::shared(pairs.iter().copied()),
                new,
                "second: from the table"
            );
        }
        let a = Labels::shared([("k", "1")]);
        assert!(Arc::ptr_eq(&a.pairs, &Labels::shared([("k", "1")]).pairs));
        assert_ne!(Labels::shared([("k", "2")]), a);
    }
}
