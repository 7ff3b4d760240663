//! A real Prometheus server on a free loopback port, scraping the given targets every second.

use super::wait_until;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (job `meterd`) and loading `rule_files` (absolute paths).
    /// Panics (fails the test) when the `prometheus` binary is missing.
    pub fn start(
        targets: &[SocketAddr],
        rule_files: &[std::path::PathBuf],
        extra_config: &str,
    ) -> Prometheus {
        // A port probed free can be taken before Prometheus binds it: retry with a fresh one.
        let mut last_err = String::new();
        for _ in 0..3 {
            match Self::try_start(targets, rule_files, extra_config) {
                Ok(p) => return p,
                Err(e) => last_err = e,
            }
        }
        panic!("prometheus did not start: {last_err}");
    }

    fn try_start(
        targets: &[SocketAddr],
        rule_files: &[std::path::PathBuf],
        extra_config: &str,
    ) -> Result<Prometheus, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let rules: Vec<String> = rule_files
            .iter()
            .map(|r| format!("  - '{}'", r.display()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n{}\n\
             scrape_configs:\n  - job_name: meterd\n    static_configs:\n      - targets: [{}]\n{extra_config}",
            if rules.is_empty() { "  []".to_string() } else { rules.join("\n") },
            targets.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .map_err(|e| format!("{e}"))?;
        let log =
            std::fs::File::create(dir.path().join("prometheus.log")).map_err(|e| e.to_string())?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run `prometheus` (install the Debian package `prometheus`; scripts/test.sh does): {e}"))?;
        let mut p = Prometheus { child, addr, dir };
        let client = reqwest::blocking::Client::new();
        for _ in 0..150 {
            if let Ok(Some(status)) = p.child.try_wait() {
                return Err(format!("prometheus exited with {status}: {}", p.log()));
            }
            let ready = client
                .get(format!("http://{addr}/-/ready"))
                .timeout(Duration::from_secs(1))
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(p);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("prometheus not ready after 15s: {}", p.log()))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Runs an instant query; returns (labels, value) per result series.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Value, f64)> {
        let client = reqwest::blocking::Client::new();
        let resp: serde_json::Value = client
            .get(format!("http://{}/api/v1/query", self.addr))
            .query(&[("query", promql)])
            .timeout(Duration::from_secs(10))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("query {promql:?} failed: {e}"));
        assert_eq!(resp["status"], "success", "query {promql:?}: {resp}");
        resp["data"]["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        let v = r["value"][1].as_str()?.parse().ok()?;
                        Some((r["metric"].clone(), v))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until `promql` returns exactly one series whose value is `want`.
    pub fn wait_for_value(&self, promql: &str, want: f64) {
        let mut last = Vec::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(
                &format!("{promql} == {want}"),
                Duration::from_secs(30),
                || {
                    last = self.query(promql);
                    (last.len() == 1 && (last[0].1 - want).abs() < 1e-9).then_some(())
                },
            )
        }));
        if found.is_err() {
            panic!(
                "{promql}: wanted {want}, last result {last:?}\nprometheus log:\n{}",
                self.log()
            );
        }
    }

    /// Health of the scrape target(s), from Prometheus' own view.
    pub fn wait_for_targets_up(&self) {
        self.wait_for_value("min(up{job=\"meterd\"})", 1.0);
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
