//! Recommendation statuses in the state file (`recommendation_status`: id -> stored status, see
//! [`crate::derive::recommend::status`]). Written (fsynced) before a PATCH answers; read per
//! request, and read-only by `meterd report --state`.

use super::{guarded, KeyChanges, StateFile};
use redb::{ReadableDatabase, TableDefinition};
use std::path::Path;
use std::sync::PoisonError;

const STATUS: TableDefinition<&str, &[u8]> = TableDefinition::new("recommendation_status");

/// Most statuses kept: ids come only from recommendations meterd computed, but each new model
/// pair makes a new one; past this the PATCH is refused (507) rather than the file growing.
pub const MAX_STATUSES: usize = 100_000;

pub type StatusRecords = Vec<(String, Vec<u8>)>;

fn read(db: &impl ReadableDatabase) -> Result<StatusRecords, redb::Error> {
    let rtx = db.begin_read()?;
    let table = match rtx.open_table(STATUS) {
        Ok(t) => t,
        // A file written before recommendations existed has no table yet.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for row in table.range::<&str>(..)? {
        let (k, v) = row?;
        out.push((k.value().to_string(), v.value().to_vec()));
        if out.len() > MAX_STATUSES {
            break;
        }
    }
    Ok(out)
}

impl StateFile {
    /// Every stored recommendation status.
    pub fn recommendation_statuses(&self) -> Result<StatusRecords, String> {
        let slot = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = slot.as_ref() else {
            return Err(format!(
                "{}: not open (the last commit failed; retried by the next)",
                self.path.display()
            ));
        };
        guarded(|| read(db)).map_err(|(reason, _)| {
            format!("{}: recommendation statuses: {reason}", self.path.display())
        })
    }

    /// Stores one status (fsynced before returning).
    pub fn commit_recommendation_status(&self, id: &str, value: &[u8]) -> Result<(), String> {
        self.commit_with(&[], &[], KeyChanges::default(), |tx| {
            let mut t = tx.open_table(STATUS)?;
            t.insert(id, value)?;
            Ok(())
        })
    }
}

/// Statuses from a state file no agent has open (`meterd report --state`), read-only.
pub fn read_offline(file: &Path) -> Result<StatusRecords, String> {
    let fail = |(reason, _): (String, bool)| format!("{}: {reason}", file.display());
    let db =
        guarded(|| redb::ReadOnlyDatabase::open(file).map_err(redb::Error::from)).map_err(fail)?;
    guarded(|| read(&db)).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_survive_reopening_and_a_later_write_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (f, _) = StateFile::open(dir.path()).expect("open");
            assert_eq!(f.recommendation_statuses(), Ok(Vec::new()));
            f.commit_recommendation_status("rec_a", b"one")
                .expect("commit");
            f.commit_recommendation_status("rec_b", b"two")
                .expect("commit");
            f.commit_recommendation_status("rec_a", b"three")
                .expect("commit");
        }
        let file = dir.path().join(super::super::FILE_NAME);
        let want = vec![
            ("rec_a".to_string(), b"three".to_vec()),
            ("rec_b".to_string(), b"two".to_vec()),
        ];
        assert_eq!(read_offline(&file), Ok(want.clone()));
        let (f, _) = StateFile::open(dir.path()).expect("reopen");
        assert_eq!(f.recommendation_statuses(), Ok(want));
    }
}
