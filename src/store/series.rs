//! One series' state and how each kind of sample updates it.

use super::window::Window;
use super::Reject;
use crate::model::{Exemplar, HistogramData, MetricKind, SampleValue, SummaryData, SummaryOptions};
use std::collections::HashSet;
use std::sync::Arc;

pub(super) struct Series {
    state: State,
    pub(super) last_update_ms: u64,
    /// Boxed: most series never carry one, and every byte of `Series` is paid per series.
    exemplar: Option<Box<Exemplar>>,
}

enum State {
    /// `base` carries totals from earlier sender incarnations so a cumulative counter stays
    /// monotonic when its sender restarts (new start time, or a value lower than before).
    Counter {
        base: f64,
        current: f64,
        start_unix_nanos: u64,
    },
    /// A money counter: exact femto-USD (see `SampleValue::CounterAddFemtoUsd`).
    Money(u128),
    Gauge(f64),
    // The larger states are boxed so counters and gauges, the bulk of most stores, stay small
    // (issue 9 budgets 300 bytes per counter or gauge series beyond its label text).
    Histogram(Box<Histogram>),
    Summary(Box<SummaryData>),
    /// A summary meterd computes from observations (`SampleValue::SummaryObserve`).
    Window(Box<Window>),
    // Boxed on purpose despite the extra allocation: an inline set (table plus hasher) would double
    // the size of every counter and gauge series.
    #[allow(clippy::box_collection)]
    Set(Box<HashSet<u64, foldhash::fast::RandomState>>),
}

struct Histogram {
    bounds: Arc<[f64]>,
    /// Per-bucket (not cumulative) weights; the last one counts observations above every bound.
    counts: Vec<f64>,
    sum: f64,
    count: f64,
    /// Cumulative-histogram reset handling, as for counters.
    base: Option<Box<HistogramBase>>,
    start_unix_nanos: u64,
}

struct HistogramBase {
    counts: Vec<f64>,
    sum: f64,
    count: f64,
}

/// What exposition needs from a series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSnapshot {
    pub value: SeriesValue,
    pub exemplar: Option<Exemplar>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SeriesValue {
    Counter(f64),
    Gauge(f64),
    Histogram {
        bounds: Arc<[f64]>,
        /// Cumulative counts per bound (`le`), then the +Inf total last.
        cumulative: Vec<f64>,
        sum: f64,
        count: f64,
    },
    Summary(SummaryData),
}

impl Series {
    /// `summary`: the family's window options, for summaries computed from observations.
    pub(super) fn new(
        kind: MetricKind,
        buckets: &Arc<[f64]>,
        summary: Option<&Arc<SummaryOptions>>,
        now_ms: u64,
    ) -> Self {
        let state = match kind {
            MetricKind::Counter => State::Counter {
                base: 0.0,
                current: 0.0,
                start_unix_nanos: 0,
            },
            MetricKind::Gauge => State::Gauge(0.0),
            MetricKind::Histogram => State::Histogram(Box::new(Histogram {
                bounds: buckets.clone(),
                counts: vec![0.0; buckets.len() + 1],
                sum: 0.0,
                count: 0.0,
                base: None,
                start_unix_nanos: 0,
            })),
            MetricKind::Summary => match summary {
                Some(opts) => State::Window(Box::new(Window::new(opts.clone()))),
                None => State::Summary(Box::new(SummaryData {
                    quantiles: Vec::new(),
                    sum: 0.0,
                    count: 0,
                })),
            },
        };
        Series {
            state,
            last_update_ms: now_ms,
            exemplar: None,
        }
    }

    pub(super) fn apply(
        &mut self,
        value: &SampleValue,
        exemplar: Option<&Exemplar>,
        now_ms: u64,
        max_set_members: usize,
    ) -> Result<(), Reject> {
        match (&mut self.state, value) {
            (State::Counter { current, .. }, SampleValue::CounterAdd(v)) => {
                if !(v.is_finite() && *v >= 0.0) {
                    return Err(Reject::InvalidValue);
                }
                *current += v;
            }
            (
                State::Counter {
                    base,
                    current,
                    start_unix_nanos,
                },
                SampleValue::CounterSet {
                    value,
                    start_unix_nanos: start,
                },
            ) => {
                if !(value.is_finite() && *value >= 0.0) {
                    return Err(Reject::InvalidValue);
                }
                let restarted =
                    (*start != *start_unix_nanos && *start_unix_nanos != 0) || *value < *current;
                if restarted {
                    *base += *current;
                }
                *current = *value;
                *start_unix_nanos = *start;
            }
            (State::Money(m), SampleValue::CounterAddFemtoUsd(v)) => {
                *m = m.checked_add(*v).ok_or(Reject::MoneyOverflow)?;
            }
            (
                State::Counter {
                    base,
                    current,
                    start_unix_nanos: 0,
                },
                SampleValue::CounterAddFemtoUsd(v),
            ) if *base == 0.0 && *current == 0.0 => self.state = State::Money(*v),
            (State::Gauge(g), SampleValue::GaugeSet(v)) => *g = *v,
            (State::Gauge(g), SampleValue::GaugeAdd(v)) => *g += v,
            (State::Set(set), SampleValue::SetInsert(h)) => {
                if set.len() >= max_set_members && !set.contains(h) {
                    return Err(Reject::SetLimit);
                }
                set.insert(*h);
            }
            (State::Gauge(_), SampleValue::SetInsert(h)) => {
                // A gauge series created for a set turns into a set on its first member.
                let mut set = HashSet::default();
                set.insert(*h);
                self.state = State::Set(Box::new(set));
            }
            (State::Histogram(h), SampleValue::Observe { value, weight }) => {
                let Histogram {
                    bounds,
                    counts,
                    sum,
                    count,
                    ..
                } = &mut **h;
                if value.is_nan() || !(weight.is_finite() && *weight > 0.0) {
                    return Err(Reject::InvalidValue);
                }
                // First bound >= value: Prometheus buckets are "less than or equal".
                let idx = bounds.partition_point(|b| b < value);
                if let Some(c) = counts.get_mut(idx) {
                    *c += weight;
                }
                *sum += value * weight;
                *count += weight;
            }
            (State::Histogram(h), SampleValue::HistogramAdd(data)) => {
                let Histogram {
                    bounds,
                    counts,
                    sum,
                    count,
                    ..
                } = &mut **h;
                check_histogram(data)?;
                if **bounds != *data.bounds {
                    if *count == 0.0 {
                        *bounds = data.bounds.clone();
                        *counts = vec![0.0; data.bounds.len() + 1];
                    } else {
                        return Err(Reject::BucketMismatch);
                    }
                }
                for (c, d) in counts.iter_mut().zip(&data.counts) {
                    *c += *d as f64;
                }
                *sum += data.sum;
                *count += data.count as f64;
            }
            (
                State::Histogram(h),
                SampleValue::HistogramSet {
                    data,
                    start_unix_nanos: start,
                },
            ) => {
                let Histogram {
                    bounds,
                    counts,
                    sum,
                    count,
                    base,
                    start_unix_nanos,
                } = &mut **h;
                check_histogram(data)?;
                let restarted = (*start != *start_unix_nanos && *start_unix_nanos != 0)
                    || (data.count as f64) < *count;
                if **bounds != *data.bounds {
                    // New layout: earlier totals cannot be carried into other buckets.
                    *base = None;
                    *bounds = data.bounds.clone();
                } else if restarted {
                    let b = base.get_or_insert_with(|| {
                        Box::new(HistogramBase {
                            counts: vec![0.0; counts.len()],
                            sum: 0.0,
                            count: 0.0,
                        })
                    });
                    for (acc, c) in b.counts.iter_mut().zip(counts.iter()) {
                        *acc += c;
                    }
                    b.sum += *sum;
                    b.count += *count;
                }
                *counts = data.counts.iter().map(|c| *c as f64).collect();
                *sum = data.sum;
                *count = data.count as f64;
                *start_unix_nanos = *start;
            }
            (State::Summary(s), SampleValue::SummarySet(data)) => **s = data.clone(),
            (State::Window(w), SampleValue::SummaryObserve { value, weight }) => {
                if !(value.is_finite() && weight.is_finite() && *weight > 0.0) {
                    return Err(Reject::InvalidValue);
                }
                w.observe(*value, *weight, now_ms);
            }
            _ => return Err(Reject::TypeConflict),
        }
        self.last_update_ms = now_ms;
        if let Some(e) = exemplar {
            self.set_exemplar(e);
        }
        Ok(())
    }

    pub(super) fn set_exemplar(&mut self, e: &Exemplar) {
        match &mut self.exemplar {
            Some(held) => e.clone_into(held),
            None => self.exemplar = Some(Box::new(e.clone())),
        }
    }

    /// The exact total of a money counter.
    pub(super) fn money_femto(&self) -> Option<u128> {
        match self.state {
            State::Money(m) => Some(m),
            _ => None,
        }
    }

    /// `now_ms` places a computed summary's window.
    pub(super) fn snapshot(&self, now_ms: u64) -> SeriesSnapshot {
        let value = match &self.state {
            State::Counter { base, current, .. } => SeriesValue::Counter(base + current),
            State::Money(m) => SeriesValue::Counter(crate::model::money::femto_to_usd_f64(*m)),
            State::Gauge(g) => SeriesValue::Gauge(*g),
            State::Set(s) => SeriesValue::Gauge(s.len() as f64),
            State::Histogram(h) => {
                let Histogram {
                    bounds,
                    counts,
                    sum,
                    count,
                    base,
                    ..
                } = &**h;
                let mut running = 0.0;
                let mut cumulative = Vec::with_capacity(counts.len());
                for (i, c) in counts.iter().enumerate() {
                    running += c + base.as_ref().and_then(|b| b.counts.get(i)).unwrap_or(&0.0);
                    cumulative.push(running);
                }
                let (bsum, bcount) = base.as_ref().map_or((0.0, 0.0), |b| (b.sum, b.count));
                SeriesValue::Histogram {
                    bounds: bounds.clone(),
                    cumulative,
                    sum: sum + bsum,
                    count: count + bcount,
                }
            }
            State::Summary(s) => SeriesValue::Summary((**s).clone()),
            // Weights are 1 / sample rate: the count is rounded to the whole observations the
            // exposition format expects.
            State::Window(w) => SeriesValue::Summary(SummaryData {
                quantiles: w.quantiles(now_ms),
                sum: w.sum(),
                count: w.count().round() as u64,
            }),
        };
        SeriesSnapshot {
            value,
            exemplar: self.exemplar.as_deref().cloned(),
        }
    }
}

fn check_histogram(data: &HistogramData) -> Result<(), Reject> {
    let ordered = data.bounds.windows(2).all(|w| w[0] < w[1]);
    if !ordered || data.counts.len() != data.bounds.len() + 1 || data.sum.is_nan() {
        return Err(Reject::InvalidValue);
    }
    Ok(())
}
