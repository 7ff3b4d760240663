//! Budget spend against config edits, with the real binary (issue #17, items 1, 5 and 6): a config
//! caught empty or without its budgets never erases spend, spend survives a kill -9 and a restart
//! on another config as orphaned records, the same budget back gets the same spend, and only an
//! audited admin action forgets it. The check API refuses what it cannot answer honestly.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::binary::{self, Meterd};
use crate::support::wait_until;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ADMIN: &str = "admin-token-0123456789abcdef";

/// $2.50 per 1M input tokens. Admin on, so `forget` can be tried.
fn config(dir: &Path, budgets: &str) -> String {
    format!(
        "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n  flush_interval: 100ms\n\
         admin:\n  tokens:\n    - {{name: ops, token: \"{ADMIN}\"}}\n\
         scope_labels: [team, user]\n\
         pricing:\n  models:\n    - {{provider: test, model: m1, prices: {{input: 2.50}}}}\n{budgets}",
        dir.join("data").display()
    )
}

const BUDGETS: &str = "budgets:
  - name: search
    match: {team: search}
    period: monthly
    limit_usd: 1000
";

fn start(config: &Path) -> Meterd {
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(config))
        .args(["--watch-interval", "100ms"]);
    Meterd::spawn(cmd)
}

fn budgets(m: &Meterd) -> serde_json::Value {
    let (status, body) = m.get("/api/v1/budgets");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

fn orphaned_nanos(m: &Meterd, name: &str) -> Option<u64> {
    budgets(m)["orphaned"]
        .as_array()?
        .iter()
        .find(|o| o["name"] == name)
        .and_then(|o| o["spend_nanos"].as_u64())
}

/// Waits until the state file holds everything counted so far: two flushes that ended after now.
fn flushed(m: &Meterd) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let at = || {
        m.metric("meterd_state_last_flush_success_timestamp_seconds")
            .unwrap_or(0.0)
    };
    let first = wait_until("a flush", Duration::from_secs(20), || {
        let t = at();
        (t > now).then_some(t)
    });
    wait_until("a second flush", Duration::from_secs(20), || {
        (at() > first).then_some(())
    });
}

fn kill_9(mut m: Meterd) {
    let ok = Command::new("kill")
        .args(["-KILL", &m.child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
    let _ = m.child.wait();
}

/// Replaces the config the way an editor that truncates first does, as two visible steps.
fn write(path: &PathBuf, content: &str) {
    std::fs::write(path, content).expect("write config");
}

#[test]
fn config_edits_and_restarts_never_erase_spend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meterd.yaml");
    write(&path, &config(dir.path(), BUDGETS));
    let m = start(&path);
    m.send_udp("llm.tokens:1000000|c|#provider:test,model:m1,token_type:input,team:search");
    let want = 2_500_000_000u64;
    wait_until("spend", Duration::from_secs(20), || {
        (m.spend_nanos("search") == want).then_some(())
    });

    // An editor truncating the file: the watcher sees it empty and must not apply it.
    write(&path, "");
    wait_until("the watcher to notice", Duration::from_secs(20), || {
        m.log().contains("config file is empty").then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(m.spend_nanos("search"), want, "the empty file was applied");
    // Cut mid-line, then completed without budgets: the complete file applies, and the budget's
    // spend is kept as orphaned, never erased.
    write(&path, &config(dir.path(), "budgets:\n  - name: sea"));
    write(&path, &config(dir.path(), ""));
    wait_until(
        "the budget-less config to apply",
        Duration::from_secs(20),
        || orphaned_nanos(&m, "search").map(|n| assert_eq!(n, want)),
    );
    assert!(budgets(&m)["budgets"].as_array().unwrap().is_empty());
    assert_eq!(m.metric("meterd_budget_orphaned_records"), Some(1.0));
    flushed(&m);
    kill_9(m);

    // A restart on the budget-less config keeps the orphan...
    let m = start(&path);
    assert_eq!(orphaned_nanos(&m, "search"), Some(want));
    // ...and the same budget back (by the watcher) has the same spend.
    write(&path, &config(dir.path(), BUDGETS));
    wait_until("the budget to return", Duration::from_secs(20), || {
        (budgets(&m)["budgets"].as_array().unwrap().len() == 1).then_some(())
    });
    assert_eq!(m.spend_nanos("search"), want);
    assert_eq!(orphaned_nanos(&m, "search"), None);
    flushed(&m);
    kill_9(m);
    let m = start(&path);
    assert_eq!(m.spend_nanos("search"), want, "after a restart too");

    // Forgetting is explicit: refused for a configured budget, audited when done.
    let post = |m: &Meterd, name: &str| {
        reqwest::blocking::Client::new()
            .post(format!(
                "http://{}/api/v1/admin/budgets/{name}/forget",
                m.http
            ))
            .header("authorization", format!("Bearer {ADMIN}"))
            .send()
            .unwrap()
    };
    assert_eq!(post(&m, "search").status().as_u16(), 409);
    assert_eq!(post(&m, "nope").status().as_u16(), 404);
    write(&path, &config(dir.path(), ""));
    wait_until("the budget to leave", Duration::from_secs(20), || {
        orphaned_nanos(&m, "search")
    });
    let r = post(&m, "search");
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["forgotten"][0]["spend_nanos"], want, "{body}");
    // The audit line is written before the answer, but read from the child's stderr by another
    // thread: wait for it rather than race it.
    wait_until("the forget to be audited", Duration::from_secs(10), || {
        m.log().contains("budget_forget").then_some(())
    });
    assert_eq!(orphaned_nanos(&m, "search"), None);
    kill_9(m);
    write(&path, &config(dir.path(), BUDGETS));
    let m = start(&path);
    assert_eq!(m.spend_nanos("search"), 0, "forgotten for good");
}

#[test]
fn the_check_api_refuses_typos_and_never_blames_overflow_spend_on_a_new_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meterd.yaml");
    let per_user = "budgets:
  - name: per-user
    period: monthly
    limit_usd: 1
    group_by: [user]
    max_groups: 1
";
    write(&path, &config(dir.path(), per_user));
    let m = start(&path);
    let line = |user: &str| {
        let tag = if user.is_empty() {
            String::new()
        } else {
            format!(",user:{user}")
        };
        format!("llm.tokens:1000000|c|#provider:test,model:m1,token_type:input{tag}")
    };
    // alice takes the only group; bob and carol overflow with 5 USD, over the 1 USD limit.
    // One datagram, so the lines are counted in this order.
    m.send_udp(&[line("alice"), line("bob"), line("carol")].join("\n"));
    let total = || -> u64 {
        budgets(&m)["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["spend_nanos"].as_u64())
            .sum()
    };
    wait_until("spend", Duration::from_secs(20), || {
        (total() == 7_500_000_000).then_some(())
    });
    let check = |q: &str| -> (u16, serde_json::Value) {
        let (s, body) = m.get(&format!("/api/v1/budgets/check?{q}"));
        (
            s,
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}")),
        )
    };
    // A typo fails closed, naming what is accepted.
    let (s, v) = check("usr=dave");
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["unknown"], serde_json::json!(["usr"]));
    assert!(
        v["accepted"].as_array().unwrap().contains(&"user".into()),
        "{v}"
    );
    let (s, _) = check("user=dave&user=alice");
    assert_eq!(s, 400);
    // A new user past the cap: allowed, at zero, untracked; not refused for _overflow's 5 USD.
    let (s, v) = check("user=dave");
    assert_eq!(s, 200);
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(v["budgets"][0]["spend_nanos"], 0);
    assert_eq!(v["budgets"][0]["untracked"], true);
    // alice herself is over her limit.
    assert_eq!(check("user=alice").1["allowed"], false);
    // A call without a user is its own group, outside the cap, reported as such.
    m.send_udp(&line(""));
    wait_until("unlabelled spend", Duration::from_secs(20), || {
        (total() == 10_000_000_000).then_some(())
    });
    let (_, v) = check("model=m1");
    assert_eq!(v["budgets"][0]["spend_nanos"], 2_500_000_000u64, "{v}");
    assert_eq!(
        v["budgets"][0]["missing_group_labels"],
        serde_json::json!(["user"])
    );
    assert!(v["budgets"][0].get("untracked").is_none(), "{v}");
}
