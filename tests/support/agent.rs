//! An in-process meterd with every listener on 127.0.0.1:0, driven from synchronous tests.

use meterd::app::{BoundAddrs, Running};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

pub struct Agent {
    pub rt: tokio::runtime::Runtime,
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

/// Listener block binding everything to ephemeral loopback ports.
pub const EPHEMERAL_LISTENERS: &str = "listeners:
  statsd_udp: 127.0.0.1:0
  statsd_tcp: 127.0.0.1:0
  otlp_grpc: 127.0.0.1:0
  otlp_http: 127.0.0.1:0
  http: 127.0.0.1:0
";

impl Agent {
    /// Starts meterd with `extra_yaml` appended to the ephemeral listener block and a temp data dir.
    pub fn start(extra_yaml: &str) -> Agent {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("meterd.yaml");
        let yaml = format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n{extra_yaml}",
            dir.path().join("data").display()
        );
        std::fs::write(&config_path, yaml).expect("write config");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let running = rt
            .block_on(meterd::app::start(&config_path))
            .unwrap_or_else(|e| panic!("meterd did not start: {e}"));
        Agent {
            rt,
            running: Some(running),
            dir,
            config_path,
        }
    }

    /// Stops meterd (a clean shutdown, final state flush included) and starts it again on the same
    /// config file and data directory.
    pub fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt.block_on(r.shutdown());
        }
        let running = self
            .rt
            .block_on(meterd::app::start(&self.config_path))
            .unwrap_or_else(|e| panic!("meterd did not restart: {e}"));
        self.running = Some(running);
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    pub fn addrs(&self) -> &BoundAddrs {
        &self.running().addrs
    }

    pub fn http(&self) -> SocketAddr {
        self.addrs().http.expect("http listener")
    }

    pub fn send_udp(&self, payload: &str) {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        sock.send_to(
            payload.as_bytes(),
            self.addrs().statsd_udp.expect("statsd udp"),
        )
        .expect("udp send");
    }

    pub fn send_tcp(&self, payload: &str) {
        let mut s =
            TcpStream::connect(self.addrs().statsd_tcp.expect("statsd tcp")).expect("tcp connect");
        s.write_all(payload.as_bytes()).expect("tcp write");
    }

    /// GET /metrics with the given Accept header (None: Prometheus text).
    pub fn scrape(&self, accept: Option<&str>) -> String {
        let client = reqwest::blocking::Client::new();
        let mut req = client.get(format!("http://{}/metrics", self.http()));
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let resp = req.timeout(Duration::from_secs(10)).send().expect("scrape");
        assert!(
            resp.status().is_success(),
            "scrape status {}",
            resp.status()
        );
        resp.text().expect("scrape body")
    }

    /// The value of the exposition line that starts with `series` (exact series text incl. labels).
    pub fn metric(&self, series: &str) -> Option<f64> {
        find_value(&self.scrape(None), series)
    }

    /// Waits (10 s at most) until `series` reads `want`; the panic shows the last value and the
    /// whole scrape.
    pub fn wait_metric(&self, series: &str, want: f64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let body = self.scrape(None);
            let last = find_value(&body, series);
            if last == Some(want) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{series}: wanted {want}, got {last:?} after 10 s\n{body}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    pub fn write_config(&self, extra_yaml: &str) {
        let yaml = format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n{extra_yaml}",
            self.dir.path().join("data").display()
        );
        std::fs::write(&self.config_path, yaml).expect("write config");
    }
}

pub fn find_value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.split(' ').next())
        .and_then(|v| v.parse().ok())
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt.block_on(r.shutdown());
        }
    }
}
