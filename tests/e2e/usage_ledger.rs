//! The usage ledger through the real binary: GenAI spans over OTLP/HTTP (each acknowledged only
//! once durable) and StatsD lines, then `GET /api/v1/usage` as JSON and as CSV, across a kill -9
//! and a clean restart; strict parameters; the same credentials as the rest of `/api/*`.

use crate::support::binary::{self, Meterd};
use crate::support::spans;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "usage-reader-token-0123456789";

fn config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("meterd.yaml");
    std::fs::write(
        &path,
        format!(
            "{}state:\n  data_dir: {}\n  flush_interval: 1h\n\
             pricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
             budgets:\n  - {{name: everything, period: total, limit_usd: 1000}}\n{extra}",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.join("data").display()
        ),
    )
    .expect("write config");
    path
}

fn start(config: &std::path::Path) -> Meterd {
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(config));
    Meterd::spawn(cmd)
}

fn export(m: &Meterd, i: u64, team: &str) {
    m.export_traces(spans::gpt4o_chat(i, &[("team", team)]));
}

fn usage(m: &Meterd, query: &str) -> Value {
    let (status, body) = m.get(&format!("/api/v1/usage?{query}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("usage json")
}

/// (team, requests, input tokens, exact cost) per row of a `group_by=team` answer.
fn by_team(v: &Value) -> Vec<(String, u64, u64, String)> {
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["team"].as_str().unwrap_or_default().to_string(),
                r["requests"].as_u64().unwrap_or(0),
                r["input_tokens"].as_u64().unwrap_or(0),
                r["cost_usd_exact"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn acknowledged_usage_survives_kill_9_and_a_clean_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "");
    let mut first = start(&config);
    for i in 0..8 {
        export(&first, i, "search");
    }
    for i in 8..12 {
        export(&first, i, "ads");
    }
    let expected = vec![
        ("ads".to_string(), 4, 4000, "0.03".to_string()),
        ("search".to_string(), 8, 8000, "0.06".to_string()),
    ];
    let before = usage(&first, "group_by=team");
    assert_eq!(by_team(&before), expected, "{before}");
    assert_eq!(before["total"]["output_tokens"], 6000);
    // flush_interval is an hour: only the commit each acknowledgement waited for wrote this.
    first.child.kill().expect("kill -9");
    first.child.wait().expect("reap");

    let second = start(&config);
    let after = usage(&second, "group_by=team");
    assert_eq!(
        by_team(&after),
        expected,
        "usage lost in the crash: {after}"
    );
    // The ledger and the budget counted the same calls: 12 x $0.0075.
    assert_eq!(second.spend_nanos("everything"), 90_000_000);
    export(&second, 12, "search");
    // A clean stop (SIGTERM) flushes; counting continues on the restored rows.
    let pid = second.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(status.expect("kill -TERM").success());
    let mut second = second;
    second.child.wait().expect("reap");
    let third = start(&config);
    let rows = by_team(&usage(&third, "group_by=team,model&provider=openai"));
    assert_eq!(
        rows[1],
        ("search".to_string(), 9, 9000, "0.0675".to_string())
    );
    let hours = usage(&third, "group_by=hour");
    assert_eq!(hours["granularity"], "hour");
    let total: u64 = hours["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["requests"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 13, "hour buckets hold the same calls as day buckets");
}

/// A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "a bare CR in {text:?}");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty(),
        "unterminated record in {text:?}"
    );
    rows
}

#[test]
fn csv_parses_back_to_the_json_answer_and_statsd_usage_counts_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), "");
    let m = start(&config);
    let awkward = "ads, \"EU\"";
    export(&m, 0, awkward);
    export(&m, 1, "search");
    m.send_udp(
        "llm.tokens:2000|c|#provider:openai,model:gpt-4o,token_type:input,team:search\n\
         llm.requests:1|c|#provider:openai,model:gpt-4o,status:error,team:search",
    );
    // StatsD has no acknowledgement: wait until the pipeline has counted it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let query = "group_by=day,team,model";
    let json = loop {
        let v = usage(&m, query);
        if v["total"]["requests"] == 3 && v["total"]["input_tokens"] == 4000 {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "StatsD usage never counted: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let resp = reqwest::blocking::Client::new()
        .get(format!("http://{}/api/v1/usage?{query}&format=csv", m.http))
        .send()
        .expect("csv");
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(ctype.starts_with("text/csv"), "{ctype}");
    let text = resp.text().expect("body");
    let csv = parse_csv(&text);
    let header = &csv[0];
    assert_eq!(&header[..4], ["day", "team", "model", "requests"]);
    assert_eq!(header.last().map(String::as_str), Some("cost_usd"));
    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(csv.len() - 1, rows.len(), "{text}");
    for (record, row) in csv[1..].iter().zip(rows) {
        assert_eq!(record.len(), header.len());
        for (name, field) in header.iter().zip(record) {
            let want = match name.as_str() {
                "cost_usd" => row["cost_usd_exact"].as_str().expect("exact").to_string(),
                n => match &row[n] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            };
            assert_eq!(field, &want, "column {name} of {record:?} vs {row}");
        }
    }
    assert!(csv.iter().any(|r| r[1] == awkward), "{text}");
    let search = rows.iter().find(|r| r["team"] == "search").expect("search");
    assert_eq!(
        search["errors"], 1,
        "the StatsD call was an error: {search}"
    );
    assert_eq!(search["input_tokens"], 3000);
}

#[test]
fn parameters_are_strict_and_the_api_credentials_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(
        dir.path(),
        &format!("http_auth:\n  bearer_tokens: [\"{TOKEN}\"]\n"),
    );
    let m = start(&config);
    let get = |q: &str, token: Option<&str>| {
        let mut req =
            reqwest::blocking::Client::new().get(format!("http://{}/api/v1/usage?{q}", m.http));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().expect("get");
        (resp.status().as_u16(), resp.text().expect("body"))
    };
    assert_eq!(get("", None).0, 401);
    assert_eq!(get("", Some("wrong-token-0123456789")).0, 401);
    let (status, body) = get("group_by=team", Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    for bad in [
        "tem=search",
        "group_by=user",
        "format=xml",
        "from=yesterday",
        "team=a&team=b",
    ] {
        let (status, body) = get(bad, Some(TOKEN));
        assert_eq!(status, 400, "{bad}: {body}");
        let v: Value = serde_json::from_str(&body).expect("error json");
        assert!(v["error"].is_string(), "{body}");
    }
    let (_, body) = get("tem=search", Some(TOKEN));
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["unknown"], serde_json::json!(["tem"]));
}
