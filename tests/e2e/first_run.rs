//! Issue 23, a first run on a bare machine: the README quick start followed verbatim (by
//! scripts/quickstart-check.sh, against this build, on free ports), and `state.data_dir`
//! relative to the config file, so starting from another directory keeps budget spend.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::binary::{args, exe, Meterd};
use crate::support::spans;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A loopback port free for both TCP and UDP (StatsD listens on both) at the time of asking.
fn free_port(taken: &[u16]) -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        if !taken.contains(&port) && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[test]
fn readme_quick_start_runs_verbatim() {
    let mut ports = Vec::new();
    for _ in 0..4 {
        let p = free_port(&ports);
        ports.push(p);
    }
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/quickstart-check.sh"))
        .env("METERD_BIN", exe())
        .env("METERD_QUICKSTART_PORTS", ports.join(" "))
        .output()
        .expect("run scripts/quickstart-check.sh (needs bash)");
    assert!(
        out.status.success(),
        "the README quick start does not run as written:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("meterd.yaml");
    std::fs::write(
        &path,
        format!(
            "{EPHEMERAL_LISTENERS}state: {{data_dir: state}}
pricing:
  models:
    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}
budgets:
  - {{name: all, period: total, limit_usd: 10}}
"
        ),
    )
    .expect("write config");
    path
}

fn start_in(config: &Path, cwd: &Path) -> Meterd {
    let mut cmd = Command::new(exe());
    cmd.args(args(config)).current_dir(cwd);
    Meterd::spawn(cmd)
}

fn export_one_call(m: &Meterd) {
    m.export_traces(spans::gpt4o_chat(0, &[]));
}

#[test]
fn data_dir_is_relative_to_the_config_file_not_the_working_directory() {
    let root = tempfile::tempdir().expect("tempdir");
    let (conf, here, there) = (
        root.path().join("conf"),
        root.path().join("here"),
        root.path().join("there"),
    );
    for d in [&conf, &here, &there] {
        std::fs::create_dir(d).expect("mkdir");
    }
    let config = write_config(&conf);

    // 1,000 input and 500 output tokens of gpt-4o: 0.0075 USD, committed before the ack.
    let first = start_in(&config, &here);
    export_one_call(&first);
    assert_eq!(first.spend_nanos("all"), 7_500_000);
    drop(first);
    assert!(conf.join("state/budgets.redb").is_file());
    assert!(
        !here.join("state").exists(),
        "state followed the working directory"
    );

    let second = start_in(&config, &there);
    assert_eq!(
        second.spend_nanos("all"),
        7_500_000,
        "started from another directory, spend restarted: {}",
        second.log()
    );
    drop(second);

    // State where an older version put it (relative to the working directory), none where the
    // config points: refused with both paths and exit 78, never a silent start from zero.
    std::fs::rename(conf.join("state"), here.join("state")).expect("move state");
    let out = Command::new(exe())
        .args(args(&config))
        .current_dir(&here)
        .output()
        .expect("run meterd");
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{log}");
    assert!(
        log.contains("state.data_dir")
            && log.contains(&conf.join("state").display().to_string())
            && log.contains("state/budgets.redb")
            && log.contains("from an earlier run"),
        "{log}"
    );
}

/// An exporter configured with a wrong path is told the three that exist.
#[test]
fn unknown_otlp_paths_get_a_404_listing_the_valid_ones() {
    let agent = crate::support::agent::Agent::start("");
    let base = format!("http://{}", agent.addrs().otlp_http.expect("otlp http"));
    for path in ["/v1/trace", "/", "/otlp/v1/metrics"] {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{base}{path}"))
            .header("content-type", "application/x-protobuf")
            .body(Vec::new())
            .timeout(Duration::from_secs(10))
            .send()
            .expect("post");
        assert_eq!(resp.status().as_u16(), 404, "{path}");
        let body = resp.text().expect("body");
        assert_eq!(
            body,
            format!(
                "no OTLP endpoint at {path}: POST to /v1/traces, /v1/metrics or /v1/logs (an \
                 OTEL_EXPORTER_OTLP_ENDPOINT without a path gets them appended)\n"
            )
        );
    }
}
