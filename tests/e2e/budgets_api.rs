//! Budgets over the admin API (issue #26) against the real binary: create, update and delete with
//! versions and `If-Match`; real spend (OTLP spans, committed before the ack) kept by a limit
//! change, orphaned by a match change and restored by changing it back; kill -9 and a restart
//! keeping the API budget and its spend; the config authoritative (409, shadowing on reload);
//! every field error of a bad body; concurrent creates and reloads. The CLI, a full disk and a
//! stored definition that no longer compiles: `budgets_api_edges`.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::binary::{self, Meterd};
use crate::support::spans;
use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub(crate) const ADMIN: &str = "admin-token-budgets-0123456789";

pub(crate) fn start(config: &Path) -> Meterd {
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(config));
    Meterd::spawn(cmd)
}

/// A config with an admin token, `team` as scope label, gpt-4o priced, one config budget and
/// `extra` budgets; spend is made durable only by OTLP acknowledgements (flush every hour).
pub(crate) fn write_config(dir: &Path, admin: bool, extra_budgets: &str) -> PathBuf {
    let config = dir.join("meterd.yaml");
    let admin = if admin {
        format!("admin:\n  tokens:\n    - {{name: ops, token: \"{ADMIN}\"}}\n")
    } else {
        String::new()
    };
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n  flush_interval: 1h\n{admin}\
             scope_labels: [team]\n\
             pricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
             budgets:\n  - {{name: cfg-monthly, period: monthly, limit_usd: 100}}\n{extra_budgets}",
            dir.join("data").display()
        ),
    )
    .expect("write config");
    config
}

pub(crate) fn call(
    m: &Meterd,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
    if_match: Option<&str>,
) -> Response {
    let mut req = Client::new()
        .request(method, format!("http://{}{path}", m.http))
        .header("authorization", format!("Bearer {ADMIN}"))
        .timeout(Duration::from_secs(10));
    if let Some(b) = body {
        req = req.body(b);
    }
    if let Some(t) = if_match {
        req = req.header("if-match", t);
    }
    req.send().expect("request")
}

pub(crate) fn post(m: &Meterd, body: &Value) -> Response {
    call(
        m,
        reqwest::Method::POST,
        "/api/v1/admin/budgets",
        Some(body.to_string()),
        None,
    )
}

pub(crate) fn put(m: &Meterd, name: &str, body: &Value, if_match: Option<&str>) -> Response {
    call(
        m,
        reqwest::Method::PUT,
        &format!("/api/v1/admin/budgets/{name}"),
        Some(body.to_string()),
        if_match,
    )
}

pub(crate) fn delete(m: &Meterd, name: &str, if_match: Option<&str>) -> Response {
    call(
        m,
        reqwest::Method::DELETE,
        &format!("/api/v1/admin/budgets/{name}"),
        None,
        if_match,
    )
}

pub(crate) fn etag(r: &Response) -> String {
    r.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

pub(crate) fn json_of(r: Response) -> Value {
    let text = r.text().expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub(crate) fn budgets(m: &Meterd) -> Value {
    let (status, body) = m.get("/api/v1/budgets");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

pub(crate) fn entry(m: &Meterd, name: &str) -> Option<Value> {
    budgets(m)["budgets"]
        .as_array()?
        .iter()
        .find(|b| b["name"] == name)
        .cloned()
}

fn orphaned_nanos(m: &Meterd, name: &str) -> u64 {
    budgets(m)["orphaned"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["name"] == name)
        .filter_map(|o| o["spend_nanos"].as_u64())
        .sum()
}

/// `n` chat calls of team `team` over OTLP/HTTP, each acknowledged once its spend is on disk
/// ($0.0075 each); `first` numbers the traces, so no call is a retry of another.
fn spend(m: &Meterd, team: &str, first: u64, n: u64) {
    let client = Client::new();
    for i in first..first + n {
        let resp = client
            .post(format!("http://{}/v1/traces", m.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(spans::gpt4o_chat(i, &[("team", team)]))
            .timeout(Duration::from_secs(10))
            .send()
            .expect("export");
        assert!(resp.status().is_success(), "export: {}", resp.status());
    }
}

const CALL: u64 = 7_500_000;

fn search_weekly(limit: f64, team: &str) -> Value {
    json!({"name": "search-weekly", "match": {"team": team}, "period": "weekly", "limit_usd": limit})
}

#[test]
fn create_update_delete_keep_spend_by_the_rules_and_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), true, "");
    let mut m = start(&config);

    let r = post(&m, &search_weekly(10.0, "search"));
    assert_eq!(r.status(), 201);
    assert_eq!(etag(&r), "\"1\"");
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/api/v1/admin/budgets/search-weekly")
    );
    let created = json_of(r);
    assert_eq!(created["origin"], "api");
    assert_eq!(created["version"], 1);
    assert_eq!(created["created_by"], "ops");
    assert_eq!(created["definition"]["timezone"], "UTC", "{created}");

    // The check sees it at once, and the list says where each budget comes from.
    let (status, check) = m.get("/api/v1/budgets/check?team=search");
    assert_eq!(status, 200);
    assert!(check.contains("\"search-weekly\""), "{check}");
    assert_eq!(entry(&m, "search-weekly").expect("listed")["origin"], "api");
    assert_eq!(
        entry(&m, "cfg-monthly").expect("listed")["origin"],
        "config"
    );

    spend(&m, "search", 0, 4);
    spend(&m, "ads", 100, 1);
    assert_eq!(m.spend_nanos("search-weekly"), 4 * CALL);

    // A new limit keeps the spend; the old version is now stale.
    let r = put(
        &m,
        "search-weekly",
        &search_weekly(20.0, "search"),
        Some("\"1\""),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(etag(&r), "\"2\"");
    assert_eq!(m.spend_nanos("search-weekly"), 4 * CALL);
    assert_eq!(entry(&m, "search-weekly").unwrap()["limit_usd"], 20.0);
    let r = put(
        &m,
        "search-weekly",
        &search_weekly(30.0, "search"),
        Some("\"1\""),
    );
    assert_eq!(r.status(), 412);
    assert_eq!(etag(&r), "\"2\"");
    assert_eq!(json_of(r)["current_version"], 2);
    let r = delete(&m, "search-weekly", Some("\"1\""));
    assert_eq!(r.status(), 412);
    assert_eq!(entry(&m, "search-weekly").unwrap()["limit_usd"], 20.0);

    // kill -9 right after acknowledged changes: definitions, versions and spend come back.
    let r = post(
        &m,
        &json!({"name": "just-created", "period": "daily", "limit_usd": 3}),
    );
    assert_eq!(r.status(), 201);
    m.child.kill().expect("kill -9");
    m.child.wait().expect("reap");
    let m = start(&config);
    let e = entry(&m, "search-weekly").expect("API budget lost in the crash");
    assert_eq!(e["limit_usd"], 20.0);
    assert_eq!(e["origin"], "api");
    assert_eq!(m.spend_nanos("search-weekly"), 4 * CALL);
    assert_eq!(
        entry(&m, "just-created").expect("lost in the crash")["limit_usd"],
        3.0
    );
    // A deleted budget's gauges leave /metrics (an alert on them must stop, not freeze).
    let on_metrics = |m: &Meterd| m.get("/metrics").1.contains(r#"budget="just-created""#);
    assert!(on_metrics(&m), "a new budget's gauges show at once");
    assert_eq!(delete(&m, "just-created", None).status(), 200);
    assert!(
        !on_metrics(&m),
        "a deleted budget's gauges stay on /metrics"
    );
    let r = call(
        &m,
        reqwest::Method::GET,
        "/api/v1/admin/budgets/search-weekly",
        None,
        None,
    );
    assert_eq!(etag(&r), "\"2\"");

    // A new match starts new records; the old shape's spend waits as orphaned...
    let r = put(
        &m,
        "search-weekly",
        &search_weekly(20.0, "ads"),
        Some("\"2\""),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(m.spend_nanos("search-weekly"), 0);
    assert_eq!(orphaned_nanos(&m, "search-weekly"), 4 * CALL);
    // ...and comes back when the match does.
    let r = put(
        &m,
        "search-weekly",
        &search_weekly(20.0, "search"),
        Some("*"),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(etag(&r), "\"5\"");
    assert_eq!(m.spend_nanos("search-weekly"), 4 * CALL);
    assert_eq!(orphaned_nanos(&m, "search-weekly"), 0);

    // DELETE: the definition goes, its spend stays as orphaned (and a new budget of the same
    // name and shape takes it back, as a config budget would).
    let r = delete(&m, "search-weekly", Some("\"5\""));
    assert_eq!(r.status(), 200);
    assert!(entry(&m, "search-weekly").is_none());
    assert_eq!(orphaned_nanos(&m, "search-weekly"), 4 * CALL);
    let (_, check) = m.get("/api/v1/budgets/check?team=search");
    assert!(!check.contains("search-weekly"), "{check}");
    assert_eq!(delete(&m, "search-weekly", None).status(), 404);
    let r = post(&m, &search_weekly(20.0, "search"));
    assert_eq!(r.status(), 201);
    // Versions are never reused, even after a delete.
    assert_eq!(etag(&r), "\"6\"");
    assert_eq!(m.spend_nanos("search-weekly"), 4 * CALL);

    // Audited and counted.
    let log = m.log();
    assert!(
        log.lines().any(|l| l.contains("meterd::audit")
            && l.contains("budget_update")
            && l.contains("\"who\":\"ops\"")),
        "{log}"
    );
    assert_eq!(
        m.metric(r#"meterd_admin_actions_total{action="budget_create",result="created"}"#),
        Some(1.0)
    );
    assert_eq!(
        m.metric(r#"meterd_admin_actions_total{action="budget_update",result="updated"}"#),
        Some(2.0)
    );
    assert_eq!(
        m.metric(r#"meterd_admin_actions_total{action="budget_delete",result="not_found"}"#),
        Some(1.0)
    );
    assert_eq!(m.metric(r#"meterd_api_budgets{state="active"}"#), Some(1.0));
}

#[test]
fn the_config_is_authoritative_and_bad_bodies_name_every_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), true, "");
    let m = start(&config);
    let cfg = json!({"name": "cfg-monthly", "period": "daily", "limit_usd": 1});
    for r in [
        post(&m, &cfg),
        put(&m, "cfg-monthly", &cfg, None),
        delete(&m, "cfg-monthly", None),
    ] {
        assert_eq!(r.status(), 409);
        let body = json_of(r);
        let msg = body["error"].as_str().unwrap_or("");
        assert!(msg.contains(&config.display().to_string()), "{body}");
    }
    assert_eq!(entry(&m, "cfg-monthly").unwrap()["limit_usd"], 100.0);

    let r = post(
        &m,
        &json!({"name": "bad name", "match": {"tem": "x"}, "period": "fortnightly",
                "timezone": "Mars/Olympus", "limit_usd": -1, "thresholds": [0.5, 3],
                "group_by": ["user"], "limt_usd": 5}),
    );
    assert_eq!(r.status(), 400);
    let body = json_of(r);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for want in [
        "name",
        "match.tem",
        "period",
        "timezone",
        "limit_usd",
        "thresholds[1]",
        "group_by[0]",
        "limt_usd",
    ] {
        assert!(fields.contains(&want), "{want} not in {body}");
    }
    assert!(
        body.to_string().contains("did you mean `limit_usd`?"),
        "{body}"
    );
    let (status, body) = m.get("/api/v1/budgets");
    assert_eq!(status, 200);
    assert!(
        !body.contains("bad name"),
        "a refused body changed something: {body}"
    );

    // Not JSON, too large, no token, wrong name in a PUT body.
    let r = call(
        &m,
        reqwest::Method::POST,
        "/api/v1/admin/budgets",
        Some("{".into()),
        None,
    );
    assert_eq!(r.status(), 400);
    let huge =
        json!({"name": "x", "period": "daily", "limit_usd": 1, "fleet_query": "x".repeat(70_000)});
    assert_eq!(post(&m, &huge).status(), 413);
    let r = Client::new()
        .post(format!("http://{}/api/v1/admin/budgets", m.http))
        .body(search_weekly(1.0, "a").to_string())
        .send()
        .expect("post");
    assert_eq!(r.status(), 401);
    assert_eq!(post(&m, &search_weekly(1.0, "a")).status(), 201);
    let r = put(
        &m,
        "search-weekly",
        &json!({"name": "other", "period": "daily", "limit_usd": 1}),
        None,
    );
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(r)["errors"][0]["field"], "name");
}

#[test]
fn a_reload_keeps_api_budgets_and_a_config_name_shadows_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), true, "");
    let m = start(&config);
    assert_eq!(post(&m, &search_weekly(10.0, "search")).status(), 201);
    spend(&m, "search", 0, 2);
    let reload = || {
        let r = call(
            &m,
            reqwest::Method::POST,
            "/api/v1/admin/reload",
            None,
            None,
        );
        assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    };
    // An unrelated edit: the API budget and its spend stay.
    write_config(
        dir.path(),
        true,
        "  - {name: other, period: daily, limit_usd: 5}\n",
    );
    reload();
    assert_eq!(entry(&m, "search-weekly").unwrap()["origin"], "api");
    assert_eq!(m.spend_nanos("search-weekly"), 2 * CALL);

    // The file now defines the name: the config's budget runs, the API one is reported as
    // shadowed and its spend is kept as orphaned (a different shape: its match is its own).
    write_config(
        dir.path(),
        true,
        "  - {name: search-weekly, period: weekly, limit_usd: 99}\n",
    );
    reload();
    let e = entry(&m, "search-weekly").unwrap();
    assert_eq!(e["origin"], "config");
    assert_eq!(e["limit_usd"], 99.0);
    let list = budgets(&m);
    let not_running = list["api_budgets_not_running"]
        .as_array()
        .expect("reported");
    assert_eq!(not_running[0]["name"], "search-weekly");
    assert_eq!(not_running[0]["state"], "shadowed");
    assert_eq!(orphaned_nanos(&m, "search-weekly"), 2 * CALL);
    assert_eq!(
        m.metric(r#"meterd_api_budgets{state="shadowed"}"#),
        Some(1.0)
    );
    assert_eq!(
        put(&m, "search-weekly", &search_weekly(1.0, "x"), None).status(),
        409
    );
    assert_eq!(post(&m, &search_weekly(1.0, "x")).status(), 409);

    // Out of the file again: the API budget runs again with its spend.
    write_config(dir.path(), true, "");
    reload();
    let e = entry(&m, "search-weekly").unwrap();
    assert_eq!(e["origin"], "api");
    assert_eq!(m.spend_nanos("search-weekly"), 2 * CALL);
    assert_eq!(m.metric(r#"meterd_api_budgets{state="active"}"#), Some(1.0));
}

#[test]
fn concurrent_creates_of_one_name_give_one_201() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), true, "");
    let m = start(&config);
    let http = m.http;
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                s.spawn(move || {
                    Client::new()
                        .post(format!("http://{http}/api/v1/admin/budgets"))
                        .header("authorization", format!("Bearer {ADMIN}"))
                        .body(
                            json!({"name": "race", "period": "daily", "limit_usd": i + 1})
                                .to_string(),
                        )
                        .send()
                        .expect("post")
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    // Concurrent updates with the version each read: one wins, the others are told.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                s.spawn(move || {
                    Client::new()
                        .put(format!("http://{http}/api/v1/admin/budgets/race"))
                        .header("authorization", format!("Bearer {ADMIN}"))
                        .header("if-match", "\"1\"")
                        .body(json!({"period": "daily", "limit_usd": 50 + i}).to_string())
                        .send()
                        .expect("put")
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        5,
        "{statuses:?}"
    );
}

/// Reloads racing API changes: each takes the same lock, so no reload swaps in a budget set
/// from before a change it raced (every acknowledged create is running afterwards).
#[test]
fn reloads_racing_creates_lose_no_api_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), true, "");
    let m = start(&config);
    let http = m.http;
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..15 {
                let r = Client::new()
                    .post(format!("http://{http}/api/v1/admin/reload"))
                    .header("authorization", format!("Bearer {ADMIN}"))
                    .send()
                    .expect("reload");
                assert_eq!(r.status(), 200);
            }
        });
        s.spawn(|| {
            for i in 0..15 {
                let body = json!({"name": format!("b{i}"), "period": "daily", "limit_usd": 1});
                assert_eq!(post(&m, &body).status(), 201);
            }
        });
    });
    for i in 0..15 {
        let name = format!("b{i}");
        assert_eq!(entry(&m, &name).expect(&name)["origin"], "api");
    }
    assert_eq!(
        m.metric(r#"meterd_api_budgets{state="active"}"#),
        Some(15.0)
    );
}

#[test]
fn without_admin_tokens_the_budget_routes_do_not_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), false, "");
    let m = start(&config);
    assert_eq!(post(&m, &search_weekly(1.0, "a")).status(), 404);
    assert_eq!(put(&m, "x", &search_weekly(1.0, "a"), None).status(), 404);
    assert_eq!(delete(&m, "x", None).status(), 404);
    let r = call(
        &m,
        reqwest::Method::GET,
        "/api/v1/admin/budgets",
        None,
        None,
    );
    assert_eq!(r.status(), 404);
}
