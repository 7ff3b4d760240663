//! Real GenAI emitters (Python SDKs and instrumentations, the JavaScript AI SDK) against the real
//! `meterd` binary: each emitter program makes one model call to a fake provider on loopback and
//! exports its spans over OTLP/HTTP and then gRPC. Each run must count one request and cost exactly
//! what `meterd price` says for the usage the emitter reported, to the nano-dollar.

use super::binary::{self, Meterd};
use std::net::SocketAddr;
use std::process::{Command, Output};

pub const PRICING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/pricing.yaml");

/// What one call should be priced as: `meterd price` arguments for the usage the emitters report
/// (GenAI convention: input includes cache reads and writes, output includes reasoning).
pub struct Expect {
    pub provider: &'static str,
    pub model: &'static str,
    pub args: &'static [&'static str],
}

/// The fake OpenAI answer of tests/python/emitters.py and tests/js/emit_ai.mjs: 1200 input of
/// which 200 cached, 500 output of which 300 reasoning.
pub const O4_MINI: Expect = Expect {
    provider: "openai",
    model: "o4-mini-2025-04-16",
    args: &[
        "--input",
        "1200",
        "--cached-input",
        "200",
        "--output",
        "500",
        "--reasoning",
        "300",
    ],
};

fn start() -> (Meterd, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{}state:\n  data_dir: {}\nscope_labels: [service]\npricing_file: {PRICING}\n",
            super::agent::EPHEMERAL_LISTENERS,
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = Command::new(binary::exe());
    cmd.args(binary::args(&config));
    (Meterd::spawn(cmd), dir)
}

/// `meterd price`'s total for the expected usage, in nano-dollars (read from its decimal text).
pub fn priced_nanos(e: &Expect) -> u64 {
    let out = Command::new(binary::exe())
        .args(["price", "--pricing", PRICING, "--provider", e.provider])
        .args(["--model", e.model])
        .args(e.args)
        .output()
        .expect("run meterd price");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "meterd price failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = text
        .lines()
        .find(|l| l.starts_with("total"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no total in {text}"));
    let (whole, frac) = total.split_once('.').unwrap_or((total, ""));
    assert!(frac.len() <= 9, "{total} is finer than a nano-dollar");
    let nanos = format!("{whole}{frac:0<9}");
    nanos
        .parse()
        .unwrap_or_else(|e| panic!("total {total}: {e}"))
}

/// Sum of a family's series for one service, and the series themselves (for messages).
fn sum(body: &str, family: &str, service: &str) -> (f64, Vec<String>) {
    let label = format!("service=\"{service}\"");
    let lines: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) && l.contains(&label))
        .map(str::to_owned)
        .collect();
    let total = lines
        .iter()
        .filter_map(|l| l.split(' ').nth(1))
        .filter_map(|v| v.parse::<f64>().ok())
        .sum();
    (total, lines)
}

/// Runs `emit(transport, otlp address, service name)` once over OTLP/HTTP and once over gRPC
/// against one fresh agent, and checks each run counted one request priced as `expect`.
pub fn check(combo: &str, expect: &Expect, emit: impl Fn(&str, SocketAddr, &str) -> Output) {
    let (meterd, _dir) = start();
    let want = priced_nanos(expect);
    assert!(want > 0, "{combo}: the expected usage prices at zero");
    for (transport, addr) in [("http", meterd.otlp_http), ("grpc", meterd.otlp_grpc)] {
        let service = format!("{combo}-{transport}");
        let out = emit(transport, addr, &service);
        assert!(
            out.status.success(),
            "emitter {combo} over {transport} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (status, body) = meterd.get("/metrics");
        assert_eq!(status, 200);
        let (requests, series) = sum(&body, "llm_requests_total", &service);
        assert_eq!(
            requests, 1.0,
            "{combo} over {transport}: one call, {requests} requests counted: {series:#?}"
        );
        let model = format!("model=\"{}\"", expect.model);
        assert!(
            series.iter().all(|s| s.contains(&model)),
            "{combo} over {transport}: wrong model in {series:#?}"
        );
        let (cost, series) = sum(&body, "llm_cost_usd_total", &service);
        let got = (cost * 1e9).round() as u64;
        assert_eq!(
            got, want,
            "{combo} over {transport}: cost {got} nano-USD, `meterd price` says {want}: {series:#?}"
        );
    }
}
