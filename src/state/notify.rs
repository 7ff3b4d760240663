//! Budget notification marks in the state file (`notified_marks`: key -> empty), so a threshold
//! announced before a restart is not announced again (see [`crate::derive::notify`]).

use super::{guarded, KeyChanges, ReadError, StateFile};
use redb::{ReadableDatabase, TableDefinition};
use std::sync::PoisonError;

const MARKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("notified_marks");

impl StateFile {
    /// Every stored mark (read once at start).
    pub fn notified_marks(&self) -> Result<Vec<Vec<u8>>, ReadError> {
        let slot = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = slot.as_ref() else {
            return Ok(Vec::new());
        };
        guarded(|| {
            let rtx = db.begin_read()?;
            let table = match rtx.open_table(MARKS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let mut out = Vec::new();
            for row in table.range::<&[u8]>(..)? {
                out.push(row?.0.value().to_vec());
            }
            Ok(out)
        })
        .map_err(|e| ReadError::of(&self.path, "notification marks", e))
    }

    /// Stores and deletes marks in one transaction (fsynced before returning).
    pub fn commit_marks(&self, puts: &[Vec<u8>], deletes: &[Vec<u8>]) -> Result<(), String> {
        self.commit_with(&[], &[], KeyChanges::default(), |tx| {
            let mut t = tx.open_table(MARKS)?;
            for k in deletes {
                t.remove(k.as_slice())?;
            }
            for k in puts {
                t.insert(k.as_slice(), &[][..])?;
            }
            Ok(())
        })
    }
}
