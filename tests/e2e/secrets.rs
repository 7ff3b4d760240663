//! No secret reaches a log line or `check-config` output: the real binary runs at debug level
//! with every kind of credential configured (scrape, ingest, admin, a TLS key), is sent wrong
//! and right credentials, reloads good and bad configs, performs an admin action; then its whole
//! log is searched for each secret.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::certs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

const SCRAPE: &str = "scrape-secret-1111111111";
const INGEST: &str = "ingest-secret-2222222222";
const PASSWORD: &str = "basic-password-3333333333";
const ADMIN: &str = "admin-secret-4444444444";

fn config(
    dir: &std::path::Path,
    key_file: &std::path::Path,
    cert_file: &std::path::Path,
) -> String {
    format!(
        "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\nhttp_auth:\n  bearer_tokens: [\"{SCRAPE}\"]\n\
         otlp:\n  auth:\n    bearer_tokens: [\"{INGEST}\"]\n    basic:\n      - {{username: app, password: \"{PASSWORD}\"}}\n\
         admin:\n  tokens:\n    - {{name: ops, token: \"{ADMIN}\"}}\n\
         tls:\n  otlp_grpc:\n    cert_file: {}\n    key_file: {}\n\
         budgets:\n  - {{name: everything, period: total, limit_usd: 10}}\n",
        dir.join("data").display(),
        cert_file.display(),
        key_file.display()
    )
}

#[test]
fn no_secret_appears_in_logs_or_check_config_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = certs::generate(dir.path(), "");
    let key_pem = std::fs::read_to_string(&pki.key_file).expect("key");
    let key_body: Vec<String> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_string)
        .collect();
    let path = dir.path().join("meterd.yaml");
    let good = config(dir.path(), &pki.key_file, &pki.cert_file);
    std::fs::write(&path, &good).expect("write config");

    let mut child = Command::new(env!("CARGO_BIN_EXE_meterd"))
        .args([
            "--config",
            path.to_str().expect("utf8"),
            "--log-format",
            "json",
        ])
        .args(["--log-level", "debug", "--watch-interval", "0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn meterd");
    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = String::from_utf8_lossy(&buf[..n]).to_string();
            let _ = tx.send(chunk.clone());
            all.push_str(&chunk);
        }
        all
    });
    let mut seen = String::new();
    let listening = loop {
        let chunk = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("meterd logs");
        seen.push_str(&chunk);
        if let Some(line) = seen.lines().find(|l| l.contains("meterd listening")) {
            break line.to_string();
        }
    };
    let v: serde_json::Value = serde_json::from_str(&listening).expect("json log");
    let http = v["http"].as_str().expect("http").to_string();
    let otlp_http = v["otlp_http"].as_str().expect("otlp_http").to_string();

    let client = reqwest::blocking::Client::new();
    // The status, compared; the body goes in the message when it is not the one expected (a
    // reload's 422 lists its errors).
    let send = |url: String, auth: &str| {
        let resp = client
            .post(url)
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .expect("request");
        let status = resp.status().as_u16();
        Answer(status, resp.text().unwrap_or_default())
    };
    // Wrong credentials of each kind (a near miss of each secret), then right ones.
    assert_eq!(
        send(
            format!("http://{otlp_http}/v1/metrics"),
            &format!("Bearer {SCRAPE}")
        ),
        401
    );
    assert_eq!(
        send(
            format!("http://{otlp_http}/v1/metrics"),
            &format!("Bearer {INGEST}")
        ),
        200
    );
    assert_eq!(
        send(
            format!("http://{http}/api/v1/admin/reload"),
            &format!("Bearer {SCRAPE}")
        ),
        401
    );
    assert_eq!(
        send(
            format!("http://{http}/api/v1/admin/reload"),
            &format!("Bearer {ADMIN}")
        ),
        200
    );
    assert_eq!(
        send(
            format!("http://{http}/api/v1/admin/budgets/everything/reset"),
            &format!("Bearer {ADMIN}")
        ),
        200
    );
    // A rejected reload whose errors are about the secrets themselves.
    std::fs::write(&path, good.replace(INGEST, ADMIN)).expect("write bad config");
    assert_eq!(
        send(
            format!("http://{http}/api/v1/admin/reload"),
            &format!("Bearer {ADMIN}")
        ),
        422
    );
    std::fs::write(&path, &good).expect("restore config");

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "meterd exit: {status}");
    let logs = reader.join().expect("reader");
    assert!(
        logs.contains("\"action\":\"budget_reset\""),
        "audit line missing:\n{logs}"
    );
    assert!(
        logs.contains("\"who\":\"ops\""),
        "audit names the token:\n{logs}"
    );
    for secret in [SCRAPE, INGEST, PASSWORD, ADMIN] {
        assert!(!logs.contains(secret), "{secret} in logs:\n{logs}");
    }
    for line in &key_body {
        assert!(!logs.contains(line.as_str()), "key material in logs");
    }

    // check-config on a config whose errors concern the secrets.
    std::fs::write(
        &path,
        good.replace(INGEST, ADMIN).replace(SCRAPE, "tiny-tok"),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_meterd"))
        .args(["check-config", path.to_str().expect("utf8")])
        .output()
        .expect("check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("admin.tokens[0].token: is also used as otlp.auth.bearer_tokens[0]"),
        "{text}"
    );
    assert!(text.contains("http_auth.bearer_tokens[0]"), "{text}");
    for secret in [ADMIN, "tiny-tok", PASSWORD] {
        assert!(
            !text.contains(secret),
            "{secret} in check-config output:\n{text}"
        );
    }
}

#[test]
fn config_debug_output_redacts_every_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = certs::generate(dir.path(), "");
    let path = dir.path().join("meterd.yaml");
    std::fs::write(&path, config(dir.path(), &pki.key_file, &pki.cert_file)).expect("write");
    let loaded = meterd::config::load::load_config(&path).expect("valid config");
    let shown = format!("{loaded:?}");
    for secret in [SCRAPE, INGEST, PASSWORD, ADMIN] {
        assert!(!shown.contains(secret), "{secret} in Debug output");
    }
    assert!(shown.contains("<redacted>"));
}

/// An HTTP answer that compares equal to its status code and shows its body when it differs.
struct Answer(u16, String);

impl PartialEq<u16> for Answer {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.0, self.1)
    }
}
