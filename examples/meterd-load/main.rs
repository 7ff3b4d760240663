//! meterd-load: drives a running meterd with StatsD or OTLP load and reports what it achieved,
//! what meterd counted and dropped, and what it cost meterd in CPU and memory.
//!
//! ```text
//! cargo run --release --example meterd-load -- statsd --target 127.0.0.1:8125 --duration 10s
//! cargo run --release --example meterd-load -- otlp --kind spans --transport grpc --duration 10s
//! cargo run --release --example meterd-load -- scrape --count 50
//! cargo run --release --example meterd-load -- baseline --duration 5s
//! cargo run --release --example meterd-load -- soak --duration 10m --pid $(pgrep -x meterd) --config config/meterd.yaml
//! ```
//! Pass `--pid $(pgrep -x meterd)` so CPU and RSS are measured; `--metrics URL` (default
//! `http://127.0.0.1:9464/metrics`) is where meterd's own counters are read before and after.

mod baseline;
mod otlp;
mod probe;
mod soak;
mod statsd;
mod statsd_line;

use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "meterd-load", about = "Load generator and probe for meterd")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// StatsD lines over UDP or TCP.
    Statsd(statsd::Args),
    /// OTLP metric points or GenAI spans over gRPC or HTTP/protobuf.
    Otlp(otlp::Args),
    /// Times GET /metrics.
    Scrape(probe::ScrapeArgs),
    /// The fastest a bare batched UDP receive loop takes packets on this machine: the physical
    /// ceiling meterd's StatsD rate is compared with.
    Baseline(baseline::Args),
    /// Long mixed StatsD + OTLP load with reloads and scrapes; checks RSS stays flat and the
    /// books balance per protocol.
    Soak(soak::Args),
}

/// Options every load mode shares.
#[derive(clap::Args, Clone)]
pub struct Common {
    /// How long to send.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// meterd's /metrics URL, read before and after for its own counters.
    #[arg(long, default_value = "http://127.0.0.1:9464/metrics")]
    pub metrics: String,
    /// meterd's process id, for CPU time and RSS.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Sending threads.
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    meterd::config::units::parse_duration(s)
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Statsd(a) => statsd::run(a),
        Command::Otlp(a) => otlp::run(a),
        Command::Scrape(a) => probe::scrape(a),
        Command::Baseline(a) => baseline::run(a),
        Command::Soak(a) => soak::run(a),
    };
    if let Err(e) = result {
        eprintln!("meterd-load: {e}");
        std::process::exit(1);
    }
}
