//! The fleet refresh loop: every `fleet.refresh_interval`, runs each budget's `fleet_query`
//! against `fleet.prometheus_url` and hands the result (or the error) to the budget engine. Reads
//! the live config each round, so a reload changes URL, interval and queries without a restart.
//! Queries run one after another with a timeout each: a slow query API delays fleet figures,
//! never ingest.
//!
//! The query is one HTTP/1 GET with a timeout and a body cap; the response is parsed by the pure
//! `derive::budget::fleet::parse_response`.

use crate::config::fleet::Target;
use crate::derive::budget::fleet::parse_response;
use crate::model::Labels;
use crate::net::client::request;
use crate::pipeline::{Pipeline, Snapshot};
use crate::telemetry::catalogue;
use crate::telemetry::{self, RateLimit};
use http::Method;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

static FLEET_LOG: RateLimit = RateLimit::new();

/// How often the loop looks at the live config: a reload that sets or changes `fleet` is picked
/// up within this, not after a whole old `refresh_interval`.
const POLL: Duration = Duration::from_millis(250);

pub async fn run(pipeline: Arc<Pipeline>, mut shutdown: watch::Receiver<bool>) {
    let mut last: Option<(Instant, Arc<Snapshot>)> = None;
    loop {
        let snapshot = pipeline.snapshot();
        let due = match &last {
            None => true,
            Some((at, seen)) => {
                !Arc::ptr_eq(seen, &snapshot)
                    || at.elapsed() >= snapshot.config.fleet.refresh_interval.0
            }
        };
        if due {
            refresh(&pipeline, &snapshot).await;
            last = Some((Instant::now(), snapshot));
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
}

async fn refresh(pipeline: &Pipeline, snapshot: &Snapshot) {
    let fleet = &snapshot.config.fleet;
    let Some(target) = &snapshot.fleet_target else {
        return;
    };
    // Every running budget, the config's and the admin API's.
    let now = crate::clock::unix_secs_i64();
    let defs: Vec<_> = pipeline
        .budgets()
        .statuses(now)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    for b in &defs {
        let Some(promql) = b.fleet_query.as_deref() else {
            continue;
        };
        let result = query(target, &fleet.headers, promql, fleet.timeout.0).await;
        let ok = result.is_ok();
        if let Err(e) = &result {
            telemetry::rate_limited_warn(
                &FLEET_LOG,
                format_args!("fleet query for budget {:?} failed: {e}", b.name),
            );
        }
        telemetry::count(
            pipeline.store(),
            &catalogue::FLEET_QUERIES,
            &[("result", if ok { "success" } else { "failure" })],
            1.0,
        );
        let max_age = i64::try_from(fleet.max_age.0.as_secs()).unwrap_or(i64::MAX);
        pipeline
            .budgets()
            .set_fleet(&b.name, result, crate::clock::unix_secs_i64(), max_age);
    }
    pipeline.refresh_budgets();
}

/// Largest query response accepted; a budget query returns a handful of series.
const MAX_BODY: usize = 4 * 1024 * 1024;

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs one instant query. Every failure (connect, timeout, HTTP status, body) is an error string
/// for the API and the log; nothing here can stall the caller past `timeout`.
pub async fn query(
    target: &Target,
    headers: &BTreeMap<String, String>,
    promql: &str,
    timeout: Duration,
) -> Result<Vec<(Labels, f64)>, String> {
    let path = format!(
        "{}/api/v1/query?query={}",
        target.prefix,
        percent_encode(promql)
    );
    let mut sent: Vec<(&str, &str)> = vec![("accept", "application/json")];
    sent.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (status, body) =
        request(target, Method::GET, &path, &sent, None, MAX_BODY, timeout).await?;
    if !status.is_success() && body.is_empty() {
        return Err(format!("HTTP {status}"));
    }
    parse_response(&body).map_err(|e| {
        if status.is_success() {
            e
        } else {
            format!("HTTP {status}: {e}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_is_percent_encoded() {
        assert_eq!(
            percent_encode("sum(x{a=\"b c\"})"),
            "sum%28x%7Ba%3D%22b%20c%22%7D%29"
        );
    }
}
