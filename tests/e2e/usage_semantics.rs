//! Issue #27: one call prices the same however its usage arrives, inclusive (GenAI conventions)
//! or as a provider's raw figures, by `meterd price`, OTLP spans and StatsD lines, from the
//! shipped table. Each path reports under its own `team`, read back to the nano-dollar.
//!
//! The reference call: Claude Sonnet 4.5, 2,000 fresh input tokens, 250,000 cache reads, 1,000
//! output tokens. The prompt is 252,000 tokens, above 200k: the long-context tier, so 2000 x $6 +
//! 250000 x $0.60 + 1000 x $22.50 per 1M = $0.012 + $0.15 + $0.0225 = $0.1845.

use crate::support::agent::{find_value, Agent};
use crate::support::spans::{int_kv, span_now, str_kv};
use crate::support::wait_until;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SONNET: &str = "claude-sonnet-4-5";
/// A scope declared raw (`raw_input`) in the config below; the other scopes are inclusive.
const RAW_SCOPE: &str = "acme-anthropic-wrapper";
const GEMINI_RAW_SCOPE: &str = "acme-gemini-wrapper";
const INSTRUMENTATION: &str = "opentelemetry-instrumentation-anthropic";

fn config(raw_statsd: bool) -> String {
    let statsd = if raw_statsd {
        "statsd:\n  raw_usage_providers: {anthropic: raw_input, gcp.gemini: raw_output}\n"
    } else {
        ""
    };
    format!(
        "scope_labels: [team]\npricing_file: {}/config/pricing.yaml\n{statsd}otlp:\n  \
         raw_usage_scopes: {{{RAW_SCOPE}: raw_input, {GEMINI_RAW_SCOPE}: raw_output}}\n",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn price_cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_meterd"))
        .arg("price")
        .args([
            "--pricing",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/pricing.yaml"),
        ])
        .args(args)
        .output()
        .expect("run meterd price");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn cli_total(args: &[&str]) -> String {
    let text = price_cli(args);
    text.lines()
        .find_map(|l| l.strip_prefix("total"))
        .map(|t| t.trim().to_owned())
        .unwrap_or_else(|| panic!("no total in\n{text}"))
}

static SPAN_ID: AtomicU64 = AtomicU64::new(1);

/// One GenAI span from instrumentation scope `scope`, with integer usage attributes.
fn post_span(
    agent: &Agent,
    scope: &str,
    provider: &str,
    model: &str,
    team: &str,
    usage: &[(&str, i64)],
) {
    let mut attributes = vec![
        str_kv("gen_ai.operation.name", "chat"),
        str_kv("gen_ai.provider.name", provider),
        str_kv("gen_ai.response.model", model),
        str_kv("team", team),
    ];
    attributes.extend(usage.iter().map(|(k, v)| int_kv(k, *v)));
    // Ids apart from every other test's: a repeated span would be a retry, priced once.
    let id = SPAN_ID.fetch_add(1, Ordering::Relaxed) + 6;
    let body = span_now(id, scope, attributes);
    let resp = reqwest::blocking::Client::new()
        .post(format!(
            "http://{}/v1/traces",
            agent.addrs().otlp_http.expect("otlp http")
        ))
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .expect("post span");
    assert_eq!(resp.status(), 200);
}

fn cost(body: &str, team: &str, provider: &str, model: &str, ct: &str) -> Option<f64> {
    find_value(
        body,
        &format!(
            "llm_cost_usd_total{{cost_type=\"{ct}\",model=\"{model}\",provider=\"{provider}\",team=\"{team}\"}}"
        ),
    )
}

fn tokens(body: &str, team: &str, provider: &str, model: &str, tt: &str) -> Option<f64> {
    find_value(
        body,
        &format!(
            "llm_tokens_total{{model=\"{model}\",provider=\"{provider}\",team=\"{team}\",token_type=\"{tt}\"}}"
        ),
    )
}

/// Every cost and token figure of the reference call, for one team.
fn assert_reference(body: &str, team: &str) {
    let c = |ct| cost(body, team, "anthropic", SONNET, ct);
    let t = |tt| tokens(body, team, "anthropic", SONNET, tt);
    assert_eq!(
        (c("input"), c("cached_input"), c("output")),
        (Some(0.012), Some(0.15), Some(0.0225)),
        "team {team}:\n{body}"
    );
    assert_eq!(
        (t("input"), t("cached_input"), t("output")),
        (Some(252_000.0), Some(250_000.0), Some(1000.0)),
        "team {team}"
    );
}

fn statsd_lines(
    team: &str,
    provider: &str,
    model: &str,
    rit: u64,
    lines: &[(&str, u64)],
) -> Vec<String> {
    lines
        .iter()
        .map(|(tt, n)| {
            format!(
                "llm.tokens:{n}|c|#provider:{provider},model:{model},token_type:{tt},\
                 request_input_tokens:{rit},team:{team}\n"
            )
        })
        .collect()
}

#[test]
fn reference_call_prices_alike_by_cli() {
    let inclusive = [
        "--provider",
        "anthropic",
        "--model",
        SONNET,
        "--input",
        "252000",
        "--cached-input",
        "250000",
        "--output",
        "1000",
    ];
    assert_eq!(cli_total(&inclusive), "0.1845");
    // Raw figures (parts larger than the whole) are read as raw: the same call, the same total.
    let mut raw = inclusive;
    raw[5] = "2000";
    assert_eq!(cli_total(&raw), "0.1845");
    let text = price_cli(&raw);
    assert!(
        text.contains("tier: request input above 200000 tokens"),
        "{text}"
    );
    assert!(
        text.contains("usage read as raw (inconsistent: cache_exceeds_input): parts added to their whole, 252000 input"),
        "{text}"
    );
    // Declared raw, as Anthropic's own usage object reads, even when parts are smaller.
    let declared = [
        "--provider",
        "anthropic",
        "--model",
        SONNET,
        "--input",
        "5000",
        "--cached-input",
        "1000",
        "--usage",
        "raw_input",
    ];
    // 5000 x $3 + 1000 x $0.30 per 1M (6000 input tokens: base tier).
    assert_eq!(cli_total(&declared), "0.0153");
    assert!(price_cli(&declared).contains("usage read as raw (declared)"));
    // Gemini 2.5 Flash: 10000 prompt tokens (4000 cached), 1500 candidates + 500 thoughts:
    // 6000 x $0.30 + 4000 x $0.03 + 2000 x $2.50 per 1M.
    let gemini = [
        "--provider",
        "gcp.gemini",
        "--model",
        "gemini-2.5-flash",
        "--input",
        "10000",
        "--cached-input",
        "4000",
        "--output",
        "2000",
        "--reasoning",
        "500",
    ];
    assert_eq!(cli_total(&gemini), "0.00692");
    // GPT-5: 10000 input (8000 cached), 500 output (300 reasoning): 2000 x $1.25 + 8000 x
    // $0.125 + 500 x $10 per 1M.
    let gpt5 = [
        "--provider",
        "openai",
        "--model",
        "gpt-5",
        "--input",
        "10000",
        "--cached-input",
        "8000",
        "--output",
        "500",
        "--reasoning",
        "300",
    ];
    assert_eq!(cli_total(&gpt5), "0.0085");
}

#[test]
fn reference_call_prices_alike_by_spans_and_statsd() {
    let raw_agent = Agent::start(&config(true));
    let cache_read = "gen_ai.usage.cache_read.input_tokens";
    let (input, output) = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens");
    // (b) inclusive span, as every current instrumentation sends it.
    let inclusive = [(input, 252_000), (cache_read, 250_000), (output, 1000)];
    post_span(
        &raw_agent,
        INSTRUMENTATION,
        "anthropic",
        SONNET,
        "b",
        &inclusive,
    );
    // (c) raw span from a scope declared raw: Anthropic's own usage object.
    let raw = [(input, 2000), (cache_read, 250_000), (output, 1000)];
    post_span(&raw_agent, RAW_SCOPE, "anthropic", SONNET, "c", &raw);
    // (d) the same raw figures from an inclusive scope: inconsistent, priced as raw, counted.
    post_span(&raw_agent, INSTRUMENTATION, "anthropic", SONNET, "d", &raw);
    // (e) raw StatsD lines from a provider declared raw, one datagram each: the cache line is
    // not inside the input line, so nothing needs them together.
    let lines = [("input", 2000), ("cached_input", 250_000), ("output", 1000)];
    for l in statsd_lines("e", "anthropic", SONNET, 252_000, &lines) {
        raw_agent.send_udp(&l);
    }
    // Gemini thinking, raw: candidates (1500) exclude the 500 thoughts; the prompt includes its
    // 4000 cached tokens. By a scope declared raw_output, and by StatsD lines from a provider
    // declared raw_output.
    let reasoning = "gen_ai.usage.reasoning.output_tokens";
    let gemini = [
        (input, 10_000),
        (cache_read, 4000),
        (output, 1500),
        (reasoning, 500),
    ];
    post_span(
        &raw_agent,
        GEMINI_RAW_SCOPE,
        "gcp.gemini",
        "gemini-2.5-flash",
        "g1",
        &gemini,
    );
    // The input side is inclusive (raw_output only), so the cache line must meet its input line:
    // one datagram.
    let lines = [
        ("input", 10_000),
        ("cached_input", 4000),
        ("output", 1500),
        ("reasoning", 500),
    ];
    raw_agent
        .send_udp(&statsd_lines("g2", "gcp.gemini", "gemini-2.5-flash", 10_000, &lines).concat());
    // OpenAI's raw usage is inclusive already: a span and lines in one datagram.
    let gpt5 = [
        (input, 10_000),
        (cache_read, 8000),
        (output, 500),
        (reasoning, 300),
    ];
    post_span(
        &raw_agent,
        "opentelemetry-instrumentation-openai",
        "openai",
        "gpt-5",
        "o1",
        &gpt5,
    );
    let lines = [
        ("input", 10_000),
        ("cached_input", 8000),
        ("output", 500),
        ("reasoning", 300),
    ];
    raw_agent.send_udp(&statsd_lines("o2", "openai", "gpt-5", 10_000, &lines).concat());

    // (f) inclusive StatsD lines (no raw declaration), a call's lines in one datagram.
    let inclusive_agent = Agent::start(&config(false));
    let lines = [
        ("input", 252_000),
        ("cached_input", 250_000),
        ("output", 1000),
    ];
    inclusive_agent.send_udp(&statsd_lines("f", "anthropic", SONNET, 252_000, &lines).concat());

    let body = wait_until("raw statsd lines priced", Duration::from_secs(10), || {
        let body = raw_agent.scrape(None);
        // Datagrams may be handled by different workers, in any order: wait for every line.
        let done = ["input", "cached_input", "output"]
            .iter()
            .all(|ct| cost(&body, "e", "anthropic", SONNET, ct).is_some())
            && cost(&body, "g2", "gcp.gemini", "gemini-2.5-flash", "reasoning").is_some()
            && cost(&body, "o2", "openai", "gpt-5", "reasoning").is_some();
        done.then_some(body)
    });
    for team in ["b", "c", "d", "e"] {
        assert_reference(&body, team);
    }
    assert_eq!(
        find_value(
            &body,
            "meterd_usage_inconsistent_total{provider=\"anthropic\",reason=\"cache_exceeds_input\"}"
        ),
        Some(1.0),
        "only (d) is inconsistent; a declared raw source is not"
    );
    for team in ["g1", "g2"] {
        let c = |ct| cost(&body, team, "gcp.gemini", "gemini-2.5-flash", ct);
        let t = |tt| tokens(&body, team, "gcp.gemini", "gemini-2.5-flash", tt);
        assert_eq!(
            (c("input"), c("cached_input"), c("output"), c("reasoning")),
            (Some(0.0018), Some(0.00012), Some(0.00375), Some(0.00125)),
            "team {team}"
        );
        assert_eq!(
            (t("input"), t("output"), t("reasoning")),
            (Some(10_000.0), Some(2000.0), Some(500.0))
        );
    }
    for team in ["o1", "o2"] {
        let c = |ct| cost(&body, team, "openai", "gpt-5", ct);
        let t = |tt| tokens(&body, team, "openai", "gpt-5", tt);
        assert_eq!(
            (c("input"), c("cached_input"), c("output"), c("reasoning")),
            (Some(0.0025), Some(0.001), Some(0.002), Some(0.003)),
            "team {team}"
        );
        assert_eq!(
            (t("input"), t("cached_input"), t("output")),
            (Some(10_000.0), Some(8000.0), Some(500.0))
        );
    }

    let body = wait_until(
        "inclusive statsd lines priced",
        Duration::from_secs(10),
        || {
            let body = inclusive_agent.scrape(None);
            cost(&body, "f", "anthropic", SONNET, "output")
                .is_some()
                .then_some(body)
        },
    );
    assert_reference(&body, "f");
}

/// OTLP metrics carry one token type per point, like StatsD lines: the points of one export are
/// priced together, so GPT-5's cache-read discount and reasoning split are exact. (Priced point
/// by point, the input point bills all 10000 tokens at $1.25 and the cache-read point nothing.)
#[test]
fn token_metric_points_of_one_export_price_as_one_call() {
    use crate::support::otel::{resource, Client, Transport};
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::metrics::Temporality;

    let agent = Agent::start(&format!("{}  usage_source: metrics\n", config(false)));
    let client = Client::default();
    let mp = client.meter_provider(
        &agent,
        Transport::HttpProto,
        resource("chatbot", &[]),
        Temporality::Cumulative,
    );
    let meter = mp.meter("opentelemetry-instrumentation-openai");
    let attrs = [
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new("gen_ai.response.model", "gpt-5"),
        KeyValue::new("team", "m"),
    ];
    for (name, n) in [
        ("gen_ai.client.inference.usage.input_tokens", 10_000),
        (
            "gen_ai.client.inference.usage.cache_read.input_tokens",
            8000,
        ),
        ("gen_ai.client.inference.usage.output_tokens", 500),
        ("gen_ai.client.inference.usage.reasoning.output_tokens", 300),
    ] {
        meter.u64_counter(name).build().add(n, &attrs);
    }
    mp.force_flush().expect("flush metrics");
    mp.shutdown().expect("shutdown");
    let body = agent.scrape(None);
    let c = |ct| cost(&body, "m", "openai", "gpt-5", ct);
    assert_eq!(
        (c("input"), c("cached_input"), c("output"), c("reasoning")),
        (Some(0.0025), Some(0.001), Some(0.002), Some(0.003)),
        "{body}"
    );
    let t = |tt| tokens(&body, "m", "openai", "gpt-5", tt);
    assert_eq!(
        (t("input"), t("cached_input"), t("output"), t("reasoning")),
        (Some(10_000.0), Some(8000.0), Some(500.0), Some(300.0))
    );
}
