//! Issue 20: the default caps must fit the memory limits meterd ships with. Filled to the default
//! `limits.max_series_total` with ordinary series (one label of a request path's length, spread
//! over metrics at the default per-metric cap) and scraped by several scrapers at once in both
//! formats, the real binary's peak resident memory must stay under the Kubernetes sidecar's limit
//! (deploy/kubernetes/deployment.yaml) with a fifth to spare; the systemd unit's MemoryMax is
//! larger. A flood of long label values can still need more, which is what `limits.max_memory`
//! (set in the shipped configs) guards against.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::artifacts;
use crate::support::binary::{self, Meterd};
use crate::support::flood::{self, status_kib};
use crate::support::wait_until;
use std::time::Duration;

const TOTAL: usize = 200_000;
const PER_METRIC: usize = 10_000;

/// The `limits: {memory: ...}` of the meterd container, in KiB.
fn shipped_limit_kib() -> u64 {
    let text = artifacts::read(&artifacts::repo().join("deploy/kubernetes/deployment.yaml"));
    let after = text
        .split("name: meterd\n")
        .nth(1)
        .expect("the meterd container in deployment.yaml");
    let limit = after
        .split("limits: {memory: ")
        .nth(1)
        .and_then(|s| s.split('}').next())
        .expect("a memory limit on the meterd container");
    let mib: u64 = limit
        .trim()
        .strip_suffix("Mi")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("memory limit {limit:?} is not in Mi"));
    mib * 1024
}

#[test]
fn default_caps_fit_the_shipped_memory_limit() {
    let limit = shipped_limit_kib();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = std::process::Command::new(binary::exe());
    cmd.args(binary::args(&config));
    let m = Meterd::spawn(cmd);
    let pid = m.child.id();

    for metric in 0..TOTAL / PER_METRIC {
        for from in (0..PER_METRIC).step_by(5_000) {
            let body = flood::gauge_batch(&format!("family_{metric:02}"), from, from + 5_000, 0.0);
            assert_eq!(flood::post(m.otlp_http, "/v1/metrics", body), 200);
        }
    }
    wait_until("the store full", Duration::from_secs(60), || {
        (m.metric("meterd_series").is_some_and(|n| n >= TOTAL as f64)).then_some(())
    });
    let held = status_kib(pid, "VmRSS:");

    let addr = m.http;
    let scrapers: Vec<_> = ["text/plain", "application/openmetrics-text; version=1.0.0"]
        .iter()
        .flat_map(|accept| [(*accept, "gzip"), (*accept, "identity")])
        .flat_map(|v| [v, v])
        .map(|(accept, encoding)| {
            std::thread::spawn(move || {
                let resp = reqwest::blocking::Client::new()
                    .get(format!("http://{addr}/metrics"))
                    .header("accept", accept)
                    .header("accept-encoding", encoding)
                    .timeout(Duration::from_secs(300))
                    .send()
                    .expect("scrape");
                assert_eq!(resp.status(), 200);
                resp.bytes().expect("body").len()
            })
        })
        .collect();
    for s in scrapers {
        s.join().expect("scraper");
    }
    let peak = status_kib(pid, "VmHWM:");
    eprintln!(
        "{TOTAL} series: {held} KiB resident, {peak} KiB peak with 8 parallel scrapes; \
         shipped limit {limit} KiB"
    );
    assert!(
        peak <= limit / 5 * 4,
        "peak {peak} KiB leaves less than a fifth of the shipped limit ({limit} KiB) spare"
    );
}
