//! One call, priced once. Pure (clock passed in as Unix seconds), no I/O.
//!
//! Two ways the same model call reaches meterd more than once:
//! - an exporter retries a batch (timeout, 503): the same span, the same `(trace_id, span_id)`;
//! - two emitters in one app (the provider SDK's own span and an instrumentation's) describe one
//!   call in two traces; both carry the provider's `gen_ai.response.id`.
//!
//! [`Window`] remembers both keys for `window` (and at most `max_entries` of them, oldest evicted
//! first), journals what changed so the state file can hold the keys in the same commit as the
//! spend they caused, and decides per span: price it, drop it, or price only what it adds.
//! [`scopes`] covers emitters that send no response id (precedence between instrumentation
//! scopes of one service instance).

pub mod complete;
pub mod persist;
pub mod scopes;
pub mod shared;

pub use crate::config::otlp::DedupConfig;
pub use persist::{DirtyKeys, Restored};
pub use shared::Dedup;

use crate::model::Usage;
use std::collections::{HashMap, VecDeque};

/// `trace_id` (16 bytes) then `span_id` (8 bytes), as sent.
pub type SpanKey = [u8; 24];
/// A 128-bit digest of (provider, response id): stable across restarts (it is persisted).
pub type CallKey = [u8; 16];

type Hasher = foldhash::fast::RandomState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Span(SpanKey),
    Call(CallKey),
}

const TAG_SPAN: u8 = b's';
const TAG_CALL: u8 = b'c';

/// The span key of a span, or `None` for ids that are missing, malformed or all zero (invalid
/// per the OTLP spec: such spans cannot be told apart, so they are never treated as retries).
pub fn span_key(trace_id: &[u8], span_id: &[u8]) -> Option<SpanKey> {
    if trace_id.len() != 16 || span_id.len() != 8 {
        return None;
    }
    if trace_id.iter().all(|b| *b == 0) || span_id.iter().all(|b| *b == 0) {
        return None;
    }
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(trace_id);
    k[16..].copy_from_slice(span_id);
    Some(k)
}

/// The call key of a provider's response id. Providers are compared case-insensitively (one
/// emitter says `Anthropic`, another `anthropic`); response ids exactly.
pub fn call_key(provider: &str, response_id: &str) -> CallKey {
    // The digest of `CALL_KEY_TAG | lower(provider) | 0 | response id`, hashed in one call when it
    // fits a stack buffer (every real id does): the incremental hasher's set-up and its four
    // updates cost more than the single compression such a short input needs. Both give the
    // same digest (BLAKE3 hashes the bytes, not how they were fed), which is what the state
    // file holds.
    let (tag, p, id) = (CALL_KEY_TAG, provider.as_bytes(), response_id.as_bytes());
    let mut buf = [0u8; 192];
    let n = tag.len() + p.len() + 1 + id.len();
    let digest = match buf.get_mut(..n) {
        Some(b) => {
            let (head, rest) = b.split_at_mut(tag.len());
            head.copy_from_slice(tag);
            let (name, rest) = rest.split_at_mut(p.len());
            name.copy_from_slice(p);
            name.make_ascii_lowercase();
            rest[0] = 0;
            rest[1..].copy_from_slice(id);
            blake3::hash(b)
        }
        None => {
            let mut h = blake3::Hasher::new();
            h.update(tag);
            h.update(provider.to_ascii_lowercase().as_bytes());
            h.update(&[0]);
            h.update(id);
            h.finalize()
        }
    };
    let mut k = [0u8; 16];
    k.copy_from_slice(&digest.as_bytes()[..16]);
    k
}

const CALL_KEY_TAG: &[u8] = b"meterd call v1\0";

/// Usage dimensions priced for a call, every field of [`Usage`] but `requests`.
const PARTS: usize = 11;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parts([u64; PARTS]);

impl Parts {
    pub fn of(u: &Usage) -> Parts {
        Parts(u.quantities())
    }

    /// Usage with these parts and no request.
    pub fn usage(&self) -> Usage {
        let [input_tokens, output_tokens, cached_input_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, audio_millis, characters, images] =
            self.0;
        Usage {
            input_tokens,
            output_tokens,
            cached_input_tokens,
            cache_write_5m_tokens,
            cache_write_1h_tokens,
            reasoning_tokens,
            audio_input_tokens,
            audio_output_tokens,
            audio_millis,
            characters,
            images,
            requests: 0,
        }
    }

    /// Per dimension, the larger of the two: the most complete report of one call.
    fn merged(&self, other: &Parts) -> Parts {
        let mut m = self.0;
        for (a, b) in m.iter_mut().zip(other.0) {
            *a = (*a).max(b);
        }
        Parts(m)
    }

    /// Per dimension, what `self` has beyond `base` (never negative).
    fn beyond(&self, base: &Parts) -> Parts {
        let mut d = self.0;
        for (a, b) in d.iter_mut().zip(base.0) {
            *a = a.saturating_sub(b);
        }
        Parts(d)
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

/// What to do with one GenAI span.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// First sight: price it as reported.
    New,
    /// The same span again (an exporter's retry): acknowledge, price nothing.
    Retry,
    /// Another span already priced this call: price only `extra` (usage beyond what was priced,
    /// no request), or nothing when it adds nothing.
    SameResponse { extra: Option<Usage> },
}

#[derive(Clone, Copy, Debug)]
struct CallEntry {
    seen: u64,
    priced: Parts,
    /// The span that priced it first: the same span again is a retry. Spans with a response id
    /// keep no span key of their own (one table access per span, not two).
    first: Option<SpanKey>,
}

pub struct Window {
    window_secs: u64,
    max_entries: usize,
    spans: HashMap<SpanKey, u64, Hasher>,
    /// Call key -> slot in `slots`: the table holds 20-byte buckets, so a lookup that misses (the
    /// common case) touches little memory; entries are read only on a hit.
    calls: HashMap<CallKey, u32, Hasher>,
    slots: Vec<CallEntry>,
    free: Vec<u32>,
    /// Every live key once, oldest first (`now` never goes backwards, see [`Window::clock`]).
    order: VecDeque<(u64, Key)>,
    /// Keys ever pushed to and popped from `order`: a key's place in that sequence is its age,
    /// so a stored batch whose keys were all pushed before the `popped`-th is all gone.
    pushed: u64,
    popped: u64,
    now: u64,
    /// Entries whose stored value changed since the last take, encoded as they changed (the
    /// entry is at hand then; looked up again at commit time it would be a cache miss). Beyond
    /// `max_entries` of them (the state file has been failing for long), `rewrite_all` replaces
    /// them.
    pending: persist::Pending,
    rewrite_all: bool,
    /// The stored batch records (see [`persist`]), oldest first, and their entries in all.
    batches: VecDeque<persist::Batch>,
    stored: usize,
    /// Records to delete on the next write (stale or unreadable ones found at start-up).
    doomed: Vec<Vec<u8>>,
    next_batch: u64,
    seq: u64,
    /// Keys dropped before their window ended because `max_entries` was reached.
    evicted: u64,
}

impl Window {
    pub fn new(cfg: &DedupConfig) -> Window {
        Window {
            window_secs: cfg.window.0.as_secs().max(1),
            max_entries: cfg.max_entries.max(1),
            spans: HashMap::default(),
            calls: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
            pushed: 0,
            popped: 0,
            now: 0,
            pending: persist::Pending::default(),
            rewrite_all: false,
            batches: VecDeque::new(),
            stored: 0,
            doomed: Vec::new(),
            next_batch: 0,
            seq: 0,
            evicted: 0,
        }
    }

    /// Applies a reloaded config; a smaller bound evicts on the next insert.
    pub fn configure(&mut self, cfg: &DedupConfig) {
        self.window_secs = cfg.window.0.as_secs().max(1);
        self.max_entries = cfg.max_entries.max(1);
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Heap held by the tables (from their capacities; the allocator's own overhead aside).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        // hashbrown: one control byte per bucket beside the entry.
        self.spans.capacity() * (size_of::<(SpanKey, u64)>() + 1)
            + self.calls.capacity() * (size_of::<(CallKey, u32)>() + 1)
            + self.slots.capacity() * size_of::<CallEntry>()
            + self.free.capacity() * size_of::<u32>()
            + self.order.capacity() * size_of::<(u64, Key)>()
    }

    /// Keys evicted early so far (the caller counts the increase).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Advances the clock (a wall clock stepped back does not resurrect expired keys) and
    /// expires keys older than the window.
    fn clock(&mut self, now: u64) {
        self.now = self.now.max(now);
        let limit = self.now.saturating_sub(self.window_secs);
        while self.order.front().is_some_and(|(seen, _)| *seen <= limit) {
            self.pop_oldest();
        }
    }

    // Stored copies of expired or evicted keys go with their batch record (see [`persist`]).
    fn pop_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_front() {
            self.popped += 1;
            match key {
                Key::Span(k) => self.spans.remove(&k).map(|_| ()),
                Key::Call(k) => self.calls.remove(&k).map(|slot| self.free.push(slot)),
            };
        }
    }

    fn push(&mut self, key: Key) {
        self.order.push_back((self.now, key));
        self.pushed += 1;
    }

    /// Journals a span key's new entry (see [`persist`]).
    fn changed_span(&mut self, k: &SpanKey, seen: u64) {
        self.seq += 1;
        if !self.rewrite_all {
            self.pending.span(k, seen);
            self.journal_bound();
        }
    }

    /// Journals a call key's new or merged entry.
    fn changed_call(&mut self, k: &CallKey, e: CallEntry) {
        self.seq += 1;
        if !self.rewrite_all {
            self.pending.call(k, &e);
            self.journal_bound();
        }
    }

    fn journal_bound(&mut self) {
        if self.pending.entries > self.max_entries {
            self.rewrite_all = true;
            self.pending = persist::Pending::default();
        }
    }

    /// Makes room for one more key: the oldest goes (counted), even if its window is not over.
    fn room(&mut self) {
        while self.order.len() >= self.max_entries {
            self.pop_oldest();
            self.evicted += 1;
        }
    }

    /// Decides one GenAI span: `span` is its (trace, span) id, `call` its response id's key,
    /// `usage` what it reports. Remembers both keys.
    pub fn observe(
        &mut self,
        span: Option<SpanKey>,
        call: Option<CallKey>,
        usage: &Usage,
        now: u64,
    ) -> Verdict {
        self.clock(now);
        if let Some(k) = call {
            return self.observe_call(k, span, usage);
        }
        if let Some(k) = span {
            if self.spans.contains_key(&k) {
                // What this repeats may not be on disk yet (its request was refused as not
                // durable): a new sequence number makes the repeat wait for a commit too.
                self.seq += 1;
                return Verdict::Retry;
            }
            self.room();
            self.spans.insert(k, self.now);
            self.push(Key::Span(k));
            self.changed_span(&k, self.now);
        }
        Verdict::New
    }

    fn insert_call(&mut self, k: CallKey, entry: CallEntry) {
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.slots.get_mut(slot as usize) {
                    *s = entry;
                }
                slot
            }
            None => {
                self.slots.push(entry);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.calls.insert(k, slot);
    }

    fn call(&self, k: &CallKey) -> Option<&CallEntry> {
        self.calls
            .get(k)
            .and_then(|slot| self.slots.get(*slot as usize))
    }

    fn observe_call(&mut self, k: CallKey, span: Option<SpanKey>, usage: &Usage) -> Verdict {
        let parts = Parts::of(usage);
        if let Some(entry) = self
            .calls
            .get(&k)
            .and_then(|slot| self.slots.get_mut(*slot as usize))
        {
            if span.is_some() && entry.first == span {
                self.seq += 1;
                return Verdict::Retry;
            }
            let merged = entry.priced.merged(&parts);
            let extra = merged.beyond(&entry.priced);
            if extra.is_zero() {
                self.seq += 1;
                return Verdict::SameResponse { extra: None };
            }
            entry.priced = merged;
            let e = *entry;
            self.changed_call(&k, e);
            return Verdict::SameResponse {
                extra: Some(extra.usage()),
            };
        }
        self.room();
        let e = CallEntry {
            seen: self.now,
            priced: parts,
            first: span,
        };
        self.insert_call(k, e);
        self.push(Key::Call(k));
        self.changed_call(&k, e);
        Verdict::New
    }
}

#[cfg(test)]
mod tests;
