//! Bucket boundaries in the ledger's zone: local hours and local midnights (jiff does the DST
//! arithmetic: a 23- or 25-hour day is one day bucket).

use super::row::Gran;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Start of the local hour holding `now`. The current offset is kept (`now` minus the minutes
/// and seconds past the hour), so the repeated hour of a DST fall-back is two buckets, not one.
pub fn hour_start(tz: &TimeZone, now: i64) -> i64 {
    match Timestamp::from_second(now) {
        Ok(t) => {
            let z = t.to_zoned(tz.clone());
            now - i64::from(z.minute()) * 60 - i64::from(z.second())
        }
        Err(_) => now - now.rem_euclid(3600),
    }
}

/// Start of the local day holding `now`.
pub fn day_start(tz: &TimeZone, now: i64) -> i64 {
    Timestamp::from_second(now)
        .ok()
        .and_then(|t| t.to_zoned(tz.clone()).start_of_day().ok())
        .map_or_else(
            || now - now.rem_euclid(86_400),
            |z| z.timestamp().as_second(),
        )
}

pub fn start(gran: Gran, tz: &TimeZone, now: i64) -> i64 {
    match gran {
        Gran::Hour => hour_start(tz, now),
        Gran::Day => day_start(tz, now),
    }
}

/// The local calendar date of `t` (`2026-12-06`).
pub fn date_text(tz: &TimeZone, t: i64) -> String {
    Timestamp::from_second(t)
        .map(|ts| ts.to_zoned(tz.clone()).date().to_string())
        .unwrap_or_default()
}

/// `t` as local RFC 3339 with its offset (`2026-12-06T14:00:00+01:00`).
pub fn time_text(tz: &TimeZone, t: i64) -> String {
    Timestamp::from_second(t)
        .map(|ts| {
            ts.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// Parses a range bound: `YYYY-MM-DD` (local midnight in `tz`), RFC 3339, or Unix seconds.
pub fn parse_time(text: &str, tz: &TimeZone) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return Timestamp::from_second(secs)
            .map(|_| secs)
            .map_err(|e| format!("{t:?}: {e}"));
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts.as_second());
    }
    let date: jiff::civil::Date = t.parse().map_err(|_| {
        format!("{t:?}: expected a date (YYYY-MM-DD), an RFC 3339 time or Unix seconds")
    })?;
    date.to_zoned(tz.clone())
        .map(|z| z.timestamp().as_second())
        .map_err(|e| format!("{t:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_zone_and_dst() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        // 2026-03-29 is the spring-forward day in Berlin: 23 hours long.
        let day = day_start(
            &berlin,
            parse_time("2026-03-29T12:00:00Z", &berlin).unwrap(),
        );
        assert_eq!(day, parse_time("2026-03-28T23:00:00Z", &berlin).unwrap());
        let next = day_start(
            &berlin,
            parse_time("2026-03-30T01:00:00Z", &berlin).unwrap(),
        );
        assert_eq!(next - day, 23 * 3600);
        assert_eq!(date_text(&berlin, day), "2026-03-29");
        // India is UTC+05:30: its local hours start at :30 UTC.
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let h = hour_start(
            &kolkata,
            parse_time("2026-12-06T10:10:00Z", &kolkata).unwrap(),
        );
        assert_eq!(time_text(&kolkata, h), "2026-12-06T15:00:00+05:30");
        assert_eq!(
            parse_time("2026-12-06", &kolkata).unwrap(),
            parse_time("2026-12-05T18:30:00Z", &kolkata).unwrap()
        );
        assert!(parse_time("yesterday", &kolkata).is_err());
    }
}
