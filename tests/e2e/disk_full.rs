//! A full disk under `state.data_dir`, with the real binary: meterd runs in a private mount
//! namespace whose data directory is a small tmpfs (no mount outlives the test), and another
//! writer fills that filesystem, as a log or a neighbour on a shared volume would. meterd must
//! refuse to acknowledge OTLP spend it cannot make durable, say so on `/readyz` and in its
//! metrics, keep serving `/metrics` and taking StatsD, and recover on its own once space is freed.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::binary::{self, Meterd};
use crate::support::spans;
use crate::support::wait_until;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// $2.50/1M x 1000 input + $10/1M x 500 output tokens of gpt-4o.
const CALL_NANOS: u64 = 7_500_000;

/// A new call (its own span id: the same span again would be a retry, never priced twice).
fn call(team: &str) -> Vec<u8> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    spans::gpt4o_chat(NEXT.fetch_add(1, Ordering::Relaxed), &[("team", team)])
}

fn export(m: &Meterd, team: &str) -> reqwest::blocking::Response {
    send(m, call(team))
}

fn send(m: &Meterd, body: Vec<u8>) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/traces", m.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .expect("OTLP export")
}

fn write_config(dir: &Path, data_dir: &Path) -> PathBuf {
    let config = dir.join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}scope_labels: [team]
state:
  data_dir: {}
  flush_interval: 200ms
pricing:
  models:
    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}
budgets:
  - {{name: everything, period: total, limit_usd: 100000}}
  - {{name: per-team, period: total, limit_usd: 100000, group_by: [team], max_groups: 100000}}
",
            data_dir.display()
        ),
    )
    .expect("write config");
    config
}

/// meterd with `data_dir` on a tmpfs of `size` mounted in a mount namespace of its own: the mount
/// disappears with the process. Fails (never skips) when the mount cannot be made.
pub(crate) fn start_on_tmpfs(config: &Path, data_dir: &Path, size: &str) -> Meterd {
    let script = r#"mount -t tmpfs -o "size=$1" meterd-test "$2" || {
  echo "disk-full test: cannot mount a tmpfs on $2: it needs root (CAP_SYS_ADMIN) and util-linux unshare" >&2
  exit 97
}
shift 2
exec "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .arg(size)
    .arg(data_dir)
    .arg(binary::exe())
    .args(binary::args(config));
    Meterd::spawn(cmd)
}

/// `path` as meterd sees it, from outside its mount namespace.
pub(crate) fn inside(m: &Meterd, path: &Path) -> PathBuf {
    let rel = path.strip_prefix("/").expect("absolute path");
    Path::new(&format!("/proc/{}/root", m.child.id())).join(rel)
}

/// Writes `path` until the filesystem has no space left; any other outcome fails the test.
pub(crate) fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("create filler");
    let chunk = vec![0u8; 4096];
    for _ in 0..(1 << 20) {
        if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_data()) {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::StorageFull,
                "filling the tmpfs: {e}"
            );
            return;
        }
    }
    panic!("wrote 4 GiB into a small tmpfs without running out of space");
}

#[test]
fn full_data_dir_refuses_otlp_spend_keeps_serving_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).expect("mount point");
    let config = write_config(dir.path(), &data_dir);
    let m = start_on_tmpfs(&config, &data_dir, "1m");

    let r = export(&m, "t0");
    assert_eq!(r.status(), 200, "before the disk fills: {:?}", r.text());
    assert_eq!(m.spend_nanos("everything"), CALL_NANOS);

    let filler = inside(&m, &data_dir.join("filler"));
    fill(&filler);

    // Until the state file has to grow, commits can still fit in pages it already owns; new
    // budget groups make it grow.
    let mut refused = None;
    for i in 1..=2_000 {
        let body = call(&format!("t{i}"));
        let r = send(&m, body.clone());
        match r.status().as_u16() {
            200 => continue,
            503 => {
                refused = Some((r, body));
                break;
            }
            other => panic!(
                "export answered {other}: {:?}\nmeterd log:\n{}",
                r.text(),
                m.log()
            ),
        }
    }
    let refused = refused.unwrap_or_else(|| {
        panic!(
            "2,000 exports were acknowledged on a full disk\nmeterd log:\n{}",
            m.log()
        )
    });
    let (refused, refused_body) = refused;
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = refused.text().expect("body");
    assert!(body.contains("durable"), "503 body: {body}");

    let readyz = wait_until("/readyz to fail", Duration::from_secs(20), || {
        let (status, body) = m.get("/readyz");
        (status == 503).then_some(body)
    });
    assert!(readyz.contains("state:"), "/readyz body: {readyz}");
    assert!(
        m.metric(r#"meterd_state_flushes_total{result="failure"}"#)
            .is_some_and(|n| n >= 1.0),
        "no state failure counted"
    );
    assert!(
        m.metric(
            r#"meterd_otlp_requests_total{result="not_durable",signal="traces",transport="http"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "no refused request counted"
    );
    // Ingest without acknowledgement keeps flowing to /metrics while the disk is full.
    m.send_udp("after_full:3|c");
    wait_until(
        "a StatsD counter sent after the disk filled",
        Duration::from_secs(20),
        || (m.metric("after_full_total") == Some(3.0)).then_some(()),
    );
    // An OTLP export without spend has nothing to make durable, so it is acknowledged.
    let r = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/metrics", m.otlp_http))
        .header("content-type", "application/json")
        .body(r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"otlp_after_full","gauge":{"dataPoints":[{"asDouble":5}]}}]}]}]}"#)
        .timeout(Duration::from_secs(30))
        .send()
        .expect("OTLP metrics export");
    assert_eq!(r.status(), 200, "metrics without spend: {:?}", r.text());
    assert_eq!(m.metric("otlp_after_full"), Some(5.0));
    // Still full: a new call is refused rather than acknowledged, and so is the refused request's
    // own retry: its spend is counted once (not again), but it is not on disk yet.
    assert_eq!(export(&m, "retry").status(), 503);
    let before = m.spend_nanos("everything");
    assert_eq!(
        send(&m, refused_body.clone()).status(),
        503,
        "a retry acknowledged while what it repeats is not durable"
    );
    assert_eq!(m.spend_nanos("everything"), before, "a retry priced again");

    std::fs::remove_file(&filler).expect("free space");
    wait_until("/readyz to recover", Duration::from_secs(30), || {
        (m.get("/readyz").0 == 200).then_some(())
    });
    let r = export(&m, "after");
    assert_eq!(r.status(), 200, "after recovery: {:?}", r.text());
    let before = m.spend_nanos("everything");
    assert_eq!(
        send(&m, refused_body).status(),
        200,
        "the retry once durable"
    );
    assert_eq!(m.spend_nanos("everything"), before, "a retry priced again");
    assert!(m
        .metric(r#"meterd_state_flushes_total{result="success"}"#)
        .is_some_and(|n| n >= 1.0));

    // Everything meterd counted, refused requests included, is now in the state file: a copy
    // opened by a second meterd holds it to the nano-dollar.
    let spend = m.spend_nanos("everything");
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).expect("copy dir");
    std::fs::copy(
        inside(&m, &data_dir.join("budgets.redb")),
        copy.join("budgets.redb"),
    )
    .expect("copy state file");
    drop(m);
    let copy_config = write_config(&copy, &copy);
    let second = Meterd::spawn({
        let mut c = Command::new(binary::exe());
        c.args(binary::args(&copy_config));
        c
    });
    assert_eq!(second.spend_nanos("everything"), spend);
}
