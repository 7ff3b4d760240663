//! The wall clock, read in one place. Budgets (calendar periods), dedup windows, self-metric
//! timestamps and log rate limits all need Unix time; a clock set before 1970 reads as 0, and one
//! past what a type holds saturates, so no caller handles either.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch (zero for a clock set before it).
pub fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// Whole Unix seconds.
pub fn unix_secs() -> u64 {
    since_epoch().as_secs()
}

/// Whole Unix seconds as a signed number (the budget engine's and jiff's type).
pub fn unix_secs_i64() -> i64 {
    i64::try_from(unix_secs()).unwrap_or(i64::MAX)
}

/// Unix time in seconds with a fraction (timestamp gauges).
pub fn unix_secs_f64() -> f64 {
    since_epoch().as_secs_f64()
}

/// Unix nanoseconds (OTLP's unit).
pub fn unix_nanos() -> u64 {
    u64::try_from(since_epoch().as_nanos()).unwrap_or(u64::MAX)
}
