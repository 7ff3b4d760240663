//! The HTTP endpoint (default `0.0.0.0:9464`):
//! - `GET /metrics`: Prometheus text 0.0.4 or OpenMetrics 1.0 by `Accept`, gzip by `Accept-Encoding`;
//! - `GET /healthz`: the process is alive (always 200 while it can answer);
//! - `GET /readyz`: 200 when listeners are bound, config is loaded and state is writable, else 503
//!   with the failing checks;
//! - `GET /`: a small index of these.
//!
//! - `GET /api/v1/budgets`, `GET /api/v1/budgets/check`: the budget API (see [`super::api`]);
//! - `GET /api/v1/recommendations`: cost and quality recommendations (see
//!   [`super::recommendations`]);
//! - `GET /ui`: the status page (see [`super::ui`]);
//! - `POST /api/v1/admin/reload`, `POST /api/v1/admin/budgets/{name}/reset`, budgets created,
//!   read, changed and deleted under `/api/v1/admin/budgets`: admin actions, off unless
//!   `admin.tokens` is set (see [`super::admin`]).

use super::text::{render, Format};
pub use crate::health::Health;
use crate::pipeline::Pipeline;
use crate::telemetry;
use crate::telemetry::catalogue;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// A config reload, as the admin action asks for it: the same path SIGHUP takes
/// (`app::Reloader`), which this module need not know.
pub trait Reload: Send + Sync {
    /// Re-reads and applies the config; a bad one is rejected with every error.
    fn reload(&self) -> Result<(), crate::config::load::ConfigErrors>;
    /// The config file, to name it when the API refuses to touch a budget it defines.
    fn config_file(&self) -> Option<String> {
        None
    }
}

#[derive(Clone)]
pub struct HttpState {
    pub pipeline: Arc<Pipeline>,
    pub health: Arc<Health>,
    pub start_time_unix: f64,
    /// The reload path shared with SIGHUP, for the admin reload action.
    pub reloader: Option<Arc<dyn Reload>>,
    /// The state file, for the usage API's past buckets (`None`: live buckets only).
    pub state: Option<Arc<crate::state::StateFile>>,
    /// Concurrent scrapes share one render (see [`super::shared_render`]).
    pub renders: Arc<super::shared_render::SharedRender>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/", get(index))
        .merge(super::api::routes())
        .merge(super::usage::routes())
        .merge(super::recommendations::routes())
        .merge(super::ui::routes())
        .merge(super::admin::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.pipeline.clone(),
            require_auth,
        ))
        .with_state(state)
}

/// Axum middleware: 401 with a `WWW-Authenticate` challenge unless the request is allowed by
/// `http_auth`. `/healthz` and `/readyz` stay open (kubelet probes carry no credentials).
/// Admin routes check their own, separate tokens (see `admin`), so they are not gated here: a
/// scrape credential must not be needed, nor be enough, to act.
async fn require_auth(State(pipeline): State<Arc<Pipeline>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" || path.starts_with(super::admin::PREFIX) {
        return next.run(req).await;
    }
    let runtime = pipeline.snapshot();
    let auth = &runtime.config.http_auth;
    if auth.allows(crate::net::auth::header_value(req.headers())) {
        return next.run(req).await;
    }
    telemetry::count(pipeline.store(), &catalogue::HTTP_UNAUTHORIZED, &[], 1.0);
    crate::net::auth::unauthorized()
}

async fn metrics(State(st): State<HttpState>, headers: HeaderMap) -> Response {
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    // Rendering 100k series is CPU work: keep it off the async workers that serve ingest; and
    // render once for all the scrapes that arrive while it runs, so scrapers do not multiply memory.
    let slot = usize::from(format == Format::OpenMetrics) * 2 + usize::from(gzip);
    let renderer = st.clone();
    let (result, served) = st
        .renders
        .get(slot, move || {
            scrape(&renderer, format, gzip)
                .map(bytes::Bytes::from)
                .map_err(|e| format!("gzip failed: {e}"))
        })
        .await;
    count_scrape(&st, format, served);
    match result {
        Ok(body) => {
            let mut resp = (StatusCode::OK, body).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            if gzip {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            h.insert(
                header::VARY,
                HeaderValue::from_static("Accept, Accept-Encoding"),
            );
            resp
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// Counted per request served, whether it rendered or joined a render in flight.
fn count_scrape(st: &HttpState, format: Format, served: super::shared_render::Served) {
    let store = st.pipeline.store();
    telemetry::count(
        store,
        &catalogue::SCRAPES,
        &[(
            "format",
            if format == Format::Text {
                "text"
            } else {
                "openmetrics"
            },
        )],
        1.0,
    );
    if served == super::shared_render::Served::Shared {
        telemetry::count(store, &catalogue::SCRAPES_SHARED, &[], 1.0);
    }
}

fn scrape(st: &HttpState, format: Format, gzip: bool) -> std::io::Result<Vec<u8>> {
    let started = Instant::now();
    let store = st.pipeline.store();
    super::process::record(store, st.start_time_unix);
    telemetry::gauge(store, &catalogue::SERIES, &[], store.series_count() as f64);
    telemetry::gauge(
        store,
        &catalogue::SERIES_LIMIT,
        &[],
        store.limits().max_series_total as f64,
    );
    let text = render(&store.snapshot(), format);
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes())?;
        enc.finish()?
    } else {
        text.into_bytes()
    };
    // Reported on the next scrape: a render cannot include its own duration.
    telemetry::gauge(
        store,
        &catalogue::SCRAPE_DURATION_SECONDS,
        &[],
        started.elapsed().as_secs_f64(),
    );
    Ok(body)
}

/// `gzip` listed in Accept-Encoding with a non-zero quality.
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                == Some(0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(st): State<HttpState>) -> Response {
    let failures = st.health.failures();
    let degraded: String = st
        .health
        .degradations()
        .iter()
        .map(|(k, v)| format!("degraded: {k}: {v}\n"))
        .collect();
    if failures.is_empty() {
        (StatusCode::OK, format!("ready\n{degraded}")).into_response()
    } else {
        let body: String = failures
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        (StatusCode::SERVICE_UNAVAILABLE, format!("{body}{degraded}")).into_response()
    }
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        concat!(
            "<html><head><title>meterd</title></head><body><h1>meterd ",
            env!("CARGO_PKG_VERSION"),
            "</h1><ul>",
            "<li><a href=\"/metrics\">/metrics</a></li>",
            "<li><a href=\"/healthz\">/healthz</a></li>",
            "<li><a href=\"/readyz\">/readyz</a></li>",
            "<li><a href=\"/ui\">/ui</a> (status page)</li>",
            "<li><a href=\"/api/v1/budgets\">/api/v1/budgets</a></li>",
            "</ul></body></html>\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn readiness_needs_checks_and_no_failures() {
        let h = Health::default();
        assert_eq!(h.failures().len(), 1);
        h.set("config", Ok(()));
        assert!(h.failures().is_empty());
        h.set("state", Err("data_dir not writable".into()));
        assert_eq!(
            h.failures(),
            vec![("state".to_string(), "data_dir not writable".to_string())]
        );
    }
}
