//! The real `meterd` binary: StatsD usage is priced, counted toward a budget, flushed to the state
//! file; a kill -9 (no shutdown hook, no final flush) and a restart keep the spend to the
//! nano-dollar.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::agent::{find_value, EPHEMERAL_LISTENERS};
use support::wait_until;

struct Meterd {
    child: Child,
    /// Kept so the stderr reader keeps draining: a closed pipe would kill meterd on its next log.
    _lines: mpsc::Receiver<String>,
    http: SocketAddr,
    statsd: SocketAddr,
}

impl Meterd {
    fn start(config: &Path) -> Meterd {
        // METERD_BIN runs the test against a given build (a shared target directory can hold
        // another checkout's binary by the time the test runs).
        let bin =
            std::env::var("METERD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_meterd").into());
        let mut child = Command::new(bin)
            .args(["--config", config.to_str().unwrap(), "--log-format", "json"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn meterd");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let listening = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("meterd never logged `meterd listening`: {e}"));
            if line.contains("meterd listening") {
                break line;
            }
        };
        let v: serde_json::Value = serde_json::from_str(&listening).expect("json log line");
        let addr = |k: &str| -> SocketAddr {
            v[k].as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no {k} address in {listening}"))
        };
        Meterd {
            http: addr("http"),
            statsd: addr("statsd_udp"),
            child,
            _lines: lines,
        }
    }

    fn get(&self, path: &str) -> String {
        reqwest::blocking::Client::new()
            .get(format!("http://{}{path}", self.http))
            .timeout(Duration::from_secs(10))
            .send()
            .and_then(|r| r.text())
            .expect("http get")
    }

    fn spend_nanos(&self) -> u64 {
        let v: serde_json::Value = serde_json::from_str(&self.get("/api/v1/budgets")).unwrap();
        v["budgets"][0]["spend_nanos"].as_u64().unwrap()
    }

    fn metric(&self, series: &str) -> f64 {
        find_value(&self.get("/metrics"), series).unwrap_or(0.0)
    }

    fn kill_9(mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(!exit.success(), "meterd was not killed: {exit}");
    }
}

impl Drop for Meterd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let m = Meterd::start(&config);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // 20 calls of 1,237 input and 311 output tokens: 20 * (1237 * 2500 + 311 * 10000) nano-USD.
    for _ in 0..20 {
        sock.send_to(
            b"llm.tokens:1237|c|#provider:test,model:m1,token_type:input,team:search\n\
              llm.tokens:311|c|#provider:test,model:m1,token_type:output,team:search\n",
            m.statsd,
        )
        .unwrap();
    }
    let want: u64 = 20 * (1237 * 2500 + 311 * 10_000);
    wait_until("spend counted", Duration::from_secs(20), || {
        (m.spend_nanos() == want).then_some(())
    });
    // Wait for two flushes that ended after the spend was visible: the second one began after it,
    // so its commit covers every event counted so far.
    let visible = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let flushed = || m.metric("meterd_state_last_flush_success_timestamp_seconds");
    let first = wait_until("a flush after the spend", Duration::from_secs(20), || {
        let t = flushed();
        (t > visible).then_some(t)
    });
    wait_until("a second flush", Duration::from_secs(20), || {
        (flushed() > first).then_some(())
    });
    m.kill_9();

    let m = Meterd::start(&config);
    assert_eq!(m.spend_nanos(), want);
    assert_eq!(
        find_value(
            &m.get("/metrics"),
            "llm_budget_spend_usd{budget=\"search\",period=\"monthly\"}"
        ),
        Some(want as f64 / 1e9)
    );
    let ready = m.get("/readyz");
    assert!(ready.contains("ready"), "{ready}");
}
