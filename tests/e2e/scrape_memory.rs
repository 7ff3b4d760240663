//! Issue 20 item 1 with the real binary: parallel `/metrics` scrapes of a large store must not
//! multiply meterd's memory. Each render used to build its own snapshot, text and body, so 8
//! parallel scrapes at 200k series peaked at 1.45 GB; now scrapes in flight together share one.
//! Measured as the kernel sees it: the resident-set high-water mark (`VmHWM`), reset through
//! `/proc/<pid>/clear_refs` before each phase.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::binary::{self, Meterd};
use crate::support::flood::{self, status_kib};
use crate::support::wait_until;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const SERIES: usize = 60_000;
const BATCH: usize = 5_000;
const SCRAPERS: usize = 16;

fn start() -> (tempfile::TempDir, Meterd) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n\
             limits:\n  max_series_per_metric: {SERIES}\n  max_series_total: 100000\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(&config));
    (dir, Meterd::spawn(cmd))
}

/// Resets the high-water mark to the current RSS (Linux `clear_refs` value 5) and returns it.
fn reset_peak(pid: u32) -> u64 {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .unwrap_or_else(|e| panic!("cannot reset VmHWM of {pid}: {e}"));
    status_kib(pid, "VmRSS:")
}

fn scrape(m: &Meterd) -> usize {
    let resp = reqwest::blocking::Client::new()
        .get(format!("http://{}/metrics", m.http))
        .timeout(Duration::from_secs(120))
        .send()
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    resp.bytes().expect("scrape body").len()
}

#[test]
fn parallel_scrapes_share_one_render_instead_of_multiplying_memory() {
    let (_dir, m) = start();
    for from in (0..SERIES).step_by(BATCH) {
        let body = flood::gauge_batch("scrape_load", from, from + BATCH, 0.0);
        assert_eq!(flood::post(m.otlp_http, "/v1/metrics", body), 200);
    }
    wait_until("every series stored", Duration::from_secs(60), || {
        (m.metric("meterd_series")
            .is_some_and(|n| n >= SERIES as f64))
        .then_some(())
    });
    let pid = m.child.id();

    // A few scrapes first, so the allocator's arenas and the page cache of a render settle.
    for _ in 0..2 {
        scrape(&m);
    }
    let base = reset_peak(pid);
    let body = scrape(&m);
    let single = status_kib(pid, "VmHWM:").saturating_sub(base);

    let base = reset_peak(pid);
    let barrier = Arc::new(Barrier::new(SCRAPERS));
    let addr = m.http;
    let threads: Vec<_> = (0..SCRAPERS)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                barrier.wait();
                let resp = client
                    .get(format!("http://{addr}/metrics"))
                    .timeout(Duration::from_secs(300))
                    .send()
                    .expect("parallel scrape");
                assert_eq!(resp.status(), 200);
                resp.bytes().expect("body").len()
            })
        })
        .collect();
    for t in threads {
        let len = t.join().expect("scraper");
        assert!(
            len > body / 2,
            "a parallel scrape got {len} bytes, one alone {body}"
        );
    }
    let parallel = status_kib(pid, "VmHWM:").saturating_sub(base);
    eprintln!(
        "{SERIES} series, body {body} bytes: one scrape raised peak RSS by {single} KiB, \
         {SCRAPERS} parallel by {parallel} KiB"
    );
    // One render, and at worst a second for scrapers that arrived as the first finished, plus
    // the per-connection buffers: never one render per scraper.
    let bound = 2 * single + 16 * 1024;
    assert!(
        parallel <= bound,
        "{SCRAPERS} parallel scrapes raised peak RSS by {parallel} KiB, above {bound} KiB \
         (one scrape: {single} KiB)"
    );
    assert!(
        m.metric("meterd_scrapes_shared_total")
            .is_some_and(|n| n >= 1.0),
        "no scrape shared a render"
    );
}
