//! `PATCH /api/v1/admin/recommendations/{id}` with `{"status": "dismissed"}` (or `implemented`,
//! or `open` to undo either): stores the status with the recommendation's current saving, who
//! set it and when, and answers once that is on disk, so a restart keeps it. 404 for an id that
//! is not among the current recommendations, 400 for a bad body, 503 without a state file, 507
//! when `MAX_STATUSES` ids have a status already and this one has none.

use super::{count, Admin, HttpState};
use crate::derive::recommend::{self, Status, Stored};
use crate::state::recommendations::MAX_STATUSES;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    status: String,
}

const ACTION: &str = "recommendation_status";

pub(super) async fn patch(
    State(st): State<HttpState>,
    Admin(who): Admin,
    ConnectInfo(peer): ConnectInfo<crate::tls::serve::Peer>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let status = match serde_json::from_slice::<Body>(&body) {
        Ok(b) => Status::parse(&b.status).ok_or(format!(
            "status {:?} is not dismissed, implemented or open",
            b.status
        )),
        Err(e) => Err(format!(
            "body must be {{\"status\": \"dismissed\" | \"implemented\" | \"open\"}}: {e}"
        )),
    };
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            count(&st, ACTION, "bad_request");
            return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response();
        }
    };
    let Some(file) = st.state.clone() else {
        count(&st, ACTION, "no_state");
        let msg = "no state file: a status could not outlive a restart\n";
        return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    };
    let now = jiff::Timestamp::now().as_second();
    let recs = match crate::expose::recommendations::compute(&st, now).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    };
    let Some(rec) = recs.into_iter().find(|r| r.id == id) else {
        count(&st, ACTION, "not_found");
        let msg = format!("no current recommendation with id {id:?}\n");
        return (StatusCode::NOT_FOUND, msg).into_response();
    };
    if rec.stored.is_none() {
        let f = file.clone();
        let kept = tokio::task::spawn_blocking(move || f.recommendation_statuses())
            .await
            .map_err(|e| format!("status read task failed: {e}"))
            .and_then(|r| r);
        match kept {
            Ok(k) if k.len() >= MAX_STATUSES => {
                count(&st, ACTION, "too_many");
                let msg = format!("{MAX_STATUSES} statuses are stored already; none added\n");
                return (StatusCode::INSUFFICIENT_STORAGE, msg).into_response();
            }
            Ok(_) => {}
            Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        }
    }
    let stored = Stored {
        status,
        savings_femto: rec.monthly_savings_femto,
        who: who.clone(),
        at: now,
    };
    let (key, value) = (id.clone(), stored.encode());
    let written =
        tokio::task::spawn_blocking(move || file.commit_recommendation_status(&key, &value)).await;
    if let Err(e) = written
        .map_err(|e| format!("status write task failed: {e}"))
        .and_then(|r| r)
    {
        tracing::error!(target: "meterd::audit", action = ACTION, who = %who, peer = %peer,
            id = %id, error = %e, "admin action not persisted");
        count(&st, ACTION, "not_durable");
        let msg = format!("status not persisted ({e}); retry\n");
        return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    }
    tracing::info!(
        target: "meterd::audit",
        action = ACTION,
        who = %who,
        peer = %peer,
        id = %id,
        status = status.as_str(),
        savings_usd = %recommend::usd_signed(rec.monthly_savings_femto),
        "admin action"
    );
    count(&st, ACTION, status.as_str());
    let mut shown = rec;
    shown.status = status;
    shown.resurfaced = false;
    shown.stored = Some(stored);
    Json(recommend::to_json(&shown)).into_response()
}
