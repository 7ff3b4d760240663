//! [`Store::apply_pairs`]: an update for a series named by borrowed label pairs, so a data point
//! whose series exists costs a hash and a compare instead of building a label set (an allocation
//! per name and value, then freeing them all) that the store would only look up and drop.

use super::{FamilyCache, Reject, Store, Target};
use crate::model::{Exemplar, FamilyOptions, LabelPolicy, Labels, SampleValue};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A series named by label pairs in [`Labels::normalize_borrowed`] form.
#[derive(Clone, Copy)]
pub struct PairsTarget<'a> {
    pub name: &'a str,
    pub pairs: &'a [(&'a str, &'a str)],
    pub options: &'a Arc<FamilyOptions>,
}

impl Store {
    /// [`Store::apply`] for a sample whose labels are `target.pairs`: the same checks and the same
    /// outcome. `cache` remembers the family between calls and must only be used with one name.
    pub fn apply_pairs(
        &self,
        cache: &mut FamilyCache,
        target: PairsTarget<'_>,
        value: &SampleValue,
        exemplar: Option<&Exemplar>,
    ) -> Result<(), Reject> {
        let kind = value.kind();
        let hash = Labels::hash_of(target.pairs);
        if cache.0.is_none() {
            cache.0 = self
                .families
                .read()
                .map_err(|_| Reject::TotalSeriesLimit)?
                .get(target.name)
                .cloned();
        }
        // Only an existing series of a fitting family is updated here; anything else (a new
        // series, a conflict, a family swept away) takes the owned path, which decides it as
        // `apply` always has.
        if let Some(family) = cache.0.as_ref() {
            let fits = family.kind == kind
                && (family.options.label_policy != LabelPolicy::Consistent
                    || family
                        .label_names
                        .iter()
                        .map(|n| &**n)
                        .eq(target.pairs.iter().map(|(k, _)| *k)));
            if fits {
                let Ok(mut map) = family.series.lock() else {
                    return Err(Reject::TotalSeriesLimit);
                };
                if !family.removed.load(Ordering::Relaxed) {
                    if let Some(s) = map.get_pairs_mut(hash, target.pairs) {
                        let max_set = self
                            .limits
                            .read()
                            .map_err(|_| Reject::TotalSeriesLimit)?
                            .max_set_members;
                        return s.apply(value, exemplar, self.now_ms(), max_set);
                    }
                }
            }
        }
        let labels = Labels::from_normalized(target.pairs, hash);
        let owned = Target {
            name: target.name,
            labels: &labels,
            options: target.options,
        };
        // A fresh cache: the owned path's cache skips the label-name check that pairs need.
        let mut fresh = FamilyCache::default();
        let mut rejected = None;
        let r = self.update(
            &mut fresh,
            owned,
            std::slice::from_ref(value),
            super::ExemplarsAt::first(exemplar),
            &mut |_, r| rejected = Some(r),
        );
        if fresh.0.is_some() {
            *cache = fresh;
        }
        r?;
        rejected.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;
    use std::time::Duration;

    /// Every sample through `apply` on one store and `apply_pairs` on another (one cache per run
    /// of a name, as the OTLP receiver keeps it): the same outcomes, then the same contents.
    #[test]
    fn pairs_update_as_owned_samples_do() {
        let consistent = Arc::new(FamilyOptions::default());
        let any = Arc::new(FamilyOptions {
            label_policy: LabelPolicy::Any,
            max_series: Some(3),
            ..Default::default()
        });
        let add = SampleValue::CounterAdd;
        let set = |v| SampleValue::CounterSet {
            value: v,
            start_unix_nanos: 7,
        };
        type Step<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            SampleValue,
            &'a Arc<FamilyOptions>,
        );
        let steps: Vec<Step<'_>> = vec![
            ("c", &[("a", "1")], add(1.0), &consistent),
            ("c", &[("a", "1")], add(2.0), &consistent),
            ("c", &[("b", "1")], add(1.0), &consistent),
            ("c", &[("a", "1")], SampleValue::GaugeSet(1.0), &consistent),
            ("c", &[("a", "1")], add(-1.0), &consistent),
            ("o", &[("x", "1"), ("y", "2")], set(5.0), &any),
            ("o", &[("x", "1")], set(1.0), &any),
            ("o", &[("x", "1"), ("y", "2")], set(3.0), &any),
            ("o", &[], set(1.0), &any),
            ("o", &[("z", "1")], set(1.0), &any),
            ("o", &[("x", "1")], set(4.0), &any),
            ("c", &[("a", "2")], add(1.0), &consistent),
        ];
        let owned = Store::default();
        let borrowed = Store::default();
        let mut cache = FamilyCache::default();
        let mut last = "";
        for (i, (name, pairs, value, options)) in steps.iter().enumerate() {
            let sample = Sample {
                options: (*options).clone(),
                ..Sample::new(*name, Labels::new(pairs.iter().copied()), value.clone())
            };
            if *name != last {
                cache = FamilyCache::default();
                last = name;
            }
            let target = PairsTarget {
                name,
                pairs,
                options,
            };
            let got = borrowed.apply_pairs(&mut cache, target, value, None);
            assert_eq!(got, owned.apply(&sample), "step {i}");
        }
        let contents = |st: &Store| {
            st.snapshot()
                .into_iter()
                .map(|f| (f.name, f.series))
                .collect::<Vec<_>>()
        };
        assert_eq!(contents(&borrowed), contents(&owned));
        assert_eq!(borrowed.series_count(), owned.series_count());
    }

    #[test]
    fn a_family_swept_away_is_found_again() {
        let st = Store::default();
        let options = Arc::new(FamilyOptions {
            ttl: Some(Duration::from_secs(1)),
            ..Default::default()
        });
        let target = PairsTarget {
            name: "g",
            pairs: &[("a", "1")],
            options: &options,
        };
        let mut cache = FamilyCache::default();
        let one = SampleValue::GaugeSet(1.0);
        assert_eq!(st.apply_pairs(&mut cache, target, &one, None), Ok(()));
        st.set_now_ms(5_000);
        assert_eq!(st.sweep(), 1);
        let two = SampleValue::GaugeSet(2.0);
        assert_eq!(st.apply_pairs(&mut cache, target, &two, None), Ok(()));
        assert_eq!(st.value("g", &Labels::new([("a", "1")])), Some(2.0));
    }
}
