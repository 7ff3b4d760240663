//! The StatsD edges: a UDP socket and a TCP listener (both bound by `app`), a bounded queue per
//! parser worker, and the workers themselves (blocking threads: parsing is CPU work).
//!
//! - UDP: each datagram is one batch, queued to the worker chosen by the sender's address (so one
//!   sender's gauge updates stay in order). A full queue drops the datagram and counts
//!   `meterd_statsd_packets_dropped_total{reason="queue_full"}`: UDP has no way to push back.
//! - TCP: newline-delimited. Complete lines are queued in batches with backpressure (TCP flow
//!   control slows the sender instead of losing lines). Over `limits.statsd_tcp_max_connections`
//!   a new connection is closed at once; an idle one after `limits.statsd_tcp_idle_timeout`; a line
//!   longer than `limits.max_line_bytes` is counted (`line_too_long`) and skipped up to its newline;
//!   a last line without newline is ingested at EOF.
//! - Shutdown: stop reading, let the workers drain what is queued, return.

use super::ingest::{Transport, Worker};
use crate::pipeline::Pipeline;
use crate::telemetry;
use std::hash::{BuildHasher, Hash};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;
/// Batches a worker may process before it publishes its counts even while busy.
const FLUSH_EVERY: u32 = 64;

struct Batch {
    data: Vec<u8>,
    transport: Transport,
}

/// The bounded hand-off to the workers: one channel per worker.
struct Queue {
    senders: Vec<mpsc::Sender<Batch>>,
}

impl Queue {
    fn pick(&self, key: impl Hash) -> &mpsc::Sender<Batch> {
        let h = foldhash::fast::FixedState::with_seed(1).hash_one(key);
        // `senders` is never empty (at least one worker), so the index is in range.
        &self.senders[(h % self.senders.len() as u64) as usize]
    }
}

/// Resolves once shutdown is signalled (or the signal's sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn worker_count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Starts the StatsD listeners given (either may be absent) and their workers on `tasks`.
pub fn spawn(
    tasks: &mut JoinSet<()>,
    pipeline: &Arc<Pipeline>,
    shutdown: &watch::Receiver<bool>,
    udp: Option<UdpSocket>,
    tcp: Option<TcpListener>,
) {
    if udp.is_none() && tcp.is_none() {
        return;
    }
    let config = pipeline.runtime().config.clone();
    let workers = worker_count(config.statsd.workers);
    let per_worker = config.limits.statsd_queue_packets.div_ceil(workers).max(1);
    let mut senders = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = mpsc::channel(per_worker);
        senders.push(tx);
        let pipeline = pipeline.clone();
        tasks.spawn(async move {
            if let Err(e) = tokio::task::spawn_blocking(move || run_worker(rx, &pipeline)).await {
                tracing::error!(error = %e, "statsd worker failed");
            }
        });
    }
    let queue = Arc::new(Queue { senders });
    if let Some(sock) = udp {
        set_receive_buffer(&sock, config.statsd.udp_receive_buffer.0);
        tasks.spawn(run_udp(
            sock,
            queue.clone(),
            pipeline.clone(),
            shutdown.clone(),
        ));
    }
    if let Some(listener) = tcp {
        tasks.spawn(run_tcp(
            listener,
            queue.clone(),
            pipeline.clone(),
            shutdown.clone(),
        ));
    }
}

fn set_receive_buffer(sock: &UdpSocket, want: u64) {
    let sock = socket2::SockRef::from(sock);
    let want = usize::try_from(want).unwrap_or(usize::MAX);
    if let Err(e) = sock.set_recv_buffer_size(want) {
        tracing::warn!(error = %e, want, "cannot set the StatsD UDP receive buffer");
    }
    match sock.recv_buffer_size() {
        // Linux reports twice the usable size (it books kernel overhead in the same figure).
        Ok(got) if got < want => tracing::warn!(
            requested = want,
            effective = got,
            "StatsD UDP receive buffer is smaller than statsd.udp_receive_buffer; raise \
             net.core.rmem_max to absorb larger bursts"
        ),
        Ok(got) => tracing::info!(effective = got, "StatsD UDP receive buffer"),
        Err(e) => tracing::warn!(error = %e, "cannot read the StatsD UDP receive buffer size"),
    }
}

fn run_worker(mut rx: mpsc::Receiver<Batch>, pipeline: &Pipeline) {
    let mut worker = Worker::default();
    let mut since_flush = 0;
    // Ends when every sender is gone (listeners stopped) and the queue is drained.
    while let Some(batch) = rx.blocking_recv() {
        worker.batch(pipeline, batch.transport, &batch.data, unix_nanos());
        since_flush += 1;
        if rx.is_empty() || since_flush >= FLUSH_EVERY {
            worker.flush(pipeline);
            since_flush = 0;
        }
    }
    worker.flush(pipeline);
}

fn count_dropped(pipeline: &Pipeline, reason: &str, n: u64) {
    telemetry::count(
        pipeline.store(),
        "meterd_statsd_packets_dropped",
        "StatsD packets dropped before parsing, by reason (queue_full: parsers behind).",
        &[("reason", reason)],
        n as f64,
    );
}

async fn run_udp(
    sock: UdpSocket,
    queue: Arc<Queue>,
    pipeline: Arc<Pipeline>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    // Drops are counted locally and published when the socket has nothing more to read (or every
    // 1024 drops): under overload the drop path must stay cheap.
    let mut dropped = 0u64;
    loop {
        tokio::select! {
            r = sock.readable() => {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "statsd udp socket failed");
                    break;
                }
            }
            _ = stopped(&mut shutdown) => break,
        }
        // Take everything the kernel holds in one go: one wake-up per burst, not per datagram.
        loop {
            let (n, from) = match sock.try_recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // ICMP errors and the like surface here; they do not end the listener.
                    tracing::debug!(error = %e, "statsd udp receive error");
                    continue;
                }
            };
            let batch = Batch {
                data: buf[..n].to_vec(),
                transport: Transport::Udp,
            };
            if queue.pick(from).try_send(batch).is_err() {
                dropped += 1;
                if dropped >= 1024 {
                    count_dropped(&pipeline, "queue_full", std::mem::take(&mut dropped));
                }
            }
        }
        count_dropped(&pipeline, "queue_full", std::mem::take(&mut dropped));
    }
}

fn count_closed(pipeline: &Pipeline, reason: &str) {
    telemetry::count(
        pipeline.store(),
        "meterd_statsd_tcp_connections_closed",
        "StatsD TCP connections closed by meterd or the peer, by reason.",
        &[("reason", reason)],
        1.0,
    );
}

fn set_open(pipeline: &Pipeline, open: usize) {
    telemetry::gauge(
        pipeline.store(),
        "meterd_statsd_tcp_connections_open",
        "StatsD TCP connections currently open.",
        &[],
        open as f64,
    );
}

async fn run_tcp(
    listener: TcpListener,
    queue: Arc<Queue>,
    pipeline: Arc<Pipeline>,
    mut shutdown: watch::Receiver<bool>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    let mut conns = JoinSet::new();
    let mut backoff = Duration::from_millis(5);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(r) => { backoff = Duration::from_millis(5); r }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "statsd tcp accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            _ = stopped(&mut shutdown) => break,
        };
        let cap = pipeline.runtime().config.limits.statsd_tcp_max_connections;
        if open.load(Ordering::Relaxed) >= cap {
            drop(stream);
            count_closed(&pipeline, "connection_limit");
            continue;
        }
        set_open(&pipeline, open.fetch_add(1, Ordering::Relaxed) + 1);
        let (queue, pipeline, shutdown, open) = (
            queue.clone(),
            pipeline.clone(),
            shutdown.clone(),
            open.clone(),
        );
        conns.spawn(async move {
            let reason = connection(stream, peer, &queue, &pipeline, shutdown).await;
            count_closed(&pipeline, reason);
            set_open(
                &pipeline,
                open.fetch_sub(1, Ordering::Relaxed).saturating_sub(1),
            );
        });
    }
    // Connections see the same shutdown signal; wait for them so their last lines are queued.
    while conns.join_next().await.is_some() {}
}

/// Reads one connection until EOF, error, idle timeout or shutdown; returns why it closed.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    queue: &Queue,
    pipeline: &Pipeline,
    mut shutdown: watch::Receiver<bool>,
) -> &'static str {
    let tx = queue.pick(peer);
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    // Inside an over-long line: discard bytes up to its newline.
    let mut skipping = false;
    loop {
        let limits = pipeline.runtime().config.limits.clone();
        // Zero disables the idle timeout.
        let idle = match limits.statsd_tcp_idle_timeout.0 {
            d if d.is_zero() => Duration::from_secs(365 * 86_400),
            d => d,
        };
        let read = tokio::select! {
            r = tokio::time::timeout(idle, stream.read(&mut chunk)) => r,
            _ = stopped(&mut shutdown) => return "shutdown",
        };
        let n = match read {
            Err(_) => return "idle_timeout",
            Ok(Err(_)) => return "read_error",
            Ok(Ok(0)) => {
                // The last line may lack its newline: it is still a line.
                if !skipping && !pending.is_empty() {
                    send(tx, std::mem::take(&mut pending)).await;
                }
                return "eof";
            }
            Ok(Ok(n)) => n,
        };
        let mut data = &chunk[..n];
        if skipping {
            match data.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    skipping = false;
                    data = &data[i + 1..];
                }
                None => continue,
            }
        }
        pending.extend_from_slice(data);
        if let Some(last) = pending.iter().rposition(|b| *b == b'\n') {
            let rest = pending.split_off(last + 1);
            send(tx, std::mem::replace(&mut pending, rest)).await;
        }
        if pending.len() > limits.max_line_bytes {
            pending.clear();
            skipping = true;
            telemetry::count(
                pipeline.store(),
                "meterd_statsd_errors",
                "StatsD lines (or samples of a line) rejected, by reason.",
                &[("reason", "line_too_long")],
                1.0,
            );
        }
    }
}

async fn send(tx: &mpsc::Sender<Batch>, data: Vec<u8>) {
    let batch = Batch {
        data,
        transport: Transport::Tcp,
    };
    // Fails only when the worker is gone (shutdown): nothing left to do with the lines then.
    let _ = tx.send(batch).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::Labels;
    use crate::pipeline::Runtime;
    use crate::store::Store;

    #[tokio::test]
    async fn full_queue_drops_and_counts_datagrams() {
        let pipeline = Arc::new(Pipeline::new(
            Arc::new(Store::default()),
            Runtime::new(Arc::new(Config::default())),
        ));
        // One slot and nobody reading it: the first datagram fills the queue, the rest drop.
        let (tx, _rx) = mpsc::channel(1);
        let queue = Arc::new(Queue { senders: vec![tx] });
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = sock.local_addr().expect("addr");
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(run_udp(sock, queue, pipeline.clone(), shutdown));
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        for _ in 0..3 {
            client.send_to(b"a:1|c", addr).await.expect("send");
        }
        let dropped = || {
            pipeline.store().value(
                "meterd_statsd_packets_dropped",
                &Labels::new([("reason", "queue_full")]),
            )
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while dropped() != Some(2.0) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(dropped(), Some(2.0));
        let _ = stop.send(true);
        task.await.expect("udp task ends on shutdown");
    }
}
