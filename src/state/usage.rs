//! The usage ledger's table in the state file (`usage_rows`: row key -> totals, see
//! [`crate::derive::ledger::row`]). Written in the same transaction as budget spend; read by range
//! for the usage API, and read-only (agent stopped) by `meterd report --state`.

use super::{guarded, ReadError, StateFile};
use redb::{ReadableDatabase, TableDefinition, WriteTransaction};
use std::path::Path;
use std::sync::PoisonError;

pub(super) const USAGE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("usage_rows");

/// Changes to the usage table for one commit.
#[derive(Clone, Copy, Default)]
pub struct UsageChanges<'a> {
    pub puts: &'a [(Vec<u8>, Vec<u8>)],
    /// Key ranges `[from, to)` to delete (buckets past the retention).
    pub prune: &'a [(Vec<u8>, Vec<u8>)],
}

impl UsageChanges<'_> {
    fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.prune.is_empty()
    }
}

pub(super) fn apply(tx: &WriteTransaction, c: UsageChanges<'_>) -> Result<(), redb::Error> {
    if c.is_empty() {
        return Ok(());
    }
    let mut t = tx.open_table(USAGE)?;
    for (from, to) in c.prune {
        if from < to {
            t.retain_in(from.as_slice()..to.as_slice(), |_, _| false)?;
        }
    }
    for (k, v) in c.puts {
        t.insert(k.as_slice(), v.as_slice())?;
    }
    Ok(())
}

pub type UsageRecords = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads every record with a key in `[from, to)`, from a live state file or one opened read-only.
fn read_range(
    db: &impl ReadableDatabase,
    from: &[u8],
    to: &[u8],
    limit: usize,
) -> Result<UsageRecords, redb::Error> {
    let rtx = db.begin_read()?;
    let table = match rtx.open_table(USAGE) {
        Ok(t) => t,
        // A file written before the ledger existed has no usage table yet.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    if from >= to {
        return Ok(out);
    }
    for row in table.range(from..to)? {
        let (k, v) = row?;
        if out.len() >= limit {
            break;
        }
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

/// Most records one read returns: bounds the memory of a query over a huge range (ten years
/// of hourly rows at the default cap would not fit); the answer says when it was cut.
pub const MAX_READ_ROWS: usize = 2_000_000;

impl StateFile {
    /// Usage records with keys in `[from, to)` (at most `limit`).
    pub fn usage_range(
        &self,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<UsageRecords, ReadError> {
        let slot = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = slot.as_ref() else {
            return Err(ReadError {
                reason: format!(
                    "{}: not open (the last commit failed; retried by the next)",
                    self.path.display()
                ),
                corrupt: false,
            });
        };
        guarded(|| read_range(db, from, to, limit))
            .map_err(|e| ReadError::of(&self.path, "usage rows", e))
    }
}

/// Reads usage records from a state file no agent has open (`meterd report --state`). Opened
/// read-only: a report never changes the file.
pub fn read_offline(
    file: &Path,
    from: &[u8],
    to: &[u8],
    limit: usize,
) -> Result<UsageRecords, String> {
    let fail = |(reason, _): (String, bool)| format!("{}: {reason}", file.display());
    let db =
        guarded(|| redb::ReadOnlyDatabase::open(file).map_err(redb::Error::from)).map_err(fail)?;
    guarded(|| read_range(&db, from, to, limit)).map_err(fail)
}
