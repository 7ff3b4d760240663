//! Hot reload: a good config applies, a bad one is rejected and the old one keeps running.

use crate::support::agent::Agent;
use crate::support::wait_until;
use std::time::Duration;

const MAPPING_V1: &str = "statsd:
  mappings:
    - match: \"app.*.requests\"
      name: \"app_requests\"
      labels:
        service: \"$1\"
";

const MAPPING_V2: &str = "statsd:
  mappings:
    - match: \"app.*.requests\"
      name: \"app_calls\"
      labels:
        svc: \"$1\"
";

#[test]
fn good_reload_applies_and_bad_reload_keeps_old_config() {
    let agent = Agent::start(MAPPING_V1);
    agent.send_udp("app.checkout.requests:1|c\n");
    wait_until("v1 mapping", Duration::from_secs(10), || {
        (agent.metric("app_requests_total{service=\"checkout\"}") == Some(1.0)).then_some(())
    });

    agent.write_config(MAPPING_V2);
    agent.running().reload().expect("good config reloads");
    agent.send_udp("app.cart.requests:1|c\n");
    wait_until("v2 mapping", Duration::from_secs(10), || {
        (agent.metric("app_calls_total{svc=\"cart\"}") == Some(1.0)).then_some(())
    });
    assert_eq!(
        agent.metric("meterd_config_reloads_total{result=\"success\"}"),
        Some(2.0)
    );

    agent.write_config("limits:\n  max_series_total: -3\n");
    let err = agent
        .running()
        .reload()
        .expect_err("bad config is rejected");
    assert!(err.to_string().contains("max_series_total"), "{err}");
    assert_eq!(
        agent.metric("meterd_config_reloads_total{result=\"failure\"}"),
        Some(1.0)
    );
    assert_eq!(
        agent.metric("meterd_config_last_reload_successful"),
        Some(0.0)
    );
    // Still the v2 mapping: the bad file changed nothing.
    agent.send_udp("app.cart.requests:1|c\n");
    wait_until("v2 mapping still active", Duration::from_secs(10), || {
        (agent.metric("app_calls_total{svc=\"cart\"}") == Some(2.0)).then_some(())
    });
}
