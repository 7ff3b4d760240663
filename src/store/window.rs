//! Quantiles over a sliding window, for summaries built from single observations (StatsD timers,
//! histograms and distributions mapped with `observer_type: summary`).
//!
//! The window is `age_buckets` steps of `max_age / age_buckets` each, in a ring indexed by the
//! step number: an observation lands in the current step; a step older than the window is
//! cleared when the ring comes round to it and ignored by reads before that.
//!
//! Each step is a log-bucketed sketch (the idea of DDSketch): a value `v > 0` counts in bucket
//! `ceil(log_g v)` with `g = (1 + e) / (1 - e)` for relative error `e`, and a bucket reads back as
//! the point within `e` of every value it holds, so a quantile is within `e` of the true one.
//! Weights (1 / sample rate) add to a bucket. A step keeps at most `buf_cap` buckets: past it the
//! two lowest merge, trading accuracy at the low end (latency dashboards read the high one).
//! `_sum` and `_count` are totals since the series began, as in Prometheus client summaries.

use crate::model::SummaryOptions;
use std::sync::Arc;

/// Values closer to zero than this count as zero (their own bucket).
const MIN_MAGNITUDE: f64 = 1e-9;
/// Added to a bucket index so every key of a non-zero value is positive before its sign is
/// applied: keys then sort as their values do.
const KEY_OFFSET: i64 = 1 << 32;

pub(super) struct Window {
    opts: Arc<SummaryOptions>,
    ln_gamma: f64,
    gamma: f64,
    steps: Vec<Step>,
    sum: f64,
    count: f64,
}

struct Step {
    /// Step number (`now_ms / step_ms`) of the values held; `u64::MAX` for a step never used.
    epoch: u64,
    /// (key, weight), sorted by key.
    buckets: Vec<(i64, f64)>,
}

impl Window {
    pub(super) fn new(opts: Arc<SummaryOptions>) -> Window {
        // Validated config keeps the error in (0, 0.5]; anything else falls back to 1 %.
        let e = if opts.relative_error > 0.0 && opts.relative_error < 1.0 {
            opts.relative_error
        } else {
            0.01
        };
        let gamma = (1.0 + e) / (1.0 - e);
        Window {
            opts,
            ln_gamma: gamma.ln(),
            gamma,
            steps: Vec::new(),
            sum: 0.0,
            count: 0.0,
        }
    }

    fn ring_len(&self) -> usize {
        self.opts.age_buckets.max(1)
    }

    fn epoch(&self, now_ms: u64) -> u64 {
        let max_age_ms = u64::try_from(self.opts.max_age.as_millis()).unwrap_or(u64::MAX);
        now_ms / (max_age_ms / self.ring_len() as u64).max(1)
    }

    fn key(&self, v: f64) -> i64 {
        if v.abs() < MIN_MAGNITUDE {
            return 0;
        }
        // Saturating float-to-int casts: a value near f64::MAX stays a (huge) finite key.
        let k = KEY_OFFSET + (v.abs().ln() / self.ln_gamma).ceil() as i64;
        if v > 0.0 {
            k
        } else {
            -k
        }
    }

    /// The point of bucket `key` within the relative error of all it holds.
    fn value(&self, key: i64) -> f64 {
        if key == 0 {
            return 0.0;
        }
        let index = i32::try_from(key.abs() - KEY_OFFSET).unwrap_or(i32::MAX);
        let v = 2.0 * self.gamma.powi(index) / (self.gamma + 1.0);
        if key > 0 {
            v
        } else {
            -v
        }
    }

    pub(super) fn observe(&mut self, value: f64, weight: f64, now_ms: u64) {
        let (epoch, n, key) = (self.epoch(now_ms), self.ring_len(), self.key(value));
        if self.steps.len() < n {
            self.steps.resize_with(n, || Step {
                epoch: u64::MAX,
                buckets: Vec::new(),
            });
        }
        let cap = self.opts.buf_cap.max(2);
        let Some(step) = self.steps.get_mut((epoch % n as u64) as usize) else {
            return;
        };
        if step.epoch != epoch {
            step.buckets.clear();
            step.epoch = epoch;
        }
        match step.buckets.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => {
                if let Some(b) = step.buckets.get_mut(i) {
                    b.1 += weight;
                }
            }
            Err(i) => step.buckets.insert(i, (key, weight)),
        }
        if step.buckets.len() > cap {
            let (_, w) = step.buckets.remove(0);
            if let Some(b) = step.buckets.first_mut() {
                b.1 += w;
            }
        }
        self.sum += value * weight;
        self.count += weight;
    }

    pub(super) fn sum(&self) -> f64 {
        self.sum
    }

    pub(super) fn count(&self) -> f64 {
        self.count
    }

    /// `(quantile, value)` for each configured quantile over the steps still in the window;
    /// NaN when the window holds nothing (what Prometheus clients report for an idle summary).
    pub(super) fn quantiles(&self, now_ms: u64) -> Vec<(f64, f64)> {
        let (epoch, n) = (self.epoch(now_ms), self.ring_len() as u64);
        let mut live: Vec<(i64, f64)> = self
            .steps
            .iter()
            .filter(|s| s.epoch <= epoch && epoch - s.epoch < n)
            .flat_map(|s| s.buckets.iter().copied())
            .collect();
        live.sort_by_key(|(k, _)| *k);
        let total: f64 = live.iter().map(|(_, w)| w).sum();
        self.opts
            .quantiles
            .iter()
            .map(|&q| {
                (
                    q,
                    rank(&live, q * total).map_or(f64::NAN, |k| self.value(k)),
                )
            })
            .collect()
    }
}

/// The first key (of `sorted`) at which the cumulative weight reaches `target`.
fn rank(sorted: &[(i64, f64)], target: f64) -> Option<i64> {
    let mut seen = 0.0;
    for &(k, w) in sorted {
        seen += w;
        if seen >= target {
            return Some(k);
        }
    }
    // Rounding can leave `seen` a hair under `target` for q = 1: the largest key.
    sorted.last().map(|(k, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn opts(max_age_s: u64, age_buckets: usize, buf_cap: usize) -> Arc<SummaryOptions> {
        Arc::new(SummaryOptions {
            quantiles: Arc::from([0.0, 0.5, 0.9, 0.99, 1.0]),
            max_age: Duration::from_secs(max_age_s),
            age_buckets,
            buf_cap,
            relative_error: 0.01,
        })
    }

    fn q(w: &Window, now_ms: u64, quantile: f64) -> f64 {
        w.quantiles(now_ms)
            .into_iter()
            .find(|(q, _)| *q == quantile)
            .map_or(f64::NAN, |(_, v)| v)
    }

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= want.abs() * rel
    }

    #[test]
    fn quantiles_are_within_the_relative_error() {
        let mut w = Window::new(opts(600, 5, 1000));
        for v in 1..=100 {
            w.observe(f64::from(v), 1.0, 0);
        }
        for (quantile, want) in [
            (0.0, 1.0),
            (0.5, 50.0),
            (0.9, 90.0),
            (0.99, 99.0),
            (1.0, 100.0),
        ] {
            let got = q(&w, 0, quantile);
            assert!(close(got, want, 0.01), "q{quantile}: {got}, want {want}");
        }
        assert_eq!((w.sum(), w.count()), (5050.0, 100.0));
    }

    #[test]
    fn order_of_arrival_does_not_matter() {
        let (mut up, mut down, mut mixed) = (
            Window::new(opts(600, 5, 256)),
            Window::new(opts(600, 5, 256)),
            Window::new(opts(600, 5, 256)),
        );
        for i in 0..10_000u64 {
            up.observe(i as f64, 1.0, 0);
            down.observe((9_999 - i) as f64, 1.0, 0);
            mixed.observe(((i * 7919) % 10_000) as f64, 1.0, 0);
        }
        for w in [&up, &down, &mixed] {
            let held: usize = w.steps.iter().map(|s| s.buckets.len()).sum();
            assert!(held <= 256, "{held} buckets held");
            for (quantile, want) in [(0.5, 5_000.0), (0.9, 9_000.0), (0.99, 9_900.0)] {
                let got = q(w, 0, quantile);
                assert!(close(got, want, 0.011), "q{quantile}: {got}, want {want}");
            }
        }
    }

    #[test]
    fn weights_count_as_repeated_observations() {
        // 1 observed at rate 0.1 (ten times) against nine single 100s: the median is 1.
        let mut w = Window::new(opts(600, 5, 1000));
        w.observe(1.0, 10.0, 0);
        for _ in 0..9 {
            w.observe(100.0, 1.0, 0);
        }
        assert!(close(q(&w, 0, 0.5), 1.0, 0.01));
        assert!(close(q(&w, 0, 0.9), 100.0, 0.01));
        assert_eq!(w.count(), 19.0);
    }

    #[test]
    fn negative_and_zero_values_sort_where_they_belong() {
        let mut w = Window::new(opts(600, 5, 100));
        for v in [-50.0, -1.0, 0.0, 0.0, 2.0] {
            w.observe(v, 1.0, 0);
        }
        assert!(close(q(&w, 0, 0.0), -50.0, 0.01));
        assert_eq!(q(&w, 0, 0.5), 0.0);
        assert!(close(q(&w, 0, 1.0), 2.0, 0.01));
    }

    #[test]
    fn old_steps_leave_the_window_but_not_the_totals() {
        // Window of 10 s in 5 steps of 2 s.
        let mut w = Window::new(opts(10, 5, 100));
        w.observe(1000.0, 1.0, 0);
        w.observe(1.0, 1.0, 4_000);
        assert!(close(q(&w, 9_999, 1.0), 1000.0, 0.01), "still inside");
        assert!(close(q(&w, 10_000, 1.0), 1.0, 0.01), "step 0 aged out");
        assert!(q(&w, 14_000, 0.5).is_nan(), "an idle window is NaN");
        assert_eq!((w.sum(), w.count()), (1001.0, 2.0));
        // The ring comes back to step 0's slot: stale values are cleared, not merged.
        w.observe(5.0, 1.0, 20_000);
        assert!(close(q(&w, 20_000, 0.0), 5.0, 0.01));
        assert!(close(q(&w, 20_000, 1.0), 5.0, 0.01));
    }

    #[test]
    fn empty_window_is_nan_for_every_quantile() {
        let w = Window::new(opts(600, 5, 10));
        assert!(w.quantiles(0).iter().all(|(_, v)| v.is_nan()));
    }

    #[test]
    fn degenerate_options_and_extreme_values_do_not_panic() {
        let mut w = Window::new(opts(0, 0, 0));
        for v in [3.0, f64::MAX, -f64::MAX, f64::MIN_POSITIVE, 4.0, 5.0] {
            w.observe(v, 1.0, u64::MAX);
        }
        let held: usize = w.steps.iter().map(|s| s.buckets.len()).sum();
        assert!(held <= 2);
        assert!(!q(&w, u64::MAX, 1.0).is_nan());
    }
}
