//! The window in the state file. Pure: bytes in, bytes out.
//!
//! One record per commit ("batch"), not one per key: a batch of 1,000 spans is one insert of a
//! few tens of kilobytes instead of 2,000 B-tree inserts at random places (measured: 5-27 ms per
//! commit that way, more than the spans' whole CPU cost). A batch record is keyed by its write
//! time and a counter (so records sort oldest first) and holds entries `tag | key | seen |
//! [priced parts]`; a later record's entry for the same key supersedes an earlier one (a merged
//! call). A batch is deleted once every key it holds has left the window, past the window or
//! evicted at `max_entries` (keys leave oldest first, so that is once every key that existed when
//! the batch was taken has left): a window at its bound keeps about `max_entries` entries on
//! disk. When the records hold more than twice `max_entries` entries all the same (merged calls
//! written again and again), or after a failed commit, the next commit rewrites the table as one
//! batch of the live keys.

use super::{CallEntry, CallKey, Key, Parts, SpanKey, Window, PARTS, TAG_CALL, TAG_SPAN};

/// A stored batch record.
#[derive(Clone, Copy, Debug)]
pub(super) struct Batch {
    id: [u8; 16],
    /// Newest `seen` of its entries: the record goes once that is past the window.
    newest: u64,
    entries: usize,
    /// Keys pushed to the window when it was taken: the record goes once as many have left.
    covers: u64,
}

/// The entries changed since the last commit, encoded as they changed.
#[derive(Debug, Default)]
pub(super) struct Pending {
    blob: Vec<u8>,
    newest: u64,
    pub(super) entries: usize,
}

/// What a commit's empty journal reserves at most: a burst does not pin its size.
const MAX_RESERVE: usize = 1 << 20;

impl Pending {
    fn with_capacity(bytes: usize) -> Pending {
        Pending {
            blob: Vec::with_capacity(bytes.min(MAX_RESERVE)),
            ..Pending::default()
        }
    }

    pub(super) fn span(&mut self, k: &SpanKey, seen: u64) {
        self.blob.reserve(SPAN_ENTRY);
        self.blob.push(TAG_SPAN);
        self.blob.extend_from_slice(k);
        self.blob.extend_from_slice(&seen.to_le_bytes());
        self.add(seen);
    }

    pub(super) fn call(&mut self, k: &CallKey, e: &CallEntry) {
        let mut entry = [0u8; CALL_ENTRY];
        entry[0] = TAG_CALL;
        entry[1..17].copy_from_slice(k);
        entry[17..25].copy_from_slice(&e.seen.to_le_bytes());
        entry[25..49].copy_from_slice(&e.first.unwrap_or([0; 24]));
        for (dst, p) in entry[49..].chunks_exact_mut(8).zip(e.priced.0) {
            dst.copy_from_slice(&p.to_le_bytes());
        }
        self.blob.extend_from_slice(&entry);
        self.add(e.seen);
    }

    fn add(&mut self, seen: u64) {
        self.newest = self.newest.max(seen);
        self.entries += 1;
    }
}

/// Changes for one commit (see [`Window::take_dirty`]).
#[derive(Debug, Default)]
pub struct DirtyKeys {
    /// The window's write sequence number covered by this batch.
    pub seq: u64,
    /// Empty the table first.
    pub clear: bool,
    /// At most one record: this commit's batch.
    pub puts: Vec<(Vec<u8>, Vec<u8>)>,
    pub deletes: Vec<Vec<u8>>,
}

impl DirtyKeys {
    pub fn is_empty(&self) -> bool {
        !self.clear && self.puts.is_empty() && self.deletes.is_empty()
    }
}

/// What [`Window::restore`] found.
#[derive(Debug, Default, PartialEq)]
pub struct Restored {
    pub loaded: usize,
    pub expired: usize,
    pub malformed: usize,
}

const SPAN_ENTRY: usize = 1 + 24 + 8;
const CALL_ENTRY: usize = 1 + 16 + 8 + 24 + 8 * PARTS;

impl Window {
    /// Every live key, looked up (a whole rewrite).
    fn encode_all(&self) -> Pending {
        let mut all = Pending::with_capacity(self.order.len() * SPAN_ENTRY);
        for (_, key) in &self.order {
            match key {
                Key::Span(k) => {
                    if let Some(seen) = self.spans.get(k) {
                        all.span(k, *seen);
                    }
                }
                Key::Call(k) => {
                    if let Some(e) = self.call(k) {
                        all.call(k, e);
                    }
                }
            }
        }
        all
    }

    /// Takes the changes not yet persisted: this commit's batch, and the records whose keys
    /// have all left. Put them back with [`Window::restore_dirty`] if the commit fails.
    pub fn take_dirty(&mut self) -> DirtyKeys {
        let mut d = DirtyKeys {
            seq: self.seq,
            ..Default::default()
        };
        let limit = self.now.saturating_sub(self.window_secs);
        if self.stored > self.max_entries.saturating_mul(2) {
            self.rewrite_all = true;
        }
        let batch = if std::mem::take(&mut self.rewrite_all) {
            d.clear = true;
            self.batches.clear();
            self.stored = 0;
            self.doomed.clear();
            self.pending = Pending::default();
            self.encode_all()
        } else {
            let popped = self.popped;
            while self
                .batches
                .front()
                .is_some_and(|b| b.newest <= limit || b.covers <= popped)
            {
                if let Some(b) = self.batches.pop_front() {
                    self.stored = self.stored.saturating_sub(b.entries);
                    d.deletes.push(b.id.to_vec());
                }
            }
            d.deletes.append(&mut self.doomed);
            let reserve = self.pending.blob.len();
            std::mem::replace(&mut self.pending, Pending::with_capacity(reserve))
        };
        if batch.entries > 0 {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&self.now.to_be_bytes());
            id[8..].copy_from_slice(&self.next_batch.to_be_bytes());
            self.next_batch += 1;
            self.batches.push_back(Batch {
                id,
                newest: batch.newest,
                entries: batch.entries,
                covers: self.pushed,
            });
            self.stored += batch.entries;
            d.puts.push((id.to_vec(), batch.blob));
        }
        d
    }

    /// After a commit failed (or was lost): the next one rewrites every live key.
    pub fn restore_dirty(&mut self, _failed: DirtyKeys) {
        self.mark_all_dirty();
    }

    /// The next commit rewrites every live key (replacing whatever the table holds).
    pub fn mark_all_dirty(&mut self) {
        self.seq += 1;
        self.rewrite_all = true;
        self.pending = Pending::default();
    }

    /// Rebuilds the window from stored records at start-up (`records` in any order). Entries
    /// past the window are dropped and their records deleted on the next write, as are records
    /// that do not decode.
    pub fn restore(&mut self, records: &[(Vec<u8>, Vec<u8>)], now: u64) -> Restored {
        self.now = self.now.max(now);
        let limit = self.now.saturating_sub(self.window_secs);
        let mut out = Restored::default();
        let mut sorted: Vec<&(Vec<u8>, Vec<u8>)> = records.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Latest record wins per key. Each key also keeps where it was first written (records in
        // commit order, entries in the order the window took them): keys seen in the same second
        // are then kept or dropped below in the order the window evicts them, not by their bytes.
        let mut latest: std::collections::HashMap<Key, (u64, Priced, u64), super::Hasher> =
            Default::default();
        let mut written = 0u64;
        for (id, blob) in sorted {
            let (Ok(id16), Some(entries)) = (<[u8; 16]>::try_from(id.as_slice()), decode(blob))
            else {
                out.malformed += 1;
                self.doomed.push(id.clone());
                continue;
            };
            let newest = entries.iter().map(|(_, seen, _)| *seen).max().unwrap_or(0);
            if newest <= limit {
                out.expired += entries.len();
                self.doomed.push(id.clone());
                continue;
            }
            self.batches.push_back(Batch {
                id: id16,
                newest,
                entries: entries.len(),
                // Set below, once the keys are loaded.
                covers: u64::MAX,
            });
            self.stored += entries.len();
            let mut counter = [0u8; 8];
            counter.copy_from_slice(&id16[8..]);
            self.next_batch = self.next_batch.max(u64::from_be_bytes(counter) + 1);
            for (key, seen, parts) in entries {
                written += 1;
                let at = match latest.get(&key) {
                    // The same key written again (a merged call): still where it was pushed.
                    Some((before, _, at)) if *before == seen => *at,
                    _ => written,
                };
                latest.insert(key, (seen, parts, at));
            }
        }
        let mut live: Vec<(u64, u64, Key, Priced)> = latest
            .into_iter()
            .filter_map(|(k, (seen, parts, at))| {
                (seen > limit).then_some((seen.min(self.now), at, k, parts))
            })
            .collect();
        live.sort_unstable_by_key(|(seen, at, _, _)| (*seen, *at));
        // The newest `max_entries` stay; older ones go as if evicted.
        let skip = live.len().saturating_sub(self.max_entries);
        out.expired += skip;
        for (seen, _, key, parts) in live.into_iter().skip(skip) {
            match (key, parts) {
                (Key::Span(k), _) => {
                    self.spans.insert(k, seen);
                }
                (Key::Call(k), Some((priced, first))) => {
                    self.insert_call(
                        k,
                        CallEntry {
                            seen,
                            priced,
                            first,
                        },
                    );
                }
                (Key::Call(_), None) => continue,
            }
            self.order.push_back((seen, key));
            self.pushed += 1;
            out.loaded += 1;
        }
        // The restored records go once every key loaded from them has left (what they hold
        // beyond those keys was dropped above).
        for b in &mut self.batches {
            b.covers = self.pushed;
        }
        if !self.doomed.is_empty() {
            self.seq += 1;
        }
        out
    }
}

/// For a call: what was priced, and by which span.
type Priced = Option<(Parts, Option<SpanKey>)>;
/// Key, first seen, [`Priced`].
type Entry = (Key, u64, Priced);

/// The entries of one batch record, or `None` if any is malformed.
fn decode(blob: &[u8]) -> Option<Vec<Entry>> {
    let word = |b: &[u8], i: usize| -> Option<u64> {
        Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
    };
    let mut out = Vec::with_capacity(blob.len() / SPAN_ENTRY);
    let mut rest = blob;
    while let Some(tag) = rest.first() {
        match *tag {
            TAG_SPAN => {
                let e = rest.get(..SPAN_ENTRY)?;
                let key = Key::Span(e.get(1..25)?.try_into().ok()?);
                out.push((key, word(e, 25)?, None));
                rest = &rest[SPAN_ENTRY..];
            }
            TAG_CALL => {
                let e = rest.get(..CALL_ENTRY)?;
                let key = Key::Call(e.get(1..17)?.try_into().ok()?);
                let first: [u8; 24] = e.get(25..49)?.try_into().ok()?;
                let first = (first != [0; 24]).then_some(first);
                let mut p = [0u64; PARTS];
                for (i, slot) in p.iter_mut().enumerate() {
                    *slot = word(e, 49 + 8 * i)?;
                }
                out.push((key, word(e, 17)?, Some((Parts(p), first))));
                rest = &rest[CALL_ENTRY..];
            }
            _ => return None,
        }
    }
    Some(out)
}
