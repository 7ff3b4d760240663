use super::*;
use crate::config::HumanDuration;
use crate::statsd::StatsdConfig;

fn rule(pattern: &str, name: &str, labels: &[(&str, &str)]) -> MappingConfig {
    MappingConfig {
        pattern: pattern.into(),
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn regex(pattern: &str, name: &str, labels: &[(&str, &str)]) -> MappingConfig {
    MappingConfig {
        match_type: MatchType::Regex,
        ..rule(pattern, name, labels)
    }
}

fn mapper(rules: Vec<MappingConfig>) -> Mapper {
    Mapper::try_new(
        &StatsdConfig {
            mappings: rules,
            ..Default::default()
        },
        "statsd",
    )
    .expect("valid rules")
}

/// (name, labels) of a resolved metric, or a marker for drop/convention.
fn resolved(m: &Mapper, name: &str, kind: MetricType) -> (String, Vec<(String, String)>) {
    match m.resolve(name, kind) {
        Resolved::Metric { name, labels, .. } => (
            name.to_string(),
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        Resolved::Drop => ("<drop>".into(), vec![]),
        Resolved::Convention(k) => (format!("<convention {k:?}>"), vec![]),
        Resolved::Reserved => ("<reserved>".into(), vec![]),
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn rules_glob_regex_drop_and_passthrough() {
    let m = mapper(vec![
        rule("app.*.requests", "app_requests", &[("service", "$1")]),
        rule("app.*.*.latency", "app_$2_latency", &[("service", "$1")]),
        regex(
            r"db\.(\w+)\.query_(\w+)",
            "db_query_$2",
            &[("db", "$1"), ("fixed", "x")],
        ),
        MappingConfig {
            action: Action::Drop,
            ..rule("debug.*", "", &[])
        },
        MappingConfig {
            metric_type: Some(TypeFilter::Gauge),
            ..rule("typed.*", "typed_gauge", &[("v", "$1")])
        },
        rule("first.*", "first_wins", &[]),
        rule("first.*", "never_used", &[]),
    ]);
    let c = MetricType::Counter;
    type Case<'a> = (&'a str, MetricType, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        (
            "app.checkout.requests",
            c,
            "app_requests",
            &[("service", "checkout")],
        ),
        (
            "app.cart.http.latency",
            MetricType::Timer,
            "app_http_latency",
            &[("service", "cart")],
        ),
        (
            "db.users.query_time",
            MetricType::Timer,
            "db_query_time",
            &[("db", "users"), ("fixed", "x")],
        ),
        ("debug.anything", c, "<drop>", &[]),
        ("typed.a", MetricType::Gauge, "typed_gauge", &[("v", "a")]),
        // The type filter skips the rule; the name passes through sanitized.
        ("typed.a", c, "typed_a", &[]),
        ("first.x", c, "first_wins", &[]),
        // `*` is one dot-separated component: two components do not match `app.*.requests`.
        ("app.a.b.requests", c, "app_a_b_requests", &[]),
        // ... and it needs at least one character.
        ("app..requests", c, "app_requests", &[]),
        // Regexes must match the whole name.
        ("xdb.users.query_time", c, "xdb_users_query_time", &[]),
        ("some-metric.name", c, "some_metric_name", &[]),
        ("llm.tokens", c, "<convention Tokens>", &[]),
        ("llm.unknown", c, "llm_unknown", &[]),
        // Counters are stored without `_total` (exposition adds it); other types keep it.
        ("jobs_total", c, "jobs", &[]),
        ("jobs.total", c, "jobs", &[]),
        ("jobs_total", MetricType::Gauge, "jobs_total", &[]),
        ("meterd.statsd.errors", c, "<reserved>", &[]),
    ];
    for (name, kind, want_name, want_labels) in cases {
        assert_eq!(
            resolved(&m, name, *kind),
            (want_name.to_string(), pairs(want_labels)),
            "{name} ({kind:?})"
        );
    }
}

#[test]
fn a_mapping_overrides_the_llm_convention_and_the_convention_can_be_disabled() {
    let m = mapper(vec![rule("llm.tokens", "my_tokens", &[])]);
    assert_eq!(
        resolved(&m, "llm.tokens", MetricType::Counter).0,
        "my_tokens"
    );
    let off = Mapper::try_new(
        &StatsdConfig {
            llm_convention: false,
            ..Default::default()
        },
        "statsd",
    )
    .expect("valid rules");
    assert_eq!(
        resolved(&off, "llm.requests", MetricType::Counter).0,
        "llm_requests"
    );
}

#[test]
fn glob_captures_respect_utf8_and_multiple_stars_per_component() {
    let m = mapper(vec![rule(
        "svc.*_*.count",
        "svc_count",
        &[("a", "$1"), ("b", "$2")],
    )]);
    assert_eq!(
        resolved(&m, "svc.front_end_x.count", MetricType::Counter).1,
        pairs(&[("a", "front_end"), ("b", "x")])
    );
    let m = mapper(vec![rule("é.*", "e_total", &[("v", "$1")])]);
    assert_eq!(
        resolved(&m, "é.ça", MetricType::Counter).1,
        pairs(&[("v", "ça")])
    );
}

#[test]
fn mapping_options_carry_buckets_ttl_and_help() {
    let m = mapper(vec![MappingConfig {
        buckets: Some(vec![0.1, 1.0]),
        ttl: Some(HumanDuration(std::time::Duration::from_secs(60))),
        help: Some("Checkout latency.".into()),
        ..rule("checkout.latency", "checkout_latency_seconds", &[])
    }]);
    match m.resolve("checkout.latency", MetricType::Timer) {
        Resolved::Metric { options, .. } => {
            assert_eq!(options.buckets.as_deref(), Some(&[0.1, 1.0][..]));
            assert_eq!(options.ttl, Some(std::time::Duration::from_secs(60)));
            assert_eq!(options.help.as_deref(), Some("Checkout latency."));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn validation_reports_every_problem_with_its_key_path() {
    let config = StatsdConfig {
        mappings: vec![
            regex("(unclosed", "x", &[]),
            rule("a.*", "", &[]),
            rule("a.*", "bad.name", &[("bad-label", "v"), ("ok", "$2")]),
            MappingConfig {
                buckets: Some(vec![1.0, 0.5]),
                ..rule("b", "b", &[])
            },
            MappingConfig {
                action: Action::Drop,
                ..rule("", "", &[])
            },
        ],
        ..Default::default()
    };
    let issues = Mapper::try_new(&config, "statsd").err().unwrap_or_default();
    let paths: Vec<&str> = issues.0.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "statsd.mappings[0].match",
            "statsd.mappings[1].name",
            "statsd.mappings[2].name",
            "statsd.mappings[2].labels.bad-label",
            "statsd.mappings[2].labels.ok",
            "statsd.mappings[3].buckets",
            "statsd.mappings[4].match",
        ],
        "{issues}"
    );
    assert!(issues.0[0].message.contains("invalid regex"));
    assert!(
        issues.0[4].message.contains("$2"),
        "{}",
        issues.0[4].message
    );
}

#[test]
fn valid_rules_pass_validation() {
    let config = StatsdConfig {
        mappings: vec![
            rule("app.*.requests", "app_requests", &[("service", "$1")]),
            regex(r"db\.(\w+)", "db_$1", &[]),
        ],
        ..Default::default()
    };
    let issues = Mapper::try_new(&config, "statsd").err().unwrap_or_default();
    assert!(issues.is_empty(), "{issues}");
}

#[test]
fn many_stars_and_a_long_name_do_not_backtrack_forever() {
    let m = mapper(vec![rule("*a*a*a*a*a*a*b", "x", &[])]);
    let name = "a".repeat(8000);
    assert_eq!(resolved(&m, &name, MetricType::Counter).0, name);
}

proptest::proptest! {
    #[test]
    fn compiling_and_resolving_never_panic(pattern in "[a-z.*]{0,12}", name in "\\PC{0,40}") {
        // Templates use every capture the glob has, so most generated rules compile and resolve;
        // the rest (an empty pattern) must be refused with a reason, never half-compiled.
        let stars = pattern.matches('*').count();
        let (template, label) = match stars {
            0 => ("n", "x"),
            1 => ("n_$1", "$1"),
            _ => ("n_$1_$2", "$2"),
        };
        let config = StatsdConfig {
            mappings: vec![rule(&pattern, template, &[("l", label)])],
            ..Default::default()
        };
        match Mapper::try_new(&config, "statsd") {
            Ok(m) => {
                let _ = m.resolve(&name, MetricType::Counter);
            }
            Err(issues) => proptest::prop_assert!(!issues.is_empty()),
        }
    }
}
