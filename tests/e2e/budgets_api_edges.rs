//! Budgets over the admin API at its edges, against the real binary: the `meterd budgets` CLI, a
//! full state volume refusing a change, and a stored definition that no longer compiles.

use super::budgets_api::{
    budgets, call, delete, entry, etag, json_of, post, put, start, write_config, ADMIN,
};
use crate::support::binary::{self, Meterd};
use serde_json::json;
use std::process::Command;

/// A stored definition this meterd cannot compile (written by another version) does not stop
/// start-up, is reported (API, self-metric), and can be deleted; its spend is kept.
#[test]
fn a_stored_definition_that_no_longer_compiles_is_kept_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), true, "");
    {
        let (file, _) = meterd::state::StateFile::open(&dir.path().join("data")).expect("state");
        let stored = json!({"v": 1, "definition": {"name": "old", "period": "fortnightly", "limit_usd": 5},
                            "version": 7, "created_at": 0, "created_by": "ops", "updated_at": 0,
                            "updated_by": "ops"});
        file.commit_api_budget("old", Some(stored.to_string().as_bytes()), 8)
            .expect("commit");
    }
    let m = start(&config);
    let list = budgets(&m);
    let nr = &list["api_budgets_not_running"][0];
    assert_eq!(nr["name"], "old");
    assert_eq!(nr["state"], "invalid");
    assert_eq!(nr["problems"][0]["field"], "period", "{list}");
    assert_eq!(
        m.metric(r#"meterd_api_budgets{state="invalid"}"#),
        Some(1.0)
    );
    assert!(m.log().contains("API budget not running"), "{}", m.log());
    // Fixed by PUT at its version, or deleted.
    let r = put(
        &m,
        "old",
        &json!({"period": "weekly", "limit_usd": 5}),
        Some("\"7\""),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(etag(&r), "\"8\"");
    assert_eq!(entry(&m, "old").expect("running")["origin"], "api");
    assert_eq!(delete(&m, "old", Some("\"8\"")).status(), 200);
}

fn cli(m: &Meterd, args: &[&str], token: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(binary::exe());
    cmd.arg("budgets")
        .arg("--url")
        .arg(format!("http://{}", m.http))
        .args(args)
        .env_remove("METERD_ADMIN_TOKEN")
        .env_remove("METERD_URL");
    if let Some(t) = token {
        cmd.env("METERD_ADMIN_TOKEN", t);
    }
    let out = cmd.output().expect("run meterd budgets");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_budgets_cli_round_trips_against_a_running_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), true, "");
    let m = start(&config);
    let tok = Some(ADMIN);
    let (code, out, err) = cli(
        &m,
        &[
            "set",
            "--name",
            "search-weekly",
            "--period",
            "weekly",
            "--limit-usd",
            "25",
            "--match",
            "team=search",
        ],
        tok,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"version\": 1"), "{out}");
    // Set again: an update at the version it read.
    let (code, out, err) = cli(
        &m,
        &[
            "set",
            "--name",
            "search-weekly",
            "--period",
            "weekly",
            "--limit-usd",
            "40",
            "--match",
            "team=search",
        ],
        tok,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(entry(&m, "search-weekly").unwrap()["limit_usd"], 40.0);
    // `get` output fed back through `set --file` (read-modify-write).
    let (code, got, _) = cli(&m, &["get", "search-weekly"], tok);
    assert_eq!(code, 0);
    let file = dir.path().join("b.json");
    std::fs::write(
        &file,
        got.replace("\"limit_usd\": 40.0", "\"limit_usd\": 41.0"),
    )
    .expect("write");
    let (code, out, err) = cli(&m, &["set", "--file", file.to_str().unwrap()], tok);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(entry(&m, "search-weekly").unwrap()["limit_usd"], 41.0);
    // The same file again: it was read at a version that is no longer current.
    let (code, _, err) = cli(&m, &["set", "--file", file.to_str().unwrap()], tok);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("412"), "{err}");
    let yaml = dir.path().join("b.yaml");
    std::fs::write(&yaml, "name: yaml-daily\nperiod: daily\nlimit_usd: 3\n").expect("write");
    assert_eq!(
        cli(&m, &["set", "--file", yaml.to_str().unwrap()], tok).0,
        0
    );

    let (code, out, _) = cli(&m, &["list"], tok);
    assert_eq!(code, 0);
    assert!(
        out.contains("search-weekly") && out.contains("cfg-monthly") && out.contains("yaml-daily"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("cfg-monthly") && l.contains("config")),
        "{out}"
    );

    // Errors as the API gives them, with the exit codes README lists.
    let (code, _, err) = cli(
        &m,
        &[
            "set",
            "--name",
            "x",
            "--period",
            "fortnightly",
            "--limit-usd",
            "0",
        ],
        tok,
    );
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("period: unknown period") && err.contains("limit_usd:"),
        "{err}"
    );
    let (code, _, err) = cli(
        &m,
        &[
            "set",
            "--name",
            "cfg-monthly",
            "--period",
            "daily",
            "--limit-usd",
            "1",
        ],
        tok,
    );
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = cli(&m, &["delete", "search-weekly", "--if-match", "1"], tok);
    assert_eq!(code, 1);
    assert!(err.contains("412"), "{err}");
    let (code, _, err) = cli(&m, &["list"], None);
    assert_eq!(code, 1);
    assert!(err.contains("METERD_ADMIN_TOKEN"), "{err}");
    let (code, out, err) = cli(&m, &["delete", "search-weekly"], tok);
    assert_eq!(code, 0, "{out}{err}");
    assert!(entry(&m, "search-weekly").is_none());
}

/// A full state volume: a change the state file does not take answers 503 and changes nothing
/// (not listed, not running, no version used); once space is freed the same request succeeds.
#[test]
fn a_change_the_full_disk_refuses_changes_nothing() {
    use crate::e2e::disk_full::{fill, inside, start_on_tmpfs};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), true, "");
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).expect("mount point");
    let m = start_on_tmpfs(&config, &data_dir, "1m");
    let filler = inside(&m, &data_dir.join("filler"));
    fill(&filler);
    // Large definitions make the state file grow until it cannot.
    let big = |i: usize| {
        json!({"name": format!("big-{i}"), "period": "daily", "limit_usd": 1,
               "fleet_query": format!("sum(x{})", "y".repeat(60_000))})
    };
    let mut refused = None;
    for i in 0..200 {
        let r = post(&m, &big(i));
        match r.status().as_u16() {
            201 => continue,
            503 => {
                refused = Some((i, json_of(r)));
                break;
            }
            other => panic!("create answered {other}: {}", r.text().unwrap_or_default()),
        }
    }
    let (i, body) = refused.expect("200 large budgets created on a full 1 MiB volume");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("nothing was changed"),
        "{body}"
    );
    let name = format!("big-{i}");
    assert!(entry(&m, &name).is_none(), "a refused create runs");
    let r = call(
        &m,
        reqwest::Method::GET,
        &format!("/api/v1/admin/budgets/{name}"),
        None,
        None,
    );
    assert_eq!(r.status(), 404, "a refused create is listed");
    assert_eq!(
        m.metric(r#"meterd_admin_actions_total{action="budget_create",result="not_durable"}"#),
        Some(1.0)
    );
    std::fs::remove_file(&filler).expect("free space");
    let r = post(&m, &big(i));
    assert_eq!(r.status(), 201, "after space was freed");
    // The refused attempt used no version.
    assert_eq!(etag(&r), format!("\"{}\"", i + 1));
}

/// A fake Prometheus query API answering every request with a fleet spend of $7 (a scalar
/// vector); it counts the queries it saw.
fn fake_query_api() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            log.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or("").to_string());
            let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[0,"7"]}]}}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, seen)
}

/// An API budget's `fleet_query` is run like a config budget's: the fleet figure drives it.
#[test]
fn an_api_budgets_fleet_query_runs() {
    let (api, seen) = fake_query_api();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        true,
        &format!("fleet:\n  prometheus_url: http://{api}\n  refresh_interval: 200ms\n"),
    );
    let m = start(&config);
    let body = json!({"name": "shared", "period": "monthly", "limit_usd": 5,
                      "fleet_query": "sum(llm_budget_spend_usd{budget=\"shared\"})"});
    assert_eq!(post(&m, &body).status(), 201);
    let e = crate::support::wait_until(
        "the fleet figure on the API budget",
        std::time::Duration::from_secs(20),
        || entry(&m, "shared").filter(|e| e["source"] == "fleet"),
    );
    assert_eq!(e["fleet_spend_usd"], 7.0);
    assert_eq!(e["status"], "exceeded");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("llm_budget_spend_usd")),
        "{:?}",
        seen.lock().unwrap()
    );
}
