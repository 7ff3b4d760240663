//! Mapping rules end to end: names, labels from captures, per-mapping buckets, type filters and
//! drops, as a user configures them in YAML and reads them from /metrics.

use crate::support::agent::Agent;

const RULES: &str = r#"statsd:
  mappings:
    - match: '^api\.(\w+)\.latency$'
      match_type: regex
      name: "api_latency_seconds"
      help: "API latency by endpoint."
      labels: {endpoint: "$1"}
      buckets: [0.1, 0.5, 1]
      type: timer
    - match: "api.*.latency"
      name: "api_latency_gauge"
      labels: {endpoint: "$1"}
    - match: "noise.*"
      action: drop
"#;

#[test]
fn regex_and_glob_rules_with_buckets_type_filter_and_drop() {
    let agent = Agent::start(RULES);
    agent.send_udp(
        "api.search.latency:300|ms\napi.search.latency:42|g\nnoise.x:1|c\nnoise.y:1|c\n\
         plain.name-here:1|c\n",
    );
    agent.wait_metric(
        "api_latency_seconds_bucket{endpoint=\"search\",le=\"0.5\"}",
        1.0,
    );
    agent.wait_metric(
        "api_latency_seconds_bucket{endpoint=\"search\",le=\"0.1\"}",
        0.0,
    );
    agent.wait_metric("api_latency_gauge{endpoint=\"search\"}", 42.0);
    agent.wait_metric("plain_name_here_total", 1.0);
    agent.wait_metric(
        "meterd_statsd_samples_dropped_total{reason=\"mapping_drop\"}",
        2.0,
    );
    let body = agent.scrape(None);
    assert!(body.contains("# HELP api_latency_seconds API latency by endpoint."));
    assert!(
        !body.contains("le=\"0.25\""),
        "per-mapping buckets replace the defaults:\n{body}"
    );
    assert!(!body.contains("noise"), "{body}");
}
