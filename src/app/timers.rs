//! The agent's timers: the store's coarse clock (with series expiry and the memory guard) and the
//! budget gauges' refresh. Each runs until shutdown.

use crate::health::Health;
use crate::pipeline::Pipeline;
use crate::telemetry::{self, catalogue};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const BUDGET_GAUGE_REFRESH: Duration = Duration::from_secs(5);

/// The store's clock: TTLs are minutes, so a 250 ms tick is plenty precise. Every second it also
/// steps the memory guard, and every 5 s it expires idle series.
pub async fn store_clock(
    pipeline: Arc<Pipeline>,
    health: Arc<Health>,
    started: Instant,
    mut shutdown: watch::Receiver<bool>,
) {
    let store = pipeline.store().clone();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last_sweep = Instant::now();
    let mut guard = crate::memory::MemoryGuard::new(u64::MAX);
    let mut last_memory_check = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        store.set_now_ms(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        if last_memory_check.elapsed() >= Duration::from_secs(1) {
            last_memory_check = Instant::now();
            check_memory(&pipeline, &health, &mut guard);
        }
        if last_sweep.elapsed() >= Duration::from_secs(5) {
            last_sweep = Instant::now();
            let expired = store.sweep();
            telemetry::count(&store, &catalogue::SERIES_EXPIRED, &[], expired as f64);
        }
    }
}

/// Budget gauges are refreshed on every spend, and here so new periods and draining rolling
/// windows show without traffic.
pub async fn budget_gauges(pipeline: Arc<Pipeline>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(BUDGET_GAUGE_REFRESH);
    loop {
        tokio::select! {
            _ = tick.tick() => pipeline.refresh_budgets(),
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
}

/// One memory guard step: reads RSS and the store's size, applies the configured limit
/// (reloadable), flips shedding, and says so on `/readyz` (still 200: a sidecar that sheds new
/// series must not take its app's pod out of service).
fn check_memory(pipeline: &Pipeline, health: &Health, guard: &mut crate::memory::MemoryGuard) {
    use crate::memory::{Change, Reading};
    let limit = pipeline
        .snapshot()
        .config
        .limits
        .max_memory
        .map_or(u64::MAX, |b| b.0);
    guard.set_limit(limit);
    let Some(rss) = crate::expose::process::read().resident_bytes else {
        return;
    };
    let store = pipeline.store();
    let series = store.series_count() as u64;
    let Some(change) = guard.update(Reading {
        rss_bytes: rss as u64,
        series,
    }) else {
        return;
    };
    let shedding = change == Change::Shed;
    store.set_shedding(shedding);
    match change {
        Change::Shed => {
            tracing::warn!(
                rss_bytes = rss,
                limit_bytes = limit,
                series,
                "memory limit reached: shedding new series (samples of existing series and spend \
                 still flow)"
            );
            health.degrade(
                "memory",
                Some(format!(
                    "shedding new series: resident memory {rss} bytes reached limits.max_memory \
                     ({limit} bytes) holding {series} series"
                )),
            );
        }
        Change::ReleasedRss | Change::ReleasedHeld => {
            tracing::info!(
                rss_bytes = rss,
                series,
                released_on = if change == Change::ReleasedRss {
                    "resident memory"
                } else {
                    "series held"
                },
                "memory guard released: accepting new series"
            );
            health.degrade("memory", None);
        }
    }
    telemetry::gauge(
        store,
        &catalogue::MEMORY_SHEDDING,
        &[],
        if shedding { 1.0 } else { 0.0 },
    );
}
