//! The known-series fast path (`known_simple`) against the full path: the same packets through a
//! worker with it and one without, the two stores rendered equal (values, errors, warnings, drops,
//! usage), whatever the lines.

use super::*;
use crate::config::Config;
use crate::expose::text::{render, Format};
use crate::statsd::mapping::Action;
use crate::statsd::MappingConfig;
use crate::store::Store;
use proptest::prelude::*;

fn config() -> Config {
    let mut config = Config::default();
    config.statsd.mappings = vec![MappingConfig {
        pattern: "drop.*".into(),
        action: Action::Drop,
        ..Default::default()
    }];
    // Low enough for the generated tags to cross them.
    config.limits.max_label_value_bytes = 6;
    config.limits.max_labels_per_series = 2;
    config
}

fn pipeline(config: Config) -> Pipeline {
    Pipeline::new(
        Arc::new(Store::new(config.limits.store_limits())),
        Snapshot::try_new(Arc::new(config)).expect("valid config"),
    )
}

/// Every family's text, lines sorted (series order within a family is not the point).
fn rendered(p: &Pipeline) -> Vec<String> {
    let mut lines: Vec<String> = render(&p.store().snapshot(), Format::Text)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// Runs `packets` (a flush after each `flush_every`) through a worker, fast path on or off.
fn run(config: &Config, packets: &[String], flush_every: usize, fast: bool) -> Vec<String> {
    let p = pipeline(config.clone());
    let mut w = Worker {
        full_only: !fast,
        ..Default::default()
    };
    for (n, packet) in packets.iter().enumerate() {
        w.batch(&p, Transport::Udp, packet.as_bytes(), 0);
        if n % flush_every.max(1) == 0 {
            w.flush(&p);
        }
    }
    w.flush(&p);
    rendered(&p)
}

/// Mostly lines of the simple shape over a few names and tag sets (so series repeat and the fast
/// path is taken), with hostile values, tags and other shapes mixed in.
fn line() -> impl Strategy<Value = String> {
    // Weighted so that most lines repeat a few series, which the fast path then finds.
    let name = prop_oneof![
        8 => Just("a"),
        2 => Just("b.c"),
        1 => Just("drop.x"),
        1 => Just("meterd_x"),
        2 => Just("llm.tokens"),
        1 => Just("llm.tokenz"),
    ];
    let kind = prop_oneof![
        6 => Just("c"),
        3 => Just("g"),
        2 => Just("ms"),
        1 => Just("h"),
        1 => Just("d"),
        2 => Just("s"),
        1 => Just("x")
    ];
    let value = prop_oneof![
        4 => Just("1".to_string()),
        2 => Just("2.5".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("+3".to_string()),
        1 => Just("1e308".to_string()),
        1 => Just("1e309".to_string()),
        1 => Just("NaN".to_string()),
        1 => Just("u1".to_string()),
        1 => Just("".to_string()),
        2 => "[0-9]{1,18}(\\.[0-9]{1,4})?".prop_map(|s| s),
    ];
    let tags = prop_oneof![
        6 => Just(""),
        1 => Just("|#"),
        6 => Just("|#k:v"),
        1 => Just("|#k:v,z:w"),
        1 => Just("|#k:v,z:w,y:u"),
        1 => Just("|#k:toolongvalue"),
        1 => Just("|#:v"),
        1 => Just("|#le:1"),
        1 => Just("|#provider:openai,model:gpt-4o,token_type:input"),
        1 => Just("|#provider:openai,model:gpt-4o"),
    ];
    let tail = prop_oneof![
        6 => Just(""),
        1 => Just("|@0.5"),
        1 => Just("|@x"),
        1 => Just("|c:id"),
        1 => Just("|T12"),
        1 => Just("|"),
        1 => Just(":2|c"),
    ];
    prop_oneof![
        8 => (name, value, kind, tags, tail)
            .prop_map(|(n, v, k, t, tail)| format!("{n}:{v}|{k}{t}{tail}")),
        1 => "[a-z:|#,@.=\\[\\]0-9]{0,16}".prop_map(|s| s),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn the_fast_path_stores_what_the_full_path_stores(
        packets in proptest::collection::vec(
            proptest::collection::vec(line(), 1..24).prop_map(|l| l.join("\n")),
            1..12,
        ),
        flush_every in 1usize..5,
        container_label in any::<bool>(),
        min_rate in prop_oneof![Just(0.001), Just(0.6), Just(1.0)],
        // Small tables start over mid-group, so a line's candidate from before is stale.
        series_cache_size in prop_oneof![Just(1usize), Just(3), Just(100_000)],
    ) {
        let mut config = config();
        config.statsd.container_id_label = container_label;
        config.limits.min_sample_rate = min_rate;
        config.statsd.series_cache_size = series_cache_size;
        let fast = run(&config, &packets, flush_every, true);
        let full = run(&config, &packets, flush_every, false);
        prop_assert_eq!(fast, full);
    }
}

/// The fast path is taken: a known series' simple lines do not go through the full parse (their
/// warnings would be counted otherwise) and their values add up.
#[test]
fn known_simple_lines_add_up() {
    let p = pipeline(Config::default());
    let mut w = Worker::default();
    w.batch(
        &p,
        Transport::Udp,
        b"a:1|c|#k:v\na:2|c|#k:v\na:x|c|#k:v\n",
        0,
    );
    w.batch(&p, Transport::Udp, b"a:4|c|#k:v\na:-1|c|#k:v\n", 0);
    w.flush(&p);
    let value = |name: &str, labels: &[(&str, &str)]| {
        p.store().value(name, &Labels::new(labels.iter().copied()))
    };
    assert_eq!(value("a", &[("k", "v")]), Some(7.0));
    assert_eq!(
        value("meterd_statsd_errors", &[("reason", "bad_value")]),
        Some(1.0)
    );
    assert_eq!(
        value("meterd_statsd_errors", &[("reason", "negative_counter")]),
        Some(1.0)
    );
    assert_eq!(
        value("meterd_statsd_lines_received", &[("transport", "udp")]),
        Some(5.0)
    );
}

/// A candidate found before the table started over must not be used after it, even when the key
/// now sits at the same offset in the key bytes under another entry index.
#[test]
fn a_candidate_from_before_a_clear_is_looked_up_afresh() {
    use super::aggregate::{Aggregator, Verdict};
    use crate::statsd::parse::{MetricType, Tags};
    let p = pipeline(Config::default());
    let key = |name| SeriesKey {
        kind: MetricType::Counter,
        name,
        tags: &Tags::NONE,
        container: None,
    };
    let metric = || Verdict::Metric {
        name: "m".into(),
        labels: Labels::empty(),
        options: Arc::default(),
    };
    let mut agg = Aggregator::default();
    for name in ["aaaa", "bbbb", "o"] {
        agg.entry(&p, 100, key(name), metric);
    }
    let candidate = agg
        .candidate(&key("o"))
        .expect("a known key has a candidate");
    assert_eq!(agg.confirm(&key("o"), candidate), Some(2));
    agg.clear();
    // Same offset for "o" (two keys of 20 bytes before it then, one of 40 now), entry 1.
    agg.entry(&p, 100, key("cccccccccccccccccccccccc"), metric);
    assert_eq!(agg.entry(&p, 100, key("o"), metric), 1);
    assert_eq!(agg.confirm(&key("o"), candidate), Some(1));
}
