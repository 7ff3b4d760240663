//! Issue 22: statsd_exporter's line handling where meterd follows it, through a worker to the
//! store: tolerated lines and their warnings, the llm.* convention refusing what is tolerated,
//! the container id label switch, and summaries per mapping.

use super::*;
use crate::config::Config;
use crate::statsd::MappingConfig;
use crate::store::{SeriesValue, Store};

fn pipeline(config: Config) -> Pipeline {
    Pipeline::new(
        Arc::new(Store::new(config.limits.store_limits())),
        Snapshot::try_new(Arc::new(config)).expect("valid config"),
    )
}

fn run(p: &Pipeline, packet: &str) {
    let mut w = Worker::default();
    w.batch(p, Transport::Udp, packet.as_bytes(), 0);
    w.flush(p);
}

fn value(p: &Pipeline, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    p.store().value(name, &Labels::new(labels.iter().copied()))
}

fn count(p: &Pipeline, family: &str, reason: &str) -> f64 {
    value(p, family, &[("reason", reason)]).unwrap_or(0.0)
}

#[test]
fn tolerated_lines_are_stored_and_counted_as_warnings() {
    let p = pipeline(Config::default());
    run(
        &p,
        "bar_rate:1|c|@bar\nzero_rate:2|c|@0\nts:3|c|#k:v|Tnot-a-ts\nts_empty:4|g|T\n\
         foo.[tag1,tag2]test:5|c\n[tag1=bar,tag2=bazfoo.test:6|c\n",
    );
    assert_eq!(value(&p, "bar_rate", &[]), Some(1.0), "rate read as 1");
    assert_eq!(value(&p, "zero_rate", &[]), Some(2.0), "rate read as 1");
    assert_eq!(value(&p, "ts", &[("k", "v")]), Some(3.0));
    assert_eq!(value(&p, "ts_empty", &[]), Some(4.0));
    assert_eq!(value(&p, "foo_test", &[]), Some(5.0), "non-kv tags dropped");
    assert_eq!(
        value(&p, "_tag1_bar_tag2_bazfoo_test", &[]),
        Some(6.0),
        "unpaired bracket: the name as sent, sanitized"
    );
    for (reason, n) in [
        ("bad_rate", 2.0),
        ("bad_timestamp", 2.0),
        ("bad_tag", 1.0),
        ("unpaired_bracket", 1.0),
    ] {
        assert_eq!(count(&p, "meterd_statsd_warnings", reason), n, "{reason}");
    }
    assert_eq!(p.store().family_len("meterd_statsd_errors"), 0);
}

#[test]
fn refused_shapes_count_as_errors() {
    let p = pipeline(Config::default());
    run(
        &p,
        "a:0.5:120:3000|c\nb:1:2|g\nc:1|c|\nd:1|c|#k:v|c\ne:1|c|#k:v|c:\nok:1|c\n",
    );
    assert_eq!(value(&p, "ok", &[]), Some(1.0));
    for (reason, n) in [
        ("multi_value_type", 2.0),
        ("empty_field", 1.0),
        ("bad_container_id", 2.0),
    ] {
        assert_eq!(count(&p, "meterd_statsd_errors", reason), n, "{reason}");
    }
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(p.store().family_len(name), 0, "{name}");
    }
}

/// What a generic line tolerates must not reach money: a convention line with a bad rate or
/// timestamp is refused under the strict reason, and no warning is counted for it.
#[test]
fn the_usage_convention_refuses_what_generic_lines_tolerate() {
    let p = pipeline(Config::default());
    let tags = "#provider:openai,model:gpt-4o,token_type:input";
    run(
        &p,
        &format!(
            "llm.tokens:1000|c|@bar|{tags}\nllm.tokens:1000|c|@0|{tags}\n\
             llm.tokens:1000|c|{tags}|Tnow\nllm.tokens:7|c|{tags}\n"
        ),
    );
    let labels = [
        ("provider", "openai"),
        ("model", "gpt-4o"),
        ("token_type", "input"),
    ];
    assert_eq!(value(&p, "llm_tokens", &labels), Some(7.0));
    assert_eq!(count(&p, "meterd_statsd_errors", "bad_rate"), 2.0);
    assert_eq!(count(&p, "meterd_statsd_errors", "bad_timestamp"), 1.0);
    assert_eq!(p.store().family_len("meterd_statsd_warnings"), 0);
}

#[test]
fn container_id_becomes_a_label_only_when_switched_on() {
    let lines = "req:1|c|#env:prod|c:abc\nreq:2|c|#env:prod|c:def\nreq:4|c|#env:prod\n";
    let p = pipeline(Config::default());
    run(&p, lines);
    assert_eq!(value(&p, "req", &[("env", "prod")]), Some(7.0));
    assert_eq!(p.store().family_len("req"), 1);

    let mut config = Config::default();
    config.statsd.container_id_label = true;
    let p = pipeline(config);
    run(
        &p,
        "req:1|c|#env:prod|c:abc\nreq:2|c|#env:prod|c:def\nreq:3|c|#env:prod|c:abc\n",
    );
    assert_eq!(
        value(&p, "req", &[("env", "prod"), ("container_id", "abc")]),
        Some(4.0)
    );
    assert_eq!(
        value(&p, "req", &[("env", "prod"), ("container_id", "def")]),
        Some(2.0)
    );
    // A StatsD family's series share their label names: a line of it without a container id is
    // refused by the store, visibly, rather than mixing label sets in one family.
    run(&p, "req:4|c|#env:prod\n");
    assert_eq!(
        value(
            &p,
            "meterd_samples_rejected",
            &[("protocol", "statsd"), ("reason", "label_conflict")]
        ),
        Some(1.0)
    );
}

#[test]
fn a_summary_mapping_exposes_quantiles_instead_of_buckets() {
    let mut config = Config::default();
    config.statsd.mappings = vec![MappingConfig {
        pattern: "api.latency".into(),
        name: "api_latency_seconds".into(),
        observer_type: crate::config::summary::ObserverType::Summary,
        ..Default::default()
    }];
    let p = pipeline(config);
    let lines: String = (1..=100).map(|v| format!("api.latency:{v}|ms\n")).collect();
    run(&p, &lines);
    run(&p, "api.latency:1000|ms|@0.5\n");
    let fam = p
        .store()
        .snapshot()
        .into_iter()
        .find(|f| &*f.name == "api_latency_seconds")
        .expect("family");
    assert_eq!(fam.kind, crate::model::MetricKind::Summary);
    let Some((_, snap)) = fam.series.first() else {
        panic!("no series");
    };
    let SeriesValue::Summary(s) = &snap.value else {
        panic!("not a summary: {:?}", snap.value);
    };
    assert_eq!(s.count, 102, "the sampled line counts twice");
    assert!((s.sum - (5.05 + 2.0)).abs() < 1e-9, "{}", s.sum);
    let quantile = |q: f64| s.quantiles.iter().find(|(x, _)| *x == q).map(|(_, v)| *v);
    let median = quantile(0.5).expect("median");
    // Of 102 observations (the 1 s one weighs 2), the 51st is 51 ms.
    assert!((median - 0.051).abs() <= 0.051 * 0.011, "{median}");
    let p99 = quantile(0.99).expect("p99");
    assert!((p99 - 1.0).abs() <= 0.011, "{p99}");
}
