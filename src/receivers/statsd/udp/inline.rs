//! A receive thread that parses what it receives (`statsd.udp_receive_threads` > 0): `recvmmsg`
//! into its slots, then the thread's own [`Worker`] reads the datagrams where they lie. No copy,
//! no queue, no second thread woken per batch: on one core that is the cheaper path, and with one
//! such thread per core (one `SO_REUSEPORT` socket each) the kernel spreads senders over them.
//!
//! The kernel keeps one sender (its address and port) on one socket of the group, so one thread
//! sees all of a sender's datagrams, in order: its gauge updates stay ordered. The socket's
//! receive buffer is the only queue; what overflows it the kernel drops, counted in
//! `meterd_statsd_packets_dropped_total{reason="receive_buffer"}` (the count rides on the next
//! datagram that gets through).

use super::super::ingest::Worker;
use super::super::listener::{count_dropped, FLUSH_INTERVAL};
use super::{prepare, Slots, POLL_SHUTDOWN};
use crate::pipeline::Pipeline;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub(in crate::receivers::statsd) struct Inline {
    pub socket: UdpSocket,
    pub pipeline: Arc<Pipeline>,
    pub shutdown: watch::Receiver<bool>,
}

impl Inline {
    /// Runs until shutdown; blocking (a thread of its own).
    pub(in crate::receivers::statsd) fn run(self) {
        if !prepare(&self.socket) {
            return;
        }
        let mut slots = Slots::new(&self.socket);
        let mut worker = Worker::default();
        // Values merged but not yet in the store: the receive must wake in time to flush them.
        let mut pending = false;
        let mut timeout = POLL_SHUTDOWN;
        let mut last_flush = Instant::now();
        while !*self.shutdown.borrow() {
            let received = slots.receive(&self.socket);
            if received > 0 {
                worker.udp_datagrams(
                    &self.pipeline,
                    slots.datagrams(),
                    crate::clock::unix_nanos(),
                );
                pending = true;
            }
            count_dropped(&self.pipeline, "receive_buffer", slots.take_kernel_drops());
            if pending && last_flush.elapsed() >= FLUSH_INTERVAL {
                worker.flush(&self.pipeline);
                pending = false;
                last_flush = Instant::now();
            }
            // Idle, wake only to look for shutdown; with values pending, within the interval.
            let want = if pending {
                FLUSH_INTERVAL
                    .saturating_sub(last_flush.elapsed())
                    .max(Duration::from_millis(1))
            } else {
                POLL_SHUTDOWN
            };
            // Changed only when it matters: under load, once per flush rather than per batch.
            if pending != (timeout < POLL_SHUTDOWN) {
                match self.socket.set_read_timeout(Some(want)) {
                    Ok(()) => timeout = want,
                    Err(e) => tracing::debug!(error = %e, "statsd udp: cannot set the timeout"),
                }
            }
        }
        worker.flush(&self.pipeline);
    }
}

#[cfg(test)]
mod tests;
