//! The `meterd` binary's command line, run as a user would.

use std::process::Command;

fn meterd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meterd"))
}

#[test]
fn version_and_help() {
    let out = meterd().arg("--version").output().expect("run meterd");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("meterd {}", env!("CARGO_PKG_VERSION"))
    );
    let out = meterd().arg("--help").output().expect("run meterd");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in ["--config", "check-config", "--log-format", "--log-level"] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn shipped_default_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/meterd.yaml");
    let out = meterd()
        .args(["check-config", path])
        .output()
        .expect("run meterd");
    assert!(
        out.status.success(),
        "check-config failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_lists_every_error_with_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "limits:\n  max_series_total: 0\n  max_sereis_per_metric: 5\nscope_labels: [team, \"bad-label\"]\nlistners: {}\n",
    )
    .expect("write");
    let out = meterd()
        .args(["check-config", path.to_str().expect("utf8 path")])
        .output()
        .expect("run meterd");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    for needle in [
        format!("{file}:2:3"),         // limits.max_series_total: 0
        format!("{file}:3:3"),         // unknown key max_sereis_per_metric
        format!("{file}:5:1"),         // unknown key listners
        "scope_labels[1]".to_string(), // invalid label name
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn run_with_invalid_config_exits_non_zero_without_binding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "limits: {max_series_total: nope}\n").expect("write");
    let out = meterd()
        .args(["--config", path.to_str().expect("utf8 path")])
        .output()
        .expect("run meterd");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_series_total"));
}

/// The real binary on ephemeral ports, its JSON log lines read from stderr.
struct Binary {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    http: String,
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

fn config_text(dir: &std::path::Path, extra: &str) -> String {
    format!(
        "{}state:\n  data_dir: {}\n{extra}",
        crate::support::agent::EPHEMERAL_LISTENERS,
        dir.join("data").display()
    )
}

impl Binary {
    fn start(extra: &str, args: &[&str]) -> Binary {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("meterd.yaml");
        std::fs::write(&config, config_text(dir.path(), extra)).expect("write");
        let mut child = meterd()
            .args([
                "--config",
                config.to_str().expect("utf8"),
                "--log-format",
                "json",
            ])
            .args(args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn meterd");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut b = Binary {
            child,
            lines,
            http: String::new(),
            _dir: dir,
            config,
        };
        let line = b.wait_log("meterd listening");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
        b.http = v["http"].as_str().expect("http field").to_string();
        b
    }

    fn wait_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no log line containing {needle:?}: {e}"),
            }
        }
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::Client::new()
            .get(format!("http://{}{path}", self.http))
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .expect("http get")
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn metric(&self, series: &str) -> Option<f64> {
        crate::support::agent::find_value(&self.get("/metrics").text().expect("body"), series)
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn binary_serves_and_shuts_down_gracefully_on_sigterm() {
    let mut b = Binary::start("", &[]);
    assert_eq!(b.get("/healthz").status(), 200);
    let ready = b.get("/readyz");
    assert_eq!(ready.status(), 200, "{}", ready.text().unwrap_or_default());
    b.signal("-TERM");
    let exit =
        crate::support::wait_until("meterd to exit", std::time::Duration::from_secs(15), || {
            b.child.try_wait().expect("try_wait")
        });
    assert!(exit.success(), "meterd exited with {exit}");
    b.wait_log("meterd stopped");
}

#[test]
fn sighup_reloads_and_bad_config_keeps_running() {
    let b = Binary::start("", &["--watch-interval", "0"]);
    std::fs::write(
        &b.config,
        config_text(b.config.parent().expect("dir"), "scope_labels: [team]\n"),
    )
    .expect("write");
    b.signal("-HUP");
    b.wait_log("config reloaded");
    assert_eq!(
        b.metric("meterd_config_reloads_total{result=\"success\"}"),
        Some(2.0)
    );
    std::fs::write(&b.config, "limits: [not, a, map]\n").expect("write");
    b.signal("-HUP");
    b.wait_log("config reload rejected");
    assert_eq!(
        b.metric("meterd_config_reloads_total{result=\"failure\"}"),
        Some(1.0)
    );
    assert_eq!(b.metric("meterd_config_last_reload_successful"), Some(0.0));
    assert_eq!(b.get("/healthz").status(), 200);
}

#[test]
fn editing_the_config_file_triggers_a_reload() {
    let b = Binary::start("", &["--watch-interval", "200ms"]);
    std::fs::write(
        &b.config,
        config_text(b.config.parent().expect("dir"), "scope_labels: [team]\n"),
    )
    .expect("write");
    b.wait_log("pricing file changed: reloading");
    b.wait_log("config reloaded");
    assert_eq!(
        b.metric("meterd_config_reloads_total{result=\"success\"}"),
        Some(2.0)
    );
}
