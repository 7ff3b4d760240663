//! A real Alertmanager (the Debian `prometheus-alertmanager` binary) on a free loopback port, and a
//! webhook receiver owned by the test that records every notification it is sent.

use super::server::Server;
use super::wait_until;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One notification: the request path (which receiver) and the webhook JSON payload.
#[derive(Clone, Debug)]
pub struct Notification {
    pub path: String,
    pub body: serde_json::Value,
}

impl Notification {
    /// Labels of the firing alerts in this notification.
    pub fn firing(&self) -> Vec<&serde_json::Value> {
        self.body["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["status"] == "firing")
            .map(|a| &a["labels"])
            .collect()
    }

    pub fn firing_names(&self) -> Vec<String> {
        self.firing()
            .iter()
            .filter_map(|l| l["alertname"].as_str().map(str::to_string))
            .collect()
    }
}

/// An HTTP server on 127.0.0.1 that answers every POST with 200 and keeps the JSON bodies.
pub struct Webhook {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Notification>>>,
    stop: Arc<AtomicBool>,
}

impl Webhook {
    pub fn start() -> Webhook {
        Webhook::serving(None)
    }

    /// The same receiver over HTTPS, with the server certificate of `pki` (for `127.0.0.1` and
    /// `localhost`): a client must trust `pki`'s CA to deliver.
    pub fn start_tls(pki: &super::certs::Pki) -> Webhook {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(&pki.cert_file)
            .expect("server cert")
            .collect::<Result<Vec<_>, _>>()
            .expect("server cert pem");
        let key = PrivateKeyDer::from_pem_file(&pki.key_file).expect("server key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
        Webhook::serving(Some(Arc::new(config)))
    }

    pub fn url_tls(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    fn serving(tls: Option<Arc<rustls::ServerConfig>>) -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("webhook bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("webhook addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let r = r.clone();
                        let tls = tls.clone();
                        std::thread::spawn(move || {
                            let _ = conn.set_nonblocking(false);
                            let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                            match tls {
                                None => serve(conn, &r),
                                Some(config) => {
                                    let Ok(session) = rustls::ServerConnection::new(config) else {
                                        return;
                                    };
                                    serve(rustls::StreamOwned::new(session, conn), &r);
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Webhook {
            addr,
            received,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Notification> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits for a notification to `path` that satisfies `pred`; panics with everything received.
    pub fn wait_for(
        &self,
        what: &str,
        path: &str,
        pred: impl Fn(&Notification) -> bool,
    ) -> Notification {
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(what, Duration::from_secs(60), || {
                self.received()
                    .into_iter()
                    .find(|n| n.path == path && pred(n))
            })
        }));
        match found {
            Ok(n) => n,
            Err(_) => panic!(
                "no notification to {path}: {what}; received: {:#?}",
                self.received()
                    .iter()
                    .map(|n| (n.path.clone(), n.firing_names()))
                    .collect::<Vec<_>>()
            ),
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// HTTP/1.1 with keep-alive: Alertmanager reuses connections.
fn serve(conn: impl Read + Write, received: &Mutex<Vec<Notification>>) {
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string();
        let mut len = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(body) = serde_json::from_slice(&body) {
            if let Ok(mut v) = received.lock() {
                v.push(Notification { path, body });
            }
        }
        let writer = reader.get_mut();
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

pub struct Alertmanager {
    server: Server,
    pub addr: SocketAddr,
}

impl Alertmanager {
    /// Starts Alertmanager with `config` (YAML text). Panics (fails the test) when the
    /// `prometheus-alertmanager` binary is missing.
    pub fn start(config: &str) -> Alertmanager {
        let server = Server::start(
            "prometheus-alertmanager",
            "prometheus-alertmanager",
            |dir, addr| {
                let config_path = dir.join("alertmanager.yml");
                std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
                Ok(vec![
                    format!("--config.file={}", config_path.display()),
                    format!("--storage.path={}", dir.join("data").display()),
                    format!("--web.listen-address={addr}"),
                    // No gossip: a single instance, and no fixed cluster port to collide on.
                    "--cluster.listen-address=".into(),
                ])
            },
        );
        Alertmanager {
            addr: server.addr,
            server,
        }
    }

    pub fn log(&self) -> String {
        self.server.log()
    }
}
