//! Opening the state file at start: budget spend and dedup keys restored, or start-up refused
//! with a reason (never a silent reset to zero).

use super::StartError;
use crate::config::Config;
use crate::derive::budget::api::Stored;
use crate::pipeline::Snapshot;
use std::collections::BTreeMap;
use std::sync::Arc;

/// API budgets as stored, and the next version to hand out.
pub(super) type ApiBudgets = (BTreeMap<String, Stored>, u64);

/// Opens the state file and restores budget spend. A file (or record) that cannot be read stops
/// start-up with an error naming it and a preserved copy: never a silent reset to zero.
pub(super) fn open_state(
    snapshot: &Snapshot,
) -> Result<
    (
        Arc<crate::state::StateFile>,
        Arc<crate::derive::budget::Budgets>,
        ApiBudgets,
    ),
    StartError,
> {
    let (file, saved) = crate::state::StateFile::open(&snapshot.config.state.data_dir)?;
    let now = crate::clock::unix_secs_i64();
    let loaded = file.api_budgets().map_err(|e| e.at_start(file.path()))?;
    let api: BTreeMap<String, Stored> = loaded
        .records
        .iter()
        .map(|(name, bytes)| (name.clone(), crate::derive::budget::api::decode(bytes)))
        .collect();
    // The engine starts with the API budgets too, so their spend is restored, not orphaned.
    let merged =
        crate::derive::budget::api::merge(&snapshot.budgets, &api, &snapshot.config.scope_labels);
    if !api.is_empty() {
        tracing::info!(file = %file.path().display(), count = api.len(), "API budgets loaded");
    }
    let api = (api, loaded.next_version);
    match crate::derive::budget::Budgets::new(&merged.defs, &saved, now) {
        Ok((budgets, notes)) => {
            for note in notes {
                tracing::warn!(file = %file.path().display(), "{note}");
            }
            tracing::info!(
                file = %file.path().display(),
                records = saved.len(),
                "budget state loaded"
            );
            Ok((Arc::new(file), Arc::new(budgets), api))
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
    let records = file.dedup_records().map_err(|e| e.at_start(file.path()))?;
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

/// Restores the usage ledger's live buckets (this hour, today), so counting continues where the
/// last run stopped. Unreadable rows are left on disk as found and counting starts beside them.
pub(super) fn open_ledger(
    config: &Config,
    file: &crate::state::StateFile,
) -> Result<Arc<crate::derive::ledger::SharedLedger>, StartError> {
    let now = crate::clock::unix_secs_i64();
    let ledger = crate::derive::ledger::SharedLedger::new(&config.usage, now);
    let mut records = Vec::new();
    let ranges = ledger.lock().live_ranges(now);
    for (from, to) in ranges {
        let rows = file
            .usage_range(&from, &to, crate::state::usage::MAX_READ_ROWS)
            .map_err(|e| e.at_start(file.path()))?;
        records.extend(rows);
    }
    let bad = ledger.lock().restore(&records, now);
    if bad > 0 {
        tracing::warn!(file = %file.path().display(), bad, "unreadable usage rows skipped");
    }
    Ok(Arc::new(ledger))
}
