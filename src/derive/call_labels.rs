//! The label sets of one call identity, shared by every call with that identity.
//!
//! A call derives up to a dozen samples (requests, tokens and cost by type, latency), each with the
//! call's base labels plus one or two of its own. Calls repeat a small number of identities (scope,
//! provider, model, operation, status), so each set is looked up once per identity and thread
//! instead of once per sample: building and looking up sets was the largest cost of a span.

use crate::model::{CallStatus, DirectMapped, Labels, UsageEvent};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

/// Which of a call's label sets.
#[derive(Clone, Copy)]
pub(crate) enum Set {
    /// Base labels plus `operation` and `status` (requests, latency).
    Call,
    /// Base plus `operation` (time to first token).
    Operation,
    /// Base labels alone (audio, characters, images).
    Base,
    /// Base plus `token_type`, by the token type's position in `usage`'s list.
    Token(usize),
    /// Base plus `cost_type`, by position in the pricing `COST_TYPES`.
    Cost(usize),
    /// Base plus `reason`: 0 unknown_model, 1 unknown_usage_type.
    Unpriced(usize),
}

const TOKEN_TYPES: usize = 7;
const COST_TYPES: usize = super::pricing::derive::COST_TYPES.len();
const SETS: usize = 3 + TOKEN_TYPES + COST_TYPES + 2;

impl Set {
    /// `None` past a list's known length: such a set is built each time, never confused.
    fn index(self) -> Option<usize> {
        match self {
            Set::Call => Some(0),
            Set::Operation => Some(1),
            Set::Base => Some(2),
            Set::Token(i) => (i < TOKEN_TYPES).then_some(3 + i),
            Set::Cost(i) => (i < COST_TYPES).then_some(3 + TOKEN_TYPES + i),
            Set::Unpriced(i) => (i < 2).then_some(3 + TOKEN_TYPES + COST_TYPES + i),
        }
    }
}

/// Identities remembered per thread: a direct-mapped table, so more distinct identities than this
/// cost lookups that miss, never unbounded memory.
const SLOTS: usize = 4096;

struct Identity {
    scope: Labels,
    provider: Arc<str>,
    model: Arc<str>,
    operation: Arc<str>,
    status: Option<CallStatus>,
    error_type: Option<Box<str>>,
}

impl Identity {
    fn matches(&self, ev: &UsageEvent) -> bool {
        // A receiver that shares one string between its events compares by pointer.
        let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
        self.scope == ev.scope
            && same(&self.provider, &ev.provider)
            && same(&self.model, &ev.model)
            && same(&self.operation, &ev.operation)
            && self.status == ev.status
            && self.error_type == ev.error_type
    }
}

pub(crate) struct CallLabels {
    sets: [OnceCell<Labels>; SETS],
    /// The identity's provider and model as the price table last resolved them.
    price: RefCell<super::pricing::cost::Memo>,
}

impl CallLabels {
    /// Set `which`, built by `build` the first time this identity needs it (each time for a set
    /// past the known lists).
    pub(crate) fn get(
        &self,
        which: Set,
        build: impl FnOnce() -> Labels,
    ) -> std::borrow::Cow<'_, Labels> {
        match which.index().and_then(|i| self.sets.get(i)) {
            Some(cell) => std::borrow::Cow::Borrowed(cell.get_or_init(build)),
            None => std::borrow::Cow::Owned(build()),
        }
    }

    pub(crate) fn price_memo(&self) -> &RefCell<super::pricing::cost::Memo> {
        &self.price
    }
}

thread_local! {
    static TABLE: RefCell<DirectMapped<(Identity, Rc<CallLabels>)>> =
        RefCell::new(DirectMapped::new(SLOTS));
}

fn fresh() -> Rc<CallLabels> {
    Rc::new(CallLabels {
        sets: std::array::from_fn(|_| OnceCell::new()),
        price: RefCell::default(),
    })
}

/// The label sets of `ev`'s identity (its scope must already be the derived one).
pub(crate) fn of(ev: &UsageEvent) -> Rc<CallLabels> {
    TABLE
        .try_with(|table| {
            let Ok(mut table) = table.try_borrow_mut() else {
                return fresh();
            };
            let status = ev.status.map(|s| s as u8);
            let hash = table.hash((
                &ev.scope,
                &ev.provider,
                &ev.model,
                &ev.operation,
                status,
                &ev.error_type,
            ));
            if let Some((_, sets)) = table.get(hash, |(id, _)| id.matches(ev)) {
                return sets.clone();
            }
            let sets = fresh();
            table.offer(hash, || {
                let id = Identity {
                    scope: ev.scope.clone(),
                    provider: ev.provider.clone(),
                    model: ev.model.clone(),
                    operation: ev.operation.clone(),
                    status: ev.status,
                    error_type: ev.error_type.clone(),
                };
                (id, sets.clone())
            });
            sets
        })
        .unwrap_or_else(|_| fresh())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::usage::BaseLabels;

    #[test]
    fn each_identity_gets_its_own_sets() {
        let mut a = UsageEvent::new("openai", "gpt-4o");
        a.scope = Labels::shared([("team", "a")]);
        let mut b = a.clone();
        b.scope = Labels::shared([("team", "b")]);
        let mut c = a.clone();
        c.status = Some(CallStatus::Error);
        for ev in [&a, &b, &c, &a] {
            let build = || BaseLabels::new(ev).with(&[("token_type", "input")]);
            assert_eq!(*of(ev).get(Set::Token(0), build), build(), "{ev:?}");
            assert_eq!(
                of(ev)
                    .get(Set::Base, || BaseLabels::new(ev).with(&[]))
                    .len(),
                3
            );
        }
        // Past a list's known length: built, not cached under another set's slot.
        let sets = of(&a);
        let built = sets.get(Set::Token(99), || Labels::new([("x", "1")]));
        assert!(matches!(built, std::borrow::Cow::Owned(_)));
        assert_eq!(*built, Labels::new([("x", "1")]));
    }
}
