//! The fleet refresh loop: every `fleet.refresh_interval`, runs each budget's `fleet_query`
//! against `fleet.prometheus_url` and hands the result (or the error) to the budget engine. Reads
//! the live config each round, so a reload changes URL, interval and queries without a restart.
//! Queries run one after another with a timeout each: a slow query API delays fleet figures,
//! never ingest.

use crate::derive::budget::fleet::{query, Target};
use crate::pipeline::Pipeline;
use crate::telemetry::{self, RateLimit};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

static FLEET_LOG: RateLimit = RateLimit::new();

/// How often the loop looks at the live config: a reload that sets or changes `fleet` is picked
/// up within this, not after a whole old `refresh_interval`.
const POLL: Duration = Duration::from_millis(250);

pub async fn run(pipeline: Arc<Pipeline>, mut shutdown: watch::Receiver<bool>) {
    let mut last: Option<(Instant, Arc<crate::config::Config>)> = None;
    loop {
        let config = pipeline.runtime().config.clone();
        let due = match &last {
            None => true,
            Some((at, seen)) => {
                !Arc::ptr_eq(seen, &config) || at.elapsed() >= config.fleet.refresh_interval.0
            }
        };
        if due {
            refresh(&pipeline, &config).await;
            last = Some((Instant::now(), config));
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
}

async fn refresh(pipeline: &Pipeline, config: &crate::config::Config) {
    let fleet = &config.fleet;
    let Some(target) = fleet
        .prometheus_url
        .as_deref()
        .and_then(|u| Target::parse(u).ok())
    else {
        return;
    };
    for b in &config.budgets {
        let Some(promql) = b.fleet_query.as_deref() else {
            continue;
        };
        let result = query(&target, &fleet.headers, promql, fleet.timeout.0).await;
        let ok = result.is_ok();
        if let Err(e) = &result {
            telemetry::rate_limited_warn(
                &FLEET_LOG,
                format_args!("fleet query for budget {:?} failed: {e}", b.name),
            );
        }
        telemetry::count(
            pipeline.store(),
            "meterd_fleet_queries",
            "Fleet budget queries to the query API, by result (success, failure).",
            &[("result", if ok { "success" } else { "failure" })],
            1.0,
        );
        let max_age = i64::try_from(fleet.max_age.0.as_secs()).unwrap_or(i64::MAX);
        pipeline
            .budgets()
            .set_fleet(&b.name, result, jiff::Timestamp::now().as_second(), max_age);
    }
    pipeline.refresh_budgets();
}
