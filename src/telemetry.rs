//! meterd's own metrics (`meterd_*`), kept in the same store as everything else so one renderer
//! serves both. Internal families never expire, are exempt from the total series cap (a flood must
//! stay visible in the counters that report it), and each caps its own series: label values past
//! the cap collapse into `_overflow` rather than growing without bound.

use crate::model::{FamilyOptions, LabelPolicy, Labels, Sample, SampleValue};
use crate::store::{Reject, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MAX_SERIES_PER_INTERNAL_FAMILY: usize = 1000;

fn options(help: &str) -> Arc<FamilyOptions> {
    Arc::new(FamilyOptions {
        help: Some(Arc::from(help)),
        ttl: Some(Duration::ZERO),
        label_policy: LabelPolicy::Any,
        max_series: Some(MAX_SERIES_PER_INTERNAL_FAMILY),
        internal: true,
        ..Default::default()
    })
}

/// A sample of an internal family, for pure code that hands samples back instead of holding the
/// store (derive).
pub fn sample(name: &str, help: &str, labels: &[(&str, &str)], value: SampleValue) -> Sample {
    let mut sample = Sample::new(name, Labels::shared(labels.iter().copied()), value);
    sample.options = options(help);
    sample
}

fn apply(store: &Store, name: &str, help: &str, labels: &[(&str, &str)], value: SampleValue) {
    let sample = sample(name, help, labels, value);
    // Internal families overflow instead of rejecting; the only failure left is a type clash with
    // a user metric that took a `meterd_` name, which is not worth more than ignoring.
    let _ = store.apply(&sample);
}

/// Adds `n` to counter `name` (without `_total`; exposition adds it).
pub fn count(store: &Store, name: &str, help: &str, labels: &[(&str, &str)], n: f64) {
    if n > 0.0 {
        apply(store, name, help, labels, SampleValue::CounterAdd(n));
    }
}

pub fn gauge(store: &Store, name: &str, help: &str, labels: &[(&str, &str)], v: f64) {
    apply(store, name, help, labels, SampleValue::GaugeSet(v));
}

/// Counts a rejected sample by reason and metric: the one place store rejections become visible.
pub fn rejected(store: &Store, protocol: &str, metric: &str, reject: Reject) {
    rejected_n(store, protocol, metric, reject, 1);
}

static MONEY_OVERFLOW_LOG: RateLimit = RateLimit::new();

/// Counts a money amount refused because it would overflow its counter (`place`: cost, pricing
/// one event; budget, a budget's spend; store, a cost series' total), with `what` (a model, a
/// budget, a metric) in the log line. Never saturated instead: a saturated total reads as real
/// spend and denies every budget check.
pub fn money_overflow(store: &Store, place: &str, what: &str) {
    count(
        store,
        "meterd_money_overflow",
        "Money amounts refused (not applied) because they would overflow their counter, by \
         where: cost (pricing one event), budget (a budget's spend), store (a cost series).",
        &[("where", place)],
        1.0,
    );
    rate_limited_warn(
        &MONEY_OVERFLOW_LOG,
        format_args!("money overflow in {place} ({what:?}): the amount was refused"),
    );
}

/// [`rejected`] for `n` samples at once (a pre-aggregated series refused as a whole).
pub fn rejected_n(store: &Store, protocol: &str, metric: &str, reject: Reject, n: u64) {
    if reject == Reject::MoneyOverflow {
        money_overflow(store, "store", metric);
    }
    let n = n as f64;
    match reject {
        Reject::SeriesLimit | Reject::TotalSeriesLimit => count(
            store,
            "meterd_series_dropped",
            "Samples dropped because a series cap was reached, by metric.",
            &[("metric", metric), ("reason", reject.reason())],
            n,
        ),
        _ => {}
    }
    count(
        store,
        "meterd_samples_rejected",
        "Samples rejected by the store, by protocol and reason.",
        &[("protocol", protocol), ("reason", reject.reason())],
        n,
    );
    if reject == Reject::TypeConflict || reject == Reject::LabelConflict {
        rate_limited_warn(
            &CONFLICT_LOG,
            format_args!("rejected sample for {metric}: {reject}"),
        );
    }
}

static CONFLICT_LOG: RateLimit = RateLimit::new();

/// At most one log line per interval per call site: a flood of bad input must not become a flood
/// of log lines. Counters carry the totals.
pub struct RateLimit {
    last_secs: AtomicU64,
}

impl RateLimit {
    pub const fn new() -> Self {
        RateLimit {
            last_secs: AtomicU64::new(0),
        }
    }

    pub fn allow(&self, interval_secs: u64) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.last_secs.load(Ordering::Relaxed);
        now >= last.saturating_add(interval_secs)
            && self
                .last_secs
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::new()
    }
}

pub fn rate_limited_warn(limit: &RateLimit, msg: std::fmt::Arguments<'_>) {
    if limit.allow(10) {
        tracing::warn!(
            "{msg} (further messages like this are suppressed for 10s; see meterd_* counters)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_family_overflows_into_one_series() {
        let store = Store::default();
        for i in 0..(MAX_SERIES_PER_INTERNAL_FAMILY + 50) {
            count(
                &store,
                "meterd_x",
                "x",
                &[("metric", &format!("m{i}"))],
                1.0,
            );
        }
        assert_eq!(
            store.family_len("meterd_x"),
            MAX_SERIES_PER_INTERNAL_FAMILY + 1
        );
        assert_eq!(
            store.value("meterd_x", &Labels::new([("metric", "_overflow")])),
            Some(50.0)
        );
    }

    #[test]
    fn rate_limit_allows_first_then_suppresses() {
        let l = RateLimit::new();
        assert!(l.allow(3600));
        assert!(!l.allow(3600));
    }
}
