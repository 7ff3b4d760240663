//! `GET /api/v1/recommendations`: typed cost and quality recommendations from the usage ledger
//! over `recommendations.window` (see [`crate::derive::recommend`]), behind the same credentials
//! as every `/api/*` route. `?status=open` (default), `dismissed`, `implemented` or `all`;
//! anything else is a 400 naming it. Statuses are set by
//! `PATCH /api/v1/admin/recommendations/{id}` (see `admin::recommendations`).
//!
//! Quality, outcome and app-cache figures are the agent's counters since it started (they are
//! not in the ledger); spend and volume are the ledger's, over the window.

use super::server::HttpState;
use crate::derive::ledger::query::{Format, Query as LedgerQuery};
use crate::derive::ledger::row::Gran;
use crate::derive::recommend::{self, AppCache, Recommendation, Settings, Status, Stored};
use crate::derive::whatif::Quality;
use crate::store::Store;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::collections::BTreeMap;

pub fn routes() -> Router<HttpState> {
    Router::new().route("/api/v1/recommendations", get(list))
}

/// Quality and outcome rates per model from the store's counters (what `meterd report --url`
/// reads from `/metrics`).
pub fn quality(store: &Store) -> BTreeMap<String, Quality> {
    let mut out: BTreeMap<String, Quality> = BTreeMap::new();
    for (l, v) in store.family_values("llm_quality_grade") {
        let q = out
            .entry(l.get("model").unwrap_or_default().to_string())
            .or_default();
        q.graded += v;
        match l.get("grade") {
            Some("good" | "excellent") => q.good += v,
            Some("poor") => q.poor += v,
            _ => {}
        }
    }
    for (l, v) in store.family_values("llm_outcomes") {
        let q = out
            .entry(l.get("model").unwrap_or_default().to_string())
            .or_default();
        q.outcomes += v;
        if l.get("outcome") == Some("accepted") {
            q.accepted += v;
        }
    }
    out
}

/// Hits and misses per app cache (`llm_cache_requests_total{cache,result}`, summed over scope).
pub fn caches(store: &Store) -> Vec<AppCache> {
    let mut by: BTreeMap<String, AppCache> = BTreeMap::new();
    for (l, v) in store.family_values("llm_cache_requests") {
        let name = l.get("cache").unwrap_or_default().to_string();
        let c = by.entry(name.clone()).or_insert_with(|| AppCache {
            cache: name,
            ..Default::default()
        });
        match l.get("result") {
            Some("hit") => c.hits += v,
            Some("miss") => c.misses += v,
            _ => {}
        }
    }
    by.into_values().collect()
}

/// Stored statuses by id; undecodable records are logged and left out.
pub async fn statuses(st: &HttpState) -> Result<BTreeMap<String, Stored>, String> {
    let Some(file) = st.state.clone() else {
        return Ok(BTreeMap::new());
    };
    let records = tokio::task::spawn_blocking(move || file.recommendation_statuses())
        .await
        .map_err(|e| format!("status read task failed: {e}"))??;
    let mut out = BTreeMap::new();
    for (id, v) in records {
        match Stored::decode(&v) {
            Ok(s) => {
                out.insert(id, s);
            }
            Err(e) => tracing::warn!(id = %id, error = %e, "unreadable recommendation status"),
        }
    }
    Ok(out)
}

/// The current recommendations (every status), or why they cannot be computed.
pub async fn compute(st: &HttpState, now: i64) -> Result<Vec<Recommendation>, String> {
    let snapshot = st.pipeline.snapshot();
    let settings = Settings::new(&snapshot.config.recommendations);
    let tz = st.pipeline.ledger().settings().timezone;
    let budgets: Vec<_> = st
        .pipeline
        .budgets()
        .statuses(now)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    let q = LedgerQuery {
        from: recommend::rows_from(&tz, &budgets, now, &settings),
        to: now + 1,
        gran: Gran::Hour,
        group_by: Vec::new(),
        filters: Vec::new(),
        format: Format::Json,
    };
    let (rows, bad) = super::usage::read_rows(st, &q).await?;
    if bad > 0 {
        tracing::warn!(bad, "unreadable usage rows left out of the recommendations");
    }
    let statuses = statuses(st).await?;
    let quality = quality(st.pipeline.store());
    let caches = caches(st.pipeline.store());
    Ok(recommend::recommend(&recommend::Input {
        rows: &rows,
        tz: &tz,
        now,
        pricing: snapshot.deriver.pricing().map(|p| &**p),
        quality: &quality,
        caches: &caches,
        budgets: &budgets,
        settings: &settings,
        statuses: &statuses,
    }))
}

fn bad_request(error: String, unknown: Vec<String>) -> Response {
    let body = json!({"error": error, "unknown": unknown, "accepted": ["status"]});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn list(
    State(st): State<HttpState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let mut want: Option<Status> = Some(Status::Open);
    let unknown: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "status")
        .map(|(k, _)| k.clone())
        .collect();
    if !unknown.is_empty() {
        return bad_request(format!("unknown parameters {unknown:?}"), unknown);
    }
    if let Some((_, v)) = params.iter().find(|(k, _)| k == "status") {
        want = match v.as_str() {
            "all" => None,
            s => match Status::parse(s) {
                Some(s) => Some(s),
                None => {
                    return bad_request(
                        format!("status {s:?} is not open, dismissed, implemented or all"),
                        Vec::new(),
                    )
                }
            },
        };
    }
    if !st.pipeline.snapshot().config.recommendations.enabled {
        let body = json!({"error": "recommendations are disabled (recommendations.enabled)"});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    let now = jiff::Timestamp::now().as_second();
    let recs = match compute(&st, now).await {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": e }))).into_response()
        }
    };
    let mut counts = BTreeMap::new();
    for r in &recs {
        *counts.entry(r.status.as_str()).or_insert(0u64) += 1;
    }
    let shown: Vec<_> = recs
        .iter()
        .filter(|r| want.is_none_or(|w| r.status == w))
        .map(recommend::to_json)
        .collect();
    let total: i128 = recs
        .iter()
        .filter(|r| want.is_none_or(|w| r.status == w))
        .fold(0i128, |a, r| {
            a.saturating_add(r.monthly_savings_femto.max(0))
        });
    Json(json!({
        "generated_at": jiff::Timestamp::from_second(now).map(|t| t.to_string()).unwrap_or_default(),
        "status": want.map_or("all", Status::as_str),
        "counts": counts,
        "total_estimated_monthly_savings_usd": recommend::usd_signed_f64(total),
        "total_estimated_monthly_savings_usd_exact": recommend::usd_signed(total),
        "recommendations": shown,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Sample, SampleValue};

    fn add(store: &Store, name: &str, labels: &[(&str, &str)], v: f64) {
        let s = Sample::new(
            name,
            Labels::new(labels.iter().copied()),
            SampleValue::CounterAdd(v),
        );
        let applied = store.apply(&s);
        assert!(applied.is_ok(), "{name}: {applied:?}");
    }

    #[test]
    fn quality_and_cache_figures_come_from_the_stored_families() {
        let store = Store::default();
        let m = ("model", "gpt-4o");
        let grade = "llm_quality_grade";
        add(&store, grade, &[m, ("grade", "good"), ("team", "a")], 3.0);
        add(&store, grade, &[m, ("grade", "good"), ("team", "b")], 1.0);
        add(
            &store,
            grade,
            &[m, ("grade", "excellent"), ("team", "a")],
            1.0,
        );
        add(&store, grade, &[m, ("grade", "poor"), ("team", "a")], 2.0);
        add(&store, grade, &[m, ("grade", "fair"), ("team", "b")], 1.0);
        add(&store, "llm_outcomes", &[m, ("outcome", "accepted")], 3.0);
        add(&store, "llm_outcomes", &[m, ("outcome", "edited")], 1.0);
        // Another model's figures stay its own.
        let mini = ("model", "gpt-4o-mini");
        add(
            &store,
            "llm_outcomes",
            &[mini, ("outcome", "accepted")],
            7.0,
        );
        let cache = "llm_cache_requests";
        add(
            &store,
            cache,
            &[("cache", "semantic"), ("result", "hit")],
            2.0,
        );
        add(
            &store,
            cache,
            &[("cache", "semantic"), ("result", "miss")],
            8.0,
        );
        let q = quality(&store);
        assert_eq!(q["gpt-4o-mini"].accepted, 7.0);
        let g = &q["gpt-4o"];
        assert_eq!(
            (g.graded, g.good, g.poor, g.outcomes, g.accepted),
            (8.0, 5.0, 2.0, 4.0, 3.0)
        );
        assert_eq!(
            caches(&store),
            [AppCache {
                cache: "semantic".into(),
                hits: 2.0,
                misses: 8.0
            }]
        );
    }
}
