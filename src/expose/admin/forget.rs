//! `POST /api/v1/admin/budgets/{name}/forget`: deletes the orphaned spend records of a budget that
//! is not in the config (see `derive::budget::orphans`). Spend outlives config edits by design, so
//! erasing it is an explicit, audited decision, answered once the deletion is on disk.

use super::{count, Admin, HttpState};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct ForgetJson {
    result: &'static str,
    budget: String,
    forgotten: Vec<Forgotten>,
}

#[derive(Serialize)]
struct Forgotten {
    group: Vec<String>,
    period: String,
    timezone: String,
    spend_usd: f64,
    spend_nanos: u64,
}

pub(super) async fn forget(
    State(st): State<HttpState>,
    Admin(who): Admin,
    ConnectInfo(peer): ConnectInfo<crate::tls::serve::Peer>,
    Path(name): Path<String>,
) -> Response {
    let budgets = st.pipeline.budgets();
    if !budgets.has_orphans(&name) {
        let (status, msg) = if budgets.is_configured(&name) {
            (
                StatusCode::CONFLICT,
                format!(
                    "budget {name:?} is in the config and has no orphaned records; to zero its \
                     spend use POST /api/v1/admin/budgets/{name}/reset"
                ),
            )
        } else {
            (
                StatusCode::NOT_FOUND,
                format!("no orphaned records of a budget named {name:?}"),
            )
        };
        count(&st, "budget_forget", "refused");
        return (status, format!("{msg}\n")).into_response();
    }
    let gone = st.pipeline.forget_budget(&name);
    let forgotten: Vec<Forgotten> = gone
        .iter()
        .map(|(s, spend)| Forgotten {
            group: s.group.clone(),
            period: s.period.clone(),
            timezone: s.timezone.clone(),
            spend_usd: *spend as f64 / 1e9,
            spend_nanos: *spend,
        })
        .collect();
    let total: u64 = gone.iter().fold(0u64, |a, (_, n)| a.saturating_add(*n));
    let groups: BTreeMap<String, u64> = gone
        .iter()
        .map(|(s, n)| (format!("{:?} {}", s.group, s.period), *n))
        .collect();
    // Answer only once the deletion is on disk: a crash right after must not bring it back.
    if let Err(e) = st.pipeline.durable().await {
        tracing::error!(
            target: "meterd::audit",
            action = "budget_forget",
            who = %who,
            peer = %peer,
            budget = %name,
            error = %e.0,
            "admin action applied in memory but not persisted"
        );
        count(&st, "budget_forget", "not_durable");
        let msg = format!("forget applied but not yet persisted ({}); retry\n", e.0);
        return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    }
    tracing::info!(
        target: "meterd::audit",
        action = "budget_forget",
        who = %who,
        peer = %peer,
        budget = %name,
        records = ?groups,
        forgotten_spend_usd = total as f64 / 1e9,
        "admin action"
    );
    count(&st, "budget_forget", "forgotten");
    Json(ForgetJson {
        result: "forgotten",
        budget: name,
        forgotten,
    })
    .into_response()
}
