//! The budget API (JSON):
//! - `GET /api/v1/budgets`: every budget (and group) with limit, spend, remaining, utilization,
//!   forecast, status (`ok`, `warning`, `critical`, `exceeded`), period bounds and the spend's
//!   source (`local`: this agent's own count; `fleet`: a fresh fleet-wide figure from the query
//!   API, used when larger);
//! - `GET /api/v1/budgets/check?team=search&model=gpt-4o`: the budgets a call with these labels
//!   would count toward, and `allowed: false` (with reasons) once any is at or over its limit.
//!
//! The check reads the in-memory engine under a read lock: no I/O, no await, a handful of small
//! allocations; apps can afford to ask before every model call.

use super::server::HttpState;
use crate::derive::budget::engine::Status;
use crate::derive::budget::BudgetDef;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/budgets", get(list))
        .route("/api/v1/budgets/check", get(check))
}

const NANOS: f64 = 1e9;

#[derive(Serialize)]
pub struct BudgetJson {
    pub name: String,
    /// Group labels of this instance; `null` for a grouped budget no group has spent in yet.
    pub group: Option<BTreeMap<String, String>>,
    pub period: &'static str,
    pub timezone: String,
    pub limit_usd: f64,
    pub spend_usd: f64,
    /// Exact spend in nano-USD (the USD figures are rounded floats).
    pub spend_nanos: u64,
    pub remaining_usd: f64,
    pub utilization: f64,
    pub forecast_usd: f64,
    pub status: &'static str,
    pub threshold_reached: Option<f64>,
    pub thresholds: Vec<f64>,
    pub period_start: String,
    pub period_end: Option<String>,
    /// `fleet` when a fresh fleet-wide figure (from `fleet_query`) is in use, else `local`.
    pub source: &'static str,
    /// This agent's own spend, and the fleet figure in use (the larger one counts).
    pub local_spend_usd: f64,
    pub fleet_spend_usd: Option<f64>,
    /// Why there is no fresh fleet figure (query API down, bad query), when one is configured.
    pub fleet_error: Option<String>,
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn to_json(st: &Status) -> BudgetJson {
    let def = &st.def;
    BudgetJson {
        name: def.name.to_string(),
        group: Some(
            st.group
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        period: def.period.as_str(),
        timezone: def.timezone_name.to_string(),
        limit_usd: def.limit_nanos as f64 / NANOS,
        spend_usd: st.spend as f64 / NANOS,
        spend_nanos: st.spend,
        remaining_usd: st.remaining() as f64 / NANOS,
        utilization: st.utilization(),
        forecast_usd: st.forecast as f64 / NANOS,
        status: st.level().as_str(),
        threshold_reached: st.threshold_reached(),
        thresholds: thresholds(def),
        period_start: rfc3339(st.start),
        period_end: st.end.map(rfc3339),
        source: if st.fleet_spend.is_some() {
            "fleet"
        } else {
            "local"
        },
        local_spend_usd: st.local_spend as f64 / NANOS,
        fleet_spend_usd: st.fleet_spend.map(|f| f as f64 / NANOS),
        fleet_error: st.fleet_error.as_deref().map(str::to_string),
    }
}

fn thresholds(def: &BudgetDef) -> Vec<f64> {
    def.thresholds_ppm
        .iter()
        .map(|t| *t as f64 / crate::derive::budget::PPM as f64)
        .collect()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[derive(Serialize)]
pub struct ListJson {
    pub budgets: Vec<BudgetJson>,
}

async fn list(State(st): State<HttpState>) -> Json<ListJson> {
    let now = now();
    let mut budgets = Vec::new();
    for (def, instances) in st.pipeline.budgets().statuses(now) {
        if instances.is_empty() {
            budgets.push(unspent_grouped_budget(&def, now));
        }
        budgets.extend(instances.iter().map(to_json));
    }
    Json(ListJson { budgets })
}

/// A grouped budget before any group spent: shown so the API lists every configured budget.
fn unspent_grouped_budget(def: &Arc<BudgetDef>, now: i64) -> BudgetJson {
    let mut j = to_json(&Status::zero(def, now));
    j.group = None;
    j
}

#[derive(Serialize)]
pub struct CheckJson {
    pub allowed: bool,
    pub budgets: Vec<BudgetJson>,
    pub reasons: Vec<String>,
}

async fn check(
    State(st): State<HttpState>,
    Query(labels): Query<Vec<(String, String)>>,
) -> Json<CheckJson> {
    let statuses = st.pipeline.budgets().check(&labels[..], now());
    let reasons: Vec<String> = statuses
        .iter()
        .filter(|s| s.denies())
        .map(|s| {
            let group: Vec<String> = s.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "budget {:?}{} has spent ${:.2} of ${:.2} ({}, {:.1}%)",
                &*s.def.name,
                if group.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", group.join(","))
                },
                s.spend as f64 / NANOS,
                s.def.limit_nanos as f64 / NANOS,
                s.def.period.as_str(),
                s.utilization() * 100.0
            )
        })
        .collect();
    Json(CheckJson {
        allowed: reasons.is_empty(),
        budgets: statuses.iter().map(to_json).collect(),
        reasons,
    })
}
