//! `/ui` over plain HTTP: off by config (and back on by a reload), behind `http_auth`, strict
//! headers, hostile label values escaped, strict parameters, and a bounded page when thousands
//! of rows exist.

use crate::support::agent::Agent;
use crate::support::wait_until;
use std::time::Duration;

const TOKEN: &str = "ui-page-token-0123456789";

fn get(agent: &Agent, path: &str, token: Option<&str>) -> reqwest::blocking::Response {
    let mut req = reqwest::blocking::Client::new()
        .get(format!("http://{}{path}", agent.http()))
        .timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn page(agent: &Agent) -> String {
    let resp = get(agent, "/ui", None);
    assert_eq!(resp.status(), 200);
    resp.text().expect("body")
}

#[test]
fn disabled_is_404_and_a_reload_turns_it_back_on() {
    let agent = Agent::start("ui:\n  enabled: false\n");
    assert_eq!(get(&agent, "/ui", None).status(), 404);
    agent.write_config("");
    agent.running().reload().expect("reload");
    assert_eq!(get(&agent, "/ui", None).status(), 200);
    let index = get(&agent, "/", None).text().expect("index");
    assert!(index.contains("href=\"/ui\""), "{index}");
}

#[test]
fn credentials_are_those_of_the_api() {
    let agent = Agent::start(&format!("http_auth:\n  bearer_tokens: [\"{TOKEN}\"]\n"));
    let refused = get(&agent, "/ui", None);
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().contains_key("www-authenticate"));
    assert_eq!(
        get(&agent, "/ui", Some("wrong-token-0123456789")).status(),
        401
    );
    assert_eq!(get(&agent, "/ui", Some(TOKEN)).status(), 200);
}

#[test]
fn headers_forbid_loading_anything_and_caching() {
    let agent = Agent::start("");
    let resp = get(&agent, "/ui", None);
    assert_eq!(resp.status(), 200);
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(h("content-type"), "text/html; charset=utf-8");
    assert!(h("content-security-policy").starts_with("default-src 'none';"));
    assert!(!h("content-security-policy").contains("script-src"));
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("cache-control"), "no-store");
    let body = resp.text().expect("body");
    assert!(body.contains("No usage yet."), "{body}");
    assert!(body.contains("No budgets configured."), "{body}");
    // Parameters are strict: a typo is refused, not ignored.
    assert_eq!(get(&agent, "/ui?refesh=10", None).status(), 400);
    assert_eq!(get(&agent, "/ui?refresh=1", None).status(), 400);
    let refreshing = get(&agent, "/ui?refresh=30", None).text().expect("body");
    assert!(refreshing.contains("http-equiv=\"refresh\" content=\"30\""));
}

#[test]
fn hostile_label_values_are_escaped_everywhere() {
    let agent = Agent::start(
        "pricing:\n  models:\n    - {provider: openai, model: gpt-4o, prices: {input: 2.50}}\n\
         budgets:\n  - {name: per-team, group_by: [team], period: daily, limit_usd: 5}\n",
    );
    let hostile = "<script>alert(1)</script>\"'&";
    agent.send_udp(&format!(
        "llm.tokens:1000|c|#provider:openai,model:gpt-4o,token_type:input,team:{hostile}\n\
         llm.tokens:5|c|#provider:evil,model:<img src=x onerror=alert(2)>,token_type:input"
    ));
    let body = wait_until(
        "the hostile lines on the page",
        Duration::from_secs(10),
        || {
            let b = page(&agent);
            (b.contains("per-team") && b.contains("evil") && b.contains("onerror")).then_some(b)
        },
    );
    assert!(!body.contains("<script"), "{body}");
    assert!(!body.contains("<img"), "{body}");
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"),
        "{body}"
    );
    assert!(
        body.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{body}"
    );
}

#[test]
fn thousands_of_rows_make_a_small_page_with_exact_totals() {
    let agent = Agent::start(
        "pricing:\n  models:\n    - {provider: openai, model: m, match: [\"m-*\"], prices: {input: 1}}\n\
         budgets:\n  - {name: per-team, group_by: [team], period: daily, limit_usd: 5}\n",
    );
    let n = 2_000;
    // Each model its own team (a budget group each, up to max_groups), and as many unpriced
    // models of another provider.
    let mut lines: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "llm.tokens:{}|c|#provider:openai,model:m-{i},token_type:input,team:t-{i}",
                i + 1
            )
        })
        .collect();
    lines.extend(
        (0..n).map(|i| format!("llm.tokens:1|c|#provider:acme,model:u-{i},token_type:input")),
    );
    agent.send_tcp(&(lines.join("\n") + "\n"));
    let want_input: u64 = (1..=n).sum::<u64>() + n;
    let body = wait_until("every line in the ledger", Duration::from_secs(30), || {
        let resp = get(&agent, "/api/v1/usage", None).text().expect("usage");
        let v: serde_json::Value = serde_json::from_str(&resp).expect("json");
        (v["total"]["input_tokens"] == want_input).then_some(v)
    });
    let html = page(&agent);
    // 50 rows per table (ui.max_rows), the rest summed on one line each.
    let model_row = "<tr data-row><td data-dim=\"provider\">";
    assert_eq!(html.matches(model_row).count(), 100);
    assert_eq!(html.matches("data-rest data-count=\"3950\"").count(), 2);
    let team_row = "<tr data-row><td data-dim=\"team\">";
    assert_eq!(html.matches(team_row).count(), 100);
    // 2000 teams and the row of usage without one.
    assert_eq!(html.matches("data-rest data-count=\"1951\"").count(), 2);
    assert_eq!(html.matches("<tr data-budget=").count(), 50);
    // Budget groups past max_groups (1000) share the _overflow group.
    assert!(
        html.contains("id=\"budgets-more\" data-count=\"951\""),
        "budgets"
    );
    assert!(
        html.contains("id=\"unpriced-more\" data-count=\"1950\""),
        "unpriced"
    );
    // The biggest spender (m-1999: 2000 tokens at $1 per 1M) is first.
    let first = html.find(model_row).expect("a row");
    assert!(
        html[first..].starts_with(
            "<tr data-row><td data-dim=\"provider\">openai</td><td data-dim=\"model\">m-1999</td>"
        ),
        "{}",
        &html[first..first + 400]
    );
    let total = body["total"]["cost_usd_exact"].as_str().expect("exact");
    assert!(
        html.contains(&format!("data-field=\"cost\">{total}</td></tr></tbody>")),
        "total {total} not on the page"
    );
    assert!(html.len() < 192 * 1024, "page of {} bytes", html.len());
}

/// After a restart the page reads the month from the state file: the same figures as before.
#[test]
fn spend_is_shown_again_after_a_restart() {
    let mut agent = Agent::start(
        "pricing:\n  models:\n    - {provider: openai, model: gpt-4o, prices: {input: 2.50}}\n",
    );
    agent.send_udp("llm.tokens:1000|c|#provider:openai,model:gpt-4o,token_type:input,team:search");
    let cost = "<strong id=\"month-total\">0.0025</strong>";
    wait_until("the line on the page", Duration::from_secs(10), || {
        page(&agent).contains(cost).then_some(())
    });
    agent.restart();
    let html = page(&agent);
    assert!(html.contains(cost), "{html}");
    assert!(
        html.contains("<strong id=\"today-total\">0.0025</strong>"),
        "{html}"
    );
    assert!(html.contains("<td data-dim=\"team\">search</td>"), "{html}");
}

/// "Today" is the ledger's local day (here UTC+14, a different date from UTC for 14 hours of
/// each day), as the usage API counts it.
#[test]
fn today_is_the_local_day_of_usage_timezone() {
    let agent = Agent::start("usage:\n  timezone: Pacific/Kiritimati\n");
    agent.send_udp("llm.tokens:5|c|#provider:openai,model:gpt-4o,token_type:input");
    let day = wait_until("the line in the ledger", Duration::from_secs(10), || {
        let resp = get(&agent, "/api/v1/usage?group_by=day", None)
            .text()
            .expect("usage");
        let v: serde_json::Value = serde_json::from_str(&resp).expect("json");
        v["rows"][0]["day"].as_str().map(str::to_string)
    });
    let html = page(&agent);
    assert!(html.contains(&format!("Today ({day}) by team")), "{html}");
    assert!(html.contains("<code>Pacific/Kiritimati</code>"), "{html}");
    assert!(
        html.contains("<strong id=\"today-total\">0.00</strong>"),
        "{html}"
    );
}

#[test]
fn a_ledger_turned_off_is_said_so() {
    let agent = Agent::start("usage:\n  enabled: false\n");
    let html = page(&agent);
    assert!(html.contains("The usage ledger is off"), "{html}");
    assert!(!html.contains("today-total"), "{html}");
}

/// Pages served while usage streams in: every one whole, and the last one equal to the API.
#[test]
fn pages_under_concurrent_ingest_are_whole_and_end_exact() {
    let agent = Agent::start(
        "pricing:\n  models:\n    - {provider: openai, model: gpt-4o, prices: {input: 2.50}}\n",
    );
    let lines: u64 = 400;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..lines {
                agent.send_tcp(&format!(
                    "llm.tokens:1000|c|#provider:openai,model:gpt-4o,token_type:input,team:t{}\n",
                    i % 7
                ));
            }
        });
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    let html = page(&agent);
                    assert!(html.ends_with("</body></html>\n"), "a cut page");
                }
            });
        }
    });
    let usage = wait_until("every line", Duration::from_secs(20), || {
        let resp = get(&agent, "/api/v1/usage?group_by=team", None)
            .text()
            .expect("usage");
        let v: serde_json::Value = serde_json::from_str(&resp).expect("json");
        (v["total"]["input_tokens"] == lines * 1000).then_some(v)
    });
    let html = page(&agent);
    let total = usage["total"]["cost_usd_exact"].as_str().expect("exact");
    assert_eq!(total, "1.00");
    assert!(
        html.contains(&format!("<strong id=\"month-total\">{total}</strong>")),
        "{html}"
    );
    for row in usage["rows"].as_array().expect("rows") {
        let cell = format!(
            "<td data-dim=\"team\">{}</td><td class=\"n\" data-field=\"requests\">0</td>",
            row["team"].as_str().expect("team")
        );
        assert_eq!(
            html.matches(&cell).count(),
            2,
            "{cell} today and this month"
        );
    }
}
