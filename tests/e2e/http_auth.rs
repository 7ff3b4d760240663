//! Credentials on the HTTP endpoint: refused without, served with, health always open, and a
//! reload rotates them.

use crate::support::agent::Agent;

const TOKEN: &str = "tok-0123456789abcdef";

fn get(agent: &Agent, path: &str, auth: Option<&str>) -> reqwest::blocking::Response {
    let mut req = reqwest::blocking::Client::new().get(format!("http://{}{path}", agent.http()));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().expect("http get")
}

#[test]
fn metrics_require_credentials_when_configured() {
    let agent = Agent::start(&format!(
        "http_auth:\n  bearer_tokens: [\"{TOKEN}\"]\n  basic:\n    - {{username: prom, password: \"a-very-long-password\"}}\n"
    ));
    let refused = get(&agent, "/metrics", None);
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().contains_key("www-authenticate"));
    assert_eq!(
        get(&agent, "/metrics", Some("Bearer wrong-token-0000000")).status(),
        401
    );
    assert_eq!(
        get(&agent, "/metrics", Some(&format!("Bearer {TOKEN}"))).status(),
        200
    );
    // prom:a-very-long-password
    assert_eq!(
        get(
            &agent,
            "/metrics",
            Some("Basic cHJvbTphLXZlcnktbG9uZy1wYXNzd29yZA==")
        )
        .status(),
        200
    );
    assert_eq!(get(&agent, "/healthz", None).status(), 200);
    assert_eq!(get(&agent, "/readyz", None).status(), 200);

    let body = get(&agent, "/metrics", Some(&format!("Bearer {TOKEN}")))
        .text()
        .expect("body");
    assert!(body.contains("meterd_http_unauthorized_total 2"), "{body}");

    // Rotation by reload: the old token stops working at once.
    agent.write_config("http_auth:\n  bearer_tokens: [\"rotated-token-0123456789\"]\n");
    agent.running().reload().expect("reload");
    assert_eq!(
        get(&agent, "/metrics", Some(&format!("Bearer {TOKEN}"))).status(),
        401
    );
    assert_eq!(
        get(&agent, "/metrics", Some("Bearer rotated-token-0123456789")).status(),
        200
    );
}

#[test]
fn metrics_are_open_by_default() {
    let agent = Agent::start("");
    assert_eq!(get(&agent, "/metrics", None).status(), 200);
}
