//! Budgets over the admin API (issue #26), the HTTP edge of `pipeline::api_budgets`:
//! - `POST /api/v1/admin/budgets`: create (201, `ETag`); 400 with every field error; 409 when
//!   the name is taken (by the config file, which is authoritative, or by an API budget);
//! - `GET /api/v1/admin/budgets`: every API budget with its definition, version and state;
//! - `GET /api/v1/admin/budgets/{name}`: one budget's definition (an API budget with `ETag`, for
//!   read-modify-write; a config budget read-only, `origin: config`);
//! - `PUT /api/v1/admin/budgets/{name}`: replace the definition (200, new `ETag`);
//! - `DELETE /api/v1/admin/budgets/{name}`: remove it (200 with what was removed); its spend stays
//!   as orphaned records.
//!
//! `If-Match` on PUT and DELETE: `"<version>"` or `*`; another version answers 412 with the
//! current one. Without `If-Match` the change applies to whatever version is current. Bodies
//! over 64 KiB answer 413. Every change is audited (`meterd::audit`) and counted
//! (`meterd_admin_actions_total{action="budget_create|budget_update|budget_delete",result}`).

use super::{count, Admin, HttpState};
use crate::derive::budget::api::{self, FieldError, State, Stored};
use crate::pipeline::api_budgets::{Applied, Refused};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State as Ax};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

pub(super) fn routes() -> Router<HttpState> {
    let limit = DefaultBodyLimit::max(api::MAX_BODY_BYTES);
    Router::new()
        .route("/api/v1/admin/budgets", get(list).post(create).layer(limit))
        .route(
            "/api/v1/admin/budgets/{name}",
            get(one).put(update).delete(delete).layer(limit),
        )
}

/// One budget definition as the admin API shows it.
#[derive(Serialize)]
pub struct DefinitionJson {
    pub name: String,
    /// `api` or `config` (read-only here: edit the file).
    pub origin: &'static str,
    /// API budgets: `active`, `shadowed` (the config defines the name) or `invalid`.
    pub state: &'static str,
    pub version: Option<u64>,
    pub definition: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// Why an invalid stored definition does not run, by field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<FieldError>,
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn api_json(name: &str, stored: &Stored, state: &State) -> DefinitionJson {
    DefinitionJson {
        name: name.into(),
        origin: "api",
        state: state.as_str(),
        version: Some(stored.version),
        definition: stored.definition.clone(),
        created_at: Some(rfc3339(stored.created_at)),
        created_by: Some(stored.created_by.clone()),
        updated_at: Some(rfc3339(stored.updated_at)),
        updated_by: Some(stored.updated_by.clone()),
        problems: match state {
            State::Invalid(p) => p.clone(),
            _ => Vec::new(),
        },
    }
}

#[derive(Serialize)]
struct ErrorJson {
    error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<u64>,
}

fn error(status: StatusCode, msg: String) -> Response {
    let body = ErrorJson {
        error: msg,
        errors: Vec::new(),
        current_version: None,
    };
    (status, Json(body)).into_response()
}

fn with_etag(mut resp: Response, version: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&api::etag(version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

async fn list(Ax(st): Ax<HttpState>, _: Admin) -> Response {
    let view = st.pipeline.api_budgets();
    let budgets: Vec<DefinitionJson> = view
        .entries
        .iter()
        .map(|(name, (stored, state))| api_json(name, stored, state))
        .collect();
    Json(serde_json::json!({ "budgets": budgets })).into_response()
}

async fn one(Ax(st): Ax<HttpState>, _: Admin, Path(name): Path<String>) -> Response {
    let config = st.pipeline.snapshot().config.clone();
    if let Some(b) = config.budgets.iter().find(|b| b.name == name) {
        let body = DefinitionJson {
            name,
            origin: "config",
            state: "active",
            version: None,
            definition: serde_json::to_value(b).unwrap_or(Value::Null),
            created_at: None,
            created_by: None,
            updated_at: None,
            updated_by: None,
            problems: Vec::new(),
        };
        return Json(body).into_response();
    }
    let view = st.pipeline.api_budgets();
    match view.entries.get(&name) {
        Some((stored, state)) => with_etag(
            Json(api_json(&name, stored, state)).into_response(),
            stored.version,
        ),
        None => error(StatusCode::NOT_FOUND, format!("no budget named {name:?}")),
    }
}

/// The JSON body, or the 400 to send (bodies over the limit are refused with 413 before this).
fn parse_body(body: &[u8]) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        ))
    })
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    // A header that is not visible ASCII matches no version (412), never "no header".
    headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or("\u{0}").to_string())
}

/// Who asked, from where, for the audit log.
struct Caller {
    who: String,
    peer: crate::tls::serve::Peer,
}

async fn create(
    Ax(st): Ax<HttpState>,
    Admin(who): Admin,
    ConnectInfo(peer): ConnectInfo<crate::tls::serve::Peer>,
    body: axum::body::Bytes,
) -> Response {
    let caller = Caller { who, peer };
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return refused(&st, &caller, "budget_create", "?", *r, "invalid"),
    };
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let (pipeline, file, w) = (st.pipeline.clone(), st.state.clone(), caller.who.clone());
    let result = tokio::task::spawn_blocking(move || {
        pipeline.api_budget_create(&value, &w, file.as_deref())
    })
    .await;
    finish(&st, &caller, "budget_create", &name, result)
}

async fn update(
    Ax(st): Ax<HttpState>,
    Admin(who): Admin,
    ConnectInfo(peer): ConnectInfo<crate::tls::serve::Peer>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let caller = Caller { who, peer };
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return refused(&st, &caller, "budget_update", &name, *r, "invalid"),
    };
    let tag = if_match(&headers);
    let (pipeline, file, w, n) = (
        st.pipeline.clone(),
        st.state.clone(),
        caller.who.clone(),
        name.clone(),
    );
    let result = tokio::task::spawn_blocking(move || {
        pipeline.api_budget_update(&n, &value, tag.as_deref(), &w, file.as_deref())
    })
    .await;
    finish(&st, &caller, "budget_update", &name, result)
}

async fn delete(
    Ax(st): Ax<HttpState>,
    Admin(who): Admin,
    ConnectInfo(peer): ConnectInfo<crate::tls::serve::Peer>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = Caller { who, peer };
    let tag = if_match(&headers);
    let (pipeline, file, n) = (st.pipeline.clone(), st.state.clone(), name.clone());
    let result = tokio::task::spawn_blocking(move || {
        pipeline.api_budget_delete(&n, tag.as_deref(), file.as_deref())
    })
    .await;
    finish(&st, &caller, "budget_delete", &name, result)
}

/// Logs and counts a refusal, and passes its response on.
fn refused(
    st: &HttpState,
    caller: &Caller,
    action: &'static str,
    name: &str,
    resp: Response,
    result: &'static str,
) -> Response {
    tracing::info!(
        target: "meterd::audit",
        action,
        who = %caller.who,
        peer = %caller.peer,
        budget = %name,
        result,
        status = resp.status().as_u16(),
        "admin action refused"
    );
    count(st, action, result);
    resp
}

fn finish(
    st: &HttpState,
    caller: &Caller,
    action: &'static str,
    name: &str,
    result: Result<Result<Applied, Refused>, tokio::task::JoinError>,
) -> Response {
    let applied = match result {
        Ok(Ok(a)) => a,
        Ok(Err(r)) => {
            let (resp, result) = refusal(st, name, r);
            return refused(st, caller, action, name, resp, result);
        }
        Err(e) => {
            let resp = error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("budget change task failed: {e}"),
            );
            return refused(st, caller, action, name, resp, "failed");
        }
    };
    let (status, result) = match action {
        "budget_create" => (StatusCode::CREATED, "created"),
        "budget_update" => (StatusCode::OK, "updated"),
        _ => (StatusCode::OK, "deleted"),
    };
    // "-" for none: before a create, after a delete.
    let version = |s: &Option<Stored>| s.as_ref().map_or("-".into(), |s| s.version.to_string());
    tracing::info!(
        target: "meterd::audit",
        action,
        who = %caller.who,
        peer = %caller.peer,
        budget = %name,
        result,
        version_before = %version(&applied.before),
        version = %version(&applied.now),
        definition_before = %applied.before.as_ref().map(|s| s.definition.to_string()).unwrap_or_default(),
        definition = %applied.now.as_ref().map(|s| s.definition.to_string()).unwrap_or_default(),
        "admin action"
    );
    count(st, action, result);
    let view = st.pipeline.api_budgets();
    let shown = applied.now.as_ref().or(applied.before.as_ref());
    let Some(stored) = shown else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "nothing applied".into());
    };
    let state = match (&applied.now, view.entries.get(name)) {
        (None, _) => "deleted",
        (Some(_), Some((_, s))) => s.as_str(),
        (Some(_), None) => "active",
    };
    let mut body = api_json(name, stored, &State::Active);
    body.state = state;
    let mut resp = (status, Json(body)).into_response();
    if status == StatusCode::CREATED {
        // Names are path-safe (checked), so the URL needs no escaping.
        if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/admin/budgets/{name}")) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    match &applied.now {
        Some(now) => with_etag(resp, now.version),
        None => resp,
    }
}

/// The response (and counted result) for a refused change.
fn refusal(st: &HttpState, name: &str, r: Refused) -> (Response, &'static str) {
    match r {
        Refused::Invalid(errors) => {
            let body = ErrorJson {
                error: format!(
                    "the budget definition has {} problem(s); nothing was changed",
                    errors.len()
                ),
                errors,
                current_version: None,
            };
            (
                (StatusCode::BAD_REQUEST, Json(body)).into_response(),
                "invalid",
            )
        }
        Refused::ConfigOwned => {
            let file = st
                .reloader
                .as_ref()
                .and_then(|r| r.config_file())
                .unwrap_or_else(|| "the config file".into());
            let msg = format!(
                "budget {name:?} is defined in {file}, which is authoritative: the API cannot \
                 create, change or delete it; edit the file (or pick another name)"
            );
            (error(StatusCode::CONFLICT, msg), "conflict")
        }
        Refused::Exists(v) => {
            let msg = format!(
                "an API budget named {name:?} exists (version {v}); change it with PUT \
                 /api/v1/admin/budgets/{name}"
            );
            let resp = with_etag(error(StatusCode::CONFLICT, msg), v);
            (resp, "conflict")
        }
        Refused::NotFound => (
            error(
                StatusCode::NOT_FOUND,
                format!("no API budget named {name:?}; create it with POST /api/v1/admin/budgets"),
            ),
            "not_found",
        ),
        Refused::Stale { current } => {
            let body = ErrorJson {
                error: format!(
                    "If-Match does not name the current version of {name:?} ({current}): it \
                     changed since you read it; GET it again and retry"
                ),
                errors: Vec::new(),
                current_version: Some(current),
            };
            let resp = (StatusCode::PRECONDITION_FAILED, Json(body)).into_response();
            (with_etag(resp, current), "stale")
        }
        Refused::TooMany => (
            error(
                StatusCode::CONFLICT,
                format!(
                    "at most {} API budgets; delete one first",
                    api::MAX_API_BUDGETS
                ),
            ),
            "too_many",
        ),
        Refused::NotDurable(e) => (
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the state file did not take the change ({e}); nothing was changed; retry"),
            ),
            "not_durable",
        ),
    }
}
