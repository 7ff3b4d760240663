//! meterd's own metrics (`meterd_*`), kept in the same store as everything else so one renderer
//! serves both. Internal families never expire, are exempt from the total series cap (a flood must
//! stay visible in the counters that report it), and each caps its own series: label values past
//! the cap collapse into `_overflow` rather than growing without bound.

pub mod catalogue;

use crate::model::{FamilyOptions, LabelPolicy, Labels, Sample, SampleValue};
use crate::store::{Reject, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const MAX_SERIES_PER_INTERNAL_FAMILY: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One `meterd_*` family as [`catalogue`] declares it.
pub struct Family {
    /// Without a counter's `_total` (exposition adds it).
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    /// Every label name a call site may use.
    pub labels: &'static [&'static str],
    options: OnceLock<Arc<FamilyOptions>>,
}

impl Family {
    pub const fn counter(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Family {
        Family::new(name, help, Kind::Counter, labels)
    }

    pub const fn gauge(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Family {
        Family::new(name, help, Kind::Gauge, labels)
    }

    const fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
    ) -> Family {
        Family {
            name,
            help,
            kind,
            labels,
            options: OnceLock::new(),
        }
    }

    /// The name as exposed (`_total` on counters).
    pub fn exposed_name(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.name),
            Kind::Gauge => self.name.to_string(),
        }
    }

    /// Built once per family, not per sample.
    fn options(&self) -> Arc<FamilyOptions> {
        self.options
            .get_or_init(|| {
                Arc::new(FamilyOptions {
                    help: Some(Arc::from(self.help)),
                    ttl: Some(Duration::ZERO),
                    label_policy: LabelPolicy::Any,
                    max_series: Some(MAX_SERIES_PER_INTERNAL_FAMILY),
                    internal: true,
                    ..Default::default()
                })
            })
            .clone()
    }
}

/// A sample of an internal family, for pure code that hands samples back instead of holding the
/// store (derive).
pub fn sample(family: &Family, labels: &[(&str, &str)], value: SampleValue) -> Sample {
    debug_assert!(
        labels.iter().all(|(k, _)| family.labels.contains(k)),
        "{}: labels {labels:?} not all declared in the catalogue ({:?})",
        family.name,
        family.labels
    );
    let mut sample = Sample::new(family.name, Labels::shared(labels.iter().copied()), value);
    sample.options = family.options();
    sample
}

fn apply(store: &Store, family: &Family, labels: &[(&str, &str)], value: SampleValue) {
    let sample = sample(family, labels, value);
    // Internal families overflow instead of rejecting; the only failure left is a type clash with
    // a user metric that took a `meterd_` name, which is not worth more than ignoring.
    let _ = store.apply(&sample);
}

/// Adds `n` to a counter.
pub fn count(store: &Store, family: &Family, labels: &[(&str, &str)], n: f64) {
    debug_assert_eq!(family.kind, Kind::Counter, "{}", family.name);
    if n > 0.0 {
        apply(store, family, labels, SampleValue::CounterAdd(n));
    }
}

pub fn gauge(store: &Store, family: &Family, labels: &[(&str, &str)], v: f64) {
    debug_assert_eq!(family.kind, Kind::Gauge, "{}", family.name);
    apply(store, family, labels, SampleValue::GaugeSet(v));
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
    count(store, &catalogue::MONEY_OVERFLOW, &[("where", place)], 1.0);
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
            &catalogue::SERIES_DROPPED,
            &[("metric", metric), ("reason", reject.reason())],
            n,
        ),
        _ => {}
    }
    count(
        store,
        &catalogue::SAMPLES_REJECTED,
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
        let now = crate::clock::unix_secs();
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
        static X: Family = Family::counter("meterd_x", "x", &["metric"]);
        let store = Store::default();
        for i in 0..(MAX_SERIES_PER_INTERNAL_FAMILY + 50) {
            count(&store, &X, &[("metric", &format!("m{i}"))], 1.0);
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
