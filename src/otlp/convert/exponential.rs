//! Exponential histograms -> classic buckets. Pure.

use crate::model::HistogramData;
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, ExponentialHistogramDataPoint,
};
use std::sync::Arc;

/// Exponential histograms become classic histograms with power-of-two bounds over this exponent
/// window (about 1e-3 to 1e9). Fixed bounds keep every point of a stream mergeable (delta) and
/// comparable (cumulative) whatever scale the SDK picked; at scale >= 0 the re-bucketing is exact.
pub const EXP_MIN_EXPONENT: i32 = -10;
pub const EXP_MAX_EXPONENT: i32 = 30;

/// Power-of-two bounds `2^EXP_MIN_EXPONENT ..= 2^EXP_MAX_EXPONENT`.
pub fn exponential_bounds() -> Arc<[f64]> {
    (EXP_MIN_EXPONENT..=EXP_MAX_EXPONENT)
        .map(|k| 2f64.powi(k))
        .collect()
}

/// The classic bucket (index into `exponential_bounds`, or one past the end for +Inf) holding
/// exponential bucket `index` at `scale`: its upper bound `2^((index+1) / 2^scale)` rounded up to
/// a power of two.
pub(crate) fn classic_index(scale: i32, index: i64) -> usize {
    let upper = index.saturating_add(1);
    let exponent: i64 = if scale >= 0 {
        let div = 1i64 << scale.min(62);
        // Ceiling division that is correct for negative numerators.
        upper.div_euclid(div) + i64::from(upper.rem_euclid(div) != 0)
    } else {
        upper.saturating_mul(1i64 << (-scale).min(62))
    };
    let clamped = exponent.clamp(i64::from(EXP_MIN_EXPONENT), i64::from(EXP_MAX_EXPONENT) + 1);
    usize::try_from(clamped - i64::from(EXP_MIN_EXPONENT)).unwrap_or(0)
}

pub fn exponential_to_classic(p: &ExponentialHistogramDataPoint) -> HistogramData {
    let bounds = exponential_bounds();
    let mut counts = vec![0u64; bounds.len() + 1];
    // Zero and negative observations are below every positive bound.
    let negative: u64 = p.negative.as_ref().map_or(0, |b: &Buckets| {
        b.bucket_counts
            .iter()
            .fold(0u64, |a, c| a.saturating_add(*c))
    });
    counts[0] = p.zero_count.saturating_add(negative);
    if let Some(pos) = &p.positive {
        for (i, c) in pos.bucket_counts.iter().enumerate() {
            let idx = classic_index(p.scale, i64::from(pos.offset) + i as i64);
            if let Some(slot) = counts.get_mut(idx) {
                *slot = slot.saturating_add(*c);
            }
        }
    }
    HistogramData {
        bounds,
        counts,
        sum: p.sum.unwrap_or(0.0),
        count: p.count,
    }
}
