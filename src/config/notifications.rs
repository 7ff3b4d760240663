//! `notifications:`: budget threshold notifications from the agent itself. A structured log line
//! is always written; `webhook` adds a POST with an Alertmanager-compatible JSON body.

use super::{child, HumanDuration, Issues, Validate};
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NotificationsConfig {
    pub webhook: Option<WebhookConfig>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct WebhookConfig {
    /// `http://host[:port]/path` (plain HTTP: put a local proxy in front for TLS).
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub bearer_token: Option<String>,
    /// Per attempt.
    pub timeout: HumanDuration,
    /// Attempts after the first, with doubling backoff from 1 s.
    pub max_retries: u32,
    /// Notifications waiting for delivery; more are dropped and counted.
    pub queue_size: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: String::new(),
            bearer_token: None,
            timeout: HumanDuration(Duration::from_secs(5)),
            max_retries: 5,
            queue_size: 256,
        }
    }
}

impl Validate for NotificationsConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        let Some(w) = &self.webhook else { return };
        let at = child(path, "webhook");
        let host = w
            .url
            .strip_prefix("http://")
            .map(|r| r.split('/').next().unwrap_or_default());
        if host.is_none_or(str::is_empty) {
            issues.error(
                child(&at, "url"),
                format!("{:?} is not an http://host[:port]/path URL", w.url),
            );
        }
        let t = w.timeout.0;
        if t.is_zero() || t > Duration::from_secs(60) {
            issues.error(
                child(&at, "timeout"),
                "must be greater than 0 and at most 60s",
            );
        }
        if w.max_retries > 20 {
            issues.error(child(&at, "max_retries"), "must be at most 20");
        }
        if w.queue_size == 0 || w.queue_size > 100_000 {
            issues.error(child(&at, "queue_size"), "must be between 1 and 100000");
        }
    }
}
