//! `GET /api/v1/usage`: what was used and spent, from the usage ledger (see
//! [`crate::derive::ledger`]), behind the same credentials as every `/api/*` route.
//!
//! Parameters: `from`, `to` (`YYYY-MM-DD` local midnight in `usage.timezone`, RFC 3339, or Unix
//! seconds; default: this month so far), `group_by` (comma-separated: provider, model, day, hour,
//! any scope label; default `provider,model`), `format` (`json` default, `csv`: RFC 4180 with a
//! header row), and filters `<label>=<value>` on provider, model and scope labels. Anything else
//! is a 400 naming it.
//!
//! Past buckets are read from the state file (on the blocking pool), then the live buckets
//! from memory: a row the flusher is writing is in memory until the commit after it, so reading
//! in this order never misses one.

use super::server::HttpState;
use crate::derive::ledger::query::{self, Format};
use crate::derive::ledger::row::Totals;
use crate::derive::ledger::{decode_rows, Settings};
use crate::state::usage::MAX_READ_ROWS;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::collections::BTreeMap;

pub fn routes() -> Router<HttpState> {
    Router::new().route("/api/v1/usage", get(usage))
}

fn error(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

/// Rows of the query's buckets: the state file's, overridden by the live ones.
pub async fn read_rows(
    st: &HttpState,
    q: &query::Query,
) -> Result<(Vec<(crate::derive::ledger::row::Key, Totals)>, usize), String> {
    let (from, to) = q.range();
    let mut merged: BTreeMap<Vec<u8>, Totals> = BTreeMap::new();
    let mut bad = 0;
    if let Some(file) = st.state.clone() {
        let (f, t) = (from.clone(), to.clone());
        let read = tokio::task::spawn_blocking(move || file.usage_range(&f, &t, MAX_READ_ROWS))
            .await
            .map_err(|e| format!("usage read task failed: {e}"))??;
        if read.len() >= MAX_READ_ROWS {
            return Err(format!(
                "the range holds more than {MAX_READ_ROWS} rows; ask for a shorter one"
            ));
        }
        for (k, v) in read {
            match Totals::decode(&v) {
                Ok(t) => {
                    merged.insert(k, t);
                }
                Err(_) => bad += 1,
            }
        }
    }
    merged.extend(st.pipeline.ledger().lock().rows_in(&from, &to));
    let (rows, bad_keys) = decode_rows(merged.into_iter().collect());
    Ok((rows, bad + bad_keys))
}

async fn usage(
    State(st): State<HttpState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let config = st.pipeline.snapshot().config.clone();
    let Settings {
        timezone,
        timezone_name,
        ..
    } = st.pipeline.ledger().settings();
    let now = jiff::Timestamp::now().as_second();
    let q = match query::parse(&params, &config.scope_labels, &timezone, now) {
        Ok(q) => q,
        Err(b) => {
            return error(
                StatusCode::BAD_REQUEST,
                json!({"error": b.error, "unknown": b.unknown, "accepted": b.accepted}),
            )
        }
    };
    let (rows, bad) = match read_rows(&st, &q).await {
        Ok(r) => r,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, json!({ "error": e })),
    };
    if bad > 0 {
        tracing::warn!(bad, "unreadable usage rows left out of a usage query");
    }
    let groups = query::aggregate(&rows, &q, &timezone);
    match q.format {
        Format::Json => {
            let mut body = query::to_json(&q, &groups, &timezone_name, &timezone);
            body["unreadable_rows"] = json!(bad);
            Json(body).into_response()
        }
        Format::Csv => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/csv; charset=utf-8; header=present",
                ),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"meterd-usage.csv\"",
                ),
            ],
            query::to_csv(&q, &groups),
        )
            .into_response(),
    }
}
