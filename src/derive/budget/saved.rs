//! The persisted form of one budget instance's spend. JSON: records are a few hundred bytes, are
//! read once at start, and a human debugging a state file can read them (`redb` holds the bytes).
//! The record carries its period and zone so that a config change of either is noticed on load
//! and the old spend is not carried into a differently-shaped period.

use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub v: u32,
    pub budget: String,
    /// Group values in `group_by` order ("" for an event without that label).
    pub group: Vec<String>,
    pub period: String,
    pub timezone: String,
    /// Calendar periods: the period's start (Unix seconds) and the spend in it.
    pub start: i64,
    pub spend_nanos: u64,
    /// Rolling periods: `(bucket index, nano-USD)`, oldest first.
    #[serde(default)]
    pub buckets: Vec<(i64, u64)>,
    /// Budgets created over the admin API: their matchers (canonical JSON), part of the shape
    /// there (a new `match` starts new records). Absent for config budgets, whose matchers may
    /// change freely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matchers: Option<String>,
}

/// The storage key of one instance: unique per budget name and group values, whatever bytes the
/// values contain (JSON escapes them).
pub fn key(budget: &str, group: &[Box<str>]) -> String {
    serde_json::to_string(&(budget, group)).unwrap_or_else(|_| budget.to_string())
}

pub fn encode(s: &Saved) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_default()
}

pub fn decode(bytes: &[u8]) -> Result<Saved, String> {
    let s: Saved = serde_json::from_slice(bytes).map_err(|e| format!("undecodable record: {e}"))?;
    if s.v != VERSION {
        return Err(format!(
            "record version {} (this meterd reads {VERSION})",
            s.v
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let s = Saved {
            v: VERSION,
            budget: "b".into(),
            group: vec!["al\"ice".into()],
            period: "rolling_1h".into(),
            timezone: "UTC".into(),
            start: 0,
            spend_nanos: 0,
            buckets: vec![(1, 2), (3, u64::MAX)],
            matchers: None,
        };
        // Records written before `matchers` existed read as config-budget records.
        assert!(!String::from_utf8_lossy(&encode(&s)).contains("matchers"));
        assert_eq!(decode(&encode(&s)).unwrap(), s);
        let mut old = s.clone();
        old.v = 99;
        assert!(decode(&encode(&old)).unwrap_err().contains("version 99"));
        assert!(decode(b"\x00garbage").is_err());
        assert_ne!(key("a", &["b".into()]), key("a\",\"b", &[]));
    }
}
