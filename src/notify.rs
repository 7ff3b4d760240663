//! Budget notifications from the agent itself (for users without Alertmanager): every second the
//! budgets' statuses are compared with the stored marks ([`crate::derive::notify`]); a crossing
//! or a reset is stored first, then logged (a structured line, always) and queued for each
//! target that wants its severity: `notifications.webhook` (an Alertmanager-compatible body, every
//! severity) and each of `notifications.targets` (`alertmanager` or `slack` body, from its
//! `min_severity`). Each target has its own queue and delivery task, so a slow Slack does not
//! hold back Alertmanager.
//!
//! Storing the mark before notifying makes each threshold of each period announced at most once,
//! restarts included; a notification still queued or being retried when the process dies is
//! lost (the log line was written). Each queue is bounded (`queue_size`, fixed when the target is first
//! used): a full queue drops the notification, counted in `meterd_notifications_total{result=
//! "dropped"}` (all targets) and `meterd_notification_deliveries_total{target,format,result}`;
//! delivery is retried with doubling backoff, then counted as `failure`.

use crate::config::fleet::Target;
use crate::config::notifications::{Format, TargetConfig, WebhookConfig};
use crate::derive::notify::{slack_body, webhook_body, Kind, Marks, Notice};
use crate::pipeline::Pipeline;
use crate::state::StateFile;
use crate::store::Store;
use crate::telemetry::{self, catalogue};
use http::Method;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const TICK: Duration = Duration::from_secs(1);

/// Counts one delivery outcome, in total and for its target.
fn count(store: &Store, target: &Dest, result: &str) {
    telemetry::count(store, &catalogue::NOTIFICATIONS, &[("result", result)], 1.0);
    telemetry::count(
        store,
        &catalogue::NOTIFICATION_DELIVERIES,
        &[
            ("target", target.name.as_str()),
            ("format", target.format.as_str()),
            ("result", result),
        ],
        1.0,
    );
}

/// A target's identity as counted.
#[derive(Clone)]
struct Dest {
    name: String,
    format: Format,
}

struct Delivery {
    body: serde_json::Value,
    webhook: WebhookConfig,
}

/// Whether a target wants a notice: crossings and resets of thresholds at or above its
/// minimum severity.
pub fn wanted(t: &TargetConfig, n: &Notice) -> bool {
    n.severity >= t.min_severity
}

fn body(t: &TargetConfig, n: &Notice, now: i64, ui_url: Option<&str>) -> serde_json::Value {
    match t.format {
        Format::Alertmanager => webhook_body(n, now),
        Format::Slack => slack_body(n, ui_url),
    }
}

/// Runs the notifier until `shutdown`. `marks` were read from `file` at start.
pub async fn run(
    pipeline: Arc<Pipeline>,
    file: Arc<StateFile>,
    mut marks: Marks,
    mut shutdown: watch::Receiver<bool>,
) {
    // By name and format: a reload changing a target's format counts under the new one.
    let mut queues: HashMap<(String, Format), mpsc::Sender<Delivery>> = HashMap::new();
    let mut senders = Vec::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        let now = jiff::Timestamp::now().as_second();
        let changes = marks.observe(&pipeline.budgets().statuses(now));
        if changes.puts.is_empty() && changes.deletes.is_empty() {
            continue;
        }
        let (f, puts, deletes) = (file.clone(), changes.puts.clone(), changes.deletes.clone());
        let stored = tokio::task::spawn_blocking(move || f.commit_marks(&puts, &deletes)).await;
        match stored {
            Ok(Ok(())) => marks.apply(&changes),
            Ok(Err(e)) => {
                // Not stored: not announced either; the next tick tries again.
                tracing::error!(error = %e, "budget notification marks not stored; will retry");
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "budget notification task failed; will retry");
                continue;
            }
        }
        let config = pipeline.snapshot().config.clone();
        let targets = config.notifications.all_targets();
        let ui_url = config.notifications.ui_url.as_deref();
        for n in &changes.notices {
            log(n);
            for t in targets.iter().filter(|t| wanted(t, n)) {
                let id = Dest {
                    name: t.name.clone(),
                    format: t.format,
                };
                let tx = queues.entry((t.name.clone(), t.format)).or_insert_with(|| {
                    let (tx, rx) = mpsc::channel::<Delivery>(t.queue_size.max(1));
                    let store = pipeline.store().clone();
                    senders.push(tokio::spawn(deliver(
                        rx,
                        store,
                        id.clone(),
                        shutdown.clone(),
                    )));
                    tx
                });
                let d = Delivery {
                    body: body(t, n, now, ui_url),
                    webhook: t.webhook(),
                };
                if tx.try_send(d).is_err() {
                    count(pipeline.store(), &id, "dropped");
                    tracing::warn!(budget = %n.mark.budget, target = %t.name,
                        "notification queue full: delivery dropped");
                }
            }
        }
    }
    drop(queues);
    for s in senders {
        let _ = s.await;
    }
}

fn log(n: &Notice) {
    let group: Vec<String> = n
        .mark
        .group
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let (spend, limit) = (n.spend_nanos as f64 / 1e9, n.limit_nanos as f64 / 1e9);
    match n.kind {
        Kind::Crossed => tracing::warn!(
            event = "budget_threshold_crossed",
            budget = %n.mark.budget,
            group = %group.join(","),
            period = n.period,
            threshold = n.threshold(),
            spend_usd = spend,
            limit_usd = limit,
            "budget {} crossed {}% of its limit",
            n.mark.budget,
            n.threshold() * 100.0
        ),
        Kind::Reset => tracing::info!(
            event = "budget_threshold_reset",
            budget = %n.mark.budget,
            group = %group.join(","),
            period = n.period,
            threshold = n.threshold(),
            spend_usd = spend,
            limit_usd = limit,
            "budget {} is back under {}% (period or spend reset)",
            n.mark.budget,
            n.threshold() * 100.0
        ),
    }
}

async fn deliver(
    mut rx: mpsc::Receiver<Delivery>,
    store: Arc<Store>,
    target: Dest,
    shutdown: watch::Receiver<bool>,
) {
    while let Some(d) = rx.recv().await {
        let mut backoff = Duration::from_secs(1);
        let mut attempt = 0;
        loop {
            match post(&d.webhook, &d.body).await {
                Ok(()) => {
                    count(&store, &target, "success");
                    break;
                }
                Err(e) if attempt >= d.webhook.max_retries || *shutdown.borrow() => {
                    count(&store, &target, "failure");
                    tracing::error!(error = %e, target = %target.name, url = %d.webhook.url,
                        "budget notification not delivered");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, target = %target.name,
                        "budget notification delivery failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    attempt += 1;
                }
            }
        }
    }
}

async fn post(w: &WebhookConfig, body: &serde_json::Value) -> Result<(), String> {
    let (target, path) = split(&w.url)?;
    let auth = w.bearer_token.as_ref().map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let body = bytes::Bytes::from(body.to_string());
    // A receiver's answer is not read beyond a small cap: only its status matters.
    let (status, _) = crate::net::client::request(
        &target,
        Method::POST,
        &path,
        &headers,
        Some(body),
        64 << 10,
        w.timeout.0,
    )
    .await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

/// `http[s]://host:port/path?q` -> the connection target and the request path.
fn split(url: &str) -> Result<(Target, String), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?}: not an http:// or https:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((
        Target::parse(&format!("{scheme}://{authority}"))?,
        path.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::notifications::Severity;
    use crate::derive::notify::Mark;

    fn notice(threshold_ppm: u64) -> Notice {
        Notice {
            kind: Kind::Crossed,
            mark: Mark {
                budget: "b".into(),
                group: Vec::new(),
                period_start: 1,
                threshold_ppm,
            },
            period: "monthly",
            spend_nanos: 1,
            limit_nanos: 1,
            forecast_nanos: 0,
            severity: match threshold_ppm {
                0..=899_999 => Severity::Warning,
                900_000..=999_999 => Severity::Critical,
                _ => Severity::Exceeded,
            },
        }
    }

    #[test]
    fn a_target_gets_thresholds_from_its_minimum_severity_up() {
        let target = |min_severity| TargetConfig {
            min_severity,
            ..Default::default()
        };
        let got = |min| -> Vec<u64> {
            [500_000, 800_000, 900_000, 1_000_000, 1_200_000]
                .into_iter()
                .filter(|t| wanted(&target(min), &notice(*t)))
                .collect()
        };
        assert_eq!(got(Severity::Warning).len(), 5);
        assert_eq!(got(Severity::Critical), [900_000, 1_000_000, 1_200_000]);
        assert_eq!(got(Severity::Exceeded), [1_000_000, 1_200_000]);
        let slack = TargetConfig {
            format: Format::Slack,
            ..Default::default()
        };
        assert!(body(&slack, &notice(900_000), 0, None)["blocks"].is_array());
        assert_eq!(
            body(&target(Severity::Warning), &notice(900_000), 0, None)["version"],
            "4"
        );
    }
}
