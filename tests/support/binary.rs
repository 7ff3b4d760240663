//! The real `meterd` binary as a child process: started from a prepared command (so a test can
//! wrap it, e.g. in `unshare`), addresses read from its JSON "meterd listening" log line, stderr
//! kept for assertions and failure messages.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Meterd {
    pub child: Child,
    pub http: SocketAddr,
    pub otlp_http: SocketAddr,
    pub otlp_grpc: SocketAddr,
    pub statsd_udp: SocketAddr,
    /// `None` when the config turns the TCP listener off.
    pub statsd_tcp: Option<SocketAddr>,
    log: Arc<Mutex<Vec<String>>>,
}

/// The path of the binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_meterd")
}

/// `meterd --config <config> --log-format json`, ready to spawn (or to wrap).
pub fn args(config: &std::path::Path) -> Vec<String> {
    vec![
        "--config".into(),
        config.display().to_string(),
        "--log-format".into(),
        "json".into(),
    ]
}

impl Meterd {
    /// Spawns `cmd` (which must end up exec'ing meterd with `--log-format json`) and waits for it
    /// to listen. Panics with everything it printed if it exits first.
    pub fn spawn(mut cmd: Command) -> Meterd {
        let mut child = cmd
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut lines = stderr.lines().map_while(Result::ok);
        let mut before = Vec::new();
        let listening = loop {
            match lines.next() {
                Some(l) if l.contains("meterd listening") => break l,
                Some(l) => before.push(l),
                None => {
                    let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                    panic!(
                        "meterd ({cmd:?}) exited ({status}) before listening; it printed:\n{}",
                        before.join("\n")
                    );
                }
            }
        };
        let log = Arc::new(Mutex::new(before));
        {
            // Keep draining stderr so meterd never blocks on a full pipe.
            let log = log.clone();
            std::thread::spawn(move || {
                for l in lines {
                    if let Ok(mut v) = log.lock() {
                        v.push(l);
                    }
                }
            });
        }
        let v: serde_json::Value = serde_json::from_str(&listening).expect("json log line");
        let addr = |k: &str| -> SocketAddr {
            v[k].as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no {k} address in {listening}"))
        };
        Meterd {
            http: addr("http"),
            otlp_http: addr("otlp_http"),
            otlp_grpc: addr("otlp_grpc"),
            statsd_udp: addr("statsd_udp"),
            statsd_tcp: v["statsd_tcp"].as_str().and_then(|s| s.parse().ok()),
            child,
            log,
        }
    }

    /// Everything meterd logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|v| v.join("\n")).unwrap_or_default()
    }

    /// POSTs an OTLP/HTTP protobuf traces request and asserts it was acknowledged.
    pub fn export_traces(&self, body: Vec<u8>) {
        let resp = reqwest::blocking::Client::new()
            .post(format!("http://{}/v1/traces", self.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .expect("export");
        assert!(
            resp.status().is_success(),
            "export answered {}",
            resp.status()
        );
    }

    /// GET `path` on the HTTP endpoint: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::blocking::Client::new()
            .get(format!("http://{}{path}", self.http))
            .timeout(Duration::from_secs(10))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.text().expect("body"))
    }

    /// The value of a series in a scrape (exact series text, labels included).
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "/metrics answered {status}: {body}");
        crate::support::agent::find_value(&body, series)
    }

    /// `spend_nanos` of the budget `name` from the JSON API.
    pub fn spend_nanos(&self, name: &str) -> u64 {
        let (_, body) = self.get("/api/v1/budgets");
        let v: serde_json::Value = serde_json::from_str(&body).expect("budgets json");
        let list = v.get("budgets").unwrap_or(&v);
        list.as_array()
            .and_then(|a| a.iter().find(|b| b["name"] == name))
            .and_then(|b| b["spend_nanos"].as_u64())
            .unwrap_or_else(|| panic!("no spend_nanos for budget `{name}` in {v}"))
    }

    pub fn send_udp(&self, payload: &str) {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        sock.send_to(payload.as_bytes(), self.statsd_udp)
            .expect("udp send");
    }
}

impl Meterd {
    /// Writes `payload` on one TCP connection and closes it.
    pub fn send_tcp(&self, payload: &str) {
        use std::io::Write;
        let addr = self.statsd_tcp.expect("statsd tcp listener");
        let mut s = std::net::TcpStream::connect(addr).expect("tcp connect");
        s.write_all(payload.as_bytes()).expect("tcp write");
    }
}

impl Drop for Meterd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
