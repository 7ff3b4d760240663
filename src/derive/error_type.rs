//! The `error_type` label of failed calls (StatsD tag `error_type`, OTel attribute `error.type`),
//! so rate limits, timeouts and content filters are told apart. Pure.
//!
//! Senders spell one failure many ways: an HTTP status (`429`), an exception class
//! (`openai.RateLimitError`, `httpx.ReadTimeout`), a provider code (`content_filter`). The common
//! failures are folded onto a few canonical values; anything else is kept as sent (cleaned and
//! shortened) under a cap on distinct values, past which it becomes `other` and is counted.

use super::quality::cap::{ValueCap, OTHER};
use std::borrow::Cow;

/// Canonical values: always admitted, never counted against the cap.
pub const KNOWN: [&str; 7] = [
    "rate_limit",
    "timeout",
    "content_filter",
    "server_error",
    "authentication",
    "invalid_request",
    "cancelled",
];

/// Distinct values other than [`KNOWN`] that get their own series.
pub const MAX_OTHER_VALUES: usize = 20;

/// Longest label value kept from a sender (bytes); longer ones are cut on a char boundary.
const MAX_LEN: usize = 64;

/// The canonical form of `raw`, or the cleaned value itself; `None` when nothing is left.
pub fn canonical(raw: &str) -> Option<Cow<'_, str>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let squashed: String = raw
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let has = |needles: &[&str]| needles.iter().any(|n| squashed.contains(n));
    let known = if let Ok(code) = squashed.parse::<u16>() {
        match code {
            429 => Some("rate_limit"),
            408 | 504 => Some("timeout"),
            401 | 403 => Some("authentication"),
            499 => Some("cancelled"),
            400..=499 => Some("invalid_request"),
            500..=599 => Some("server_error"),
            _ => None,
        }
    } else if has(&["ratelimit", "toomanyrequests", "resourceexhausted", "quota"]) {
        Some("rate_limit")
    } else if has(&["timeout", "timedout", "deadlineexceeded"]) {
        Some("timeout")
    } else if has(&["contentfilter", "contentpolicy", "safety", "moderation"]) {
        Some("content_filter")
    } else if has(&[
        "authentication",
        "permissiondenied",
        "unauthorized",
        "unauthenticated",
    ]) {
        Some("authentication")
    } else if has(&["cancelled", "canceled"]) {
        Some("cancelled")
    } else {
        None
    };
    if let Some(k) = known {
        return Some(Cow::Borrowed(k));
    }
    let clean = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    let mut end = raw.len().min(MAX_LEN);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &raw[..end];
    Some(if cut.chars().all(clean) {
        Cow::Borrowed(cut)
    } else {
        Cow::Owned(
            cut.chars()
                .map(|c| if clean(c) { c } else { '_' })
                .collect(),
        )
    })
}

/// Admits error types under the cap; built once per config snapshot, carried across reloads.
pub struct ErrorTypes {
    cap: ValueCap,
}

impl Default for ErrorTypes {
    fn default() -> Self {
        ErrorTypes {
            cap: ValueCap::new(KNOWN, MAX_OTHER_VALUES),
        }
    }
}

impl ErrorTypes {
    /// The label value for `raw`, and whether the cap turned it into `other`.
    pub fn label<'a>(&self, raw: &'a str) -> Option<(Cow<'a, str>, bool)> {
        let value = canonical(raw)?;
        Some(match self.cap.admit(&value) {
            Some(_) => (value, false),
            None => (Cow::Borrowed(OTHER), true),
        })
    }

    pub fn carry_over(&self, prev: &ErrorTypes) {
        self.cap.carry_over(&prev.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_failures_fold_onto_canonical_values() {
        for (raw, want) in [
            ("429", "rate_limit"),
            ("openai.RateLimitError", "rate_limit"),
            ("rate_limit_exceeded", "rate_limit"),
            ("RESOURCE_EXHAUSTED", "rate_limit"),
            ("insufficient_quota", "rate_limit"),
            ("timeout", "timeout"),
            ("httpx.ReadTimeout", "timeout"),
            ("openai.APITimeoutError", "timeout"),
            ("DEADLINE_EXCEEDED", "timeout"),
            ("504", "timeout"),
            ("content_filter", "content_filter"),
            ("ContentPolicyViolation", "content_filter"),
            ("SAFETY", "content_filter"),
            ("500", "server_error"),
            ("503", "server_error"),
            ("401", "authentication"),
            ("anthropic.AuthenticationError", "authentication"),
            ("400", "invalid_request"),
            ("asyncio.CancelledError", "cancelled"),
        ] {
            assert_eq!(canonical(raw).as_deref(), Some(want), "{raw}");
        }
    }

    #[test]
    fn other_values_are_cleaned_and_shortened() {
        assert_eq!(
            canonical("openai.BadRequestError").as_deref(),
            Some("openai.BadRequestError")
        );
        assert_eq!(canonical("bad thing!\n").as_deref(), Some("bad_thing_"));
        assert_eq!(canonical("  ").as_deref(), None);
        let long = "é".repeat(100);
        let got = canonical(&long).unwrap_or_default();
        assert!(got.len() <= MAX_LEN, "{got}");
        assert_eq!(canonical("_OTHER").as_deref(), Some("_OTHER"));
    }

    #[test]
    fn values_past_the_cap_become_other() {
        let types = ErrorTypes::default();
        for i in 0..MAX_OTHER_VALUES {
            assert_eq!(
                types.label(&format!("E{i}")),
                Some((Cow::Owned(format!("E{i}")), false))
            );
        }
        assert_eq!(types.label("E-late"), Some((Cow::Borrowed(OTHER), true)));
        // Known values and values already admitted still pass.
        assert_eq!(
            types.label("429"),
            Some((Cow::Borrowed("rate_limit"), false))
        );
        assert_eq!(types.label("E3"), Some((Cow::Borrowed("E3"), false)));
        let reloaded = ErrorTypes::default();
        reloaded.carry_over(&types);
        assert_eq!(reloaded.label("E-late"), Some((Cow::Borrowed(OTHER), true)));
    }
}
