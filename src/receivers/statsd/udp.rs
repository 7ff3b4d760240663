//! The StatsD UDP receive loop: one blocking thread takes datagrams in batches (`recvmmsg`) and
//! packs them into reused hand-off buffers, one per parser worker, sent when full or when the
//! socket runs dry. Compared with one `recv_from`, one allocation and one queue hand-off per
//! datagram, a burst costs one system call per [`slots::RECV_BATCH`] datagrams, a `memcpy` per datagram
//! and one queue hand-off per [`HANDOFF_BYTES`]; a profile at 2 M lines/s put 30 % of meterd's
//! CPU in the old per-datagram path.
//!
//! Datagrams from one sender always go to the same worker, in arrival order, so a sender's gauge
//! updates stay ordered. A datagram is queued whole or dropped whole: past
//! `limits.statsd_queue_packets` datagrams waiting (or a full worker queue) it is counted in
//! `meterd_statsd_packets_dropped_total{reason="queue_full"}`, since UDP cannot push back.

use super::ingest::Transport;
use super::listener::{count_dropped, Batch, Queue};
use crate::pipeline::Pipeline;
use slots::Slots;
use std::hash::BuildHasher;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub(super) mod inline;
mod slots;

/// A hand-off buffer is sent to its worker once it holds this much.
/// Datagrams are packed into a buffer of this size (one larger datagram gets a buffer of its own
/// size, not pooled). Sized to hold a few dozen typical packets: buffers in flight after a burst
/// are what the allocator keeps, so their slack is memory.
const HANDOFF_BYTES: usize = 32 * 1024;
/// Idle hand-off buffers kept for reuse; more are freed. A few per worker cover the steady state.
const POOL_BUFFERS: usize = 16;
/// How often a blocked receive wakes to look for shutdown.
const POLL_SHUTDOWN: Duration = Duration::from_millis(200);
/// Drops are counted locally and published at least this often under sustained overload.
const PUBLISH_DROPS_EVERY: u64 = 1024;

/// Hand-off buffers coming back from the workers, and the datagrams still waiting in them.
#[derive(Default)]
pub(super) struct Pool {
    buffers: Mutex<Vec<Vec<u8>>>,
    queued_packets: AtomicUsize,
}

impl Pool {
    fn take(&self) -> Vec<u8> {
        self.buffers
            .lock()
            .ok()
            .and_then(|mut b| b.pop())
            .unwrap_or_else(|| Vec::with_capacity(HANDOFF_BYTES))
    }

    /// Called by a worker once a UDP batch is ingested.
    pub(super) fn give_back(&self, mut buffer: Vec<u8>, packets: usize) {
        self.queued_packets.fetch_sub(packets, Ordering::Relaxed);
        buffer.clear();
        if buffer.capacity() > HANDOFF_BYTES {
            return;
        }
        if let Ok(mut b) = self.buffers.lock() {
            if b.len() < POOL_BUFFERS {
                b.push(buffer);
            }
        }
    }
}

/// One worker's hand-off buffer being filled.
struct Outgoing {
    data: Vec<u8>,
    packets: usize,
}

pub(super) struct Receiver {
    pub socket: UdpSocket,
    pub queue: Arc<Queue>,
    pub pool: Arc<Pool>,
    pub pipeline: Arc<Pipeline>,
    pub shutdown: watch::Receiver<bool>,
    /// `limits.statsd_queue_packets` at start.
    pub max_queued_packets: usize,
}

impl Receiver {
    /// Runs until shutdown; blocking (a thread of its own).
    pub(super) fn run(self) {
        if !prepare(&self.socket) {
            return;
        }
        let mut slots = Slots::new(&self.socket);
        let mut outgoing: Vec<Outgoing> = (0..self.queue.len())
            .map(|_| Outgoing {
                data: Vec::new(),
                packets: 0,
            })
            .collect();
        let hasher = foldhash::fast::FixedState::with_seed(1);
        let mut dropped = 0u64;
        while !*self.shutdown.borrow() {
            slots.receive(&self.socket);
            dropped += self.pack(&mut outgoing, &slots, &hasher);
            count_dropped(&self.pipeline, "receive_buffer", slots.take_kernel_drops());
            // The socket ran dry: nothing more is coming soon, send what is collected.
            if !slots.was_full() {
                for (i, out) in outgoing.iter_mut().enumerate() {
                    dropped += self.hand_off(i, out);
                }
            }
            if dropped > 0 && (dropped >= PUBLISH_DROPS_EVERY || !slots.was_full()) {
                count_dropped(&self.pipeline, "queue_full", std::mem::take(&mut dropped));
            }
        }
        for (i, out) in outgoing.iter_mut().enumerate() {
            dropped += self.hand_off(i, out);
        }
        count_dropped(&self.pipeline, "queue_full", dropped);
    }

    /// Packs the datagrams of the last receive into their workers' buffers (by sender), handing
    /// a buffer off when it is full; returns how many datagrams were dropped.
    fn pack(
        &self,
        outgoing: &mut [Outgoing],
        slots: &Slots,
        hasher: &foldhash::fast::FixedState,
    ) -> u64 {
        let mut dropped = 0;
        let workers = outgoing.len().max(1);
        for (slot, datagram) in slots.datagrams().enumerate() {
            let worker = slots
                .sender(slot)
                .map_or(0, |a| hasher.hash_one(a) as usize);
            let i = worker % workers;
            let Some(out) = outgoing.get_mut(i) else {
                continue;
            };
            // Whole datagrams only, and never past the buffer's size: send what is collected
            // first when this one would not fit.
            if out.data.len() + datagram.len() >= HANDOFF_BYTES {
                dropped += self.hand_off(i, out);
            }
            if out.data.capacity() == 0 {
                out.data = self.pool.take();
            }
            out.data.extend_from_slice(datagram);
            // Datagrams are packed back to back: a newline keeps the last line of one from
            // running into the first line of the next.
            if datagram.last() != Some(&b'\n') {
                out.data.push(b'\n');
            }
            out.packets += 1;
            if out.data.len() >= HANDOFF_BYTES {
                dropped += self.hand_off(i, out);
            }
        }
        dropped
    }

    /// Queues one worker's collected datagrams; returns how many were dropped instead.
    fn hand_off(&self, worker: usize, out: &mut Outgoing) -> u64 {
        if out.packets == 0 {
            return 0;
        }
        let packets = std::mem::take(&mut out.packets);
        let data = std::mem::take(&mut out.data);
        let queued = self
            .pool
            .queued_packets
            .fetch_add(packets, Ordering::Relaxed);
        let batch = Batch {
            data,
            packets,
            transport: Transport::Udp,
        };
        if queued + packets <= self.max_queued_packets {
            match self.queue.get(worker).map(|tx| tx.try_send(batch)) {
                Some(Ok(())) => return 0,
                Some(Err(e)) => self.pool.give_back(e.into_inner().data, packets),
                None => {
                    self.pool
                        .queued_packets
                        .fetch_sub(packets, Ordering::Relaxed);
                }
            }
        } else {
            self.pool.give_back(batch.data, packets);
        }
        packets as u64
    }
}

/// Makes `socket` blocking with a read timeout (so a receive loop sees shutdown); false, logged,
/// when it cannot.
fn prepare(socket: &UdpSocket) -> bool {
    if let Err(e) = socket.set_nonblocking(false) {
        tracing::error!(error = %e, "statsd udp: cannot make the socket blocking; UDP is off");
        return false;
    }
    if let Err(e) = socket.set_read_timeout(Some(POLL_SHUTDOWN)) {
        tracing::error!(error = %e, "statsd udp: cannot set a receive timeout; UDP is off");
        return false;
    }
    true
}

#[cfg(test)]
mod tests;
