//! Soak: mixed StatsD (TCP and UDP) and OTLP/HTTP load at a steady rate for a long time, with
//! config reloads and scrapes along the way. Passes when RSS stays flat and the books balance per
//! protocol: TCP lines sent = received, UDP lines sent = received + counted drops, every OTLP
//! request acknowledged.

use crate::otlp::metrics_request;
use crate::probe::{proc_sample, scrape_values, udp_kernel_drops};
use crate::statsd::line;
use prost::Message;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "10m", value_parser = crate::parse_duration)]
    pub duration: Duration,
    #[arg(long, default_value = "http://127.0.0.1:9464/metrics")]
    pub metrics: String,
    #[arg(long)]
    pub pid: u32,
    /// The running meterd's config file: rewritten (same settings, new comment) to force reloads.
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    pub reload_every: Duration,
    #[arg(long, default_value = "127.0.0.1:8125")]
    pub statsd: SocketAddr,
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub otlp_http: String,
    /// StatsD lines per second (split over TCP and UDP).
    #[arg(long, default_value_t = 50_000)]
    pub rate: u64,
}

pub fn run(a: Args) -> Result<(), String> {
    let original =
        std::fs::read_to_string(&a.config).map_err(|e| format!("{}: {e}", a.config.display()))?;
    let before = scrape_values(&a.metrics)?;
    let udp_drops_before = udp_kernel_drops(a.statsd.port());
    let udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    udp.connect(a.statsd).map_err(|e| e.to_string())?;
    let mut tcp = std::io::BufWriter::new(TcpStream::connect(a.statsd).map_err(|e| e.to_string())?);
    let http = reqwest::blocking::Client::new();
    let started = Instant::now();
    let (mut tcp_lines, mut udp_lines, mut otlp_ok, mut otlp_failed, mut reloads) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut rss = Vec::new();
    let mut next_reload = started + a.reload_every;
    let mut next_sample = started;
    let mut i = 0usize;
    while started.elapsed() < a.duration {
        // One 100 ms slice: half the lines over TCP, half over UDP in 20-line packets, one OTLP request.
        let slice = Instant::now();
        let per_slice = (a.rate / 10).max(40) as usize;
        for _ in 0..per_slice / 2 {
            writeln!(tcp, "{}", line(i, 5_000, 2)).map_err(|e| e.to_string())?;
            i += 1;
        }
        tcp.flush().map_err(|e| e.to_string())?;
        tcp_lines += (per_slice / 2) as u64;
        for chunk in 0..(per_slice / 2) / 20 {
            let packet: String = (0..20)
                .map(|j| line(i + chunk * 20 + j, 5_000, 2) + "\n")
                .collect();
            if udp.send(packet.as_bytes()).is_ok() {
                udp_lines += 20;
            }
        }
        i += per_slice / 2;
        let body = metrics_request(500, 5_000, (i / 500) % 10 * 500).encode_to_vec();
        match http
            .post(format!("{}/v1/metrics", a.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
        {
            Ok(r) if r.status().is_success() => otlp_ok += 1,
            _ => otlp_failed += 1,
        }
        if Instant::now() >= next_reload {
            next_reload += a.reload_every;
            reloads += 1;
            std::fs::write(&a.config, format!("{original}\n# soak reload {reloads}\n"))
                .map_err(|e| e.to_string())?;
            let _ = std::process::Command::new("kill")
                .args(["-HUP", &a.pid.to_string()])
                .status();
        }
        if Instant::now() >= next_sample {
            next_sample += Duration::from_secs(10);
            let _ = scrape_values(&a.metrics)?;
            rss.push(proc_sample(a.pid)?.rss_bytes);
        }
        if let Some(rest) = Duration::from_millis(100).checked_sub(slice.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    drop(tcp);
    std::fs::write(&a.config, &original).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs(2));
    let after = scrape_values(&a.metrics)?;
    let delta =
        |k: &str| after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
    let tcp_received = delta("meterd_statsd_lines_received_total{transport=\"tcp\"}");
    let udp_received = delta("meterd_statsd_lines_received_total{transport=\"udp\"}");
    let udp_queue_dropped = delta("meterd_statsd_packets_dropped_total") * 20.0;
    let kernel_dropped = (udp_kernel_drops(a.statsd.port()) - udp_drops_before) as f64 * 20.0;
    let reload_failures = delta("meterd_config_reloads_total{result=\"failure\"}");
    let mib = |b: u64| b as f64 / 1048576.0;
    let (first, last, max) = (
        rss.first().copied().unwrap_or(0),
        rss.last().copied().unwrap_or(0),
        rss.iter().copied().max().unwrap_or(0),
    );
    println!(
        "soak {:?}: {reloads} reloads, {} RSS samples",
        a.duration,
        rss.len()
    );
    println!(
        "rss MiB first {:.1} last {:.1} max {:.1}",
        mib(first),
        mib(last),
        mib(max)
    );
    // One reading per minute, so "flat" can be judged by eye as well as by the rule below.
    let per_minute: Vec<String> = rss
        .iter()
        .step_by(6)
        .map(|b| format!("{:.1}", mib(*b)))
        .collect();
    println!("rss MiB per minute: {}", per_minute.join(" "));
    println!("tcp lines sent {tcp_lines} received {tcp_received}");
    println!("udp lines sent {udp_lines} received {udp_received} queue-dropped {udp_queue_dropped} kernel-dropped {kernel_dropped}");
    println!("otlp requests ok {otlp_ok} failed {otlp_failed}; reload failures {reload_failures}");
    let mut problems = Vec::new();
    if tcp_received != tcp_lines as f64 {
        problems.push("TCP lines sent != received");
    }
    if udp_received + udp_queue_dropped + kernel_dropped < udp_lines as f64 {
        problems.push("UDP lines unaccounted for");
    }
    if otlp_failed > 0 {
        problems.push("OTLP requests failed");
    }
    if reload_failures > 0.0 {
        problems.push("config reloads failed");
    }
    // Flat: the last reading within 10 % (plus 4 MiB of allocator noise) of the first after warm-up.
    let warm = rss.get(rss.len() / 4).copied().unwrap_or(first);
    if last as f64 > warm as f64 * 1.10 + 4.0 * 1048576.0 {
        problems.push("RSS grew during the soak");
    }
    if problems.is_empty() {
        println!("soak: OK");
        Ok(())
    } else {
        Err(format!("soak failed: {}", problems.join("; ")))
    }
}
