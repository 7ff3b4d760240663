//! The StatsD edges: a UDP socket and a TCP listener (both bound by `app`), a bounded queue per
//! parser worker, and the workers themselves (blocking threads: parsing is CPU work).
//!
//! - UDP: a receive thread of its own (`udp.rs`) packs datagrams into hand-off buffers, one per
//!   worker chosen by the sender's address (so one sender's gauge updates stay in order). Past the
//!   queue bound datagrams are dropped and counted
//!   (`meterd_statsd_packets_dropped_total{reason="queue_full"}`): UDP has no way to push back.
//! - TCP: newline-delimited. Complete lines are queued in batches with backpressure (TCP flow
//!   control slows the sender instead of losing lines). At `limits.statsd_tcp_max_connections`
//!   the connection idle longest is closed to make room (`evicted`), or, when none is idle, the
//!   new one at once; an idle one after `limits.statsd_tcp_idle_timeout`; a line
//!   longer than `limits.max_line_bytes` is counted (`line_too_long`) and skipped up to its newline;
//!   a last line without newline is ingested at EOF.
//! - Shutdown: stop reading, let the workers drain what is queued, return.

use super::ingest::{Transport, Worker};
use super::udp;
use crate::pipeline::Pipeline;
use crate::telemetry;
use crate::telemetry::catalogue;
use std::hash::{BuildHasher, Hash};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// How long merged values and counts may wait in a worker before they reach the store. Every
/// line of a series within it costs one store update between them: at 10,000 series flushing
/// whenever the queue ran dry meant one update per line, the largest cost of a worker. Far below
/// any scrape interval, so no scrape sees the difference.
pub(super) const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

pub(super) struct Batch {
    pub data: Vec<u8>,
    /// Datagrams packed in `data` (UDP); 1 for a TCP batch.
    pub packets: usize,
    pub transport: Transport,
}

/// The bounded hand-off to the workers: one channel per worker.
pub(super) struct Queue {
    senders: Vec<mpsc::Sender<Batch>>,
}

impl Queue {
    pub(super) fn new(senders: Vec<mpsc::Sender<Batch>>) -> Self {
        Queue { senders }
    }

    pub(super) fn len(&self) -> usize {
        self.senders.len()
    }

    pub(super) fn get(&self, worker: usize) -> Option<&mpsc::Sender<Batch>> {
        self.senders.get(worker)
    }

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
    udp: Option<crate::net::udp::UdpSockets>,
    tcp: Option<TcpListener>,
) {
    if udp.is_none() && tcp.is_none() {
        return;
    }
    let config = pipeline.snapshot().config.clone();
    let workers = worker_count(config.statsd.workers);
    let per_worker = config.limits.statsd_queue_packets.div_ceil(workers).max(1);
    let mut senders = Vec::with_capacity(workers);
    let pool = Arc::new(udp::Pool::default());
    for _ in 0..workers {
        let (tx, rx) = mpsc::channel(per_worker);
        senders.push(tx);
        let (pipeline, pool) = (pipeline.clone(), pool.clone());
        tasks.spawn(async move {
            let run = move || run_worker(rx, &pipeline, &pool);
            if let Err(e) = tokio::task::spawn_blocking(run).await {
                tracing::error!(error = %e, "statsd worker failed");
            }
        });
    }
    let queue = Arc::new(Queue::new(senders));
    if let Some(sockets) = udp {
        let inline = config.statsd.udp_receive_threads > 0;
        for socket in sockets.0 {
            set_receive_buffer(&socket, config.statsd.udp_receive_buffer.0);
            let run: Box<dyn FnOnce() + Send> = if inline {
                let receiver = udp::inline::Inline {
                    socket,
                    pipeline: pipeline.clone(),
                    shutdown: shutdown.clone(),
                };
                Box::new(move || receiver.run())
            } else {
                let receiver = udp::Receiver {
                    socket,
                    queue: queue.clone(),
                    pool: pool.clone(),
                    pipeline: pipeline.clone(),
                    shutdown: shutdown.clone(),
                    max_queued_packets: config.limits.statsd_queue_packets.max(1),
                };
                Box::new(move || receiver.run())
            };
            tasks.spawn(async move {
                if let Err(e) = tokio::task::spawn_blocking(run).await {
                    tracing::error!(error = %e, "statsd udp receiver failed");
                }
            });
        }
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

fn set_receive_buffer(sock: &std::net::UdpSocket, want: u64) {
    let sock = socket2::SockRef::from(sock);
    let want = usize::try_from(want).unwrap_or(usize::MAX);
    if let Err(e) = sock.set_recv_buffer_size(want) {
        tracing::warn!(error = %e, want, "cannot set the StatsD UDP receive buffer");
    }
    match sock.recv_buffer_size() {
        // Linux reports twice the usable size (it books kernel overhead in the same figure).
        // Info, not a warning: most hosts cap it below the default, and that is fine at modest rates.
        Ok(got) if got < want => tracing::info!(
            requested = want,
            effective = got,
            "StatsD UDP receive buffer is smaller than statsd.udp_receive_buffer; raise \
             net.core.rmem_max to absorb larger bursts"
        ),
        Ok(got) => tracing::info!(effective = got, "StatsD UDP receive buffer"),
        Err(e) => tracing::warn!(error = %e, "cannot read the StatsD UDP receive buffer size"),
    }
}

fn run_worker(mut rx: mpsc::Receiver<Batch>, pipeline: &Pipeline, pool: &udp::Pool) {
    let runtime = tokio::runtime::Handle::current();
    let mut worker = Worker::default();
    // Whether values or counts are waiting for the next flush.
    let mut pending = false;
    let mut last_flush = Instant::now();
    loop {
        let next = if !pending {
            // Nothing to publish: sleep until work comes; `None` once every sender is gone
            // (listeners stopped) and the queue is drained.
            rx.blocking_recv()
        } else {
            match rx.try_recv() {
                Ok(batch) => Some(batch),
                Err(_) => {
                    let wait = FLUSH_INTERVAL.saturating_sub(last_flush.elapsed());
                    runtime
                        .block_on(tokio::time::timeout(wait, rx.recv()))
                        .ok()
                        .flatten()
                }
            }
        };
        match next {
            Some(batch) => {
                let (packets, transport) = (batch.packets, batch.transport);
                worker.datagrams(
                    pipeline,
                    transport,
                    &batch.data,
                    packets,
                    crate::clock::unix_nanos(),
                );
                if transport == Transport::Udp {
                    pool.give_back(batch.data, packets);
                }
                pending = true;
                if last_flush.elapsed() < FLUSH_INTERVAL {
                    continue;
                }
            }
            None if !pending => break,
            // The interval is up with the queue idle, or the queue closed: publish.
            None => {}
        }
        worker.flush(pipeline);
        pending = false;
        last_flush = Instant::now();
    }
    worker.flush(pipeline);
}

pub(super) fn count_dropped(pipeline: &Pipeline, reason: &str, n: u64) {
    telemetry::count(
        pipeline.store(),
        &catalogue::STATSD_PACKETS_DROPPED,
        &[("reason", reason)],
        n as f64,
    );
}

fn count_closed(pipeline: &Pipeline, reason: &str) {
    telemetry::count(
        pipeline.store(),
        &catalogue::STATSD_TCP_CONNECTIONS_CLOSED,
        &[("reason", reason)],
        1.0,
    );
}

fn set_open(pipeline: &Pipeline, open: usize) {
    telemetry::gauge(
        pipeline.store(),
        &catalogue::STATSD_TCP_CONNECTIONS_OPEN,
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
    // The cap (`limits.statsd_tcp_max_connections`, reloadable) is the gate's: at it, the
    // connection idle longest is closed to make room, and only when none is idle is the new one
    // refused. A new client is never accepted only to lose its lines.
    let gate =
        crate::net::limits::Gate::for_pipeline(crate::net::limits::Which::StatsdTcp, &pipeline);
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
        let Some(stream) = gate.admit(stream) else {
            count_closed(&pipeline, "connection_limit");
            continue;
        };
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
    mut stream: crate::net::limits::Guarded<TcpStream>,
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
        let limits = pipeline.snapshot().config.limits.clone();
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
            Ok(Err(_)) => return stream.closed_reason().unwrap_or("read_error"),
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
                &catalogue::STATSD_ERRORS,
                &[("reason", "line_too_long")],
                1.0,
            );
        }
    }
}

async fn send(tx: &mpsc::Sender<Batch>, data: Vec<u8>) {
    let batch = Batch {
        data,
        packets: 1,
        transport: Transport::Tcp,
    };
    // Fails only when the worker is gone (shutdown): nothing left to do with the lines then.
    let _ = tx.send(batch).await;
}
