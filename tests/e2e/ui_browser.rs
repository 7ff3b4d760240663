//! The status page in a real browser: the built binary (with a price file, budgets and bearer
//! credentials) receives GenAI spans over OTLP/HTTP and StatsD usage of an unpriced model, then
//! headless Chromium (Debian `chromium` and `chromium-driver`, driven by Selenium from
//! tests/python/ui_browser.py) loads `/ui`. Every figure the page shows is compared with
//! `/api/v1/usage` and `/api/v1/budgets`; the console must be free of errors and no request may
//! leave the agent. Fails (never skips) without Chromium, chromedriver or `METERD_TEST_PYTHON`.

use crate::support::binary::{self, Meterd};
use crate::support::spans;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "ui-browser-token-0123456789";
const HOSTILE_TEAM: &str = "<script>alert('pwned')</script>";

fn start(dir: &Path) -> Meterd {
    std::fs::write(
        dir.join("prices.yaml"),
        "models:\n  - {provider: openai, model: gpt-4o, prices: {input: 2.50, output: 10.00}, \
         source: https://example.invalid/pricing}\n  - {provider: openai, model: gpt-4o-mini, \
         prices: {input: 0.15, output: 0.60}}\n",
    )
    .expect("write prices");
    let config = dir.join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{}state:\n  data_dir: {}\npricing_file: prices.yaml\n\
             http_auth:\n  bearer_tokens: [\"{TOKEN}\"]\n\
             budgets:\n  - {{name: search-monthly, match: {{team: search}}, period: monthly, limit_usd: 0.02}}\n  \
             - {{name: per-team, group_by: [team], period: daily, limit_usd: 5}}\n  \
             - {{name: everything, period: total, limit_usd: 1000}}\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(&config));
    Meterd::spawn(cmd)
}

fn get(m: &Meterd, path: &str) -> (u16, String) {
    let resp = reqwest::blocking::Client::new()
        .get(format!("http://{}{path}", m.http))
        .bearer_auth(TOKEN)
        .timeout(Duration::from_secs(10))
        .send()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().expect("body"))
}

fn json(m: &Meterd, path: &str) -> Value {
    let (status, body) = get(m, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn export(m: &Meterd, i: u64, team: &str) {
    m.export_traces(spans::gpt4o_chat(i, &[("team", team)]));
}

/// Loads `url` in headless Chromium (sending `token` as a bearer credential); what the page
/// showed, as the script extracted it.
fn browse(url: &str, token: Option<&str>) -> Value {
    let python = std::env::var("METERD_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "METERD_TEST_PYTHON is not set: run scripts/test.sh (it installs chromium, \
             chromium-driver and the venv with selenium from tests/python/requirements.txt)"
        )
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/ui_browser.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(url)
        .args(token)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ui_browser.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

type Cells = BTreeMap<String, String>;

/// Page rows of one spend table: group values (in `dims` order) -> requests, errors, input,
/// output, cost.
fn page_rows(table: &Value, which: &str, dims: &[&str]) -> BTreeMap<Vec<String>, Cells> {
    let mut out = BTreeMap::new();
    for row in table[which].as_array().cloned().unwrap_or_default() {
        let values = dims
            .iter()
            .map(|d| row["dims"][*d].as_str().unwrap_or_default().to_string())
            .collect();
        let fields: Cells = serde_json::from_value(row["fields"].clone()).expect("fields");
        out.insert(values, fields);
    }
    out
}

fn api_cells(row: &Value) -> Cells {
    let mut c = Cells::new();
    for f in ["requests", "errors", "input_tokens", "output_tokens"] {
        c.insert(f.into(), row[f].as_u64().expect(f).to_string());
    }
    c.insert(
        "cost".into(),
        row["cost_usd_exact"].as_str().expect("cost").into(),
    );
    c
}

/// One spend table of the page equals the usage API's answer to the same query, row by row.
fn same_as_api(page: &Value, id: &str, api: &Value, dims: &[&str]) {
    let table = &page["spend"][id];
    let shown = page_rows(table, "rows", dims);
    let mut want = BTreeMap::new();
    for row in api["rows"].as_array().expect("rows") {
        let key: Vec<String> = dims
            .iter()
            .map(|d| row[*d].as_str().expect("dim").to_string())
            .collect();
        want.insert(key, api_cells(row));
    }
    assert_eq!(shown, want, "{id}: page {table} vs API {api}");
    let total = page_rows(table, "total", &[]);
    assert_eq!(
        total.values().next(),
        Some(&api_cells(&api["total"])),
        "{id}"
    );
}

/// `0.0375` -> 37_500_000 nano-USD.
fn nanos(decimal: &str) -> u64 {
    let (whole, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    let frac = format!("{frac:0<9}");
    whole.parse::<u64>().expect("whole") * 1_000_000_000 + frac[..9].parse::<u64>().expect("frac")
}

#[test]
fn the_page_in_chromium_shows_what_the_api_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(dir.path());
    for i in 0..3 {
        export(&m, i, "search");
    }
    export(&m, 3, "ads");
    export(&m, 4, HOSTILE_TEAM);
    m.send_udp("llm.tokens:700|c|#provider:acme,model:mystery-1,token_type:input,team:ads");
    crate::support::wait_until("the unpriced StatsD line", Duration::from_secs(10), || {
        let (_, body) = get(&m, "/metrics");
        body.contains("llm_unpriced_requests_total{").then_some(())
    });

    let page = browse(&format!("http://{}/ui", m.http), Some(TOKEN));

    // No console errors (a CSP violation or a failed load is one), no script, nothing fetched
    // from anywhere but this agent.
    let console = page["console"].as_array().expect("console");
    assert!(
        console
            .iter()
            .all(|e| e["level"] != "SEVERE" && e["level"] != "WARNING"),
        "console errors: {console:?}"
    );
    assert_eq!(page["scripts"], 0);
    let base = format!("http://{}/", m.http);
    for url in page["requests"].as_array().expect("requests") {
        let url = url.as_str().unwrap_or_default();
        let internal = ["chrome://", "chrome-untrusted://", "data:", "about:"]
            .iter()
            .any(|p| url.starts_with(p));
        assert!(
            internal || url.starts_with(&base),
            "request left the agent: {url}"
        );
    }
    assert_eq!(page["title"], "meterd status");
    assert_eq!(page["version"], env!("CARGO_PKG_VERSION"));

    // Spend: four tables, each exactly the usage API's answer to the same query.
    let today = json(&m, "/api/v1/usage?group_by=day")["rows"][0]["day"]
        .as_str()
        .expect("today")
        .to_string();
    for (id, query, dims) in [
        (
            "today-team",
            format!("from={today}&group_by=team"),
            &["team"][..],
        ),
        ("month-team", "group_by=team".to_string(), &["team"][..]),
        (
            "today-model",
            format!("from={today}&group_by=provider,model"),
            &["provider", "model"][..],
        ),
        (
            "month-model",
            "group_by=provider,model".to_string(),
            &["provider", "model"][..],
        ),
    ] {
        let api = json(&m, &format!("/api/v1/usage?{query}"));
        same_as_api(&page, id, &api, dims);
        if dims.len() == 2 {
            let headline = if id.starts_with("today") {
                "today_total"
            } else {
                "month_total"
            };
            assert_eq!(page[headline], api["total"]["cost_usd_exact"], "{headline}");
        }
    }
    // The hostile team name is shown as the text it is.
    let teams = page_rows(&page["spend"]["today-team"], "rows", &["team"]);
    assert_eq!(teams[&vec![HOSTILE_TEAM.to_string()]]["cost"], "0.0075");
    assert_eq!(teams[&vec!["search".to_string()]]["cost"], "0.0225");

    // Budgets: the same list as the budget API, with exact spend.
    let api = json(&m, "/api/v1/budgets");
    let api_budgets = api["budgets"].as_array().expect("budgets");
    let shown = page["budgets"].as_array().expect("budgets");
    assert_eq!(shown.len(), api_budgets.len(), "{shown:?}");
    for b in api_budgets {
        let group: Vec<String> = b["group"]
            .as_object()
            .map(|g| {
                g.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let row = shown
            .iter()
            .find(|r| r["fields"]["name"] == b["name"] && r["fields"]["group"] == group.join(", "))
            .unwrap_or_else(|| panic!("budget {b} not on the page: {shown:?}"));
        let f = &row["fields"];
        let spend_nanos = b["spend_nanos"].as_u64().expect("spend_nanos");
        assert_eq!(row["nanos"], spend_nanos.to_string(), "{b}");
        assert_eq!(
            nanos(f["spend"].as_str().expect("spend")),
            spend_nanos,
            "{b}"
        );
        let limit: f64 = f["limit"].as_str().expect("limit").parse().expect("limit");
        assert_eq!(limit, b["limit_usd"].as_f64().expect("limit_usd"));
        let util: f64 = row["values"]["utilization"]
            .as_str()
            .expect("u")
            .parse()
            .expect("u");
        assert_eq!(util, b["utilization"].as_f64().expect("utilization"), "{b}");
        assert_eq!(f["utilization"], format!("{:.1}%", util * 100.0), "{b}");
        assert_eq!(f["status"], b["status"], "{b}");
        assert_eq!(f["period"], b["period"], "{b}");
        // The forecast moves with the clock between the two reads: close, not equal.
        let shown_forecast: f64 = row["values"]["forecast"]
            .as_str()
            .expect("f")
            .parse()
            .expect("f");
        let api_forecast = b["forecast_usd"].as_f64().expect("forecast_usd");
        assert!(
            (shown_forecast - api_forecast).abs() <= api_forecast.abs() * 0.05 + 1e-9,
            "{b}: page forecast {shown_forecast}"
        );
    }
    let search = shown
        .iter()
        .find(|r| r["fields"]["name"] == "search-monthly")
        .expect("search-monthly");
    // 3 calls of $0.0075 against $0.02.
    assert_eq!(search["fields"]["status"], "exceeded");

    // Unpriced: the StatsD line's model, as llm_unpriced_requests_total counts it.
    let unpriced = page["unpriced"].as_array().expect("unpriced");
    assert_eq!(unpriced.len(), 1, "{unpriced:?}");
    let u = &unpriced[0]["fields"];
    assert_eq!(
        (&u["provider"], &u["model"]),
        (&"acme".into(), &"mystery-1".into())
    );
    assert_eq!(u["reason"], "unknown_model");
    assert_eq!(u["requests"], "1");

    // The price table: its entries and the file it came from, as meterd_pricing_info says.
    let (_, metrics) = get(&m, "/metrics");
    let info = metrics
        .lines()
        .find(|l| l.starts_with("meterd_pricing_info{"))
        .unwrap_or_else(|| panic!("no meterd_pricing_info in {metrics}"));
    assert_eq!(page["price_entries"], "2");
    let sources: Vec<&str> = page["price_sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert!(sources[0].ends_with("prices.yaml"), "{sources:?}");
    assert!(
        info.contains(&format!("source=\"{}\"", sources[0])),
        "{info}"
    );
    assert_eq!(page["price_rows"], 2);

    // Ingest health: every readiness check passes; OTLP and StatsD counters are listed.
    let checks = page["checks"].as_array().expect("checks");
    for c in ["config", "listeners", "state"] {
        assert!(
            checks.iter().any(|t| t.as_str() == Some(&format!("{c}ok"))),
            "{c}: {checks:?}"
        );
    }
    let counters = page["counters"].to_string();
    assert!(
        counters.contains("meterd_otlp_requests_total"),
        "{counters}"
    );
    assert!(
        counters.contains("meterd_statsd_lines_received_total"),
        "{counters}"
    );
    assert!(page["reload"]
        .as_str()
        .unwrap_or_default()
        .contains("succeeded"));
}

/// With `http_auth.basic`, a browser answers meterd's Basic challenge (here from credentials in
/// the URL, as it would from its password prompt); a wrong password is refused.
#[test]
fn chromium_signs_in_with_basic_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{}state:\n  data_dir: {}\nhttp_auth:\n  bearer_tokens: [\"{TOKEN}\"]\n  basic:\n    \
             - {{username: viewer, password: \"a-long-viewer-password\"}}\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(&config));
    let m = Meterd::spawn(cmd);
    let page = browse(
        &format!("http://viewer:a-long-viewer-password@{}/ui", m.http),
        None,
    );
    assert_eq!(page["title"], "meterd status", "{page}");
    let console = page["console"].as_array().expect("console");
    assert!(console.is_empty(), "{console:?}");
    let refused = browse(
        &format!("http://viewer:wrong-password-0000@{}/ui", m.http),
        None,
    );
    assert_ne!(refused["title"], "meterd status", "{refused}");
}
