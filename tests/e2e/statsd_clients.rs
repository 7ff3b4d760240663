//! Issue 22 with real clients: Datadog's DogStatsd (Python `datadog` package: tags, sample rates,
//! distributions, histograms, timers, sets, a container id, a `|T` timestamp and a `|card:` field)
//! and the `statsd` package (UDP with a pipeline, and TCP) send to the real binary, run by
//! tests/python/send_statsd.py from the venv in `METERD_TEST_PYTHON` (the test fails without it).
//! Every line the clients send must be ingested (no `meterd_statsd_errors_total`) as below.

use crate::support::agent::{find_value, EPHEMERAL_LISTENERS};
use crate::support::binary::{self, Meterd};
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/send_statsd.py");

const DD: &str = "container_id=\"ctr-7f3a\",env=\"prod\"";

/// (series, value) with `{DD}` standing for the DogStatsd client's container id and tag.
const WANT: &[(&str, f64)] = &[
    // DogStatsd, over UDP, with `container_id_label: true`.
    ("dd_requests_total{DD,route=\"/chat\"}", 5.0),
    ("dd_sampled_total{DD}", 6.0),
    ("dd_queue_depth{DD}", 7.0),
    ("dd_stamped{DD}", 3.0),
    ("dd_payload_bytes_count{DD}", 2.0),
    ("dd_payload_bytes_sum{DD}", 2560.0),
    ("dd_score_count{DD}", 4.0),
    ("dd_score_sum{DD}", 1.0),
    ("dd_render_count{DD}", 1.0),
    ("dd_render_sum{DD}", 0.12),
    ("dd_users{DD}", 2.0),
    ("dd_cardinality_total{DD}", 1.0),
    // The statsd package over UDP.
    ("py_hits_total", 3.0),
    ("py_sampled_total", 2.0),
    ("py_temperature", 22.0),
    ("py_below_zero", -4.0),
    ("py_db_query_count", 1.0),
    ("py_db_query_sum", 0.32),
    ("py_visitors", 2.0),
    ("py_piped_total", 2.0),
    ("py_piped_time_count", 1.0),
    // The statsd package over TCP.
    ("pytcp_hits_total", 3.0),
    ("pytcp_level", 9.0),
    ("pytcp_latency_sum", 0.25),
];

fn python() -> String {
    std::env::var("METERD_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "METERD_TEST_PYTHON is not set: run scripts/test.sh, or `.venv/bin/pip install -r \
             tests/python/requirements.txt` and export METERD_TEST_PYTHON=$PWD/.venv/bin/python"
        )
    })
}

fn start() -> (tempfile::TempDir, Meterd) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    // One parser thread: the gauge updates arrive in separate datagrams and must apply in order.
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\nstatsd:\n  workers: 1\n  \
             container_id_label: true\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(&config));
    (dir, Meterd::spawn(cmd))
}

fn misses(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (series, want) in WANT {
        let series = series.replace("DD", DD);
        match find_value(body, &series) {
            Some(got) if (got - want).abs() <= want.abs() * 1e-9 => {}
            got => out.push(format!("{series} = {got:?}, want {want}")),
        }
    }
    if let Some(l) = body
        .lines()
        .find(|l| l.starts_with("meterd_statsd_errors_total{"))
    {
        out.push(format!("a client line was refused: {l}"));
    }
    out
}

#[test]
fn dogstatsd_and_statsd_package_clients_are_ingested_whole() {
    let (_dir, m) = start();
    let tcp = m.statsd_tcp.expect("statsd tcp listener");
    let out = Command::new(python())
        .args([SCRIPT, &m.statsd_udp.to_string(), &tcp.to_string()])
        .output()
        .expect("run send_statsd.py");
    assert!(
        out.status.success(),
        "send_statsd.py failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last;
    loop {
        let (status, body) = m.get("/metrics");
        assert_eq!(status, 200, "{body}");
        last = misses(&body);
        if find_value(&body, "py_done_total") == Some(1.0) && last.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 15 s:\n{}\n\nscrape:\n{body}\n\nlog:\n{}",
            last.join("\n"),
            m.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
