//! `meterd report` against the real binary: its figures equal `/api/v1/usage`'s, its what-if
//! figures equal `meterd price` on the same token mix, quality rates come from the agent, and
//! the same report comes from the state file once the agent has stopped.

use crate::support::binary::{self, Meterd};
use crate::support::spans;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("meterd.yaml");
    std::fs::write(
        &path,
        format!(
            "{}state:\n  data_dir: {}\n\
             pricing:\n  models:\n\
             \x20   - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
             \x20   - {{provider: openai, model: gpt-4o-mini, prices: {{input: 0.15, output: 0.60}}}}\n\
             budgets:\n  - {{name: search, match: {{team: search}}, period: monthly, limit_usd: 1}}\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.join("data").display()
        ),
    )
    .expect("write config");
    path
}

fn meterd(args: &[&str]) -> String {
    let out = Command::new(binary::exe())
        .args(args)
        .output()
        .expect("run meterd");
    assert!(
        out.status.success(),
        "meterd {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn section<'a>(report: &'a Value, by: &str) -> &'a Vec<Value> {
    report["sections"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["by"] == by))
        .and_then(|s| s["rows"].as_array())
        .unwrap_or_else(|| panic!("no section {by} in {report}"))
}

/// (key, requests, exact cost) of report rows or API rows.
fn figures(rows: &[Value], key: &str, cost: &str) -> Vec<(String, u64, String)> {
    rows.iter()
        .map(|r| {
            (
                r[key].as_str().unwrap_or_default().to_string(),
                r["requests"].as_u64().unwrap_or(0),
                r[cost].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn report_equals_the_api_and_what_if_equals_meterd_price() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());
    let cfg_s = cfg.display().to_string();
    let m = Meterd::spawn({
        let mut c = Command::new(binary::exe());
        c.args(binary::args(&cfg));
        c
    });
    let client = reqwest::blocking::Client::new();
    for i in 0..8u64 {
        let team = if i < 6 { "search" } else { "ads" };
        let resp = client
            .post(format!("http://{}/v1/traces", m.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(spans::gpt4o_chat(i, &[("team", team)]))
            .timeout(Duration::from_secs(10))
            .send()
            .expect("export");
        assert!(resp.status().is_success());
    }
    m.send_udp(
        "llm.outcome:1|c|#model:gpt-4o,outcome:accepted\n\
         llm.outcome:1|c|#model:gpt-4o,outcome:abandoned",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while m
        .metric("llm_outcomes_total{model=\"gpt-4o\",outcome=\"abandoned\"}")
        .is_none()
    {
        assert!(Instant::now() < deadline, "outcomes never counted");
        std::thread::sleep(Duration::from_millis(50));
    }

    let url = format!("http://{}", m.http);
    let report: Value = serde_json::from_str(&meterd(&[
        "report",
        "--config",
        &cfg_s,
        "--url",
        &url,
        "--by",
        "team,model",
        "--json",
    ]))
    .expect("report json");
    let (_, body) = m.get("/api/v1/usage?group_by=team");
    let api: Value = serde_json::from_str(&body).expect("api json");
    let api_rows = api["rows"].as_array().expect("rows");
    assert_eq!(
        figures(section(&report, "team"), "team", "cost_usd"),
        figures(api_rows, "team", "cost_usd_exact"),
        "report {report}\napi {api}"
    );
    assert_eq!(report["total"]["cost_usd"], api["total"]["cost_usd_exact"]);
    assert_eq!(report["total"]["cost_usd"], "0.06");
    // The budget's month so far: 6 search calls x $0.0075.
    let budget = &report["forecast"]["budgets"][0];
    assert_eq!(budget["spend_usd"], "0.045", "{report}");
    assert_eq!(budget["limit_usd"], "1.00");

    let w = report["what_if"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["model"] == "gpt-4o"))
        .expect("what-if of gpt-4o");
    assert_eq!(w["quality"]["accepted_rate"], 0.5, "{w}");
    let mini = w["alternatives"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["model"] == "gpt-4o-mini"))
        .expect("gpt-4o-mini");
    let u = &w["usage"];
    let n = |k: &str| u[k].as_u64().expect("count").to_string();
    let price = meterd(&[
        "price",
        "--config",
        &cfg_s,
        "--provider",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--input",
        &n("input_tokens"),
        "--output",
        &n("output_tokens"),
        "--requests",
        &n("requests"),
        "--request-input-tokens",
        &n("request_input_tokens"),
    ]);
    let total = price
        .lines()
        .find(|l| l.starts_with("total"))
        .and_then(|l| l.split_whitespace().last())
        .expect("total line");
    assert_eq!(mini["cost_usd"], total, "what-if vs meterd price:\n{price}");
    // 8,000 in x $0.15/1M + 4,000 out x $0.60/1M.
    assert_eq!(total, "0.0036");

    let text = meterd(&["report", "--config", &cfg_s, "--url", &url]);
    assert!(
        text.contains(
            "gpt-4o -> openai/gpt-4o-mini would have cost 0.0036 USD instead of 0.06 USD"
        ),
        "{text}"
    );
    // Stopped: the same figures from the state file.
    let pid = m.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let mut m = m;
    m.child.wait().expect("reap");
    let offline: Value = serde_json::from_str(&meterd(&[
        "report",
        "--config",
        &cfg_s,
        "--by",
        "team,model",
        "--json",
    ]))
    .expect("report json");
    assert_eq!(offline["sections"], report["sections"]);
    let csv = meterd(&["report", "--config", &cfg_s, "--csv"]);
    assert!(csv.starts_with("section,key,requests,"), "{csv}");
    assert!(
        csv.contains("\r\nteam,search,6,0,6000,3000,0.045,,\r\n"),
        "{csv}"
    );
}
