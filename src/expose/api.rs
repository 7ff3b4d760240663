//! The budget API (JSON):
//! - `GET /api/v1/budgets`: every budget (and group) with limit, spend, remaining, utilization,
//!   forecast, status (`ok`, `warning`, `critical`, `exceeded`), period bounds and the spend's
//!   source (`local`: this agent's own count; `fleet`: a fresh fleet-wide figure from the query
//!   API, used when larger);
//! - `GET /api/v1/budgets/check?team=search&model=gpt-4o`: the budgets a call with these labels
//!   would count toward, and `allowed: false` (with reasons) once any is at or over its limit.
//!   Only scope labels, `provider` and `model` are accepted: any other parameter (a typo such as
//!   `tem=search`) is a 400 listing the accepted names, never a silent `allowed: true`. A group
//!   past a budget's `max_groups` is answered for itself at zero spend (`untracked: true`);
//!   `_overflow`'s spend never refuses a caller.
//!
//! `GET /api/v1/budgets` also lists `orphaned` spend: saved records of budgets the config does not
//! have (any more), kept until their period ends, the budget returns, or an admin forgets them.
//! Each budget says where it comes from (`origin`: `config` or `api`); API budgets that do not run
//! (shadowed by a config budget of the same name, or no longer compiling) are listed under
//! `api_budgets_not_running` with their problems.
//!
//! The check reads the in-memory engine under a read lock: no I/O, no await, a handful of small
//! allocations; apps can afford to ask before every model call.

use super::server::HttpState;
use crate::derive::budget::engine::Status;
use crate::derive::budget::BudgetDef;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
    /// `config` (the config file) or `api` (created over the admin API).
    pub origin: &'static str,
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
    /// Checks only: a group past `max_groups`, whose own spend is not tracked (see module docs).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub untracked: bool,
    /// `group_by` labels the call (or the spend) did not carry: such calls share one group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_group_labels: Vec<String>,
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
        // API budgets compile with their matchers as part of their shape; config budgets never.
        origin: if def.shape_match.is_some() {
            "api"
        } else {
            "config"
        },
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
        untracked: st.untracked,
        missing_group_labels: st
            .group
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(k, _)| k.to_string())
            .collect(),
    }
}

fn thresholds(def: &BudgetDef) -> Vec<f64> {
    def.thresholds_ppm
        .iter()
        .map(|t| *t as f64 / crate::derive::budget::PPM as f64)
        .collect()
}

fn now() -> i64 {
    crate::clock::unix_secs_i64()
}

#[derive(Serialize)]
pub struct ListJson {
    pub budgets: Vec<BudgetJson>,
    pub orphaned: Vec<OrphanJson>,
    /// API budgets that do not run: `shadowed` (the config defines the name) or `invalid`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_budgets_not_running: Vec<NotRunningJson>,
}

#[derive(Serialize)]
pub struct NotRunningJson {
    pub name: String,
    pub state: &'static str,
    pub problems: Vec<crate::derive::budget::api::FieldError>,
}

/// Saved spend of a budget not in the config (see `derive::budget::orphans`).
#[derive(Serialize)]
pub struct OrphanJson {
    pub name: String,
    pub group: Vec<String>,
    pub period: String,
    pub timezone: String,
    pub spend_usd: f64,
    pub spend_nanos: u64,
    /// Start of the period the spend belongs to (calendar periods).
    pub period_start: Option<String>,
    /// An API budget's matchers when the spend was counted (they are part of its shape).
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub matchers: Option<serde_json::Value>,
}

async fn list(State(st): State<HttpState>) -> Json<ListJson> {
    Json(budget_list(&st.pipeline, now()))
}

/// What `GET /api/v1/budgets` answers (the status page shows the same).
pub fn budget_list(pipeline: &crate::pipeline::Pipeline, now: i64) -> ListJson {
    let mut budgets = Vec::new();
    for (def, instances) in pipeline.budgets().statuses(now) {
        if instances.is_empty() {
            budgets.push(unspent_grouped_budget(&def, now));
        }
        budgets.extend(instances.iter().map(to_json));
    }
    let orphaned = pipeline
        .budgets()
        .orphans(now)
        .into_iter()
        .map(|(s, spend)| OrphanJson {
            period_start: (s.buckets.is_empty() && s.period != "total").then(|| rfc3339(s.start)),
            matchers: s
                .matchers
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            name: s.budget,
            group: s.group,
            period: s.period,
            timezone: s.timezone,
            spend_usd: spend as f64 / NANOS,
            spend_nanos: spend,
        })
        .collect();
    use crate::derive::budget::api::State;
    let api_budgets_not_running = pipeline
        .api_budgets()
        .entries
        .iter()
        .filter(|(_, (_, state))| *state != State::Active)
        .map(|(name, (_, state))| NotRunningJson {
            name: name.clone(),
            state: state.as_str(),
            problems: match state {
                State::Invalid(p) => p.clone(),
                _ => Vec::new(),
            },
        })
        .collect();
    ListJson {
        budgets,
        orphaned,
        api_budgets_not_running,
    }
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

#[derive(Serialize)]
pub struct BadCheckJson {
    pub error: String,
    pub unknown: Vec<String>,
    pub accepted: Vec<String>,
}

/// The parameters a check understands: what budget matchers and `group_by` may name.
fn unknown_params(labels: &[(String, String)], scope_labels: &[String]) -> Vec<String> {
    let known = |k: &str| k == "provider" || k == "model" || scope_labels.iter().any(|s| s == k);
    let mut unknown: Vec<String> = labels
        .iter()
        .filter(|(k, _)| !known(k))
        .map(|(k, _)| k.clone())
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
}

async fn check(
    State(st): State<HttpState>,
    Query(labels): Query<Vec<(String, String)>>,
) -> Response {
    let config = st.pipeline.snapshot().config.clone();
    let unknown = unknown_params(&labels, &config.scope_labels);
    let mut repeated: Vec<&str> = labels
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| labels[..*i].iter().any(|(o, _)| o == k))
        .map(|(_, (k, _))| k.as_str())
        .collect();
    repeated.sort_unstable();
    repeated.dedup();
    if !unknown.is_empty() || !repeated.is_empty() {
        let mut accepted: Vec<String> = config.scope_labels.clone();
        accepted.extend(["provider".to_string(), "model".to_string()]);
        accepted.sort();
        accepted.dedup();
        let error = if unknown.is_empty() {
            format!("parameters given more than once: {repeated:?} (a call has one value each)")
        } else {
            format!(
                "unknown parameters {unknown:?}: a check accepts the scope labels, provider and \
                 model ({accepted:?}); an unknown name would match no budget and allow the call"
            )
        };
        let body = BadCheckJson {
            error,
            unknown,
            accepted,
        };
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
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
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::unknown_params;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Regression: `?tem=walk` (a typo of `team`) answered `allowed: true`.
    #[test]
    fn a_typo_is_unknown_and_scope_labels_provider_model_are_not() {
        let scope = vec!["team".to_string(), "env".to_string()];
        assert_eq!(unknown_params(&q(&[("tem", "walk")]), &scope), vec!["tem"]);
        let ok = q(&[
            ("team", "a"),
            ("env", "p"),
            ("provider", "x"),
            ("model", "m"),
        ]);
        assert!(unknown_params(&ok, &scope).is_empty());
        assert_eq!(
            unknown_params(&q(&[("zz", "1"), ("aa", "2"), ("zz", "3")]), &scope),
            vec!["aa", "zz"]
        );
    }
}
