//! One call, priced once, against the real binary: an exporter's retry of an acknowledged batch
//! (over HTTP, over gRPC, across a kill -9 and restart), and two emitters' spans of one response
//! in different traces.

use crate::support::binary::{self, Meterd};
use crate::support::spans;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::process::Command;
use std::time::Duration;

/// $2.50 input, $1.25 cached input, $10 output per 1M tokens: 1,000 in + 500 out = 7,500,000 nano.
const PER_CALL: u64 = 7_500_000;

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("meterd.yaml");
    std::fs::write(
        &path,
        format!(
            "{}state:\n  data_dir: {}\n  flush_interval: 1h\npricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, cached_input: 1.25, output: 10.00}}}}\nbudgets:\n  - {{name: everything, period: total, limit_usd: 1000}}\n",
            crate::support::agent::EPHEMERAL_LISTENERS,
            dir.join("data").display()
        ),
    )
    .expect("write config");
    path
}

fn start(config: &std::path::Path) -> Meterd {
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(config));
    Meterd::spawn(cmd)
}

fn post(m: &Meterd, body: Vec<u8>) {
    m.export_traces(body);
}

fn grpc(m: &Meterd, rt: &tokio::runtime::Runtime, req: ExportTraceServiceRequest) {
    let url = format!("http://{}", m.otlp_grpc);
    rt.block_on(async {
        let mut client = TraceServiceClient::connect(url).await.expect("connect");
        client.export(req).await.expect("grpc export acknowledged");
    });
}

/// The sum of every series of `family` in a scrape.
fn total(m: &Meterd, family: &str) -> f64 {
    let (_, body) = m.get("/metrics");
    body.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) || l.starts_with(&format!("{family} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn duplicates(m: &Meterd, reason: &str) -> f64 {
    m.metric(&format!(
        "meterd_otlp_duplicate_spans_total{{reason=\"{reason}\"}}"
    ))
    .unwrap_or(0.0)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn a_retried_export_is_priced_once_over_http_and_grpc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&config(dir.path()));
    let rt = runtime();
    // Over HTTP, twice.
    post(&m, spans::gpt4o_chat(0, &[]));
    post(&m, spans::gpt4o_chat(0, &[]));
    // Over gRPC, twice, and the HTTP batch again over gRPC (an exporter falling back).
    let second = ExportTraceServiceRequest::decode(&spans::gpt4o_chat(1, &[])[..]).expect("decode");
    grpc(&m, &rt, second.clone());
    grpc(&m, &rt, second);
    let first = ExportTraceServiceRequest::decode(&spans::gpt4o_chat(0, &[])[..]).expect("decode");
    grpc(&m, &rt, first);

    assert_eq!(m.spend_nanos("everything"), 2 * PER_CALL, "{}", m.log());
    assert_eq!(total(&m, "llm_requests_total"), 2.0);
    assert_eq!(duplicates(&m, "retry"), 3.0);
    // A retry is acknowledged like any export: nothing reported as rejected.
    assert_eq!(total(&m, "meterd_otlp_items_rejected_total"), 0.0);
}

/// A batch of several hundred KB over gRPC arrives in large HTTP/2 frames (meterd allows up to
/// 256 KiB): every call in it is priced once, none lost or doubled at a frame's edge.
#[test]
fn a_large_grpc_batch_is_priced_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&config(dir.path()));
    let rt = runtime();
    let calls = 3000u64;
    let mut req = ExportTraceServiceRequest::default();
    for i in 0..calls {
        let one =
            ExportTraceServiceRequest::decode(&spans::gpt4o_chat(i, &[])[..]).expect("decode");
        req.resource_spans.extend(one.resource_spans);
    }
    assert!(req.encoded_len() > 2 * 256 * 1024, "{}", req.encoded_len());
    grpc(&m, &rt, req.clone());
    assert_eq!(m.spend_nanos("everything"), calls * PER_CALL, "{}", m.log());
    assert_eq!(total(&m, "llm_requests_total"), calls as f64);
    // The same batch again is every call's retry.
    grpc(&m, &rt, req);
    assert_eq!(m.spend_nanos("everything"), calls * PER_CALL);
    assert_eq!(duplicates(&m, "retry"), calls as f64);
}

#[test]
fn a_retry_after_kill_9_and_restart_is_priced_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let first = start(&config);
    let calls = 5u64;
    for i in 0..calls {
        post(&first, spans::gpt4o_chat(i, &[]));
    }
    assert_eq!(first.spend_nanos("everything"), calls * PER_CALL);
    let mut first = first;
    first.child.kill().expect("kill -9");
    first.child.wait().expect("reap");

    // The exporter never saw... or did see the acks; either way it sends again after the crash.
    let second = start(&config);
    for i in 0..calls {
        post(&second, spans::gpt4o_chat(i, &[]));
    }
    assert_eq!(
        second.spend_nanos("everything"),
        calls * PER_CALL,
        "a retry after a restart was priced again\n{}",
        second.log()
    );
    assert_eq!(duplicates(&second, "retry"), calls as f64);
    assert_eq!(total(&second, "llm_requests_total"), 0.0);
    // New calls are still priced.
    post(&second, spans::gpt4o_chat(100, &[]));
    assert_eq!(second.spend_nanos("everything"), (calls + 1) * PER_CALL);
}

/// At the window's bound (every new span evicts the oldest key, and the state file drops records
/// as their keys leave) and across a kill -9: the newest `max_entries` calls are still retries
/// after the restart, span keys and response keys alike, and the bound holds after it.
#[test]
fn at_the_window_bound_a_retry_after_kill_9_is_priced_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let mut yaml = std::fs::read_to_string(&config).expect("read config");
    yaml.push_str("otlp:\n  dedup:\n    max_entries: 20\n");
    std::fs::write(&config, yaml).expect("write config");
    let body = |i: u64| {
        let id = format!("chatcmpl-{i}");
        if i % 2 == 0 {
            spans::gpt4o_chat(i, &[("gen_ai.response.id", id.as_str())])
        } else {
            spans::gpt4o_chat(i, &[])
        }
    };
    let calls = 60u64;
    let mut first = start(&config);
    for i in 0..calls {
        post(&first, body(i));
    }
    assert_eq!(first.spend_nanos("everything"), calls * PER_CALL);
    assert_eq!(
        first.metric("meterd_otlp_dedup_evicted_total"),
        Some((calls - 20) as f64)
    );
    first.child.kill().expect("kill -9");
    first.child.wait().expect("reap");

    let second = start(&config);
    for i in calls - 20..calls {
        post(&second, body(i));
    }
    assert_eq!(
        second.spend_nanos("everything"),
        calls * PER_CALL,
        "a retry of a call still in the window was priced again after a restart\n{}",
        second.log()
    );
    assert_eq!(duplicates(&second, "retry"), 20.0);
    assert_eq!(second.metric("meterd_otlp_dedup_keys"), Some(20.0));
}

#[test]
fn two_emitters_spans_of_one_response_price_the_call_once_with_merged_usage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&config(dir.path()));
    let sdk = "openai";
    let instr = "opentelemetry.instrumentation.openai_v2";
    let tokens = [
        ("gen_ai.usage.input_tokens", 1000),
        ("gen_ai.usage.output_tokens", 500),
    ];
    let with_cache = [
        ("gen_ai.usage.input_tokens", 1000),
        ("gen_ai.usage.output_tokens", 500),
        ("gen_ai.usage.cache_read.input_tokens", 200),
    ];
    // Call A: the complete report first, the other emitter's second: exactly one call's price.
    // 800 uncached x $2.50 + 200 cached x $1.25 + 500 x $10 per 1M = 7,250,000 nano.
    let a = spans::chat_span(1, 1, sdk, Some("chatcmpl-A"), &with_cache);
    let a2 = spans::chat_span(2, 2, instr, Some("chatcmpl-A"), &tokens);
    post(&m, a.encode_to_vec());
    post(&m, a2.encode_to_vec());
    assert_eq!(m.spend_nanos("everything"), 7_250_000, "{}", m.log());
    assert_eq!(total(&m, "llm_requests_total"), 1.0);
    assert_eq!(duplicates(&m, "same_response"), 1.0);

    // Call B: the less complete report first. Its 1,000 input tokens are already priced as
    // uncached when the cache reads arrive: the reads are counted as tokens (merged, never
    // summed) and priced only as a premium over the input rate they were billed at, which for
    // reads (cheaper than input) is nothing. The call is counted once.
    let b = spans::chat_span(3, 3, instr, Some("chatcmpl-B"), &tokens);
    let b2 = spans::chat_span(4, 4, sdk, Some("chatcmpl-B"), &with_cache);
    post(&m, b.encode_to_vec());
    post(&m, b2.encode_to_vec());
    assert_eq!(
        m.spend_nanos("everything"),
        7_250_000 + PER_CALL,
        "{}\n{}",
        m.log(),
        m.get("/metrics").1
    );
    assert_eq!(total(&m, "llm_requests_total"), 2.0);
    assert_eq!(duplicates(&m, "same_response"), 2.0);
    let tokens = |t: &str| {
        let (_, body) = m.get("/metrics");
        body.lines()
            .filter(|l| {
                l.starts_with("llm_tokens_total{") && l.contains(&format!("token_type=\"{t}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    assert_eq!(tokens("input"), 2000.0);
    assert_eq!(tokens("cached_input"), 400.0);
    assert_eq!(tokens("output"), 1000.0);
}

#[test]
fn overlapping_scopes_without_response_ids_price_the_preferred_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&config(dir.path()));
    let tokens = [
        ("gen_ai.usage.input_tokens", 1000),
        ("gen_ai.usage.output_tokens", 500),
    ];
    let oi = "openinference.instrumentation.openai";
    let contrib = "opentelemetry.instrumentation.openai";
    // Each call reported by both scopes, in separate traces, with no response id.
    for i in 0..3u64 {
        let t = u128::from(i) * 2 + 1;
        post(
            &m,
            spans::chat_span(t, t as u64, contrib, None, &tokens).encode_to_vec(),
        );
        post(
            &m,
            spans::chat_span(t + 1, t as u64 + 1, oi, None, &tokens).encode_to_vec(),
        );
    }
    assert_eq!(m.spend_nanos("everything"), 3 * PER_CALL, "{}", m.log());
    assert_eq!(duplicates(&m, "overlapping_scope"), 3.0);
    // The warning is written while a request is served, but read from the child's stderr by
    // another thread: wait for it, then check it came once.
    let pair = "two instrumentation scopes report the same calls";
    crate::support::wait_until("the overlap warning", Duration::from_secs(10), || {
        m.log().contains(pair).then_some(())
    });
    let log = m.log();
    assert_eq!(log.matches(pair).count(), 1, "logged once per pair:\n{log}");
}

/// One call reported raw by one emitter (input without its cache reads) and inclusive by the
/// other: compared in the inclusive form, so the second adds nothing.
#[test]
fn one_call_reported_raw_and_inclusive_is_priced_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path());
    let yaml = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        format!("{yaml}otlp:\n  raw_usage_scopes: {{openai: raw_input}}\n"),
    )
    .expect("write config");
    let m = start(&path);
    let raw = [
        ("gen_ai.usage.input_tokens", 800),
        ("gen_ai.usage.output_tokens", 500),
        ("gen_ai.usage.cache_read.input_tokens", 200),
    ];
    let inclusive = [
        ("gen_ai.usage.input_tokens", 1000),
        ("gen_ai.usage.output_tokens", 500),
        ("gen_ai.usage.cache_read.input_tokens", 200),
    ];
    let instr = "opentelemetry.instrumentation.openai_v2";
    post(
        &m,
        spans::chat_span(1, 1, "openai", Some("chatcmpl-R"), &raw).encode_to_vec(),
    );
    post(
        &m,
        spans::chat_span(2, 2, instr, Some("chatcmpl-R"), &inclusive).encode_to_vec(),
    );
    // 800 uncached x $2.50 + 200 cached x $1.25 + 500 x $10 per 1M.
    assert_eq!(m.spend_nanos("everything"), 7_250_000, "{}", m.log());
    assert_eq!(total(&m, "llm_requests_total"), 1.0);
    assert_eq!(duplicates(&m, "same_response"), 1.0);
}
