//! Budget notifications to several targets from the real binary: a `format: slack` target gets
//! an incoming-webhook message (`text` and `blocks` with budget, spend, limit, forecast and a
//! link to `/ui`) exactly once per threshold at or above its `min_severity`, while an
//! Alertmanager target and the `notifications.webhook` of before get every threshold in
//! Alertmanager's shape.

use crate::support::alertmanager::{Notification, Webhook};
use crate::support::binary::{self, Meterd};
use crate::support::spans;
use crate::support::wait_until;
use std::process::Command;
use std::time::Duration;

fn export(m: &Meterd, i: u64) {
    m.export_traces(spans::gpt4o_chat(i, &[]));
}

fn at(hook: &Webhook, path: &str) -> Vec<Notification> {
    hook.received()
        .into_iter()
        .filter(|n| n.path == path)
        .collect()
}

/// Alertmanager thresholds received at `path`, in order.
fn am_thresholds(hook: &Webhook, path: &str) -> Vec<String> {
    at(hook, path)
        .iter()
        .flat_map(|n| n.firing().into_iter().cloned().collect::<Vec<_>>())
        .map(|l| l["threshold"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn slack_texts(hook: &Webhook) -> Vec<String> {
    at(hook, "/slack")
        .iter()
        .map(|n| n.body["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn scrape_value(m: &Meterd, parts: &[&str]) -> Option<f64> {
    let (_, body) = m.get("/metrics");
    body.lines()
        .find(|l| !l.starts_with('#') && parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn slack_gets_each_threshold_at_or_above_its_severity_once() {
    let hook = Webhook::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{}state:\n  data_dir: {}\n\
             pricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
             budgets:\n  - {{name: tiny, period: monthly, limit_usd: 0.03, thresholds: [0.5, 0.9, 1.0]}}\n\
             notifications:\n  ui_url: https://meterd.example/ui\n  webhook:\n    url: {}\n  targets:\n\
             \x20   - {{name: slack, format: slack, min_severity: critical, url: {}}}\n\
             \x20   - {{name: am, format: alertmanager, url: {}}}\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.path().join("data").display(),
            hook.url("/legacy"),
            hook.url("/slack"),
            hook.url("/am"),
        ),
    )
    .expect("write config");
    let m = Meterd::spawn({
        let mut c = Command::new(binary::exe());
        c.args(binary::args(&config));
        c
    });
    // $0.0075 a call: two calls are 50% of $0.03 (a warning: not for Slack).
    export(&m, 0);
    export(&m, 1);
    wait_until(
        "50% at both alertmanager targets",
        Duration::from_secs(20),
        || {
            (am_thresholds(&hook, "/am") == ["0.5"] && am_thresholds(&hook, "/legacy") == ["0.5"])
                .then_some(())
        },
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(slack_texts(&hook).is_empty(), "{:?}", slack_texts(&hook));
    // Four calls: 100%, crossing 0.9 (critical) and 1.0 (exceeded) at once.
    export(&m, 2);
    export(&m, 3);
    wait_until("two Slack messages", Duration::from_secs(20), || {
        (slack_texts(&hook).len() >= 2).then_some(())
    });
    // A few more ticks: nothing is sent twice.
    std::thread::sleep(Duration::from_millis(2500));
    let texts = slack_texts(&hook);
    assert_eq!(
        texts,
        [
            "meterd: budget tiny crossed 90% of its limit (0.03 USD of 0.03 USD, monthly)",
            "meterd: budget tiny crossed 100% of its limit (0.03 USD of 0.03 USD, monthly)",
        ]
    );
    assert_eq!(am_thresholds(&hook, "/am"), ["0.5", "0.9", "1"]);
    assert_eq!(am_thresholds(&hook, "/legacy"), ["0.5", "0.9", "1"]);
    let slack = &at(&hook, "/slack")[1].body;
    let blocks = slack["blocks"].as_array().expect("blocks");
    let fields: Vec<&str> = blocks
        .iter()
        .flat_map(|b| b["fields"].as_array().into_iter().flatten())
        .filter_map(|f| f["text"].as_str())
        .collect();
    for want in [
        "*Budget*\ntiny",
        "*Spend*\n0.03 USD",
        "*Limit*\n0.03 USD",
        "*Utilization*\n100.0%",
        "*Period*\nmonthly",
    ] {
        assert!(fields.contains(&want), "{want:?} not in {fields:?}");
    }
    assert!(
        fields.iter().any(|f| f.starts_with("*Forecast*\n")),
        "{fields:?}"
    );
    assert!(
        blocks.iter().any(|b| b["text"]["text"]
            == "<https://meterd.example/ui|Open the meterd status page>"),
        "{slack:#}"
    );
    assert!(
        slack.get("alerts").is_none(),
        "a Slack body, not Alertmanager's"
    );
    let delivered = |target: &str, format: &str| {
        scrape_value(
            &m,
            &[
                "meterd_notification_deliveries_total{",
                &format!("target=\"{target}\""),
                &format!("format=\"{format}\""),
                "result=\"success\"",
            ],
        )
    };
    assert_eq!(delivered("slack", "slack"), Some(2.0));
    assert_eq!(delivered("am", "alertmanager"), Some(3.0));
    assert_eq!(delivered("webhook", "alertmanager"), Some(3.0));
    assert_eq!(
        m.metric("meterd_notifications_total{result=\"success\"}"),
        Some(8.0)
    );
}

/// Slack's incoming webhooks are HTTPS only: delivered over TLS, the server verified against the
/// platform's trust store (here `SSL_CERT_FILE`, the test CA). A receiver whose certificate no
/// trusted CA signed gets nothing: the delivery fails, counted, after its retries.
#[test]
fn slack_over_https_is_delivered_only_to_a_trusted_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trusted = crate::support::certs::generate(dir.path(), "trusted-");
    let stranger = crate::support::certs::generate(dir.path(), "stranger-");
    let good = Webhook::start_tls(&trusted);
    let bad = Webhook::start_tls(&stranger);
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{}state:\n  data_dir: {}\n\
             pricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
             budgets:\n  - {{name: tiny, period: monthly, limit_usd: 0.03, thresholds: [0.5]}}\n\
             notifications:\n  targets:\n\
             \x20   - {{name: slack, format: slack, url: {}}}\n\
             \x20   - {{name: spoofed, format: slack, max_retries: 1, url: {}}}\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.path().join("data").display(),
            good.url_tls("/services/T0/B0/x"),
            bad.url_tls("/services/T0/B0/x"),
        ),
    )
    .expect("write config");
    let m = Meterd::spawn({
        let mut c = Command::new(binary::exe());
        c.args(binary::args(&config));
        c.env("SSL_CERT_FILE", &trusted.ca_file);
        c.env_remove("SSL_CERT_DIR");
        c
    });
    export(&m, 0);
    export(&m, 1);
    let got = good.wait_for("the 50% message over HTTPS", "/services/T0/B0/x", |n| {
        n.body["text"]
            .as_str()
            .is_some_and(|t| t.contains("crossed 50%"))
    });
    assert!(got.body["blocks"].is_array(), "{:#}", got.body);
    let failed = |target: &str| {
        scrape_value(
            &m,
            &[
                "meterd_notification_deliveries_total{",
                &format!("target=\"{target}\""),
                "result=\"failure\"",
            ],
        )
    };
    wait_until(
        "the untrusted delivery to fail",
        Duration::from_secs(30),
        || failed("spoofed").filter(|n| *n >= 1.0),
    );
    assert!(bad.received().is_empty(), "{:?}", bad.received());
    assert_eq!(good.received().len(), 1, "once");
    let log = m.log();
    assert!(
        log.contains("TLS handshake with 127.0.0.1"),
        "the log says why:\n{log}"
    );
}

/// An https URL is accepted; a bad severity is refused at its line.
#[test]
fn a_bad_slack_target_is_refused_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        "notifications:\n  targets:\n    - {name: ops, format: slack, min_severity: fatal, url: https://hooks.slack.com/services/T/B/X}\n",
    )
    .expect("write");
    let out = Command::new(binary::exe())
        .args(["check-config", &config.display().to_string()])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("meterd.yaml:3:"), "{text}");
    assert!(text.contains("fatal"), "{text}");
    assert!(!text.contains("url"), "https is accepted: {text}");
}
