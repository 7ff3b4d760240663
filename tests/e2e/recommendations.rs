//! Recommendations from the real binary: a scripted mix (gpt-4o graded like the cheaper
//! gpt-4o-mini, its prompts never read from the provider's cache) yields `downgrade_model` and
//! `optimize_cache`, whose window figures equal `meterd report --json`'s what-if figures to the
//! last digit and whose monthly savings are those figures scaled as documented; a dismissal
//! survives a restart, and comes back once the saving has grown past the factor.

use crate::support::binary::{self, Meterd};
use crate::support::spans::{int_kv, span_now, str_kv};
use crate::support::wait_until;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ADMIN: &str = "admin-token-0123456789abcdef";

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("meterd.yaml");
    std::fs::write(
        &path,
        format!(
            "{}state:\n  data_dir: {}\n\
             admin:\n  tokens: [{{name: ops, token: {ADMIN}}}]\n\
             pricing:\n  models:\n\
             \x20   - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, cached_input: 1.25, output: 10.00}}}}\n\
             \x20   - {{provider: openai, model: gpt-4o-mini, prices: {{input: 0.15, output: 0.60}}}}\n\
             budgets:\n  - {{name: tight, period: monthly, limit_usd: 0.05}}\n\
             recommendations:\n  min_requests: 1\n  min_quality_samples: 4\n  min_monthly_savings_usd: 0\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.join("data").display()
        ),
    )
    .expect("write config");
    path
}

fn start(cfg: &Path) -> Meterd {
    let mut c = Command::new(binary::exe());
    c.args(binary::args(cfg));
    Meterd::spawn(c)
}

fn stop(m: Meterd) {
    let mut m = m;
    let pid = m.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    m.child.wait().expect("reap");
}

/// `n` gpt-4o calls of 2,000 input (none cached) and 100 output tokens, ids from `first`.
fn calls(m: &Meterd, first: u64, n: u64) {
    let client = reqwest::blocking::Client::new();
    for id in first..first + n {
        let body = span_now(
            id,
            "",
            vec![
                str_kv("gen_ai.operation.name", "chat"),
                str_kv("gen_ai.provider.name", "openai"),
                str_kv("gen_ai.request.model", "gpt-4o"),
                int_kv("gen_ai.usage.input_tokens", 2000),
                int_kv("gen_ai.usage.output_tokens", 100),
            ],
        );
        let resp = client
            .post(format!("http://{}/v1/traces", m.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .expect("export");
        assert!(resp.status().is_success(), "export: {}", resp.status());
    }
}

/// Both models graded good 4 times in 4, every answer accepted.
fn grades(m: &Meterd) {
    let mut lines = String::new();
    for model in ["gpt-4o", "gpt-4o-mini"] {
        for _ in 0..4 {
            lines.push_str(&format!(
                "llm.quality.score:87|h|#model:{model},evaluation:relevance\n\
                 llm.outcome:1|c|#model:{model},outcome:accepted\n"
            ));
        }
    }
    // An app cache answering 1 lookup in 10.
    lines.push_str(
        "llm.cache:9|c|#cache:semantic,result:miss\nllm.cache:1|c|#cache:semantic,result:hit\n",
    );
    m.send_tcp(&lines);
    wait_until("grades counted", Duration::from_secs(10), || {
        m.metric("llm_outcomes_total{model=\"gpt-4o-mini\",outcome=\"accepted\"}")
            .filter(|v| *v == 4.0)
    });
}

fn recs(m: &Meterd, query: &str) -> Value {
    let (status, body) = m.get(&format!("/api/v1/recommendations{query}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

fn find<'a>(v: &'a Value, kind: &str) -> &'a Value {
    v["recommendations"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} in {v:#}"))
}

/// An exact decimal (`"0.0045"`) in femto-USD.
fn femto(text: &str) -> i128 {
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    assert!(frac.len() <= 15, "{text}");
    let v = whole.parse::<i128>().expect("whole") * 1_000_000_000_000_000
        + format!("{frac:0<15}").parse::<i128>().expect("fraction");
    if neg {
        -v
    } else {
        v
    }
}

/// `diff` per 30 days over `secs`, rounded half up: the documented scaling.
fn monthly(diff: i128, secs: i128) -> i128 {
    (diff * 2_592_000 * 2 + secs) / (2 * secs)
}

fn patch(m: &Meterd, id: &str, body: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::blocking::Client::new()
        .patch(format!(
            "http://{}/api/v1/admin/recommendations/{id}",
            m.http
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().expect("patch");
    (resp.status().as_u16(), resp.text().expect("body"))
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

#[test]
fn scripted_mix_yields_downgrade_and_cache_recommendations_equal_to_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());
    let cfg_s = cfg.display().to_string();
    let m = start(&cfg);
    calls(&m, 0, 10);
    grades(&m);

    let v = recs(&m, "");
    let down = find(&v, "downgrade_model");
    let cache = find(&v, "optimize_cache");
    assert_eq!(down["priority"], "high", "{down:#}");
    assert_eq!(down["evidence"]["quality"], "no worse");
    assert_eq!(down["evidence"]["alternative"], "openai/gpt-4o-mini");
    assert_eq!(down["status"], "open");
    assert_eq!(cache["evidence"]["model"], "openai/gpt-4o");
    // 0.06 USD spent of a 0.05 USD month: forecast to overrun, gpt-4o the contributor.
    let cut = find(&v, "reduce_model_usage");
    assert_eq!(cut["evidence"]["budget"], "tight", "{cut:#}");
    assert_eq!(cut["evidence"]["spend_usd"], "0.06");
    assert_eq!(cut["evidence"]["contributors"][0]["model"], "gpt-4o");
    assert_eq!(cut["priority"], "high");
    // The app cache: reported, with no made-up saving.
    let app = v["recommendations"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["evidence"]["cache"] == "semantic"))
        .unwrap_or_else(|| panic!("no app cache recommendation in {v:#}"));
    assert_eq!(app["estimated_monthly_savings_usd_exact"], "0.00");
    assert_eq!(app["evidence"]["hit_rate"], 0.1);

    // The status page lists the open ones with the same exact saving.
    let (status, page) = m.get("/ui");
    assert_eq!(status, 200);
    let exact = down["estimated_monthly_savings_usd_exact"]
        .as_str()
        .expect("exact");
    let row = page
        .split("<tr data-id=")
        .find(|r| r.starts_with(&format!("\"{}\"", down["id"].as_str().expect("id"))))
        .unwrap_or_else(|| panic!("no row for {} in {page}", down["id"]));
    assert!(
        row.contains(&format!("data-field=\"savings\">{exact}</td>")),
        "{row}"
    );

    // The report over the same window shows the figures the savings come from.
    let w = &down["evidence"]["window"];
    let (from, to) = (
        w["from_unix"].as_i64().expect("from").to_string(),
        w["to_unix"].as_i64().expect("to").to_string(),
    );
    let url = format!("http://{}", m.http);
    let report: Value = serde_json::from_str(&meterd(&[
        "report", "--config", &cfg_s, "--url", &url, "--from", &from, "--to", &to, "--json",
    ]))
    .expect("report json");
    let what_if = report["what_if"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["model"] == "gpt-4o"))
        .unwrap_or_else(|| panic!("no what-if of gpt-4o in {report:#}"));
    let mini = what_if["alternatives"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["model"] == "gpt-4o-mini"))
        .expect("gpt-4o-mini");
    // 10 calls: 20,000 in x $2.50/1M + 1,000 out x $10/1M at gpt-4o; $0.15 and $0.60 at mini.
    assert_eq!(what_if["cost_usd"], "0.06");
    assert_eq!(mini["cost_usd"], "0.0036");
    assert_eq!(down["evidence"]["window_cost_usd"], what_if["cost_usd"]);
    assert_eq!(down["evidence"]["alternative_cost_usd"], mini["cost_usd"]);
    let secs = i128::from(w["observed_secs"].as_i64().expect("span"));
    let diff = femto("0.06") - femto("0.0036");
    assert_eq!(
        femto(
            down["estimated_monthly_savings_usd_exact"]
                .as_str()
                .expect("exact")
        ),
        monthly(diff, secs),
        "{down:#}"
    );
    // Half of 20,000 input tokens read from cache at $1.25 instead of $2.50.
    let caching = &what_if["caching"];
    assert_eq!(caching["uncached_cost_usd"], "0.06");
    assert_eq!(caching["cost_usd"], "0.0475");
    assert_eq!(
        cache["evidence"]["uncached_cost_usd"],
        caching["uncached_cost_usd"]
    );
    assert_eq!(cache["evidence"]["cached_cost_usd"], caching["cost_usd"]);
    let secs = i128::from(
        cache["evidence"]["window"]["observed_secs"]
            .as_i64()
            .expect("span"),
    );
    assert_eq!(
        femto(
            cache["estimated_monthly_savings_usd_exact"]
                .as_str()
                .expect("exact")
        ),
        monthly(femto("0.06") - femto("0.0475"), secs)
    );
    // The report lists the same recommendations.
    let ids = |list: &Value| -> Vec<String> {
        let mut ids: Vec<String> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&report["recommendations"]), ids(&v["recommendations"]));
    let text = meterd(&["report", "--config", &cfg_s, "--url", &url]);
    assert!(text.contains("Recommendations"), "{text}");
    assert!(
        text.contains(
            "gpt-4o with 50.0% of input cached would have cost 0.0475 USD instead of 0.06 USD"
        ),
        "{text}"
    );

    // Dismiss: refused without the admin token, for an unknown id, or a bad status.
    let id = down["id"].as_str().expect("id").to_string();
    assert_eq!(patch(&m, &id, r#"{"status":"dismissed"}"#, None).0, 401);
    assert_eq!(
        patch(
            &m,
            "rec_0000000000000000",
            r#"{"status":"dismissed"}"#,
            Some(ADMIN)
        )
        .0,
        404
    );
    assert_eq!(patch(&m, &id, r#"{"status":"gone"}"#, Some(ADMIN)).0, 400);
    assert_eq!(
        patch(&m, &id, r#"{"state":"dismissed"}"#, Some(ADMIN)).0,
        400
    );
    let (status, body) = patch(&m, &id, r#"{"status":"dismissed"}"#, Some(ADMIN));
    assert_eq!(status, 200, "{body}");
    assert!(recs(&m, "")["recommendations"]
        .as_array()
        .is_some_and(|r| r.iter().all(|r| r["id"] != id.as_str())));
    assert_eq!(
        find(&recs(&m, "?status=dismissed"), "downgrade_model")["id"],
        id.as_str()
    );
    assert_eq!(
        m.metric(
            "meterd_admin_actions_total{action=\"recommendation_status\",result=\"dismissed\"}"
        ),
        Some(1.0)
    );
    let (status, body) = m.get("/api/v1/recommendations?status=bogus");
    assert_eq!(status, 400, "{body}");
    let (status, body) = m.get("/api/v1/recommendations?window=1d");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("window"), "{body}");

    // kill -9 right after the answer, then a restart: the dismissal was on disk (quality counters
    // restart from zero; the id does not move).
    let mut m = m;
    m.child.kill().expect("kill -9");
    m.child.wait().expect("reap");
    let m = start(&cfg);
    let again = recs(&m, "?status=all");
    let d = find(&again, "downgrade_model");
    assert_eq!(
        (d["id"].as_str(), d["status"].as_str()),
        (Some(id.as_str()), Some("dismissed"))
    );
    assert_eq!(d["status_set"]["by"], "ops");
    let offline_check = meterd(&[
        "report",
        "--config",
        &cfg_s,
        "--url",
        &format!("http://{}", m.http),
        "--json",
    ]);
    let offline: Value = serde_json::from_str(&offline_check).expect("report json");
    let listed = offline["recommendations"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == id.as_str()))
        .expect("listed in the report");
    assert_eq!(listed["status"], "dismissed");

    // Three times the usage: more than twice the saving, so it comes back.
    calls(&m, 100, 30);
    let back = wait_until("resurfaced", Duration::from_secs(10), || {
        let v = recs(&m, "");
        v["recommendations"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["id"] == id.as_str()).cloned())
    });
    assert_eq!(back["status"], "open");
    assert_eq!(back["resurfaced"], true);
    stop(m);
    // The agent stopped: the report reads the state file, statuses included.
    let offline: Value =
        serde_json::from_str(&meterd(&["report", "--config", &cfg_s, "--json"])).expect("json");
    let listed = offline["recommendations"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == id.as_str()))
        .expect("listed offline");
    assert_eq!(listed["status"], "open");
    assert_eq!(listed["status_set"]["status"], "dismissed");
}

#[test]
fn without_admin_tokens_patch_is_404_and_disabled_recommendations_are_404() {
    let agent = crate::support::agent::Agent::start("recommendations:\n  enabled: false\n");
    let client = reqwest::blocking::Client::new();
    let url = |p: &str| format!("http://{}{p}", agent.http());
    let resp = client
        .patch(url("/api/v1/admin/recommendations/rec_0000000000000000"))
        .bearer_auth(ADMIN)
        .body(r#"{"status":"dismissed"}"#)
        .send()
        .expect("patch");
    assert_eq!(resp.status().as_u16(), 404);
    let resp = client
        .get(url("/api/v1/recommendations"))
        .send()
        .expect("get");
    assert_eq!(resp.status().as_u16(), 404);
    assert!(resp
        .text()
        .expect("body")
        .contains("recommendations.enabled"));
}
