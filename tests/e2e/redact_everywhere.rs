//! Issue 20 item "redaction everywhere": a label the rules redact must not leave meterd by any
//! path. Exemplar `filtered_attributes` used to reach OpenMetrics `/metrics` untouched, and a rule
//! for `email` missed `Email` or `e-mail`; both over real OTLP HTTP and StatsD sockets here.

use crate::support::agent::Agent;
use crate::support::wait_until;
use std::time::Duration;

const RULES: &str = "redact:\n  - {label: email, action: drop}\n  - {label: user_id, action: replace, replacement: someone}\n";

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0";

fn post_json(agent: &Agent, body: &str) {
    let r = reqwest::blocking::Client::new()
        .post(format!(
            "http://{}/v1/metrics",
            agent.addrs().otlp_http.expect("otlp http")
        ))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .timeout(Duration::from_secs(10))
        .send()
        .expect("export");
    assert_eq!(r.status(), 200, "{:?}", r.text());
}

#[test]
fn exemplar_attributes_and_any_spelling_of_a_rule_label_are_redacted() {
    let agent = Agent::start(RULES);
    // A delta counter whose point carries `Email` and whose exemplar carries `email`, `e-mail`
    // and `user.id` (sanitized to `user_id`) beside its trace id.
    post_json(
        &agent,
        r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"logins","sum":{
            "aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{
              "asInt":"3","attributes":[
                {"key":"Email","value":{"stringValue":"point@example.com"}},
                {"key":"team","value":{"stringValue":"search"}}],
              "exemplars":[{"asInt":"1","traceId":"0af7651916cd43dd8448eb211c80319c",
                "filteredAttributes":[
                  {"key":"email","value":{"stringValue":"ex@example.com"}},
                  {"key":"e-mail","value":{"stringValue":"ex2@example.com"}},
                  {"key":"user.id","value":{"stringValue":"u-4242"}}]}]}]}}]}]}]}"#,
    );
    let body = wait_until("the counter", Duration::from_secs(10), || {
        let b = agent.scrape(Some(OPENMETRICS));
        b.contains("logins_total{").then_some(b)
    });
    let line = body
        .lines()
        .find(|l| l.starts_with("logins_total{"))
        .expect("logins line");
    assert!(
        line.contains("trace_id=\"0af7651916cd43dd8448eb211c80319c\""),
        "the exemplar itself must stay: {line}"
    );
    assert!(line.contains("user_id=\"someone\""), "{line}");
    for secret in ["example.com", "u-4242"] {
        assert!(!body.contains(secret), "{secret} leaked in:\n{line}");
    }
    assert!(line.contains("team=\"search\""), "{line}");

    // StatsD tags spelled another way than the rule.
    agent.send_udp("signups:1|c|#E-Mail:tag@example.com,EMAIL:x@example.com,User_Id:u-7,team:a\n");
    let body = wait_until("the StatsD counter", Duration::from_secs(10), || {
        let b = agent.scrape(None);
        b.contains("signups_total{").then_some(b)
    });
    let line = body
        .lines()
        .find(|l| l.starts_with("signups_total{"))
        .expect("signups line");
    assert!(!body.contains("example.com"), "leaked: {line}");
    assert!(!line.contains("u-7"), "leaked: {line}");
    assert!(line.contains("team=\"a\""), "{line}");
}
