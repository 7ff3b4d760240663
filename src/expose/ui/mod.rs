//! `GET /ui`: a status page for people: today's and this month's spend by team and by model,
//! budgets with status and forecast, unpriced models, the price table in force, and ingest
//! health. Server-rendered HTML with no script and no external asset (it works in an air-gapped
//! cluster), behind the same credentials as `/api/*`; `ui.enabled: false` answers 404.
//!
//! The figures come from the code the APIs use (the usage query, the budget list), so the page
//! and `/api/v1/usage` or `/api/v1/budgets` agree exactly. Every table is capped at
//! `ui.max_rows` rows, so the page stays small on an agent with thousands of series.
//!
//! - [`gather`] builds the view model ([`view`]); [`render`] (and `render_status`) turn it into
//!   HTML (pure).

pub mod gather;
pub mod render;
mod render_recs;
mod render_status;
pub mod view;

use super::server::HttpState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<HttpState> {
    Router::new().route("/ui", get(ui))
}

/// Nothing may load from anywhere (there is nothing to load): the inline stylesheet and the
/// empty `data:` icon (without which browsers ask for `/favicon.ico` and log a 404) are the only
/// exceptions. A label value that slipped past escaping could still run nothing.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                       base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `?refresh=N` bounds (seconds).
const REFRESH: std::ops::RangeInclusive<u32> = 5..=3600;

/// The only parameter: `refresh` (seconds between reloads, by a meta refresh: no script).
pub fn parse_refresh(params: &[(String, String)]) -> Result<Option<u32>, String> {
    let mut refresh = None;
    for (k, v) in params {
        if k != "refresh" {
            return Err(format!("unknown parameter {k:?} (only refresh=SECONDS)"));
        }
        if refresh.is_some() {
            return Err("refresh given more than once".into());
        }
        match v.parse::<u32>() {
            Ok(n) if REFRESH.contains(&n) => refresh = Some(n),
            _ => {
                return Err(format!(
                    "refresh={v:?}: must be whole seconds from {} to {}",
                    REFRESH.start(),
                    REFRESH.end()
                ))
            }
        }
    }
    Ok(refresh)
}

async fn ui(State(st): State<HttpState>, Query(params): Query<Vec<(String, String)>>) -> Response {
    let config = st.pipeline.snapshot().config.clone();
    if !config.ui.enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    let refresh = match parse_refresh(&params) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let now = crate::clock::unix_secs_i64();
    let page = gather::page(&st, &config, refresh, now).await;
    let mut resp = render::page(&page).into_response();
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests;
