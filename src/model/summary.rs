//! How a family of observed summaries computes its quantiles (StatsD mappings with
//! `observer_type: summary`): which quantiles, over what sliding window, with what memory.

use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct SummaryOptions {
    /// Quantiles to expose, each in [0, 1], increasing.
    pub quantiles: Arc<[f64]>,
    /// Quantiles cover the observations of about this long ago up to now.
    pub max_age: Duration,
    /// The window moves in steps of `max_age / age_buckets`.
    pub age_buckets: usize,
    /// Value buckets each step keeps (see `store::window`); past it the lowest two merge, so a
    /// series never holds more than `age_buckets * buf_cap` of them (16 bytes each).
    pub buf_cap: usize,
    /// Each quantile is within this fraction of the true value (while `buf_cap` suffices).
    pub relative_error: f64,
}

impl SummaryOptions {
    /// statsd_exporter's quantiles and window; `buf_cap` is meterd's own (there it sizes an
    /// insert buffer): 256 buckets of 1 % cover values over a range of 1 to 160, and the
    /// lowest merge beyond that, bounding a summary series to 20 KiB.
    pub fn defaults() -> SummaryOptions {
        SummaryOptions {
            quantiles: Arc::from([0.5, 0.9, 0.99]),
            max_age: Duration::from_secs(600),
            age_buckets: 5,
            buf_cap: 256,
            relative_error: 0.01,
        }
    }
}
