//! Budget periods: calendar periods in an IANA time zone (computed with jiff, so DST changes and
//! month lengths are the tz database's business, not ours) and rolling windows kept as a bounded
//! ring of time buckets. Pure: every function takes the current time as Unix seconds.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Daily,
    /// ISO 8601 week: Monday 00:00 to the next Monday 00:00.
    Weekly,
    Monthly,
    Quarterly,
    Yearly,
    /// Never resets: a lifetime budget.
    Total,
    Rolling(Rolling),
}

/// A sliding window of `buckets` buckets of `bucket_secs` each. Spend older than the window falls
/// out one bucket at a time, so the window is exact to one bucket's width and memory per budget
/// instance is at most `buckets` entries, however much traffic arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rolling {
    pub name: &'static str,
    pub bucket_secs: i64,
    pub buckets: i64,
}

impl Rolling {
    pub fn window_secs(&self) -> i64 {
        self.bucket_secs * self.buckets
    }

    /// The bucket that `now` falls in.
    pub fn bucket(&self, now: i64) -> i64 {
        now.div_euclid(self.bucket_secs)
    }

    /// The oldest bucket still inside the window at `now`.
    pub fn oldest(&self, now: i64) -> i64 {
        self.bucket(now) - self.buckets + 1
    }

    /// Window bounds at `now`, rounded to buckets: `[oldest bucket start, current bucket end)`.
    pub fn bounds(&self, now: i64) -> (i64, i64) {
        (
            self.oldest(now) * self.bucket_secs,
            (self.bucket(now) + 1) * self.bucket_secs,
        )
    }
}

pub const ROLLING: [Rolling; 4] = [
    Rolling {
        name: "rolling_1h",
        bucket_secs: 60,
        buckets: 60,
    },
    Rolling {
        name: "rolling_24h",
        bucket_secs: 15 * 60,
        buckets: 96,
    },
    Rolling {
        name: "rolling_7d",
        bucket_secs: 3600,
        buckets: 168,
    },
    Rolling {
        name: "rolling_30d",
        bucket_secs: 4 * 3600,
        buckets: 180,
    },
];

pub const NAMES: &str =
    "daily, weekly, monthly, quarterly, yearly, total, rolling_1h, rolling_24h, rolling_7d, rolling_30d";

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        Some(match s {
            "daily" => Period::Daily,
            "weekly" => Period::Weekly,
            "monthly" => Period::Monthly,
            "quarterly" => Period::Quarterly,
            "yearly" => Period::Yearly,
            "total" => Period::Total,
            _ => {
                return ROLLING
                    .iter()
                    .find(|r| r.name == s)
                    .map(|r| Period::Rolling(*r))
            }
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Quarterly => "quarterly",
            Period::Yearly => "yearly",
            Period::Total => "total",
            Period::Rolling(r) => r.name,
        }
    }
}

/// The calendar period containing `now`: `[start, end)` in Unix seconds; `end` is `None` for
/// `total`. Rolling periods have no calendar bounds (see [`Rolling::bounds`]).
///
/// Boundaries are local midnights: a day is 23 or 25 hours long across a DST change, and a
/// midnight that does not exist (some zones move clocks at 00:00) becomes the first instant of
/// that day, as `Date::to_zoned` resolves gaps forwards.
pub fn calendar_bounds(
    period: Period,
    tz: &TimeZone,
    now: i64,
) -> Result<(i64, Option<i64>), String> {
    let start_date = |d: Date| -> Result<i64, String> {
        d.to_zoned(tz.clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|e| format!("cannot place {d} in the time zone: {e}"))
    };
    let ts = Timestamp::from_second(now).map_err(|e| format!("time {now} out of range: {e}"))?;
    let today = ts.to_zoned(tz.clone()).date();
    let (first, next) = match period {
        Period::Total | Period::Rolling(_) => return Ok((0, None)),
        Period::Daily => (today, today.checked_add(1.day())),
        Period::Weekly => {
            let back = i64::from(today.weekday().to_monday_zero_offset());
            let monday = today
                .checked_sub(back.days())
                .map_err(|e| format!("week start of {today}: {e}"))?;
            (monday, monday.checked_add(1.week()))
        }
        Period::Monthly => {
            let first = today.first_of_month();
            (first, first.checked_add(1.month()))
        }
        Period::Quarterly => {
            let month = (today.month() - 1) / 3 * 3 + 1;
            let first = Date::new(today.year(), month, 1)
                .map_err(|e| format!("quarter start of {today}: {e}"))?;
            (first, first.checked_add(3.months()))
        }
        Period::Yearly => {
            let first = today.first_of_year();
            (first, first.checked_add(1.year()))
        }
    };
    let next = next.map_err(|e| format!("period end after {first}: {e}"))?;
    Ok((start_date(first)?, Some(start_date(next)?)))
}
