//! StatsD over real UDP/TCP sockets into the agent, read back from /metrics, linted by promtool.

use crate::support::agent::{find_value, Agent};
use crate::support::wait_until;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn every_statsd_type_over_udp_and_tcp() {
    let agent = Agent::start("");
    agent.send_udp(
        "e2e.hits:3|c|#route:home\n\
         e2e.hits:1|c|@0.5|#route:home\n\
         e2e.temp:20|g\n\
         e2e.temp:-5|g\n\
         e2e.lat:250|ms\n\
         e2e.size:3|h\n\
         e2e.users:alice|s\n\
         e2e.users:bob|s\n\
         e2e.users:alice|s\n\
         bad line without type\n",
    );
    agent.send_tcp("e2e.hits:4|c|#route:home\ne2e.tcp_only:1|c\n");
    agent.wait_metric("e2e_hits_total{route=\"home\"}", 9.0);
    agent.wait_metric("e2e_temp", 15.0);
    agent.wait_metric("e2e_lat_count", 1.0);
    agent.wait_metric("e2e_lat_sum", 0.25);
    agent.wait_metric("e2e_lat_bucket{le=\"0.25\"}", 1.0);
    agent.wait_metric("e2e_lat_bucket{le=\"0.1\"}", 0.0);
    agent.wait_metric("e2e_size_sum", 3.0);
    agent.wait_metric("e2e_users", 2.0);
    agent.wait_metric("e2e_tcp_only_total", 1.0);
    let body = agent.scrape(None);
    let errors: f64 = body
        .lines()
        .filter(|l| l.starts_with("meterd_statsd_errors_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(errors, 1.0, "{body}");
}

pub(crate) fn promtool_check(body: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (Debian package `prometheus`; scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool output");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `promtool check metrics` (2.x) lints with the Prometheus *text* parser. OpenMetrics names a
/// counter family without `_total` (`# HELP x`, sample `x_total`), so promtool reports every
/// OpenMetrics counter as `x_total no help text`. That complaint, for a family whose HELP is present
/// under the OpenMetrics name, is the only one tolerated; anything else (parse errors included)
/// fails the test.
fn om_counter_help_false_positive(body: &str, report_line: &str) -> bool {
    report_line
        .strip_suffix(" no help text")
        .and_then(|series| series.strip_suffix("_total"))
        .is_some_and(|family| {
            body.contains(&format!("# HELP {family} "))
                && body.contains(&format!("# TYPE {family} counter\n"))
        })
}

#[test]
fn promtool_accepts_text_and_openmetrics_output() {
    let agent = Agent::start("");
    agent.send_udp(
        "lint.requests:1|c|#code:200\nlint.queue:5|g\nlint.latency:12|ms\nlint.uniq:x|s\n\
         llm.tokens:100|c|#provider:openai,model:gpt-4o,token_type:input,team:search\n\
         llm.request.duration:800|ms|#provider:openai,model:gpt-4o\n",
    );
    agent.wait_metric("lint_queue", 5.0);
    wait_until("usage metrics", Duration::from_secs(10), || {
        agent
            .scrape(None)
            .contains("llm_tokens_total")
            .then_some(())
    });
    for accept in [None, Some("application/openmetrics-text; version=1.0.0")] {
        let body = agent.scrape(accept);
        let (ok, report) = promtool_check(&body);
        let problems: Vec<&str> = report
            .lines()
            .filter(|l| accept.is_none() || !om_counter_help_false_positive(&body, l))
            .collect();
        assert!(
            (ok || accept.is_some()) && problems.is_empty(),
            "promtool check metrics ({accept:?}) failed:\n{report}\n---\n{body}"
        );
        if accept.is_some() {
            assert!(body.ends_with("# EOF\n"));
        }
    }
}

#[test]
fn gzip_is_served_when_asked() {
    let agent = Agent::start("");
    agent.send_udp("gz.x:1|c\n");
    agent.wait_metric("gz_x_total", 1.0);
    let client = reqwest::blocking::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let resp = client
        .get(format!("http://{}/metrics", agent.http()))
        .header("Accept-Encoding", "gzip")
        .send()
        .expect("scrape");
    assert_eq!(
        resp.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    let bytes = resp.bytes().expect("body");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .expect("gunzip");
    assert_eq!(find_value(&text, "gz_x_total"), Some(1.0));
}

/// `statsd.udp_receive_threads: 2`: two `SO_REUSEPORT` sockets on the listener's one address, each
/// read by a thread that parses what it receives. Every sender's lines arrive whichever socket the
/// kernel gives it, a reload reaches both threads, and TCP still goes through the workers.
#[test]
fn receive_threads_take_every_senders_lines_and_follow_a_reload() {
    let rule = |name: &str| {
        format!(
            "statsd:\n  udp_receive_threads: 2\n  mappings:\n    - match: \"rt.*.calls\"\n      \
             name: \"{name}\"\n      labels:\n        svc: \"$1\"\n"
        )
    };
    let agent = Agent::start(&rule("rt_calls"));
    let addr = agent.addrs().statsd_udp.expect("statsd udp");
    let senders: Vec<std::net::UdpSocket> = (0..16)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("client"))
        .collect();
    let send_round = |n: usize| {
        for s in &senders {
            s.send_to(b"rt.a.calls:1|c\nrt.a.calls:1|c\n", addr)
                .expect("send");
        }
        // Paced: the test machine's default receive buffer must not overflow.
        agent.wait_metric(
            "meterd_statsd_lines_received_total{transport=\"udp\"}",
            (n * 32) as f64,
        );
    };
    for n in 1..=10 {
        send_round(n);
    }
    agent.wait_metric("rt_calls_total{svc=\"a\"}", 320.0);

    agent.write_config(&rule("rt_requests"));
    agent.running().reload().expect("good config reloads");
    send_round(11);
    agent.wait_metric("rt_requests_total{svc=\"a\"}", 32.0);
    agent.send_tcp("rt.a.calls:1|c\n");
    agent.wait_metric("rt_requests_total{svc=\"a\"}", 33.0);
    let body = agent.scrape(None);
    assert!(
        !body.contains("meterd_statsd_packets_dropped_total{"),
        "nothing dropped: {body}"
    );
}
