//! Overlapping emitters without a response id: when two instrumentation scopes listed in
//! `otlp.usage_scopes` report calls to one provider for one service instance (the SDK's own
//! spans and an OpenInference instrumentation, say), only the one listed first is priced.
//! Scopes not listed are always priced. Pure.
//!
//! A scope counts as present for `window` after its last span, so one that stops sending (the
//! instrumentation was removed) hands over to the next after the window. Spans that carry a
//! response id are matched by it instead ([`super::Window`]), unless the preferred scope of
//! their group sends none: then an id cannot be matched with anything, and they are dropped too.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher as _};

/// Groups (service instance x provider) tracked at once; beyond this, new groups are priced
/// without arbitration (counted by the caller) until old ones expire.
pub const MAX_GROUPS: usize = 4096;
/// Scopes remembered per group: real apps have one or two.
const MAX_SCOPES: usize = 8;

#[derive(Debug)]
struct Seen {
    name: Box<str>,
    rank: usize,
    last: u64,
    /// Last time this scope sent a span with a response id.
    last_id: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ScopeVerdict {
    Price,
    /// Another scope is preferred for this group. `first` names (preferred, dropped) the first
    /// time this pair is seen, for one log line.
    Drop {
        first: Option<(String, String)>,
    },
    /// The group table is full: priced without arbitration.
    Untracked,
}

pub struct Scopes {
    precedence: Vec<(Box<str>, bool)>,
    window_secs: u64,
    groups: HashMap<u64, Vec<Seen>, foldhash::fast::RandomState>,
    logged: HashMap<(u64, Box<str>, Box<str>), (), foldhash::fast::RandomState>,
    now: u64,
}

impl Scopes {
    pub fn new(precedence: &[String], window_secs: u64) -> Scopes {
        let mut s = Scopes {
            precedence: Vec::new(),
            window_secs: window_secs.max(1),
            groups: HashMap::default(),
            logged: HashMap::default(),
            now: 0,
        };
        s.configure(precedence, window_secs);
        s
    }

    pub fn configure(&mut self, precedence: &[String], window_secs: u64) {
        let compiled: Vec<(Box<str>, bool)> = precedence
            .iter()
            .map(|p| match p.strip_suffix('*') {
                Some(prefix) => (prefix.into(), true),
                None => (p.as_str().into(), false),
            })
            .collect();
        if compiled != self.precedence {
            self.precedence = compiled;
            for seen in self.groups.values_mut().flatten() {
                seen.rank = rank(&self.precedence, &seen.name);
            }
        }
        self.window_secs = window_secs.max(1);
    }

    /// Records that `scope` reports calls in `group`, without deciding anything: a request's
    /// spans are all noted before any is decided, so the preferred scope wins even when its spans
    /// come after the other's in the same request.
    pub fn note(&mut self, group: u64, scope: &str, has_id: bool, now: u64) {
        let _ = self.register(group, scope, has_id, now);
    }

    /// Decides a span of `scope` in `group`; `has_id`: it carries a response id.
    pub fn observe(&mut self, group: u64, scope: &str, has_id: bool, now: u64) -> ScopeVerdict {
        let Some(me) = self.register(group, scope, has_id, now) else {
            return ScopeVerdict::Untracked;
        };
        let now = self.now;
        let window = self.window_secs;
        let Some(seen) = self.groups.get(&group) else {
            return ScopeVerdict::Untracked;
        };
        // Only the emitters listed in `otlp.usage_scopes` are known to report the same calls as
        // each other. An unlisted scope (an app's own tracer, hand-made spans) is always priced:
        // dropping real spend on a guess is worse than the double count listing it would avoid.
        let listed = self.precedence.len();
        if seen[me].rank >= listed {
            return ScopeVerdict::Price;
        }
        let Some(best) = seen
            .iter()
            .enumerate()
            .filter(|(_, s)| s.rank < listed)
            .min_by(|(_, a), (_, b)| (a.rank, &a.name).cmp(&(b.rank, &b.name)))
            .map(|(i, _)| i)
        else {
            return ScopeVerdict::Price;
        };
        let best_sends_ids = seen[best]
            .last_id
            .is_some_and(|t| t.saturating_add(window) > now);
        if best == me || (has_id && best_sends_ids) {
            return ScopeVerdict::Price;
        }
        let pair = (group, seen[best].name.clone(), seen[me].name.clone());
        let first = if self.logged.contains_key(&pair) || self.logged.len() >= MAX_GROUPS {
            None
        } else {
            let names = (pair.1.to_string(), pair.2.to_string());
            self.logged.insert(pair, ());
            Some(names)
        };
        ScopeVerdict::Drop { first }
    }

    /// Marks `scope` present in `group` at `now`; its index there, or `None` when the tables are
    /// full (the span is then priced without arbitration).
    fn register(&mut self, group: u64, scope: &str, has_id: bool, now: u64) -> Option<usize> {
        self.now = self.now.max(now);
        let now = self.now;
        let window = self.window_secs;
        if !self.groups.contains_key(&group) && self.groups.len() >= MAX_GROUPS {
            self.groups
                .retain(|_, v| v.iter().any(|s| s.last.saturating_add(window) > now));
            let groups = &self.groups;
            self.logged.retain(|(g, _, _), _| groups.contains_key(g));
            if self.groups.len() >= MAX_GROUPS {
                return None;
            }
        }
        let seen = self.groups.entry(group).or_default();
        seen.retain(|s| s.last.saturating_add(window) > now);
        let me = match seen.iter().position(|s| &*s.name == scope) {
            Some(i) => i,
            None => {
                if seen.len() >= MAX_SCOPES {
                    return None;
                }
                seen.push(Seen {
                    name: scope.into(),
                    rank: rank(&self.precedence, scope),
                    last: now,
                    last_id: None,
                });
                seen.len() - 1
            }
        };
        seen[me].last = now;
        if has_id {
            seen[me].last_id = Some(now);
        }
        Some(me)
    }
}

/// The group of a span: its resource's `service.name` and `service.instance.id`, and the
/// provider (case-insensitive). Computed outside the lock.
pub fn group(service: &str, instance: &str, provider: &str) -> u64 {
    let mut h = foldhash::fast::FixedState::default().build_hasher();
    h.write(service.as_bytes());
    h.write_u8(0xff);
    h.write(instance.as_bytes());
    h.write_u8(0xff);
    for b in provider.bytes() {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.finish()
}

/// Position of the first pattern matching `scope`; unlisted scopes rank after every listed one.
fn rank(precedence: &[(Box<str>, bool)], scope: &str) -> usize {
    precedence
        .iter()
        .position(|(p, prefix)| {
            if *prefix {
                scope.starts_with(&**p)
            } else {
                scope == &**p
            }
        })
        .unwrap_or(precedence.len())
}
