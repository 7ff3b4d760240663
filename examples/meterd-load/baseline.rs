//! The physical ceiling: a bare receive loop that takes packets with `recvmmsg` in batches of 64
//! and only counts their lines. Senders are the same as `statsd` mode, so meterd's StatsD rate can
//! be reported as a fraction of what this machine can receive at all.

use crate::statsd::line;
use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrIn};
use std::io::IoSliceMut;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCH: usize = 64;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "5s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    #[arg(long, default_value_t = 20)]
    pub lines_per_packet: usize,
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
    /// Receive buffer requested for the socket (the kernel caps it at net.core.rmem_max).
    #[arg(long, default_value_t = 4 << 20)]
    pub receive_buffer: usize,
}

pub fn run(a: Args) -> Result<(), String> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
        .map_err(|e| e.to_string())?;
    socket
        .set_recv_buffer_size(a.receive_buffer)
        .map_err(|e| e.to_string())?;
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    socket.bind(&addr.into()).map_err(|e| e.to_string())?;
    let socket: UdpSocket = socket.into();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let target = socket.local_addr().map_err(|e| e.to_string())?;

    let stop = Arc::new(AtomicBool::new(false));
    let lines_received = Arc::new(AtomicU64::new(0));
    let receiver = {
        let (stop, lines_received) = (stop.clone(), lines_received.clone());
        std::thread::spawn(move || receive_loop(&socket, &stop, &lines_received))
    };

    let packet: Vec<u8> = (0..a.lines_per_packet.max(1))
        .flat_map(|i| {
            let mut l = line(i, 10_000, 2).into_bytes();
            l.push(b'\n');
            l
        })
        .collect();
    let started = Instant::now();
    let deadline = started + a.duration;
    let sent_lines = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..a.senders.max(1))
        .map(|_| {
            let (packet, sent_lines) = (packet.clone(), sent_lines.clone());
            let per_packet = a.lines_per_packet.max(1) as u64;
            std::thread::spawn(move || {
                let Ok(s) = UdpSocket::bind("127.0.0.1:0") else {
                    return;
                };
                if s.connect(target).is_err() {
                    return;
                }
                let mut n = 0;
                while Instant::now() < deadline {
                    for _ in 0..64 {
                        if s.send(&packet).is_ok() {
                            n += per_packet;
                        }
                    }
                }
                sent_lines.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for s in senders {
        let _ = s.join();
    }
    let secs = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    receiver
        .join()
        .map_err(|_| "receiver panicked".to_string())??;
    let sent = sent_lines.load(Ordering::Relaxed);
    let got = lines_received.load(Ordering::Relaxed);
    println!(
        "baseline: sent {:.0} lines/s, received {:.0} lines/s ({:.2}% loss) with recvmmsg x{BATCH}",
        sent as f64 / secs,
        got as f64 / secs,
        100.0 * (sent.saturating_sub(got)) as f64 / sent.max(1) as f64
    );
    Ok(())
}

fn receive_loop(socket: &UdpSocket, stop: &AtomicBool, lines: &AtomicU64) -> Result<(), String> {
    let fd = socket.as_raw_fd();
    let mut buffers = vec![[0u8; 9216]; BATCH];
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    let mut lengths = [0usize; BATCH];
    while !stop.load(Ordering::Relaxed) {
        let received = {
            let mut slices: Vec<[IoSliceMut<'_>; 1]> =
                buffers.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
            match recvmmsg(fd, &mut headers, slices.iter_mut(), MsgFlags::empty(), None) {
                Ok(results) => {
                    let mut n = 0;
                    for (i, r) in results.enumerate() {
                        lengths[i] = r.bytes;
                        n += 1;
                    }
                    n
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => 0,
                Err(e) => return Err(format!("recvmmsg: {e}")),
            }
        };
        let mut count = 0;
        for (buf, len) in buffers.iter().zip(&lengths).take(received) {
            count += buf[..*len].iter().filter(|b| **b == b'\n').count() as u64;
        }
        lines.fetch_add(count, Ordering::Relaxed);
    }
    Ok(())
}
