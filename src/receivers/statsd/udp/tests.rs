use super::*;
use crate::config::Config;
use crate::model::Labels;
use crate::pipeline::Snapshot;
use crate::store::Store;
use tokio::sync::mpsc;

struct Running {
    addr: std::net::SocketAddr,
    pipeline: Arc<Pipeline>,
    pool: Arc<Pool>,
    stop: watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

/// A receiver on a free port whose workers are the returned channels (nobody reads them).
fn start(
    workers: usize,
    slots: usize,
    max_queued_packets: usize,
) -> (Running, Vec<mpsc::Receiver<Batch>>) {
    let pipeline = Arc::new(Pipeline::new(
        Arc::new(Store::default()),
        Snapshot::try_new(Arc::new(Config::default())).expect("valid config"),
    ));
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::channel(slots)).unzip();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("addr");
    let (stop, shutdown) = watch::channel(false);
    let pool = Arc::new(Pool::default());
    let receiver = Receiver {
        socket,
        queue: Arc::new(Queue::new(senders)),
        pool: pool.clone(),
        pipeline: pipeline.clone(),
        shutdown,
        max_queued_packets,
    };
    let thread = std::thread::spawn(move || receiver.run());
    let running = Running {
        addr,
        pipeline,
        pool,
        stop,
        thread,
    };
    (running, receivers)
}

impl Running {
    fn dropped(&self) -> Option<f64> {
        self.pipeline.store().value(
            "meterd_statsd_packets_dropped",
            &Labels::new([("reason", "queue_full")]),
        )
    }

    fn wait_dropped(&self, want: f64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.dropped() != Some(want) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(self.dropped(), Some(want));
    }

    fn queued(&self) -> usize {
        self.pool.queued_packets.load(Ordering::Relaxed)
    }

    fn wait_queued(&self, want: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.queued() != want && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(self.queued(), want);
    }

    fn stop(self) {
        let _ = self.stop.send(true);
        self.thread.join().expect("receiver ends on shutdown");
    }
}

fn client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind")
}

/// Everything queued so far on one worker's channel: the bytes and the datagram count.
fn drain(rx: &mut mpsc::Receiver<Batch>) -> (String, usize) {
    let (mut text, mut packets) = (String::new(), 0);
    while let Ok(b) = rx.try_recv() {
        assert_eq!(b.transport, Transport::Udp);
        text.push_str(&String::from_utf8_lossy(&b.data));
        packets += b.packets;
    }
    (text, packets)
}

#[test]
fn a_full_worker_queue_drops_and_counts_datagrams() {
    // One slot and nobody reading it: the first datagram fills the queue, the rest drop.
    let (r, _rx) = start(1, 1, 1000);
    let c = client();
    c.send_to(b"a:1|c", r.addr).expect("send");
    r.wait_queued(1);
    c.send_to(b"a:1|c", r.addr).expect("send");
    c.send_to(b"a:1|c", r.addr).expect("send");
    r.wait_dropped(2.0);
    assert_eq!(r.queued(), 1, "dropped datagrams are no longer waiting");
    r.stop();
}

#[test]
fn past_the_packet_bound_datagrams_drop_even_with_queue_slots_free() {
    let (r, _rx) = start(1, 100, 2);
    let c = client();
    for n in 1..=2 {
        c.send_to(b"a:1|c", r.addr).expect("send");
        r.wait_queued(n);
    }
    c.send_to(b"a:1|c", r.addr).expect("send");
    r.wait_dropped(1.0);
    assert_eq!(r.queued(), 2);
    r.stop();
}

#[test]
fn datagrams_are_packed_whole_with_a_newline_between_them() {
    let (r, mut rx) = start(1, 100, 1000);
    let c = client();
    // No trailing newline, a trailing newline, several lines: each line must arrive intact.
    for d in ["a:1|c", "b:2|c\n", "c:3|g\nd:4|ms"] {
        c.send_to(d.as_bytes(), r.addr).expect("send");
    }
    r.wait_queued(3);
    let (text, packets) = drain(&mut rx[0]);
    assert_eq!(text, "a:1|c\nb:2|c\nc:3|g\nd:4|ms\n");
    assert_eq!(packets, 3);
    r.stop();
}

#[test]
fn one_senders_datagrams_go_to_one_worker_in_order() {
    let (r, mut rx) = start(4, 1000, 10_000);
    let senders: Vec<UdpSocket> = (0..8).map(|_| client()).collect();
    for n in 0..50 {
        for (s, sock) in senders.iter().enumerate() {
            sock.send_to(format!("s{s}:{n}|g").as_bytes(), r.addr)
                .expect("send");
        }
        // Paced, so the socket's default receive buffer never overflows.
        r.wait_queued((n + 1) * senders.len());
    }
    let mut seen = vec![Vec::new(); senders.len()];
    for worker in &mut rx {
        let (text, _) = drain(worker);
        let mut here = std::collections::BTreeSet::new();
        for line in text.lines() {
            let (name, rest) = line.split_once(':').expect("name");
            let s: usize = name[1..].parse().expect("sender");
            let n: u32 = rest.trim_end_matches("|g").parse().expect("value");
            here.insert(s);
            seen[s].push(n);
        }
        // A sender found on this worker is found on no other (ordering needs one worker each).
        for s in here {
            assert_eq!(seen[s].len(), 50, "sender {s} split across workers");
        }
    }
    for (s, values) in seen.iter().enumerate() {
        assert_eq!(
            *values,
            (0..50).collect::<Vec<u32>>(),
            "sender {s} out of order"
        );
    }
    r.stop();
}

#[test]
fn a_hand_off_never_outgrows_its_buffer_but_a_large_datagram_arrives_whole() {
    let (r, mut rx) = start(1, 100, 1000);
    let c = client();
    let small = "a:1|c\n".repeat(1000); // 6,000 bytes
    let large = "b:2|c\n".repeat(7000); // 42,000 bytes: more than a buffer holds
    let mut sent = String::new();
    for d in std::iter::repeat_n(&small, 9).chain([&large, &small]) {
        c.send_to(d.as_bytes(), r.addr).expect("send");
        sent.push_str(d);
    }
    r.wait_queued(11);
    let mut got = String::new();
    while let Ok(b) = rx[0].try_recv() {
        assert!(
            b.data.len() <= HANDOFF_BYTES || b.packets == 1,
            "{} bytes in {} datagrams",
            b.data.len(),
            b.packets
        );
        got.push_str(&String::from_utf8_lossy(&b.data));
    }
    assert_eq!(got, sent);
    r.stop();
}
