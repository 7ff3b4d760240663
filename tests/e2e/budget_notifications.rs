//! Budget notifications from the real binary to a webhook receiver: each threshold arrives
//! exactly once, in an Alertmanager-shaped body, and a kill -9 and restart does not send it again.

use crate::support::alertmanager::Webhook;
use crate::support::binary::{self, Meterd};
use crate::support::spans;
use std::process::Command;
use std::time::{Duration, Instant};

fn start(config: &std::path::Path) -> Meterd {
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(config));
    Meterd::spawn(cmd)
}

fn export(m: &Meterd, i: u64) {
    m.export_traces(spans::gpt4o_chat(i, &[]));
}

/// Thresholds of the firing notifications received so far, in arrival order.
fn thresholds(hook: &Webhook) -> Vec<String> {
    hook.received()
        .iter()
        .flat_map(|n| n.firing().into_iter().cloned().collect::<Vec<_>>())
        .map(|l| l["threshold"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn wait_for_count(hook: &Webhook, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while thresholds(hook).len() < n {
        assert!(
            Instant::now() < deadline,
            "expected {n} notifications, got {:?}",
            thresholds(hook)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn each_threshold_reaches_the_webhook_exactly_once_across_a_kill_9() {
    let hook = Webhook::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{}state:\n  data_dir: {}\n\
             pricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
             budgets:\n  - {{name: tiny, period: monthly, limit_usd: 0.03, thresholds: [0.5, 0.8]}}\n\
             notifications:\n  webhook:\n    url: {}\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.path().join("data").display(),
            hook.url("/hook")
        ),
    )
    .expect("write config");
    let mut first = start(&config);
    // $0.0075 a call: two calls are 50% of $0.03.
    export(&first, 0);
    export(&first, 1);
    wait_for_count(&hook, 1);
    let n = &hook.received()[0];
    assert_eq!(n.path, "/hook");
    assert_eq!(n.body["version"], "4");
    assert_eq!(n.body["status"], "firing");
    assert_eq!(n.firing()[0]["alertname"], "MeterdBudgetThreshold");
    assert_eq!(n.firing()[0]["budget"], "tiny");
    assert!(
        first.log().contains("budget_threshold_crossed"),
        "no structured log line: {}",
        first.log()
    );
    first.child.kill().expect("kill -9");
    first.child.wait().expect("reap");

    let second = start(&config);
    // The restarted agent sees the same spend at 50%: several ticks pass without a repeat.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(thresholds(&hook), ["0.5"], "re-sent after a restart");
    export(&second, 2);
    export(&second, 3);
    wait_for_count(&hook, 3);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(thresholds(&hook), ["0.5", "0.8", "1"]);
    assert_eq!(
        second.metric("meterd_notifications_total{result=\"success\"}"),
        Some(2.0)
    );
}
