//! Durable state: budget spend in `<data_dir>/budgets.redb`.
//!
//! Why redb: pure Rust, ACID, copy-on-write with checksums and an fsync per committed write
//! transaction (`Durability::Immediate`), so a kill -9 or power loss leaves either the previous or
//! the new commit, never a torn file, and no external service is needed. One commit covers every
//! change since the last, which is how many OTLP requests share one fsync ([`durable`]).
//!
//! A file that cannot be read as a redb database (or holds records meterd cannot decode) is never
//! silently replaced: start fails (exit 78, a data error like a bad config) with an error naming
//! the file and a preserved copy (`budgets.redb.corrupt-<content hash>`, one per distinct
//! content however often start is retried), so the operator decides whether to restore a backup or
//! start from zero by moving the file away.

pub mod api_budgets;
pub mod durable;
pub mod flush;
pub mod notify;
pub mod recommendations;
pub mod usage;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

pub const FILE_NAME: &str = "budgets.redb";

const SPEND: TableDefinition<&str, &[u8]> = TableDefinition::new("budget_spend");
/// Span and response keys of priced calls ([`crate::derive::dedup`]), written in the same
/// transaction as the spend they caused.
const DEDUP: TableDefinition<&[u8], &[u8]> = TableDefinition::new("dedup_keys");

/// Changes to the dedup key table for one commit.
#[derive(Clone, Copy, Default)]
pub struct KeyChanges<'a> {
    /// Empty the table first.
    pub clear: bool,
    pub puts: &'a [(Vec<u8>, Vec<u8>)],
    pub deletes: &'a [Vec<u8>],
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create state directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "state file {file} is corrupt or unreadable ({reason}); a copy was kept as {copy}. \
         meterd will not start with it, so budget spend is never silently reset to zero: \
         restore a backup, or move the file away to start from zero"
    )]
    Corrupt {
        file: PathBuf,
        reason: String,
        copy: PathBuf,
    },
    #[error(
        "state file {file} is corrupt or unreadable ({reason}), and keeping a copy failed ({copy_error}); \
         meterd will not start with it"
    )]
    CorruptNoCopy {
        file: PathBuf,
        reason: String,
        copy_error: String,
    },
    #[error(
        "state file {file} is in use by another process (two meterd sharing one state.data_dir?)"
    )]
    InUse { file: PathBuf },
    #[error("state file {file}: {reason}")]
    Io { file: PathBuf, reason: String },
}

/// A read of the state file that failed: why, and whether the bytes on disk are bad. Start-up
/// refuses a corrupt file as a data error (a copy kept, exit 78); anything else (permissions, a
/// volume gone) is an I/O error worth a retry. Folding both into one string made a file cut
/// short in its dedup or usage pages an I/O error that a supervisor retried forever.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub reason: String,
    pub corrupt: bool,
}

impl ReadError {
    /// From [`guarded`]'s error, the reason prefixed with the file and what was read.
    fn of(file: &Path, what: &str, (reason, corrupt): (String, bool)) -> ReadError {
        ReadError {
            reason: format!("{}: {what}: {reason}", file.display()),
            corrupt,
        }
    }

    /// The start-up error: a corrupt file is kept as a copy and refused (see [`corrupt`]).
    pub fn at_start(self, file: &Path) -> StateError {
        if self.corrupt {
            corrupt(file, self.reason)
        } else {
            StateError::Io {
                file: file.to_path_buf(),
                reason: self.reason,
            }
        }
    }
}

/// Where a read only needs telling (the API answers 503 with the reason).
impl From<ReadError> for String {
    fn from(e: ReadError) -> String {
        e.reason
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Records as stored: key and value bytes.
pub type Records = Vec<(String, Vec<u8>)>;
/// Dedup key records as stored: key and value bytes.
pub type KeyRecords = Vec<(Vec<u8>, Vec<u8>)>;

pub struct StateFile {
    /// `None` after a failed commit: redb fails every later operation on a database that saw an
    /// I/O error (`PreviousIo`) until it is reopened, so the next commit reopens it. Without that,
    /// a disk that filled up once would need a restart even after space is freed.
    db: Mutex<Option<Database>>,
    path: PathBuf,
}

/// Whether a redb error means the bytes on disk are bad (as opposed to, say, permissions).
fn is_corruption(e: &redb::Error) -> bool {
    match e {
        redb::Error::Corrupted(_) | redb::Error::UpgradeRequired(_) => true,
        // A read past the end of a local file: the file is shorter than its own structure says
        // (cut by an interrupted copy or a lost tail), never a passing condition.
        redb::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// redb checks some invariants with debug assertions; a hostile or damaged file must still end
/// in an error, never a crash.
fn guarded<T>(f: impl FnOnce() -> Result<T, redb::Error>) -> Result<T, (String, bool)> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            let corrupt = is_corruption(&e);
            Err((e.to_string(), corrupt))
        }
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "storage engine panicked".into());
            Err((msg, true))
        }
    }
}

/// Copies a bad state file aside and builds the error that stops start-up.
pub fn corrupt(file: &Path, reason: String) -> StateError {
    corrupt_as_found(file, reason, None)
}

/// State files this small are read into memory before the storage engine opens them: opening a
/// damaged file can already write to it, and the operator must get the bytes as they were found.
/// Spend records are a few hundred bytes per budget group, so real files sit far below this.
const MAX_REMEMBERED_STATE_BYTES: u64 = 64 << 20;

fn read_as_found(file: &Path) -> Option<Vec<u8>> {
    let len = std::fs::metadata(file).ok()?.len();
    (len <= MAX_REMEMBERED_STATE_BYTES)
        .then(|| std::fs::read(file).ok())
        .flatten()
}

/// As [`corrupt`], but with the file's bytes from before it was opened (when remembered): the
/// kept copy gets them, and they are put back in place, so both are exactly what was found.
///
/// The copy is named by a hash of its content (`.corrupt-<16 hex>`), not by the time: a service
/// manager restarting meterd in a loop on a damaged file keeps one copy of it, not one per
/// restart, while a file damaged again differently gets a copy of its own.
fn corrupt_as_found(file: &Path, reason: String, found: Option<&[u8]>) -> StateError {
    let bytes = match found {
        Some(b) => Ok(std::borrow::Cow::Borrowed(b)),
        None => std::fs::read(file).map(std::borrow::Cow::Owned),
    };
    let kept = bytes.and_then(|bytes| {
        let mut name = file.as_os_str().to_owned();
        name.push(format!(".corrupt-{}", content_tag(&bytes)));
        let copy = PathBuf::from(name);
        let same_copy_exists = std::fs::read(&copy).is_ok_and(|b| b == *bytes);
        if !same_copy_exists {
            std::fs::write(&copy, &*bytes)?;
        }
        if found.is_some() {
            std::fs::write(file, &*bytes)?;
        }
        Ok(copy)
    });
    match kept {
        Ok(copy) => StateError::Corrupt {
            file: file.to_path_buf(),
            reason,
            copy,
        },
        Err(e) => StateError::CorruptNoCopy {
            file: file.to_path_buf(),
            reason,
            copy_error: format!("{}.corrupt-*: {e}", file.display()),
        },
    }
}

/// A short, stable name for a file's content (the first 8 bytes of its BLAKE3 hash, in hex).
fn content_tag(bytes: &[u8]) -> String {
    blake3::hash(bytes).as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl StateFile {
    /// Opens (or creates) the state file and reads every record. Checks writability now, so a
    /// read-only volume fails start-up rather than the first flush.
    pub fn open(data_dir: &Path) -> Result<(StateFile, Records), StateError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StateError::Dir {
            dir: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(FILE_NAME);
        let found = read_as_found(&path);
        let fail = |(reason, is_corrupt): (String, bool)| {
            if is_corrupt {
                corrupt_as_found(&path, reason, found.as_deref())
            } else if reason.contains("already open") {
                StateError::InUse { file: path.clone() }
            } else {
                StateError::Io {
                    file: path.clone(),
                    reason,
                }
            }
        };
        let db = guarded(|| Database::create(&path).map_err(redb::Error::from)).map_err(fail)?;
        let records = guarded(|| {
            let tx = db.begin_write()?;
            tx.open_table(SPEND)?;
            tx.open_table(DEDUP)?;
            tx.open_table(usage::USAGE)?;
            tx.commit()?;
            let rtx = db.begin_read()?;
            let table = rtx.open_table(SPEND)?;
            let mut out = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                out.push((k.value().to_string(), v.value().to_vec()));
            }
            Ok(out)
        })
        .map_err(fail)?;
        Ok((
            StateFile {
                db: Mutex::new(Some(db)),
                path,
            },
            records,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `puts` and `deletes` in one transaction and fsyncs before returning. After a failure
    /// the database is closed, and reopened by the next call: the file then holds the last
    /// successful commit (redb never exposes a torn one), and the caller still holds what failed.
    pub fn commit(&self, puts: &[(String, Vec<u8>)], deletes: &[String]) -> Result<(), String> {
        self.commit_with_keys(puts, deletes, KeyChanges::default())
    }

    /// [`Self::commit`] with changes to the dedup keys, in the same transaction.
    pub fn commit_with_keys(
        &self,
        puts: &[(String, Vec<u8>)],
        deletes: &[String],
        keys: KeyChanges<'_>,
    ) -> Result<(), String> {
        self.commit_all(puts, deletes, keys, usage::UsageChanges::default())
    }

    /// [`Self::commit_with_keys`] with usage ledger rows, in the same transaction: what an OTLP
    /// acknowledgement waits for covers spend, dedup keys and the ledger at once.
    pub fn commit_all(
        &self,
        puts: &[(String, Vec<u8>)],
        deletes: &[String],
        keys: KeyChanges<'_>,
        rows: usage::UsageChanges<'_>,
    ) -> Result<(), String> {
        self.commit_with(puts, deletes, keys, |tx| usage::apply(tx, rows))
    }

    /// One write transaction with `extra` changes to other tables (see [`Self::commit`]).
    fn commit_with(
        &self,
        puts: &[(String, Vec<u8>)],
        deletes: &[String],
        keys: KeyChanges<'_>,
        extra: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), String> {
        let mut slot = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let db = match slot.take() {
            Some(db) => db,
            // `open`, not `create`: a state file that vanished must not come back empty.
            None => guarded(|| Database::open(&self.path).map_err(redb::Error::from)).map_err(
                |(reason, _)| {
                    format!(
                        "{}: reopening after a failed commit: {reason}",
                        self.path.display()
                    )
                },
            )?,
        };
        let result = guarded(|| {
            let tx = db.begin_write()?;
            {
                let mut t = tx.open_table(SPEND)?;
                for (k, v) in puts {
                    t.insert(k.as_str(), v.as_slice())?;
                }
                for k in deletes {
                    t.remove(k.as_str())?;
                }
            }
            if keys.clear {
                tx.delete_table(DEDUP)?;
            }
            if keys.clear || !keys.puts.is_empty() || !keys.deletes.is_empty() {
                let mut t = tx.open_table(DEDUP)?;
                // Deletes first: a key that expired and came back in one batch must stay.
                for k in keys.deletes {
                    t.remove(k.as_slice())?;
                }
                for (k, v) in keys.puts {
                    t.insert(k.as_slice(), v.as_slice())?;
                }
            }
            extra(&tx)?;
            tx.commit()?;
            Ok(())
        });
        match result {
            Ok(()) => {
                *slot = Some(db);
                Ok(())
            }
            // `db` is dropped here, releasing the file for the reopen.
            Err((reason, _)) => Err(format!("{}: {reason}", self.path.display())),
        }
    }

    /// The dedup keys stored by the last run (read once at start-up).
    pub fn dedup_records(&self) -> Result<KeyRecords, ReadError> {
        let slot = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = slot.as_ref() else {
            return Ok(Vec::new());
        };
        guarded(|| {
            let rtx = db.begin_read()?;
            let table = rtx.open_table(DEDUP)?;
            let mut out = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                out.push((k.value().to_vec(), v.value().to_vec()));
            }
            Ok(out)
        })
        .map_err(|e| ReadError::of(&self.path, "dedup keys", e))
    }

    /// Closes the database and reports the file as corrupt (records that cannot be decoded).
    pub fn into_corrupt(self, reason: String) -> StateError {
        let StateFile { db, path } = self;
        drop(db);
        corrupt(&path, reason)
    }
}

#[cfg(test)]
mod tests;
