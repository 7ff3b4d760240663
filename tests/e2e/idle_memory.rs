//! After start-up (and again once settled, and after every reload) meterd returns freed heap and
//! unmaps the clean pages of its binary that loading faulted in (issue 24). Attack it with the
//! real binary and the shipped price table: the release must really happen (resident file pages
//! drop), and everything that runs afterwards, pricing from the packed table and a reload that
//! compiles the table again, must give the same money as before.

use crate::support::agent::{find_value, EPHEMERAL_LISTENERS};
use crate::support::binary::{self, Meterd};
use crate::support::wait_until;
use std::process::Command;
use std::time::Duration;

const RELEASED: &str = "start-up pages of the binary and libraries released";

const LINES: &str = "\
llm.tokens:1200|c|#provider:openai,model:gpt-4o,token_type:input,team:search
llm.tokens:100|c|#provider:openai,model:gpt-4o,token_type:input,service_tier:batch,team:search
llm.tokens:300|c|#provider:openai,model:gpt-4o,token_type:output,team:search
";

fn cost(m: &Meterd, cost_type: &str) -> Option<f64> {
    let (_, body) = m.get("/metrics");
    find_value(
        &body,
        &format!(
            "llm_cost_usd_total{{cost_type=\"{cost_type}\",model=\"gpt-4o\",provider=\"openai\",team=\"search\"}}"
        ),
    )
}

/// The "released" log lines so far: (resident file KiB before, after).
fn releases(m: &Meterd) -> Vec<(u64, u64)> {
    m.log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == RELEASED)
        .map(|v| {
            let kib = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"));
            (
                kib("resident_file_kib_before"),
                kib("resident_file_kib_after"),
            )
        })
        .collect()
}

fn wait_releases(m: &Meterd, n: usize) -> Vec<(u64, u64)> {
    wait_until(
        &format!("{n} page releases logged"),
        Duration::from_secs(20),
        || {
            let r = releases(m);
            (r.len() >= n).then_some(r)
        },
    )
}

fn send_and_wait(m: &Meterd, want_input: f64, want_output: f64) {
    m.send_udp(LINES);
    wait_until("the lines priced", Duration::from_secs(10), || {
        (cost(m, "output") == Some(want_output)).then_some(())
    });
    // 1200 x $2.50/1M + 100 batch tokens at the explicit batch price $1.25/1M; 300 x $10/1M.
    assert_eq!(cost(m, "input"), Some(want_input), "{}", m.log());
}

#[test]
fn released_pages_and_heap_change_no_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    let yaml = format!(
        "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\nscope_labels: [team]\npricing_file: {}/config/pricing.yaml\n",
        dir.path().join("data").display(),
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(&config, yaml).expect("write config");
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(&config))
        .args(["--log-level", "info,meterd::app::trim=debug"])
        .env_remove("RUST_LOG");
    let m = Meterd::spawn(cmd);

    // At start-up and once settled; each time the binary's resident pages really went down.
    let first = wait_releases(&m, 2);
    for (before, after) in &first {
        assert!(
            after < before,
            "resident file pages {before} -> {after} KiB"
        );
    }
    send_and_wait(&m, 0.003125, 0.003);

    // A reload loads and compiles the table again, then releases again; the money goes on.
    let status = Command::new("kill")
        .args(["-HUP", &m.child.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    wait_until("the reload", Duration::from_secs(20), || {
        let (_, body) = m.get("/metrics");
        (find_value(&body, "meterd_config_reloads_total{result=\"success\"}") == Some(2.0))
            .then_some(())
    });
    let all = wait_releases(&m, 3);
    let (before, after) = all[2];
    assert!(after < before, "after the reload: {before} -> {after} KiB");
    send_and_wait(&m, 0.00625, 0.006);
}
