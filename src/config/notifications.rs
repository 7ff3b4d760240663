//! `notifications:`: budget threshold notifications from the agent itself. A structured log line
//! is always written; `webhook` adds a POST with an Alertmanager-compatible JSON body, and
//! `targets` any number (up to 16) of further receivers, each with its body `format`
//! (`alertmanager` or `slack`), the lowest severity it wants, its own URL and queue.
//!
//! Severity of a threshold: the status `/api/v1/budgets` reports once it is reached: `exceeded`
//! from 1.0 (100% of the limit), `critical` for the highest threshold below 1.0 when the budget
//! has two or more, `warning` for the others.

use super::{child, HumanDuration, Issues, Validate};
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NotificationsConfig {
    /// An Alertmanager-format target receiving every severity (kept as it was before
    /// `targets`; named `webhook` in metrics).
    pub webhook: Option<WebhookConfig>,
    pub targets: Vec<TargetConfig>,
    /// The agent's status page as the receivers' users reach it (`https://meterd.example/ui`),
    /// linked from Slack messages; none: no link.
    pub ui_url: Option<String>,
}

/// Body shape a target receives.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Alertmanager's webhook payload (version 4).
    #[default]
    Alertmanager,
    /// A Slack incoming-webhook message: `text` and `blocks`.
    Slack,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Alertmanager => "alertmanager",
            Format::Slack => "slack",
        }
    }
}

/// How serious a threshold crossing is, in order.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Warning,
    Critical,
    Exceeded,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
            Severity::Exceeded => "exceeded",
        }
    }
}

/// One more receiver of budget notifications.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct TargetConfig {
    /// Names the target in logs and `meterd_notification_deliveries_total{target}`.
    pub name: String,
    pub format: Format,
    /// Crossings (and their resets) of thresholds below this severity are not sent here.
    pub min_severity: Severity,
    pub url: String,
    pub bearer_token: Option<String>,
    pub timeout: HumanDuration,
    pub max_retries: u32,
    pub queue_size: usize,
}

impl Default for TargetConfig {
    fn default() -> Self {
        let w = WebhookConfig::default();
        TargetConfig {
            name: String::new(),
            format: Format::Alertmanager,
            min_severity: Severity::Warning,
            url: w.url,
            bearer_token: w.bearer_token,
            timeout: w.timeout,
            max_retries: w.max_retries,
            queue_size: w.queue_size,
        }
    }
}

impl TargetConfig {
    /// The delivery settings, as a webhook's.
    pub fn webhook(&self) -> WebhookConfig {
        WebhookConfig {
            url: self.url.clone(),
            bearer_token: self.bearer_token.clone(),
            timeout: self.timeout,
            max_retries: self.max_retries,
            queue_size: self.queue_size,
        }
    }
}

/// Targets at most: each is a label value of a delivery counter and a queue.
pub const MAX_TARGETS: usize = 16;

impl NotificationsConfig {
    /// Every target: `webhook` first (as `webhook`, alertmanager, every severity), then `targets`.
    pub fn all_targets(&self) -> Vec<TargetConfig> {
        let legacy = self.webhook.iter().map(|w| TargetConfig {
            name: "webhook".into(),
            format: Format::Alertmanager,
            min_severity: Severity::Warning,
            url: w.url.clone(),
            bearer_token: w.bearer_token.clone(),
            timeout: w.timeout,
            max_retries: w.max_retries,
            queue_size: w.queue_size,
        });
        legacy.chain(self.targets.iter().cloned()).collect()
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct WebhookConfig {
    /// `http[s]://host[:port]/path` (HTTPS verified against the platform's trust store).
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
        if let Some(w) = &self.webhook {
            delivery(&w.webhook_target(), &child(path, "webhook"), issues);
        }
        let at = child(path, "targets");
        if self.targets.len() > MAX_TARGETS {
            issues.error(&at, format!("at most {MAX_TARGETS} targets"));
        }
        let mut seen: Vec<&str> = if self.webhook.is_some() {
            vec!["webhook"]
        } else {
            Vec::new()
        };
        for (i, t) in self.targets.iter().enumerate() {
            let at = super::index(&at, i);
            let valid = !t.name.is_empty()
                && t.name.len() <= 64
                && t.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                issues.error(
                    child(&at, "name"),
                    format!("{:?}: 1 to 64 letters, digits, '_' or '-'", t.name),
                );
            } else if seen.contains(&t.name.as_str()) {
                issues.error(
                    child(&at, "name"),
                    format!(
                        "duplicate name {:?} (`webhook` is taken by notifications.webhook)",
                        t.name
                    ),
                );
            }
            seen.push(&t.name);
            delivery(t, &at, issues);
        }
        if let Some(u) = &self.ui_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() > 2048 {
                issues.error(
                    child(path, "ui_url"),
                    format!("{u:?} is not an http:// or https:// URL"),
                );
            }
        }
    }
}

impl WebhookConfig {
    fn webhook_target(&self) -> TargetConfig {
        TargetConfig {
            url: self.url.clone(),
            bearer_token: self.bearer_token.clone(),
            timeout: self.timeout,
            max_retries: self.max_retries,
            queue_size: self.queue_size,
            ..Default::default()
        }
    }
}

fn delivery(w: &TargetConfig, at: &str, issues: &mut Issues) {
    let host = w
        .url
        .strip_prefix("http://")
        .or_else(|| w.url.strip_prefix("https://"))
        .map(|r| r.split('/').next().unwrap_or_default());
    if host.is_none_or(str::is_empty) {
        issues.error(
            child(at, "url"),
            format!("{:?} is not an http[s]://host[:port]/path URL", w.url),
        );
    }
    let t = w.timeout.0;
    if t.is_zero() || t > Duration::from_secs(60) {
        issues.error(
            child(at, "timeout"),
            "must be greater than 0 and at most 60s",
        );
    }
    if w.max_retries > 20 {
        issues.error(child(at, "max_retries"), "must be at most 20");
    }
    if w.queue_size == 0 || w.queue_size > 100_000 {
        issues.error(child(at, "queue_size"), "must be between 1 and 100000");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_each_with_its_path() {
        let c = NotificationsConfig {
            webhook: Some(WebhookConfig {
                url: "http://127.0.0.1:1/hook".into(),
                ..Default::default()
            }),
            targets: vec![
                TargetConfig {
                    name: "webhook".into(),
                    url: "http://127.0.0.1:1/x".into(),
                    ..Default::default()
                },
                TargetConfig {
                    name: "slack ops".into(),
                    url: "https://hooks.slack.com/services/x".into(),
                    queue_size: 0,
                    ..Default::default()
                },
                TargetConfig {
                    name: "ftp".into(),
                    url: "ftp://files/x".into(),
                    ..Default::default()
                },
            ],
            ui_url: Some("meterd:9464/ui".into()),
        };
        let mut issues = Issues::default();
        c.validate("notifications", &mut issues);
        let paths: Vec<&str> = issues.0.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "notifications.targets[0].name",
                "notifications.targets[1].name",
                "notifications.targets[1].queue_size",
                "notifications.targets[2].url",
                "notifications.ui_url",
            ]
        );
        let all = c.all_targets();
        assert_eq!(all.len(), 4);
        assert_eq!(
            (all[0].name.as_str(), all[0].format),
            ("webhook", Format::Alertmanager)
        );
    }
}
