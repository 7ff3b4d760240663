//! StatsD load: pre-built packets (a mix of types, tags in DogStatsD style, a chosen series
//! cardinality) sent flat out or at a target rate from one or more threads.

use crate::probe::{udp_kernel_drops, Run};
use crate::Common;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value = "127.0.0.1:8125")]
    pub target: SocketAddr,
    #[arg(long, value_enum, default_value = "udp")]
    pub transport: Transport,
    #[arg(long, default_value_t = 20)]
    pub lines_per_packet: usize,
    /// Tags per line (beyond the series tag).
    #[arg(long, default_value_t = 2)]
    pub tags: usize,
    /// Distinct series.
    #[arg(long, default_value_t = 10_000)]
    pub series: usize,
    /// Lines per second across all senders; 0 sends flat out.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// With --rate: how far a sender may fall behind its schedule (descheduled, its CPU stolen)
    /// before it gives up the lines it owes instead of sending them flat out to catch up. The
    /// default (0) catches up whatever the lag, as before; either way the largest lag and the
    /// lines sent while behind are printed, so a loss can be told from a sender's burst.
    #[arg(long, default_value = "0s", value_parser = crate::parse_duration)]
    pub max_lag: Duration,
}

/// What one sender did besides sending: how far it fell behind its schedule.
#[derive(Default)]
struct Pacing {
    /// The largest lag seen.
    max_lag: Duration,
    /// Lines sent while more than a millisecond behind (a catch-up burst above the rate).
    behind_lines: u64,
    /// Lines owed but not sent, under --max-lag.
    skipped_lines: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq)]
pub enum Transport {
    Udp,
    Tcp,
}

pub use super::statsd_line::line;

fn packets(a: &Args) -> Vec<Vec<u8>> {
    let lines = a.series.max(1) * 2;
    let count = lines.div_ceil(a.lines_per_packet.max(1)).clamp(1, 4096);
    (0..count)
        .map(|p| {
            let mut buf = Vec::new();
            for j in 0..a.lines_per_packet.max(1) {
                buf.extend_from_slice(
                    line(p * a.lines_per_packet + j, a.series, a.tags).as_bytes(),
                );
                buf.push(b'\n');
            }
            buf
        })
        .collect()
}

pub fn run(a: Args) -> Result<(), String> {
    let packets = Arc::new(packets(&a));
    let lines_per_packet = a.lines_per_packet.max(1) as u64;
    let drops_before = udp_kernel_drops(a.target.port());
    let run = Run::start(&a.common.metrics, a.common.pid)?;
    let sent = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + a.common.duration;
    let senders = a.common.senders.max(1);
    let per_sender_rate = a.rate / senders as u64;
    let max_lag = a.max_lag;
    let handles: Vec<_> = (0..senders)
        .map(|k| {
            let packets = packets.clone();
            let sent = sent.clone();
            let (target, transport) = (a.target, a.transport);
            std::thread::spawn(move || -> Result<Pacing, String> {
                let mut out = Sender::connect(target, transport)?;
                let start = Instant::now();
                let mut pacing = Pacing::default();
                let mut n: u64 = 0;
                // Lines on the schedule: `n` plus what --max-lag gave up.
                let mut scheduled: u64 = 0;
                let mut idx = k;
                let mut behind = false;
                while Instant::now() < deadline {
                    for _ in 0..64 {
                        out.send(&packets[idx % packets.len()])?;
                        idx += 1;
                        n += lines_per_packet;
                    }
                    scheduled += 64 * lines_per_packet;
                    if behind {
                        pacing.behind_lines += 64 * lines_per_packet;
                    }
                    if per_sender_rate > 0 {
                        let due =
                            Duration::from_secs_f64(scheduled as f64 / per_sender_rate as f64);
                        let now = start.elapsed();
                        match due.checked_sub(now) {
                            Some(wait) => {
                                behind = false;
                                std::thread::sleep(wait);
                            }
                            None => {
                                let lag = now - due;
                                pacing.max_lag = pacing.max_lag.max(lag);
                                behind = lag > Duration::from_millis(1);
                                if !max_lag.is_zero() && lag > max_lag {
                                    let owed = (lag.as_secs_f64() * per_sender_rate as f64) as u64;
                                    scheduled += owed;
                                    pacing.skipped_lines += owed;
                                    behind = false;
                                }
                            }
                        }
                    }
                }
                out.flush()?;
                sent.fetch_add(n, Ordering::Relaxed);
                Ok(pacing)
            })
        })
        .collect();
    let mut pacing = Pacing::default();
    for h in handles {
        let p = h
            .join()
            .map_err(|_| "sender thread panicked".to_string())??;
        pacing.max_lag = pacing.max_lag.max(p.max_lag);
        pacing.behind_lines += p.behind_lines;
        pacing.skipped_lines += p.skipped_lines;
    }
    let total = sent.load(Ordering::Relaxed);
    if a.rate > 0 {
        println!(
            "sender lag      max {:.1} ms behind schedule; {} lines sent while behind, {} given up (--max-lag)",
            pacing.max_lag.as_secs_f64() * 1e3,
            pacing.behind_lines,
            pacing.skipped_lines
        );
    }
    run.finish(
        total,
        "lines",
        &[
            "meterd_statsd_lines_received_total",
            "meterd_statsd_errors_total",
            "meterd_statsd_packets_dropped_total",
            "meterd_samples_rejected_total",
        ],
    )?;
    if a.transport == Transport::Udp {
        println!(
            "kernel udp drops +{} packets",
            udp_kernel_drops(a.target.port()).saturating_sub(drops_before)
        );
    }
    Ok(())
}

enum Sender {
    Udp(UdpSocket),
    Tcp(std::io::BufWriter<TcpStream>),
}

impl Sender {
    fn connect(target: SocketAddr, t: Transport) -> Result<Sender, String> {
        match t {
            Transport::Udp => {
                let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
                s.connect(target)
                    .map_err(|e| format!("connect {target}: {e}"))?;
                Ok(Sender::Udp(s))
            }
            Transport::Tcp => TcpStream::connect(target)
                .map(|s| Sender::Tcp(std::io::BufWriter::with_capacity(1 << 16, s)))
                .map_err(|e| format!("connect {target}: {e}")),
        }
    }

    fn send(&mut self, packet: &[u8]) -> Result<(), String> {
        match self {
            // A full socket buffer on loopback means the receiver is behind: that is the loss
            // being measured, so it is not an error here.
            Sender::Udp(s) => match s.send(packet) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
                Err(e) if e.raw_os_error() == Some(111) => {
                    Err("connection refused: is meterd listening?".into())
                }
                Err(_) => Ok(()),
            },
            Sender::Tcp(w) => w.write_all(packet).map_err(|e| e.to_string()),
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        match self {
            Sender::Udp(_) => Ok(()),
            Sender::Tcp(w) => w.flush().map_err(|e| e.to_string()),
        }
    }
}
