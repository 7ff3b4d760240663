//! Admin actions over real HTTP: off by default, token required (and only an admin token), reload
//! applied or rejected with the errors, budget reset visible in the API and `/metrics` and still
//! zero after a restart.

use crate::support::agent::{find_value, Agent};
use meterd::model::{Labels, UsageEvent};
use serde_json::Value;

const ADMIN: &str = "admin-token-0123456789";
const SCRAPE: &str = "scrape-token-0123456789";

fn admin_yaml(extra: &str) -> String {
    format!(
        "admin:\n  tokens:\n    - {{name: ops, token: \"{ADMIN}\"}}\nhttp_auth:\n  bearer_tokens: [\"{SCRAPE}\"]\n\
         budgets:\n  - name: team-monthly\n    period: monthly\n    limit_usd: 100\n    group_by: [team]\n  \
         - name: all-daily\n    period: daily\n    limit_usd: 50\n{extra}"
    )
}

fn post(agent: &Agent, path: &str, auth: Option<&str>, body: &str) -> reqwest::blocking::Response {
    let mut req = reqwest::blocking::Client::new()
        .post(format!("http://{}{path}", agent.http()))
        .body(body.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().expect("post")
}

fn get(agent: &Agent, path: &str) -> String {
    reqwest::blocking::Client::new()
        .get(format!("http://{}{path}", agent.http()))
        .header("authorization", format!("Bearer {SCRAPE}"))
        .send()
        .expect("get")
        .text()
        .expect("body")
}

fn spend(agent: &Agent, team: &str, usd: f64) {
    let mut event = UsageEvent::new("openai", "gpt-4o");
    event.scope = Labels::new([("team", team)]);
    agent
        .running()
        .pipeline
        .record_spend("test", &event, (usd * 1e9) as u64);
}

/// `spend_usd` of the API entry for `budget` (and `team`, for the grouped one).
fn api_spend(agent: &Agent, budget: &str, team: Option<&str>) -> Option<f64> {
    let list: Value = serde_json::from_str(&get(agent, "/api/v1/budgets")).expect("json");
    list["budgets"].as_array()?.iter().find_map(|b| {
        let same_team = match team {
            Some(t) => b["group"]["team"] == t,
            None => true,
        };
        (b["name"] == budget && same_team).then(|| b["spend_usd"].as_f64())?
    })
}

fn gauge(agent: &Agent, series: &str) -> Option<f64> {
    find_value(&get(agent, "/metrics"), series)
}

#[test]
fn admin_routes_are_off_by_default() {
    let agent = Agent::start("");
    assert_eq!(post(&agent, "/api/v1/admin/reload", None, "").status(), 404);
    assert_eq!(
        post(
            &agent,
            "/api/v1/admin/reload",
            Some(&format!("Bearer {ADMIN}")),
            ""
        )
        .status(),
        404
    );
    assert_eq!(
        post(&agent, "/api/v1/admin/budgets/x/reset", None, "").status(),
        404
    );
}

#[test]
fn admin_needs_an_admin_token() {
    let agent = Agent::start(&admin_yaml(""));
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some(&*format!("Bearer {SCRAPE}")),
    ] {
        let resp = post(&agent, "/api/v1/admin/reload", auth, "");
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert!(resp.headers().contains_key("www-authenticate"));
        let resp = post(&agent, "/api/v1/admin/budgets/all-daily/reset", auth, "");
        assert_eq!(resp.status(), 401, "{auth:?}");
    }
    // The admin token is not a scrape credential either.
    let resp = reqwest::blocking::Client::new()
        .get(format!("http://{}/metrics", agent.http()))
        .header("authorization", format!("Bearer {ADMIN}"))
        .send()
        .expect("get");
    assert_eq!(resp.status(), 401);
    assert!(get(&agent, "/metrics").contains("meterd_admin_unauthorized_total 6"));
}

/// A caller without an admin token is refused before its body is read: a client that announces
/// a body and never sends it gets its 401 at once, on every admin route that takes a body.
#[test]
fn admin_refuses_before_reading_the_body() {
    use std::io::{Read, Write};
    let agent = Agent::start(&admin_yaml(""));
    for (method, path) in [
        ("POST", "/api/v1/admin/reload"),
        ("POST", "/api/v1/admin/budgets/all-daily/reset"),
        ("POST", "/api/v1/admin/budgets"),
        ("PUT", "/api/v1/admin/budgets/x"),
        ("PATCH", "/api/v1/admin/recommendations/rec_x"),
    ] {
        let mut s = std::net::TcpStream::connect(agent.http()).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 60000\r\n\r\n{{"
        )
        .expect("send head");
        let mut answer = [0u8; 12];
        s.read_exact(&mut answer)
            .unwrap_or_else(|e| panic!("{method} {path}: no answer before the body: {e}"));
        assert_eq!(&answer, b"HTTP/1.1 401", "{method} {path}");
    }
}

#[test]
fn reload_endpoint_applies_a_good_config_and_rejects_a_broken_one() {
    let agent = Agent::start(&admin_yaml(""));
    let auth = format!("Bearer {ADMIN}");
    agent.write_config(&admin_yaml(
        "  - name: added\n    period: daily\n    limit_usd: 7\n",
    ));
    let resp = post(&agent, "/api/v1/admin/reload", Some(&auth), "");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().expect("json");
    assert_eq!(body["result"], "applied", "{body}");
    assert!(
        api_spend(&agent, "added", None).is_some(),
        "new budget applied"
    );

    agent.write_config(&format!(
        "{}limits:\n  max_series_total: 0\n",
        admin_yaml("")
    ));
    let resp = post(&agent, "/api/v1/admin/reload", Some(&auth), "");
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().expect("json");
    assert_eq!(body["result"], "rejected", "{body}");
    let errors = body["errors"].to_string();
    assert!(errors.contains("limits.max_series_total"), "{errors}");
    // The running config is the one applied before: budget `added` is still there.
    assert!(api_spend(&agent, "added", None).is_some());
    assert_eq!(
        gauge(&agent, "meterd_config_last_reload_successful"),
        Some(0.0)
    );
    let counted = |result: &str| {
        gauge(
            &agent,
            &format!("meterd_admin_actions_total{{action=\"reload\",result=\"{result}\"}}"),
        )
    };
    assert_eq!(counted("applied"), Some(1.0));
    assert_eq!(counted("rejected"), Some(1.0));
}

#[test]
fn budget_reset_zeroes_spend_and_survives_a_restart() {
    let mut agent = Agent::start(&admin_yaml(""));
    let auth = format!("Bearer {ADMIN}");
    spend(&agent, "search", 12.5);
    spend(&agent, "ads", 3.0);
    assert_eq!(
        api_spend(&agent, "team-monthly", Some("search")),
        Some(12.5)
    );
    assert_eq!(api_spend(&agent, "all-daily", None), Some(15.5));

    // One group of a grouped budget.
    let resp = post(
        &agent,
        "/api/v1/admin/budgets/team-monthly/reset",
        Some(&auth),
        r#"{"group": {"team": "search"}}"#,
    );
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().expect("json");
    assert_eq!(body["reset"][0]["group"]["team"], "search", "{body}");
    assert_eq!(body["reset"][0]["previous_spend_usd"], 12.5, "{body}");
    assert_eq!(api_spend(&agent, "team-monthly", Some("search")), Some(0.0));
    assert_eq!(api_spend(&agent, "team-monthly", Some("ads")), Some(3.0));
    assert_eq!(
        gauge(
            &agent,
            "llm_budget_spend_usd{budget=\"team-monthly\",period=\"monthly\",team=\"search\"}"
        ),
        Some(0.0)
    );

    // A whole ungrouped budget.
    assert_eq!(
        post(
            &agent,
            "/api/v1/admin/budgets/all-daily/reset",
            Some(&auth),
            ""
        )
        .status(),
        200
    );
    assert_eq!(api_spend(&agent, "all-daily", None), Some(0.0));
    assert_eq!(
        gauge(
            &agent,
            "llm_budget_spend_usd{budget=\"all-daily\",period=\"daily\"}"
        ),
        Some(0.0)
    );

    // Unknown budget, unknown group, label that is not grouped on.
    let missing = post(&agent, "/api/v1/admin/budgets/nope/reset", Some(&auth), "");
    assert_eq!(missing.status(), 404);
    let no_group = post(
        &agent,
        "/api/v1/admin/budgets/team-monthly/reset",
        Some(&auth),
        r#"{"group": {"team": "never-spent"}}"#,
    );
    assert_eq!(no_group.status(), 404);
    let bad = post(
        &agent,
        "/api/v1/admin/budgets/team-monthly/reset",
        Some(&auth),
        r#"{"group": {"model": "gpt-4o"}}"#,
    );
    assert_eq!(bad.status(), 400);

    agent.restart();
    assert_eq!(api_spend(&agent, "team-monthly", Some("search")), Some(0.0));
    assert_eq!(api_spend(&agent, "team-monthly", Some("ads")), Some(3.0));
    assert_eq!(api_spend(&agent, "all-daily", None), Some(0.0));
}
