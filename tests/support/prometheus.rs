//! A real Prometheus server on a free loopback port, scraping the given targets every second.

use super::server::Server;
use super::wait_until;
use std::net::SocketAddr;
use std::time::Duration;

pub struct Prometheus {
    server: Server,
    pub addr: SocketAddr,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (job `meterd`) and loading `rule_files` (absolute paths).
    /// Panics (fails the test) when the `prometheus` binary is missing.
    pub fn start(
        targets: &[SocketAddr],
        rule_files: &[std::path::PathBuf],
        extra_config: &str,
    ) -> Prometheus {
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
        let server = Server::start("prometheus", "prometheus", |dir, addr| {
            let config_path = dir.join("prometheus.yml");
            std::fs::write(&config_path, &config).map_err(|e| e.to_string())?;
            Ok(vec![
                format!("--config.file={}", config_path.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address={addr}"),
                "--web.enable-lifecycle".into(),
            ])
        });
        Prometheus {
            addr: server.addr,
            server,
        }
    }

    pub fn log(&self) -> String {
        self.server.log()
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
