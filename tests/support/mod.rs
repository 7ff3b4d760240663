//! Shared test harness: an in-process meterd on ephemeral loopback ports, and a real Prometheus
//! (the Debian `prometheus` binary) scraping it. Tests that use Prometheus fail, never skip, when
//! it is missing: `scripts/test.sh` installs it.
#![allow(dead_code)]

pub mod agent;
pub mod alertmanager;
pub mod artifacts;
pub mod binary;
pub mod certs;
pub mod emitters;
pub mod flood;
pub mod otel;
pub mod prometheus;
pub mod server;
pub mod spans;
pub mod tls_client;

use std::time::{Duration, Instant};

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
