use super::*;
use crate::config::Config;

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(text: &str) -> Result<Config, ConfigErrors> {
    load_str(text, "test.yaml", &no_env)
}

#[test]
fn empty_file_is_the_default_config() {
    assert_eq!(load("").expect("empty is valid"), Config::default());
    assert_eq!(
        load("# only a comment\n").expect("valid"),
        Config::default()
    );
}

#[test]
fn every_error_is_reported_with_its_position() {
    let err = load(
        "limits:\n  max_series_total: 0\n  max_sereis_per_metric: 5\nscope_labels: [team, \"bad-label\"]\nlistners: {}\n",
    )
    .expect_err("invalid");
    let text = err.to_string();
    for needle in [
        "test.yaml:2:3: limits.max_series_total: must be greater than 0",
        "test.yaml:3:3: limits.max_sereis_per_metric: unknown key `max_sereis_per_metric`",
        "test.yaml:4:22: scope_labels[1]:",
        "test.yaml:5:1: listners: unknown key `listners`",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.0.len(), 4, "{text}");
}

#[test]
fn type_errors_name_the_key() {
    let err = load("limits:\n  max_series_total: -3\n").expect_err("invalid");
    let text = err.to_string();
    assert!(text.contains("test.yaml:2:"), "{text}");
    assert!(text.contains("limits.max_series_total"), "{text}");
}

#[test]
fn environment_is_substituted_before_parsing() {
    let env = |n: &str| (n == "TTL").then(|| "90s".to_string());
    let c: Config = load_str(
        "limits:\n  series_ttl: ${TTL}\n  max_series_total: ${MAX:-7}\n",
        "t",
        &env,
    )
    .expect("valid");
    assert_eq!(c.limits.series_ttl.0, std::time::Duration::from_secs(90));
    assert_eq!(c.limits.max_series_total, 7);
    let err = load("limits:\n  series_ttl: ${UNSET_TTL}\n").expect_err("unset");
    assert!(
        err.to_string().contains("t.yaml:2:15") || err.to_string().contains("test.yaml:2:15"),
        "{err}"
    );
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    for text in [
        "a: [",
        "{{{{",
        "- - - -",
        "limits: !!binary AAAA",
        "\u{0}\u{1}",
        "a: &x [*x]",
    ] {
        let _ = load(text);
    }
}

#[test]
fn oversized_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.yaml");
    std::fs::write(&path, vec![b'#'; (MAX_CONFIG_BYTES + 10) as usize]).expect("write");
    let err = load_config(&path).expect_err("too big");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn missing_file_names_the_file() {
    let err = load_config(Path::new("/nonexistent/meterd.yaml")).expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/meterd.yaml: cannot open"),
        "{err}"
    );
}

#[test]
fn commit_timeout_defaults_to_10s_and_is_bounded() {
    let c = load("").expect("valid");
    assert_eq!(c.state.commit_timeout.0, std::time::Duration::from_secs(10));
    let c = load("state:\n  commit_timeout: 250ms\n").expect("valid");
    assert_eq!(
        c.state.commit_timeout.0,
        std::time::Duration::from_millis(250)
    );
    for bad in ["0s", "301s"] {
        let err = load(&format!("state:\n  commit_timeout: {bad}\n")).expect_err(bad);
        let text = err.to_string();
        assert!(
            text.contains("test.yaml:2:3: state.commit_timeout: must be greater than 0"),
            "{bad}: {text}"
        );
    }
}

#[test]
fn hostile_value_limits_default_and_are_validated_with_their_position() {
    let c = load("").expect("valid");
    assert_eq!(c.limits.min_sample_rate, 1e-6);
    assert_eq!(c.limits.max_usage_per_line, 1_000_000_000);
    let err = load("limits:\n  min_sample_rate: 0\n  max_usage_per_line: 0\n").expect_err("bad");
    let text = err.to_string();
    assert!(
        text.contains("test.yaml:2:3: limits.min_sample_rate: must be in (0, 1], got 0"),
        "{text}"
    );
    assert!(
        text.contains("test.yaml:3:3: limits.max_usage_per_line: must be between 1 and"),
        "{text}"
    );
    assert!(load("limits:\n  min_sample_rate: 1.5\n").is_err());
    assert!(load("limits:\n  max_usage_per_line: 10000000000000000\n").is_err());
}

#[test]
fn raw_usage_declarations_are_checked_with_their_path() {
    let c = load(
        "statsd:\n  raw_usage_providers: {anthropic: raw_input, gcp.gemini: raw_output}\notlp:\n  raw_usage_scopes: {acme: raw}\n",
    )
    .expect("valid");
    use crate::model::UsageSemantics;
    assert_eq!(
        c.statsd.usage_semantics("Anthropic"),
        UsageSemantics::RawInput
    );
    assert_eq!(
        c.statsd.usage_semantics("openai"),
        UsageSemantics::Inclusive
    );
    assert_eq!(
        c.otlp.raw_usage_scopes.get("acme"),
        Some(&UsageSemantics::Raw)
    );
    let text = load(
        "statsd:\n  raw_usage_providers: {anthropic: exclusive, \"\": raw}\notlp:\n  raw_usage_scopes: {\" \": raw}\n",
    )
    .expect_err("invalid")
    .to_string();
    for needle in ["test.yaml:2:", "statsd.raw_usage_providers", "exclusive"] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let text = load(
        "statsd:\n  raw_usage_providers: {\"\": raw}\notlp:\n  raw_usage_scopes: {\" \": raw}\n",
    )
    .expect_err("invalid")
    .to_string();
    for needle in [
        "statsd.raw_usage_providers: a provider name must not be empty",
        "otlp.raw_usage_scopes: a scope name must not be empty",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

/// Issue 23: each message says what is wrong and what to do, once.
#[test]
fn errors_say_what_to_do_once() {
    let text = |yaml: &str| load(yaml).expect_err("invalid").to_string();

    let t = text("budgets:\n  - {name: x, period: monthly, limt_usd: 5}\n");
    assert_eq!(
        t,
        "test.yaml:2:32: budgets[0].limt_usd: unknown key `limt_usd`; did you mean `limit_usd`?\n",
        "a misspelt key, and no second error saying the key it meant is missing"
    );
    let t = text("listners:\n  http: 127.0.0.1:9464\n");
    assert!(
        t.contains("unknown key `listners`; did you mean `listeners`?"),
        "{t}"
    );

    let t = text("scope_labels: [a]\nlimits: {}\nscope_labels: [b]\n");
    assert_eq!(
        t,
        "test.yaml:3:1: scope_labels: duplicate key `scope_labels` (already set at line 1); keep one of the two\n"
    );

    let t = text("state:\n  data_dir: ${NOPE_UNSET_VAR}\n");
    assert_eq!(
        t,
        "test.yaml:2:13: environment variable NOPE_UNSET_VAR is not set (use `${NOPE_UNSET_VAR:-default}` for a fallback)\n",
        "one error, not a second one about the empty value"
    );

    let t = text("listeners:\n  http: 127.0.0.1:99999\n");
    assert_eq!(
        t,
        "test.yaml:2:9: listeners.http: port 99999 is out of range (0-65535; 0 picks a free port) in \"127.0.0.1:99999\"\n"
    );
}

/// `ui:` keys are checked like every section's: a typo names the key it meant, a bad cap its
/// position.
#[test]
fn ui_section_typos_and_bounds_are_reported_with_positions() {
    let text = |yaml: &str| load(yaml).expect_err("invalid").to_string();
    assert_eq!(
        text("ui:\n  enabeld: false\n"),
        "test.yaml:2:3: ui.enabeld: unknown key `enabeld`; did you mean `enabled`?\n"
    );
    let t = text("ui:\n  max_rows: 0\n");
    assert!(t.starts_with("test.yaml:2:"), "{t}");
    assert!(t.contains("ui.max_rows: must be between 1 and 1000"), "{t}");
    let ok = load("ui: {enabled: false, max_rows: 10}\n").expect("valid");
    assert!(!ok.ui.enabled);
    assert_eq!(ok.ui.max_rows, 10);
}

#[test]
fn udp_receive_threads_is_bounded_and_defaults_to_the_hand_off() {
    assert_eq!(Config::default().statsd.udp_receive_threads, 0);
    let ok = load("statsd:\n  udp_receive_threads: 2\n").expect("valid");
    assert_eq!(ok.statsd.udp_receive_threads, 2);
    let text = load("statsd:\n  udp_receive_threads: 65\n")
        .expect_err("too many")
        .to_string();
    assert!(
        text.contains("test.yaml:2:3: statsd.udp_receive_threads: must be at most 64"),
        "{text}"
    );
    let text = load("statsd:\n  udp_receive_threads: -1\n")
        .expect_err("negative")
        .to_string();
    assert!(text.contains("udp_receive_threads"), "{text}");
}
