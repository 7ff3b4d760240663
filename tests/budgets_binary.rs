//! The real `meterd` binary: StatsD usage is priced, counted toward a budget, flushed to the state
//! file; a kill -9 (no shutdown hook, no final flush) and a restart keep the spend to the
//! nano-dollar.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

mod support;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::agent::{find_value, EPHEMERAL_LISTENERS};
use support::binary::{self, Meterd};
use support::wait_until;

fn start(config: &Path) -> Meterd {
    // METERD_BIN runs the test against a given build (a shared target directory can hold
    // another checkout's binary by the time the test runs).
    let bin = std::env::var("METERD_BIN").unwrap_or_else(|_| binary::exe().into());
    let mut cmd = Command::new(bin);
    cmd.args(binary::args(config));
    Meterd::spawn(cmd)
}

/// SIGKILL: no shutdown hook, no final flush.
fn kill_9(mut m: Meterd) {
    let status = Command::new("kill")
        .args(["-KILL", &m.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = m.child.wait().expect("wait");
    assert!(!exit.success(), "meterd was not killed: {exit}");
}

/// Prices: $2.50 per 1M input tokens, $10 per 1M output tokens.
const CONFIG: &str = "scope_labels: [team]
pricing:
  models:
    - {provider: test, model: m1, prices: {input: 2.50, output: 10.00}}
budgets:
  - name: search
    match: {team: search}
    period: monthly
    limit_usd: 1000
";

#[test]
fn kill_9_after_flush_keeps_statsd_spend_to_the_nano_dollar() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n  flush_interval: 200ms\n{CONFIG}",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let m = start(&config);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // 20 calls of 1,237 input and 311 output tokens: 20 * (1237 * 2500 + 311 * 10000) nano-USD.
    for _ in 0..20 {
        sock.send_to(
            b"llm.tokens:1237|c|#provider:test,model:m1,token_type:input,team:search\n\
              llm.tokens:311|c|#provider:test,model:m1,token_type:output,team:search\n",
            m.statsd_udp,
        )
        .unwrap();
    }
    let want: u64 = 20 * (1237 * 2500 + 311 * 10_000);
    wait_until("spend counted", Duration::from_secs(20), || {
        (m.spend_nanos("search") == want).then_some(())
    });
    // Wait for two flushes that ended after the spend was visible: the second one began after it,
    // so its commit covers every event counted so far.
    let visible = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let flushed = || {
        m.metric("meterd_state_last_flush_success_timestamp_seconds")
            .unwrap_or(0.0)
    };
    let first = wait_until("a flush after the spend", Duration::from_secs(20), || {
        let t = flushed();
        (t > visible).then_some(t)
    });
    wait_until("a second flush", Duration::from_secs(20), || {
        (flushed() > first).then_some(())
    });
    kill_9(m);

    let m = start(&config);
    assert_eq!(m.spend_nanos("search"), want);
    assert_eq!(
        find_value(
            &m.get("/metrics").1,
            "llm_budget_spend_usd{budget=\"search\",period=\"monthly\"}"
        ),
        Some(want as f64 / 1e9)
    );
    let (status, ready) = m.get("/readyz");
    assert_eq!(status, 200, "{ready}");
}
