//! Budgets created over the admin API, in the state file: `api_budgets` (name -> the JSON record
//! of `derive::budget::api::Stored`) and `api_budgets_meta` (`next_version`), so versions are
//! never reused, even after a delete. Every change is one fsynced transaction, committed before
//! the API answers: an acknowledged change survives kill -9.

use super::{guarded, KeyChanges, ReadError, StateFile};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::sync::PoisonError;

const BUDGETS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_budgets");
const META: TableDefinition<&str, u64> = TableDefinition::new("api_budgets_meta");
const NEXT_VERSION: &str = "next_version";

/// What the last run stored: every record, and the next version to hand out.
pub struct Loaded {
    pub records: Vec<(String, Vec<u8>)>,
    pub next_version: u64,
}

impl StateFile {
    /// Every stored API budget (read once at start).
    pub fn api_budgets(&self) -> Result<Loaded, ReadError> {
        let slot = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = slot.as_ref() else {
            return Ok(Loaded {
                records: Vec::new(),
                next_version: 1,
            });
        };
        guarded(|| {
            let rtx = db.begin_read()?;
            let mut records = Vec::new();
            match rtx.open_table(BUDGETS) {
                Ok(t) => {
                    for row in t.iter()? {
                        let (k, v) = row?;
                        records.push((k.value().to_string(), v.value().to_vec()));
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(e.into()),
            }
            let next_version = match rtx.open_table(META) {
                Ok(t) => t.get(NEXT_VERSION)?.map_or(1, |v| v.value()),
                Err(redb::TableError::TableDoesNotExist(_)) => 1,
                Err(e) => return Err(e.into()),
            };
            Ok(Loaded {
                records,
                next_version,
            })
        })
        .map_err(|e| ReadError::of(&self.path, "api budgets", e))
    }

    /// Stores (`Some`) or deletes (`None`) one API budget and the next version, in one fsynced
    /// transaction.
    pub fn commit_api_budget(
        &self,
        name: &str,
        record: Option<&[u8]>,
        next_version: u64,
    ) -> Result<(), String> {
        self.commit_with(&[], &[], KeyChanges::default(), |tx| {
            let mut t = tx.open_table(BUDGETS)?;
            match record {
                Some(bytes) => {
                    t.insert(name, bytes)?;
                }
                None => {
                    t.remove(name)?;
                }
            }
            tx.open_table(META)?.insert(NEXT_VERSION, next_version)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_the_version_counter_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (file, _) = StateFile::open(dir.path()).expect("open");
            let empty = file.api_budgets().expect("read");
            assert!(empty.records.is_empty());
            assert_eq!(empty.next_version, 1);
            file.commit_api_budget("a", Some(b"{1}"), 2).expect("put a");
            file.commit_api_budget("b", Some(b"{2}"), 3).expect("put b");
            file.commit_api_budget("a", None, 4).expect("delete a");
        }
        let (file, _) = StateFile::open(dir.path()).expect("reopen");
        let loaded = file.api_budgets().expect("read");
        assert_eq!(loaded.records, vec![("b".to_string(), b"{2}".to_vec())]);
        assert_eq!(loaded.next_version, 4);
    }
}
