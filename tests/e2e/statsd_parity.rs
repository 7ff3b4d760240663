//! Issue 22: statsd_exporter's documented line handling (its `pkg/line` tests), restated as
//! meterd's outcomes, sent to the real binary over UDP and over TCP and read back from
//! `/metrics`. Each case uses its own metric names, so one scrape checks them all; the refusal
//! and warning counters are checked as totals over the table.

use crate::support::agent::{find_value, EPHEMERAL_LISTENERS};
use crate::support::binary::{self, Meterd};
use crate::support::wait_until;
use std::process::Command;
use std::time::Duration;

/// What a scrape must show for one case.
enum Want {
    /// The series line (exact text, labels included) has this value.
    Value(&'static str, f64),
    /// No line of this family at all.
    Absent(&'static str),
}

use Want::{Absent, Value};

struct Case {
    name: &'static str,
    lines: &'static [&'static str],
    want: &'static [Want],
}

const CASES: &[Case] = &[
    Case {
        name: "# on every DogStatsD tag key (Datadog PHP client) is not part of the name",
        lines: &["p.hash:100|c|#tag1:bar,#tag2:baz"],
        want: &[Value("p_hash_total{tag1=\"bar\",tag2=\"baz\"}", 100.0)],
    },
    Case {
        name: "container id becomes container_id (switched on in this config)",
        lines: &["p.container:100|c|#tag1:value|c:container123"],
        want: &[Value(
            "p_container_total{container_id=\"container123\",tag1=\"value\"}",
            100.0,
        )],
    },
    Case {
        name: "container id with sampling, tags and a timestamp",
        lines: &["p.container_sampled:100|c|@0.1|#service:web|c:abc123|T1656581400"],
        want: &[Value(
            "p_container_sampled_total{container_id=\"abc123\",service=\"web\"}",
            1000.0,
        )],
    },
    Case {
        name: "container id keeps its colons",
        lines: &["p.container_sha:5|g|c:sha256:abcd1234"],
        want: &[Value(
            "p_container_sha{container_id=\"sha256:abcd1234\"}",
            5.0,
        )],
    },
    Case {
        name: "|c without an id is malformed",
        lines: &[
            "p.container_bare:100|c|#tag1:value|c",
            "p.container_empty:100|c|#tag1:value|c:",
        ],
        want: &[Absent("p_container_bare"), Absent("p_container_empty")],
    },
    Case {
        name: "several values on a counter or gauge are refused",
        lines: &["p.agg_counter:0.5:120:3000|c", "p.agg_gauge:0.5:120|g|#k:v"],
        want: &[Absent("p_agg_counter"), Absent("p_agg_gauge")],
    },
    Case {
        name: "several values on a timer are one observation each",
        lines: &["p.agg_timer:0.5:120:3000|ms|#tag1:bar"],
        want: &[
            Value("p_agg_timer_count{tag1=\"bar\"}", 3.0),
            Value("p_agg_timer_sum{tag1=\"bar\"}", 3.1205),
        ],
    },
    Case {
        name: "an unparseable or zero sample rate counts at rate 1",
        lines: &["p.rate_text:1|c|@bar", "p.rate_zero:2|c|@0"],
        want: &[
            Value("p_rate_text_total", 1.0),
            Value("p_rate_zero_total", 2.0),
        ],
    },
    Case {
        name: "an unparseable or empty |T is dropped, the line kept",
        lines: &[
            "p.ts_text:100|c|#tag:val|Tnot-a-ts",
            "p.ts_empty:100|c|#tag:val|T",
        ],
        want: &[
            Value("p_ts_text_total{tag=\"val\"}", 100.0),
            Value("p_ts_empty_total{tag=\"val\"}", 100.0),
        ],
    },
    Case {
        name: "llm.* usage with a bad rate never reaches tokens or cost",
        lines: &["llm.tokens:1000|c|@bar|#provider:openai,model:gpt-4o,token_type:input"],
        want: &[Absent("llm_tokens_total")],
    },
    Case {
        name: "SignalFx: empty brackets",
        lines: &["p.[]sfx_none:100|c"],
        want: &[Value("p_sfx_none_total", 100.0)],
    },
    Case {
        name: "SignalFx: tags without = are dropped",
        lines: &["p.[tag1,tag2]sfx_nonkv:100|c"],
        want: &[Value("p_sfx_nonkv_total", 100.0)],
    },
    Case {
        name: "SignalFx: a missing ] keeps the name as sent",
        lines: &["[tag1=bar,tag2=bazp.sfx_open:100|c"],
        want: &[Value("_tag1_bar_tag2_bazp_sfx_open_total", 100.0)],
    },
    Case {
        name: "SignalFx: a missing [ keeps the name as sent",
        lines: &["tag1=bar,tag2=baz]p.sfx_close:100|c"],
        want: &[Value("tag1_bar_tag2_baz_p_sfx_close_total", 100.0)],
    },
    Case {
        name: "SignalFx: well-formed tags",
        lines: &["p.[tag1=bar,tag2=baz]sfx_good:100|c"],
        want: &[Value("p_sfx_good_total{tag1=\"bar\",tag2=\"baz\"}", 100.0)],
    },
    Case {
        name: "an empty trailing component is malformed",
        lines: &["p.empty_field:1|c|"],
        want: &[Absent("p_empty_field")],
    },
];

/// Totals over the table: (family, reason, count).
const COUNTERS: &[(&str, &str, f64)] = &[
    ("meterd_statsd_errors_total", "bad_container_id", 2.0),
    ("meterd_statsd_errors_total", "multi_value_type", 2.0),
    ("meterd_statsd_errors_total", "empty_field", 1.0),
    ("meterd_statsd_errors_total", "bad_rate", 1.0),
    ("meterd_statsd_warnings_total", "bad_rate", 2.0),
    ("meterd_statsd_warnings_total", "bad_timestamp", 2.0),
    ("meterd_statsd_warnings_total", "bad_tag", 1.0),
    ("meterd_statsd_warnings_total", "unpaired_bracket", 2.0),
];

fn start(statsd_yaml: &str) -> (tempfile::TempDir, Meterd) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\nstatsd:\n{statsd_yaml}",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(&config));
    (dir, Meterd::spawn(cmd))
}

fn scrape(m: &Meterd) -> String {
    let (status, body) = m.get("/metrics");
    assert_eq!(status, 200, "{body}");
    body
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= want.abs() * 1e-9
}

/// Every failing expectation of the table against one scrape.
fn misses(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for case in CASES {
        for want in case.want {
            match want {
                Value(series, v) => match find_value(body, series) {
                    Some(got) if close(got, *v) => {}
                    got => out.push(format!("{}: {series} = {got:?}, want {v}", case.name)),
                },
                Absent(family) => {
                    if let Some(l) = body.lines().find(|l| l.starts_with(family)) {
                        out.push(format!("{}: want no {family}, found {l}", case.name));
                    }
                }
            }
        }
    }
    for (family, reason, n) in COUNTERS {
        let series = format!("{family}{{reason=\"{reason}\"}}");
        let got = find_value(body, &series);
        if got != Some(*n) {
            out.push(format!("{series} = {got:?}, want {n}"));
        }
    }
    out
}

fn check_table(send: impl Fn(&Meterd, &str)) {
    let (_dir, m) = start("  container_id_label: true\n");
    for case in CASES {
        send(&m, &(case.lines.join("\n") + "\n"));
    }
    let mut last = Vec::new();
    let done = wait_until_or(Duration::from_secs(15), || {
        last = misses(&scrape(&m));
        last.is_empty()
    });
    assert!(
        done,
        "after 15 s:\n{}\n\nlog:\n{}",
        last.join("\n"),
        m.log()
    );
}

/// Polls `f` until it is true or `timeout` passes; whether it became true.
fn wait_until_or(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn statsd_exporter_line_cases_over_udp() {
    // One datagram per case, as a client would send them.
    check_table(|m, payload| m.send_udp(payload));
}

#[test]
fn statsd_exporter_line_cases_over_tcp() {
    check_table(|m, payload| m.send_tcp(payload));
}

#[test]
fn container_id_is_not_a_label_by_default() {
    let (_dir, m) = start("  llm_convention: true\n");
    m.send_udp("p.cid:1|c|#k:v|c:abc\np.cid:2|c|#k:v|c:def\n");
    wait_until("p_cid_total", Duration::from_secs(10), || {
        find_value(&scrape(&m), "p_cid_total{k=\"v\"}").filter(|v| *v == 3.0)
    });
    assert!(!scrape(&m).contains("container_id"));
}

/// statsd_exporter's `observer_type: summary`: quantiles rather than buckets, `_sum` and
/// `_count` as totals; the quantiles are within the sketch's 1 % of the true values.
#[test]
fn a_summary_mapping_exposes_quantiles() {
    let (_dir, m) = start(
        "  mappings:\n    - match: \"api.*.latency\"\n      name: api_latency_seconds\n      \
         labels: {service: \"$1\"}\n      observer_type: summary\n      summary_options:\n        \
         quantiles: [{quantile: 0.5, error: 0.05}, {quantile: 0.99, error: 0.001}]\n        \
         max_age: 5m\n",
    );
    let lines: String = (1..=100)
        .map(|v| format!("api.search.latency:{v}|ms\n"))
        .collect();
    m.send_tcp(&lines);
    let body = wait_until("summary count", Duration::from_secs(10), || {
        let body = scrape(&m);
        (find_value(&body, "api_latency_seconds_count{service=\"search\"}") == Some(100.0))
            .then_some(body)
    });
    assert!(
        body.contains("# TYPE api_latency_seconds summary"),
        "{body}"
    );
    assert!(!body.contains("api_latency_seconds_bucket"), "{body}");
    let q = |quantile: &str| {
        find_value(
            &body,
            &format!("api_latency_seconds{{service=\"search\",quantile=\"{quantile}\"}}"),
        )
        .unwrap_or_else(|| panic!("no quantile {quantile} in {body}"))
    };
    let (p50, p99) = (q("0.5"), q("0.99"));
    assert!((p50 - 0.050).abs() <= 0.050 * 0.011, "p50 {p50}");
    assert!((p99 - 0.099).abs() <= 0.099 * 0.011, "p99 {p99}");
    let sum = find_value(&body, "api_latency_seconds_sum{service=\"search\"}").expect("sum");
    assert!((sum - 5.05).abs() < 1e-9, "{sum}");
    let (ok, report) = crate::e2e::statsd_metrics::promtool_check(&body);
    assert!(ok && report.trim().is_empty(), "promtool: {report}\n{body}");
    let (status, om) = {
        let resp = reqwest::blocking::Client::new()
            .get(format!("http://{}/metrics", m.http))
            .header("Accept", "application/openmetrics-text; version=1.0.0")
            .timeout(Duration::from_secs(10))
            .send()
            .expect("scrape");
        (resp.status().as_u16(), resp.text().expect("body"))
    };
    assert_eq!(status, 200);
    assert!(om.contains("# TYPE api_latency_seconds summary"), "{om}");
    assert!(
        om.contains("api_latency_seconds{service=\"search\",quantile=\"0.99\"} "),
        "{om}"
    );
}
