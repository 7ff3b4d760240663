//! Crash safety of acknowledged spend: GenAI spans over OTLP/HTTP to the real `meterd` binary, each
//! request acknowledged only once its budget spend is on disk; then `kill -9` (no shutdown, no
//! flush) and a restart on the same data directory. The spend is intact to the nano-dollar.

use crate::support::binary::{self, Meterd};
use crate::support::spans;
use std::process::Command;
use std::time::Duration;

fn start(config: &std::path::Path) -> Meterd {
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(config));
    Meterd::spawn(cmd)
}

#[test]
fn acknowledged_otlp_spend_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{}state:\n  data_dir: {}\n  flush_interval: 1h\npricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\nbudgets:\n  - {{name: everything, period: total, limit_usd: 1000}}\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    // flush_interval is an hour: only the per-request commit can have made this spend durable.
    let first = start(&config);
    let client = reqwest::blocking::Client::new();
    let calls = 25u64;
    for i in 0..calls {
        let resp = client
            .post(format!("http://{}/v1/traces", first.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(spans::gpt4o_chat(i, &[]))
            .timeout(Duration::from_secs(10))
            .send()
            .expect("export");
        assert!(
            resp.status().is_success(),
            "export answered {}",
            resp.status()
        );
    }
    // $2.50/1M x 1000 + $10/1M x 500 = $0.0075 per call.
    let expected = calls * 7_500_000;
    assert_eq!(first.spend_nanos("everything"), expected);
    let mut first = first;
    first.child.kill().expect("kill -9");
    first.child.wait().expect("reap");

    let second = start(&config);
    assert_eq!(
        second.spend_nanos("everything"),
        expected,
        "acknowledged spend lost in the crash"
    );
}
