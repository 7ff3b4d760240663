//! Admin actions, off unless `admin.tokens` is set (the routes answer 404 until then):
//! - `POST /api/v1/admin/reload`: the same reload as SIGHUP; 200 `applied`, or 422 `rejected`
//!   with every config error (the running config stays);
//! - `POST /api/v1/admin/budgets/{name}/reset`: zeroes this agent's spend of a budget in its
//!   current period, for every group or, with a JSON body `{"group": {"team": "search"}}`, one;
//!   answered once the reset is on disk, so a restart does not bring the spend back;
//! - `POST /api/v1/admin/budgets/{name}/forget`: deletes the orphaned spend records of a budget
//!   no longer in the config ([`forget`]); 409 for a configured budget without orphans;
//! - `PATCH /api/v1/admin/recommendations/{id}`: a recommendation's status ([`recommendations`]).
//! - `POST /api/v1/admin/budgets`, `GET|PUT|DELETE /api/v1/admin/budgets/{name}`: budgets
//!   managed at run time ([`budgets`]).
//!
//! Each action needs `Authorization: Bearer <admin token>`: tokens are named, distinct from every
//! scrape and ingest credential (validated), compared in constant time, and every action is
//! logged (target `meterd::audit`) with the token's name and the client address, never the token.

use super::server::HttpState;
pub use crate::config::auth::{AdminConfig, AdminToken};
use crate::derive::budget::engine::ResetError;
use crate::net::auth::{constant_time_eq, header_value, unauthorized};
use crate::telemetry::catalogue;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every admin route starts with this (the scrape auth middleware leaves them to this module).
pub const PREFIX: &str = "/api/v1/admin/";

mod budgets;
mod forget;
mod recommendations;

impl AdminConfig {
    /// The name of the token `authorization` carries, if it is one of ours. Every token is
    /// compared (no early exit), so timing does not tell how close a guess came.
    fn who(&self, authorization: Option<&str>) -> Option<&str> {
        let value = authorization?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim().as_bytes();
        self.tokens.iter().fold(None, |found, t| {
            let hit = constant_time_eq(t.token.as_bytes(), token);
            if hit && found.is_none() {
                Some(t.name.as_str())
            } else {
                found
            }
        })
    }
}

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/admin/reload", post(reload))
        .route("/api/v1/admin/budgets/{name}/reset", post(reset))
        .route("/api/v1/admin/budgets/{name}/forget", post(forget::forget))
        .route(
            "/api/v1/admin/recommendations/{id}",
            axum::routing::patch(recommendations::patch),
        )
        .merge(budgets::routes())
}

/// An admin route's caller: the name of the admin token the request carries. As an extractor it
/// runs before the body is read, so a caller without a token is refused before it can make the
/// agent read (and parse) anything.
pub(super) struct Admin(pub String);

impl axum::extract::FromRequestParts<HttpState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &HttpState,
    ) -> Result<Admin, Response> {
        authorize(st, &parts.headers).map(Admin).map_err(|r| *r)
    }
}

/// The caller's token name, or the response to send instead: 404 while admin is off (the
/// feature does not exist until configured), 401 for a missing or wrong token.
fn authorize(st: &HttpState, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let config = st.pipeline.snapshot().config.clone();
    if config.admin.tokens.is_empty() {
        return Err(Box::new(
            (StatusCode::NOT_FOUND, "not found\n").into_response(),
        ));
    }
    match config.admin.who(header_value(headers)) {
        Some(name) => Ok(name.to_string()),
        None => {
            crate::telemetry::count(
                st.pipeline.store(),
                &catalogue::ADMIN_UNAUTHORIZED,
                &[],
                1.0,
            );
            Err(Box::new(unauthorized()))
        }
    }
}

/// Counts one admin action by outcome (the audit log has the details).
fn count(st: &HttpState, action: &'static str, result: &'static str) {
    crate::telemetry::count(
        st.pipeline.store(),
        &catalogue::ADMIN_ACTIONS,
        &[("action", action), ("result", result)],
        1.0,
    );
}

#[derive(Serialize)]
struct ReloadJson {
    result: &'static str,
    errors: Vec<String>,
}

async fn reload(
    State(st): State<HttpState>,
    Admin(who): Admin,
    ConnectInfo(peer): ConnectInfo<crate::tls::serve::Peer>,
) -> Response {
    let Some(reloader) = st.reloader.clone() else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    // Reading and parsing files is blocking work.
    let outcome = tokio::task::spawn_blocking(move || reloader.reload()).await;
    let (status, body) = match outcome {
        Ok(Ok(())) => (
            StatusCode::OK,
            ReloadJson {
                result: "applied",
                errors: Vec::new(),
            },
        ),
        Ok(Err(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ReloadJson {
                result: "rejected",
                errors: e.0.iter().map(ToString::to_string).collect(),
            },
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ReloadJson {
                result: "failed",
                errors: vec![format!("reload task failed: {e}")],
            },
        ),
    };
    tracing::info!(
        target: "meterd::audit",
        action = "reload",
        who = %who,
        peer = %peer,
        result = body.result,
        "admin action"
    );
    count(&st, "reload", body.result);
    (status, Json(body)).into_response()
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ResetBody {
    group: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct ResetJson {
    result: &'static str,
    budget: String,
    /// Each instance reset: its group labels and the spend it had.
    reset: Vec<ResetInstance>,
}

#[derive(Serialize)]
struct ResetInstance {
    group: BTreeMap<String, String>,
    previous_spend_usd: f64,
}

async fn reset(
    State(st): State<HttpState>,
    Admin(who): Admin,
    ConnectInfo(peer): ConnectInfo<crate::tls::serve::Peer>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let parsed: Result<ResetBody, _> = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(ResetBody::default())
    } else {
        serde_json::from_slice(&body)
    };
    let group: Option<Vec<(String, String)>> = match parsed {
        Ok(b) => b.group.map(|g| g.into_iter().collect()),
        Err(e) => {
            let msg = format!("body must be empty or {{\"group\": {{label: value}}}}: {e}\n");
            return (StatusCode::BAD_REQUEST, msg).into_response();
        }
    };
    let result = st.pipeline.reset_budget(&name, group.as_deref());
    let reset = match result {
        Ok(r) => r,
        Err(e) => {
            let (status, msg) = match e {
                ResetError::NoBudget => {
                    (StatusCode::NOT_FOUND, format!("no budget named {name:?}"))
                }
                ResetError::NoGroup => (
                    StatusCode::NOT_FOUND,
                    format!("budget {name:?} has no such group in memory"),
                ),
                ResetError::BadGroup(m) => (StatusCode::BAD_REQUEST, m),
            };
            return (status, format!("{msg}\n")).into_response();
        }
    };
    let instances: Vec<ResetInstance> = reset
        .iter()
        .map(|(s, before)| ResetInstance {
            group: s
                .group
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            previous_spend_usd: *before as f64 / 1e9,
        })
        .collect();
    let groups: Vec<String> = instances.iter().map(|i| format!("{:?}", i.group)).collect();
    let previous: f64 = instances.iter().map(|i| i.previous_spend_usd).sum();
    // Answer only once the reset is on disk: "done" must survive a crash right after.
    if let Err(e) = st.pipeline.durable().await {
        tracing::error!(
            target: "meterd::audit",
            action = "budget_reset",
            who = %who,
            peer = %peer,
            budget = %name,
            error = %e.0,
            "admin action applied in memory but not persisted"
        );
        count(&st, "budget_reset", "not_durable");
        let msg = format!("reset applied but not yet persisted ({}); retry\n", e.0);
        return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    }
    tracing::info!(
        target: "meterd::audit",
        action = "budget_reset",
        who = %who,
        peer = %peer,
        budget = %name,
        groups = %groups.join(" "),
        previous_spend_usd = previous,
        "admin action"
    );
    count(&st, "budget_reset", "reset");
    Json(ResetJson {
        result: "reset",
        budget: name,
        reset: instances,
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::auth::AuthConfig;
    use crate::config::Issues;

    fn token(name: &str, token: &str) -> AdminToken {
        AdminToken {
            name: name.into(),
            token: token.into(),
        }
    }

    #[test]
    fn tokens_shared_with_scrape_or_ingest_are_rejected_without_echoing_them() {
        let admin = AdminConfig {
            tokens: vec![
                token("ops", "shared-secret-0123456789"),
                token("ops", "short"),
                token("ci", "ingest-secret-0123456789"),
            ],
        };
        let scrape = AuthConfig {
            bearer_tokens: vec!["shared-secret-0123456789".into()],
            ..Default::default()
        };
        let ingest = AuthConfig {
            basic: vec![crate::config::auth::BasicCredential {
                username: "app".into(),
                password: "ingest-secret-0123456789".into(),
            }],
            ..Default::default()
        };
        let mut issues = Issues::default();
        admin.validate_against(
            "admin",
            &[("http_auth".into(), &scrape), ("otlp.auth".into(), &ingest)],
            &mut issues,
        );
        let text = issues.to_string();
        assert!(
            text.contains("admin.tokens[0].token: is also used as http_auth.bearer_tokens[0]"),
            "{text}"
        );
        assert!(
            text.contains("admin.tokens[1].name: duplicate name"),
            "{text}"
        );
        assert!(
            text.contains("admin.tokens[1].token: must be at least"),
            "{text}"
        );
        assert!(
            text.contains("admin.tokens[2].token: is also used as otlp.auth.basic[0].password"),
            "{text}"
        );
        assert!(!text.contains("secret-0123456789"), "{text}");
    }

    #[test]
    fn who_names_the_matching_token_only() {
        let admin = AdminConfig {
            tokens: vec![
                token("alice", "alice-token-0123456789"),
                token("bob", "bob-token-0123456789ab"),
            ],
        };
        assert_eq!(
            admin.who(Some("Bearer bob-token-0123456789ab")),
            Some("bob")
        );
        assert_eq!(
            admin.who(Some("bearer alice-token-0123456789")),
            Some("alice")
        );
        assert_eq!(admin.who(Some("Bearer alice-token-012345678")), None);
        assert_eq!(admin.who(Some("Basic YWxpY2U6eA==")), None);
        assert_eq!(admin.who(None), None);
        let shown = format!("{admin:?}");
        assert!(
            shown.contains("alice") && !shown.contains("alice-token"),
            "{shown}"
        );
    }
}
