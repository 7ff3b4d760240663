//! A batch of events summed per row identity before it reaches the ledger: a request of a
//! thousand spans names a few (provider, model, scope) identities, so the ledger encodes a few
//! keys and finds a few rows instead of a thousand. Pure; the ledger is not touched until
//! [`super::SharedLedger::record_batch`].
//!
//! Rows add saturating and every event of a batch lands in the same hour and day (the batch is
//! recorded at one `now`), so one sum per identity gives each row what the events one by one
//! would, and a row refused for the cap folds into `_other` once per identity as it would for
//! each event: the fold count is scaled by the events summed.

use super::row::Totals;
use super::Entry;
use crate::model::Labels;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash, Hasher};

pub(super) struct Group<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub scope: &'a Labels,
    pub totals: Totals,
    pub events: u32,
}

#[derive(Default)]
pub struct Batch<'a> {
    groups: Vec<Group<'a>>,
    index: HashTable<(u64, u32)>,
    hasher: foldhash::fast::FixedState,
}

impl<'a> Batch<'a> {
    pub fn add(&mut self, e: &Entry<'a>) {
        let totals = e.totals();
        // The ledger skips an event that adds nothing: it folds nothing either.
        if totals == Totals::default() {
            return;
        }
        let mut h = self.hasher.build_hasher();
        (e.provider, e.model).hash(&mut h);
        h.write_u64(e.scope.hash_value());
        let hash = h.finish();
        let groups = &self.groups;
        let found = self.index.find(hash, |&(g, i)| {
            g == hash
                && groups.get(i as usize).is_some_and(|g| {
                    g.provider == e.provider && g.model == e.model && g.scope == e.scope
                })
        });
        if let Some(g) = found.and_then(|&(_, i)| self.groups.get_mut(i as usize)) {
            g.totals.add(&totals);
            g.events = g.events.saturating_add(1);
            return;
        }
        let i = u32::try_from(self.groups.len()).unwrap_or(u32::MAX);
        self.index.insert_unique(hash, (hash, i), |&(g, _)| g);
        self.groups.push(Group {
            provider: e.provider,
            model: e.model,
            scope: e.scope,
            totals,
            events: 1,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub(super) fn groups(&self) -> &[Group<'a>] {
        &self.groups
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Ledger, Settings};
    use super::*;
    use crate::config::usage::UsageConfig;
    use crate::model::Usage;
    use proptest::prelude::*;

    fn entry<'a>(
        provider: &'a str,
        model: &'a str,
        scope: &'a Labels,
        usage: &'a Usage,
        weight: f64,
        error: bool,
    ) -> Entry<'a> {
        Entry {
            provider,
            model,
            scope,
            usage,
            weight,
            error,
            cost_femto: u128::from(usage.input_tokens) * 2_500_000_000,
        }
    }

    fn ledger(max_rows: usize) -> Ledger {
        let config = UsageConfig {
            max_rows_per_bucket: max_rows,
            ..UsageConfig::default()
        };
        Ledger::new(Settings::new(&config), 1_800_000_000)
    }

    /// Everything a ledger shows: its rows as the state file would receive them.
    fn rows(l: &mut Ledger) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut d = l.take_dirty(1_800_000_000);
        d.puts.sort();
        d.puts
    }

    proptest! {
        /// Summed per identity or recorded one by one, the rows and the fold counts agree,
        /// under a row cap small enough to fold.
        #[test]
        fn a_batch_records_what_its_events_would(
            events in prop::collection::vec(
                (0usize..3, 0usize..3, 0usize..3, 0u64..5_000, 0u64..3, prop::bool::ANY, 0u8..3),
                0..60,
            ),
            max_rows in 1usize..6,
        ) {
            let scopes = [
                Labels::empty(),
                Labels::new([("service", "chat")]),
                Labels::new([("service", "stt"), ("team", "a")]),
            ];
            let usages: Vec<Usage> = events
                .iter()
                .map(|&(_, _, _, input, requests, _, _)| Usage {
                    input_tokens: input,
                    output_tokens: input / 3,
                    requests,
                    ..Usage::default()
                })
                .collect();
            let entries: Vec<Entry<'_>> = events
                .iter()
                .zip(&usages)
                .map(|(&(p, m, s, _, _, error, w), usage)| {
                    entry(
                        ["openai", "anthropic", "OpenAI"][p],
                        ["gpt-4o", "claude-sonnet-4", "gpt-4o-mini"][m],
                        &scopes[s],
                        usage,
                        [1.0, 0.5, 10.0][usize::from(w)],
                        error,
                    )
                })
                .collect();
            let now = 1_800_000_100;
            let mut one_by_one = ledger(max_rows);
            let folded_each: u64 = entries
                .iter()
                .map(|e| u64::from(one_by_one.record(e, now).folded))
                .sum();
            let mut batch = Batch::default();
            entries.iter().for_each(|e| batch.add(e));
            let mut batched = ledger(max_rows);
            let folded_batch = record_groups(&mut batched, &batch, now);
            prop_assert_eq!(folded_batch, folded_each);
            prop_assert_eq!(rows(&mut batched), rows(&mut one_by_one));
        }
    }

    fn record_groups(l: &mut Ledger, batch: &Batch<'_>, now: i64) -> u64 {
        super::super::shared::record_groups(l, batch, now)
    }
}
