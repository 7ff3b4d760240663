//! Opening the state file at start: budget spend and dedup keys restored, or start-up refused
//! with a reason (never a silent reset to zero).

use super::StartError;
use crate::config::Config;
use crate::pipeline::Snapshot;
use std::sync::Arc;

/// Opens the state file and restores budget spend. A file (or record) that cannot be read stops
/// start-up with an error naming it and a preserved copy: never a silent reset to zero.
pub(super) fn open_state(
    snapshot: &Snapshot,
) -> Result<
    (
        Arc<crate::state::StateFile>,
        Arc<crate::derive::budget::Budgets>,
    ),
    StartError,
> {
    let (file, saved) = crate::state::StateFile::open(&snapshot.config.state.data_dir)?;
    let now = crate::clock::unix_secs_i64();
    match crate::derive::budget::Budgets::new(&snapshot.budgets, &saved, now) {
        Ok((budgets, notes)) => {
            for note in notes {
                tracing::warn!(file = %file.path().display(), "{note}");
            }
            tracing::info!(
                file = %file.path().display(),
                records = saved.len(),
                "budget state loaded"
            );
            Ok((Arc::new(file), Arc::new(budgets)))
        }
        Err(reason) => Err(file.into_corrupt(reason).into()),
    }
}

/// Restores the span and response keys of the last run, so a retry after a restart (kill -9
/// included) is still recognised. Keys that cannot be read are dropped (they only stop a double
/// count); a table that cannot be read at all stops start-up like bad spend records.
pub(super) fn open_dedup(
    config: &Config,
    file: &crate::state::StateFile,
) -> Result<Arc<crate::derive::dedup::Dedup>, StartError> {
    let otlp = &config.otlp;
    let dedup = crate::derive::dedup::Dedup::new(&otlp.dedup, &otlp.usage_scopes);
    let records = file
        .dedup_records()
        .map_err(|reason| crate::state::StateError::Io {
            file: file.path().to_path_buf(),
            reason,
        })?;
    let r = dedup.restore(&records, crate::clock::unix_secs());
    if r.malformed > 0 {
        tracing::warn!(
            file = %file.path().display(),
            malformed = r.malformed,
            "unreadable dedup keys dropped from the state file"
        );
    }
    tracing::info!(
        file = %file.path().display(),
        loaded = r.loaded,
        expired = r.expired,
        "dedup keys loaded"
    );
    Ok(Arc::new(dedup))
}
