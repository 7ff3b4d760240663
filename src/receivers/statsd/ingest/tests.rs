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

fn errors(p: &Pipeline, reason: &str) -> f64 {
    value(p, "meterd_statsd_errors", &[("reason", reason)]).unwrap_or(0.0)
}

fn histogram(p: &Pipeline, name: &str) -> (f64, f64) {
    p.store()
        .snapshot()
        .into_iter()
        .find(|f| &*f.name == name)
        .and_then(|f| match &f.series.first()?.1.value {
            SeriesValue::Histogram { sum, count, .. } => Some((*sum, *count)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no histogram {name}"))
}

#[test]
fn sampling_rules_per_type() {
    let p = pipeline(Config::default());
    run(
        &p,
        "c:1|c|@0.1\ng:5|g|@0.1\ng:+2|g\nt:500|ms|@0.5\nh:3|h|@0.25\nd:1:2|d\nu:a|s|@0.5\nu:b|s\nu:a|s\n",
    );
    let c = value(&p, "c", &[]).unwrap_or_default();
    assert!((c - 10.0).abs() < 1e-9, "{c}");
    assert_eq!(value(&p, "g", &[]), Some(7.0), "gauges ignore the rate");
    assert_eq!(histogram(&p, "t"), (1.0, 2.0), "0.5 s observed twice");
    assert_eq!(histogram(&p, "h"), (12.0, 4.0));
    assert_eq!(histogram(&p, "d"), (3.0, 2.0));
    assert_eq!(value(&p, "u", &[]), Some(2.0), "sets ignore the rate");
    assert_eq!(
        value(&p, "meterd_statsd_lines_received", &[("transport", "udp")]),
        Some(9.0)
    );
}

#[test]
fn bad_lines_are_counted_per_reason_and_do_not_affect_others() {
    let mut config = Config::default();
    config.limits.max_line_bytes = 64;
    config.limits.max_labels_per_series = 2;
    config.limits.max_label_value_bytes = 8;
    let p = pipeline(config);
    let long = format!("long:1|c|#k:{}", "v".repeat(80));
    run(
        &p,
        &format!(
            "ok:1|c\nnope\nok:x|c\n{long}\nok:1|c|#a:1,b:2,c:3\nok:1|c|#a:123456789\n\
             lat:1|ms|#le:1\nllm.tokens:1|c|#provider:p\nmeterd.statsd.errors:5|c\nok:1|c\n"
        ),
    );
    assert_eq!(value(&p, "ok", &[]), Some(2.0));
    for (reason, n) in [
        ("missing_value", 1.0),
        ("bad_value", 1.0),
        ("line_too_long", 1.0),
        ("too_many_labels", 1.0),
        ("label_value_too_long", 1.0),
        ("reserved_label", 1.0),
        ("missing_tag", 1.0),
        ("reserved_name", 1.0),
    ] {
        assert_eq!(errors(&p, reason), n, "{reason}");
    }
}

/// A batch that is not UTF-8 is checked line by line: only its bad line is refused, and the
/// lines of both paths key the same series.
#[test]
fn a_bad_utf8_line_costs_only_itself() {
    let p = pipeline(Config::default());
    let mut w = Worker::default();
    w.batch(
        &p,
        Transport::Udp,
        b"ok:1|c|#k:v\nbad\xff:1|c\n  ok:2|c|#k:v\r\n",
        0,
    );
    w.batch(&p, Transport::Udp, b"ok:4|c|#k:v\n", 0);
    w.flush(&p);
    assert_eq!(value(&p, "ok", &[("k", "v")]), Some(7.0));
    assert_eq!(errors(&p, "invalid_utf8"), 1.0);
    assert_eq!(w.series.len(), 1);
}

/// Each line bound just under, at and just over its limit: at the limit is still accepted.
#[test]
fn line_bounds_accept_at_the_limit_and_reject_one_past_it() {
    let mut config = Config::default();
    config.limits.max_line_bytes = 40;
    config.limits.max_labels_per_series = 2;
    config.limits.max_label_value_bytes = 8;
    // A line of exactly `len` bytes: the metric name pads it out.
    let line_of = |len: usize| format!("{}:1|c", "n".repeat(len - 4));
    let cases = [
        ("line under", line_of(39), None),
        ("line at", line_of(40), None),
        ("line over", line_of(41), Some("line_too_long")),
        ("labels under", "n:1|c|#a:1".to_owned(), None),
        ("labels at", "n:1|c|#a:1,b:2".to_owned(), None),
        (
            "labels over",
            "n:1|c|#a:1,b:2,c:3".to_owned(),
            Some("too_many_labels"),
        ),
        ("value under", "n:1|c|#a:1234567".to_owned(), None),
        ("value at", "n:1|c|#a:12345678".to_owned(), None),
        (
            "value over",
            "n:1|c|#a:123456789".to_owned(),
            Some("label_value_too_long"),
        ),
    ];
    for (what, line, rejected) in cases {
        let p = pipeline(config.clone());
        run(&p, &format!("{line}\n"));
        let name = line.split(':').next().unwrap_or_default();
        let stored = p.store().family_len(name) == 1;
        match rejected {
            None => {
                assert!(stored, "{what}: `{line}` must be stored");
                assert_eq!(p.store().family_len("meterd_statsd_errors"), 0, "{what}");
            }
            Some(reason) => {
                assert!(!stored, "{what}: `{line}` must not be stored");
                assert_eq!(errors(&p, reason), 1.0, "{what}: `{line}`");
            }
        }
    }
}

#[test]
fn mapping_applies_labels_drop_and_reload_invalidates_the_cache() {
    let mut config = Config::default();
    config.statsd.mappings = vec![
        MappingConfig {
            pattern: "app.*.requests".into(),
            name: "app_requests".into(),
            labels: [("service".to_string(), "$1".to_string())].into(),
            ..Default::default()
        },
        MappingConfig {
            pattern: "debug.*".into(),
            action: crate::statsd::mapping::Action::Drop,
            ..Default::default()
        },
    ];
    let p = pipeline(config);
    let mut w = Worker::default();
    w.batch(
        &p,
        Transport::Udp,
        b"app.checkout.requests:2|c|#region:eu\ndebug.x:1|c\n",
        0,
    );
    w.flush(&p);
    assert_eq!(
        value(
            &p,
            "app_requests",
            &[("service", "checkout"), ("region", "eu")]
        ),
        Some(2.0)
    );
    assert_eq!(p.store().family_len("debug_x"), 0);
    assert_eq!(
        value(
            &p,
            "meterd_statsd_samples_dropped",
            &[("reason", "mapping_drop")]
        ),
        Some(1.0)
    );

    // Same worker (warm cache), new config: the new rules apply at once.
    p.swap_snapshot(Snapshot::try_new(Arc::new(Config::default())).expect("valid config"));
    w.batch(&p, Transport::Udp, b"app.checkout.requests:1|c\n", 0);
    w.flush(&p);
    assert_eq!(value(&p, "app_checkout_requests", &[]), Some(1.0));
}

#[test]
fn mapping_cache_stays_bounded() {
    let mut config = Config::default();
    config.statsd.mapping_cache_size = 10;
    let p = pipeline(config);
    let mut w = Worker::default();
    let packet: String = (0..100).map(|i| format!("m{i}:1|c\n")).collect();
    w.batch(&p, Transport::Udp, packet.as_bytes(), 0);
    assert!(w.cache[MetricType::Counter.index()].len() <= 10);
    w.flush(&p);
    assert_eq!(value(&p, "m99", &[]), Some(1.0));
}

#[test]
fn tag_styles_become_sanitized_labels() {
    let p = pipeline(Config::default());
    run(
        &p,
        "a.b,host=h1:1|c\nc.d#host=h1:1|c\ne.f[host=h1]:1|c\ng-h:1|c|#host.name:h1,bare\n",
    );
    for name in ["a_b", "c_d", "e_f"] {
        assert_eq!(value(&p, name, &[("host", "h1")]), Some(1.0), "{name}");
    }
    assert_eq!(value(&p, "g_h", &[("host_name", "h1")]), Some(1.0));
}

#[test]
fn type_conflicts_are_rejected_without_breaking_the_family() {
    let p = pipeline(Config::default());
    run(&p, "x:1|c\nx:1|g\nx:2|c\n");
    assert_eq!(value(&p, "x", &[]), Some(3.0));
    assert_eq!(
        value(
            &p,
            "meterd_samples_rejected",
            &[("protocol", "statsd"), ("reason", "type_conflict")]
        ),
        Some(1.0)
    );
}

#[test]
fn convention_lines_derive_llm_families() {
    let p = pipeline(Config::default());
    run(
        &p,
        "llm.tokens:1200|c|#provider:openai,model:gpt-4o,token_type:input,team:search,user:u1\n\
         llm.requests:1|c|@0.5|#provider:openai,model:gpt-4o,status:ok\n\
         llm.outcome:1|c|#model:gpt-4o,outcome:accepted\n",
    );
    assert_eq!(
        value(
            &p,
            "llm_tokens",
            &[
                ("provider", "openai"),
                ("model", "gpt-4o"),
                ("token_type", "input"),
                ("team", "search")
            ]
        ),
        Some(1200.0),
        "user is not a scope label and is dropped"
    );
    assert_eq!(
        value(
            &p,
            "llm_requests",
            &[
                ("provider", "openai"),
                ("model", "gpt-4o"),
                ("status", "ok")
            ]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(&p, "meterd_quality_events", &[("protocol", "statsd")]),
        Some(1.0)
    );
    assert_eq!(p.store().family_len("llm_tokens"), 1);
}

/// Issue 17 item 2: a sample rate below `limits.min_sample_rate` rejects the whole line, generic
/// or convention, before any of its samples applies; at the floor it is accepted.
#[test]
fn sample_rates_below_the_floor_reject_the_line() {
    let mut config = Config::default();
    config.limits.min_sample_rate = 0.01;
    let p = pipeline(config);
    run(
        &p,
        "hits:1|c|@0.001
hits:1|c|@0.01
multi:1|c|@0.5:2|c|@0.001
lat:5|ms|@1e-300
         llm.tokens:1|c|@1e-300|#provider:p,model:m,token_type:input
",
    );
    assert_eq!(errors(&p, "sample_rate_too_low"), 4.0);
    assert_eq!(value(&p, "hits", &[]), Some(100.0));
    assert_eq!(
        value(&p, "multi", &[]),
        None,
        "no sample of the line applies"
    );
    assert_eq!(p.store().family_len("lat"), 0);
    assert_eq!(p.store().family_len("llm_tokens"), 0);
}

// Pre-aggregation: repeat series merge between flushes with the results of line-by-line updates.

fn rejected(p: &Pipeline, reason: &str) -> f64 {
    value(
        p,
        "meterd_samples_rejected",
        &[("protocol", "statsd"), ("reason", reason)],
    )
    .unwrap_or(0.0)
}

#[test]
fn repeat_series_merge_counters_with_their_rates() {
    let p = pipeline(Config::default());
    let mut w = Worker::default();
    w.batch(&p, Transport::Udp, b"a:1|c|#k:v\na:2|c|@0.5|#k:v\n", 0);
    w.batch(&p, Transport::Udp, b"a:1|c|#k:v\na:1|c|#k:w\n", 0);
    assert_eq!(w.series.len(), 2, "one key per (type, name, tags)");
    assert_eq!(
        value(&p, "a", &[("k", "v")]),
        None,
        "nothing stored before the flush"
    );
    w.flush(&p);
    assert_eq!(value(&p, "a", &[("k", "v")]), Some(6.0));
    assert_eq!(value(&p, "a", &[("k", "w")]), Some(1.0));
    w.batch(&p, Transport::Udp, b"a:1|c|#k:v\n", 0);
    w.flush(&p);
    assert_eq!(
        value(&p, "a", &[("k", "v")]),
        Some(7.0),
        "a flush starts afresh"
    );
    assert_eq!(
        value(&p, "meterd_statsd_lines_received", &[("transport", "udp")]),
        Some(5.0)
    );
}

#[test]
fn gauge_sets_and_deltas_keep_their_order_within_a_flush() {
    let p = pipeline(Config::default());
    run(
        &p,
        "g:5|g\ng:+2|g\ng:-1|g\ng:10|g\ng:+3|g\nh:+1|g\nh:-4|g\n",
    );
    assert_eq!(
        value(&p, "g", &[]),
        Some(13.0),
        "the last set, then the deltas after it"
    );
    assert_eq!(value(&p, "h", &[]), Some(-3.0));
    let mut w = Worker::default();
    w.batch(&p, Transport::Udp, b"f:0.1|g\nf:+0.2|g\nf:+0.7|g\n", 0);
    w.batch(&p, Transport::Udp, b"f:+0.1|g\nf:+0.2|g\n", 0);
    w.flush(&p);
    let line_by_line = 0.1 + 0.2 + 0.7 + 0.1 + 0.2;
    assert_eq!(
        value(&p, "f", &[]),
        Some(line_by_line),
        "same sums, same order"
    );
}

#[test]
fn repeat_observations_and_set_members_each_count() {
    let p = pipeline(Config::default());
    run(
        &p,
        "h:1|h\nh:2|h|@0.5\nh:3|h\nt:1000|ms\nt:500:250|ms\nu:a|s\nu:b|s\nu:a|s\n",
    );
    assert_eq!(histogram(&p, "h"), (8.0, 4.0));
    assert_eq!(histogram(&p, "t"), (1.75, 3.0));
    assert_eq!(value(&p, "u", &[]), Some(2.0));
}

#[test]
fn pending_values_flush_under_the_mapping_they_were_resolved_with() {
    let mut config = Config::default();
    config.statsd.mappings = vec![MappingConfig {
        pattern: "app.*.requests".into(),
        name: "app_requests".into(),
        labels: [("service".to_string(), "$1".to_string())].into(),
        ..Default::default()
    }];
    let p = pipeline(config);
    let mut w = Worker::default();
    w.batch(&p, Transport::Udp, b"app.a.requests:2|c\n", 0);
    p.swap_snapshot(Snapshot::try_new(Arc::new(Config::default())).expect("valid config"));
    w.batch(&p, Transport::Udp, b"app.a.requests:3|c\n", 0);
    w.flush(&p);
    assert_eq!(value(&p, "app_requests", &[("service", "a")]), Some(2.0));
    assert_eq!(value(&p, "app_a_requests", &[]), Some(3.0));
}

#[test]
fn series_cache_stays_bounded_and_loses_nothing() {
    let mut config = Config::default();
    config.statsd.series_cache_size = 10;
    let p = pipeline(config);
    let mut w = Worker::default();
    let packet: String = (0..100).map(|i| format!("s:1|c|#i:{}\n", i % 50)).collect();
    w.batch(&p, Transport::Udp, packet.as_bytes(), 0);
    assert!(w.series.len() <= 10, "{}", w.series.len());
    w.flush(&p);
    assert_eq!(p.store().family_len("s"), 50);
    for i in 0..50 {
        assert_eq!(value(&p, "s", &[("i", &i.to_string())]), Some(2.0), "{i}");
    }
}

#[test]
fn cached_refusals_still_count_every_line() {
    let mut config = Config::default();
    config.limits.max_label_value_bytes = 8;
    config.statsd.mappings = vec![MappingConfig {
        pattern: "debug.*".into(),
        action: crate::statsd::mapping::Action::Drop,
        ..Default::default()
    }];
    let p = pipeline(config);
    // Malformed tags are checked once per distinct tag text and still counted on every line.
    let line = "ok:1|c|#a:123456789\ndebug.x:1|c\nmeterd_x:1|c\nlat:1|ms|#le:1\nok:x|c\n\
                ok:1|c|#,:x\nflux,k:1|c\n";
    run(&p, &line.repeat(3));
    assert_eq!(errors(&p, "bad_tags"), 6.0);
    assert_eq!(
        value(&p, "ok", &[]),
        None,
        "no line with bad tags is stored"
    );
    for reason in [
        "label_value_too_long",
        "reserved_name",
        "reserved_label",
        "bad_value",
    ] {
        assert_eq!(errors(&p, reason), 3.0, "{reason}");
    }
    assert_eq!(
        value(
            &p,
            "meterd_statsd_samples_dropped",
            &[("reason", "mapping_drop")]
        ),
        Some(3.0)
    );
}

#[test]
fn store_refusals_count_each_merged_sample() {
    let mut config = Config::default();
    config.limits.max_series_per_metric = 1;
    let p = pipeline(config);
    run(
        &p,
        "x:1|c|#k:a\nx:1|c|#k:b\nx:1|c|#k:b\nx:1|c|#k:b\ny:1|c\ny:1|g\ny:2|g\ny:1:2|h\n",
    );
    assert_eq!(rejected(&p, "series_limit"), 3.0);
    assert_eq!(
        value(
            &p,
            "meterd_series_dropped",
            &[("metric", "x"), ("reason", "series_limit")]
        ),
        Some(3.0)
    );
    assert_eq!(
        rejected(&p, "type_conflict"),
        4.0,
        "2 gauge lines, 2 histogram samples"
    );
    assert_eq!(value(&p, "y", &[]), Some(1.0));
}
