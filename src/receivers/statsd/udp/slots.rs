//! The `recvmmsg` slots of a receive thread, and the kernel's count of datagrams its socket
//! dropped.
//!
//! The slots are one allocation of 32 x 64 KiB made at start. It costs no resident memory until
//! datagrams are written to it: malloc maps an allocation this large fresh, and untouched pages
//! are not resident (measured: 4 KiB of the 2 MiB at idle). Smaller starts measured worse: one
//! 64 KiB slot, and even 4 slots (256 KiB), came from malloc's heap, which zeroes them, so they
//! were resident from the first moment (+50 to +140 KB idle RSS; BENCHMARKS.md, "StatsD on two
//! cores").

use nix::sys::socket::{
    recvmmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage,
};
use std::io::IoSliceMut;
use std::os::fd::AsFd;

/// Largest UDP payload: a slot never truncates a datagram.
pub(super) const MAX_DATAGRAM: usize = 65_535;
/// Most datagrams per `recvmmsg` call.
pub(super) const RECV_BATCH: usize = 32;

pub(super) struct Slots {
    /// `slots` x [`MAX_DATAGRAM`] bytes.
    buffer: Vec<u8>,
    headers: MultiHeaders<SockaddrStorage>,
    slots: usize,
    /// Per datagram of the last call: its length and its sender.
    received: Vec<(usize, Option<SockaddrStorage>)>,
    /// `SO_RXQ_OVFL` is on: each datagram carries the socket's drop count.
    count_drops: bool,
    /// The highest drop count seen; what was published of it.
    drops_seen: u32,
    drops_published: u32,
}

impl Slots {
    /// Slots for `socket`; asks the kernel for its drop count where it can (a socket that
    /// refuses only loses the count, not datagrams).
    pub(super) fn new(socket: &impl AsFd) -> Self {
        let count_drops = match setsockopt(socket, sockopt::RxqOvfl, &1) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "statsd udp: no SO_RXQ_OVFL; kernel drops are not counted");
                false
            }
        };
        Self::with_slots(RECV_BATCH, count_drops)
    }

    fn with_slots(slots: usize, count_drops: bool) -> Self {
        let cmsg = count_drops.then(|| nix::cmsg_space!(u32));
        Slots {
            buffer: vec![0u8; slots * MAX_DATAGRAM],
            headers: MultiHeaders::preallocate(slots, cmsg),
            slots,
            received: Vec::with_capacity(slots),
            count_drops,
            drops_seen: 0,
            drops_published: 0,
        }
    }

    /// Waits for a datagram (up to the socket's read timeout), takes those already queued behind
    /// it, and returns how many there are. Transient errors (a timeout, `EINTR`, `ENOMEM`) return
    /// 0 datagrams; only the caller's shutdown check ends a receive loop.
    pub(super) fn receive(&mut self, socket: &impl AsFd) -> usize {
        // The kernel writes back how much control data each header got (none, mostly), and nix
        // does not restore the room for the next call: without fresh headers the drop count
        // would stop arriving after the first batch.
        if self.count_drops && !self.received.is_empty() {
            self.headers = MultiHeaders::preallocate(self.slots, Some(nix::cmsg_space!(u32)));
        }
        self.received.clear();
        let mut iov: Vec<[IoSliceMut<'_>; 1]> = self
            .buffer
            .chunks_mut(MAX_DATAGRAM)
            .map(|s| [IoSliceMut::new(s)])
            .collect();
        let fd = socket.as_fd();
        use std::os::fd::AsRawFd;
        // WAITFORONE: block for the first datagram, then take what is already there.
        match recvmmsg(
            fd.as_raw_fd(),
            &mut self.headers,
            iov.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        ) {
            Ok(msgs) => {
                for m in msgs {
                    if self.count_drops {
                        for c in m.cmsgs().into_iter().flatten() {
                            if let ControlMessageOwned::RxqOvfl(n) = c {
                                // Cumulative per socket; wraps at 2^32 like the kernel's count.
                                if n.wrapping_sub(self.drops_seen) < u32::MAX / 2 {
                                    self.drops_seen = n;
                                }
                            }
                        }
                    }
                    self.received.push((m.bytes.min(MAX_DATAGRAM), m.address));
                }
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            // Transient (ENOMEM and the like): they do not end the listener, and a short pause
            // keeps a persistent one from spinning a core.
            Err(e) => {
                tracing::debug!(error = %e, "statsd udp receive error");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        self.received.len()
    }

    /// Datagram `i` of the last call (empty past the end).
    pub(super) fn datagram(&self, i: usize) -> &[u8] {
        let len = self.received.get(i).map_or(0, |r| r.0);
        let start = i * MAX_DATAGRAM;
        self.buffer.get(start..start + len).unwrap_or_default()
    }

    /// The sender of datagram `i` of the last call.
    pub(super) fn sender(&self, i: usize) -> Option<&SockaddrStorage> {
        self.received.get(i).and_then(|r| r.1.as_ref())
    }

    /// The datagrams of the last call.
    pub(super) fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.received.len()).map(|i| self.datagram(i))
    }

    /// Whether the last call filled every slot (the socket may hold more).
    pub(super) fn was_full(&self) -> bool {
        self.received.len() == self.slots
    }

    /// Datagrams the kernel dropped at this socket (its receive buffer full) since the last call,
    /// as far as the datagrams received since then tell: the count rides on each datagram.
    pub(super) fn take_kernel_drops(&mut self) -> u64 {
        let n = self.drops_seen.wrapping_sub(self.drops_published);
        self.drops_published = self.drops_seen;
        u64::from(n)
    }

    #[cfg(test)]
    fn slots(&self) -> usize {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    fn socket() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        s
    }

    #[test]
    fn a_burst_is_taken_a_batch_at_a_time_in_order() {
        let s = socket();
        let mut slots = Slots::new(&s);
        assert_eq!(slots.slots(), RECV_BATCH);
        let c = UdpSocket::bind("127.0.0.1:0").expect("client");
        for n in 0..100u32 {
            c.send_to(n.to_string().as_bytes(), s.local_addr().expect("addr"))
                .expect("send");
        }
        let mut got = Vec::new();
        let mut calls = 0;
        while got.len() < 100 {
            let n = slots.receive(&s);
            assert!(n > 0, "datagrams lost: {} of 100", got.len());
            calls += 1;
            got.extend(
                slots
                    .datagrams()
                    .map(|d| String::from_utf8_lossy(d).into_owned()),
            );
        }
        assert_eq!(got, (0..100).map(|n| n.to_string()).collect::<Vec<_>>());
        assert!(calls >= 100 / RECV_BATCH, "{calls} calls");
    }

    #[test]
    fn the_largest_datagram_arrives_whole_in_any_slot() {
        let s = socket();
        let mut slots = Slots::new(&s);
        let c = UdpSocket::bind("127.0.0.1:0").expect("client");
        let large = vec![b'x'; 65_507]; // the largest IPv4 UDP payload
        for _ in 0..3 {
            c.send_to(&large, s.local_addr().expect("addr"))
                .expect("send");
        }
        let mut n = 0;
        while n < 3 {
            assert!(slots.receive(&s) > 0);
            for d in slots.datagrams() {
                assert_eq!(d, &large[..]);
                n += 1;
            }
        }
    }

    #[test]
    fn datagrams_the_kernel_dropped_are_counted_with_the_next_one_received() {
        let s = socket();
        let mut slots = Slots::new(&s);
        let c = UdpSocket::bind("127.0.0.1:0").expect("client");
        let addr = s.local_addr().expect("addr");
        let payload = [b'a'; 1000];
        // Datagrams without a drop count first, through every slot: the room for the count must
        // survive calls that did not use it.
        for round in 0..3 {
            for _ in 0..RECV_BATCH {
                c.send_to(b"x", addr).expect("send");
            }
            let mut n = 0;
            while n < RECV_BATCH {
                let got = slots.receive(&s);
                assert!(got > 0, "round {round}: {n} of {RECV_BATCH}");
                n += got;
            }
            assert_eq!(slots.take_kernel_drops(), 0);
        }
        socket2::SockRef::from(&s)
            .set_recv_buffer_size(4096)
            .expect("rcvbuf");
        // Nobody reads: the small buffer fills and the kernel drops the rest.
        for _ in 0..200 {
            c.send_to(&payload, addr).expect("send");
        }
        let mut received = 0;
        let mut drops = 0;
        loop {
            let n = slots.receive(&s);
            drops += slots.take_kernel_drops();
            if n == 0 {
                break;
            }
            received += n;
        }
        assert!(received > 0 && received < 200, "received {received}");
        // The count rides on a datagram queued after the drops.
        c.send_to(b"after", addr).expect("send");
        assert_eq!(slots.receive(&s), 1);
        drops += slots.take_kernel_drops();
        assert_eq!(
            received as u64 + drops,
            200,
            "received {received}, dropped {drops}"
        );
        assert_eq!(slots.take_kernel_drops(), 0, "published once");
    }
}
