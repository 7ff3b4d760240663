//! StatsD over TCP at its edges: partial last lines, over-long lines, the connection cap and the
//! idle timeout, over real sockets.

use crate::support::agent::Agent;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(agent: &Agent) -> TcpStream {
    let s = TcpStream::connect(agent.addrs().statsd_tcp.expect("statsd tcp")).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

/// Blocks until the server closes the connection; panics if it does not within the read timeout.
fn assert_closed_by_server(mut s: TcpStream) {
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to close the connection, got {other:?}"),
    }
}

#[test]
fn last_line_without_newline_is_ingested_at_eof() {
    let agent = Agent::start("");
    agent.send_tcp("tcp.a:1|c\ntcp.b:2|c");
    agent.wait_metric("tcp_a_total", 1.0);
    agent.wait_metric("tcp_b_total", 2.0);
}

#[test]
fn over_long_line_is_counted_and_skipped_up_to_its_newline() {
    let agent = Agent::start("limits:\n  max_line_bytes: 100\n");
    let mut s = connect(&agent);
    s.write_all(b"tcp.before:1|c\n").expect("write");
    // The long line arrives in pieces: the skip must carry across reads.
    s.write_all(&[b'y'; 300]).expect("write");
    s.flush().expect("flush");
    agent.wait_metric("tcp_before_total", 1.0);
    s.write_all(&[b'y'; 300]).expect("write");
    s.write_all(b":1|c\ntcp.after:1|c\n").expect("write");
    drop(s);
    agent.wait_metric("tcp_after_total", 1.0);
    agent.wait_metric("meterd_statsd_errors_total{reason=\"line_too_long\"}", 1.0);
    assert!(!agent.scrape(None).contains("yyyy"));
}

#[test]
fn connections_over_the_cap_are_closed_and_counted_while_every_one_is_active() {
    let agent = Agent::start("limits:\n  statsd_tcp_max_connections: 1\n");
    let mut first = connect(&agent);
    first.write_all(b"tcp.first:1|c\n").expect("write");
    first.flush().expect("flush");
    agent.wait_metric("meterd_statsd_tcp_connections_open", 1.0);
    // A connection that keeps sending is never idle, so nothing can make room for a new one.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, mut first) = (stop.clone(), first.try_clone().expect("clone"));
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                first.write_all(b"tcp.busy:1|c\n").expect("write");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    assert_closed_by_server(connect(&agent));
    agent.wait_metric(
        "meterd_statsd_tcp_connections_closed_total{reason=\"connection_limit\"}",
        1.0,
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().expect("writer");
    // The connection inside the cap keeps working.
    first.write_all(b"tcp.first:1|c\n").expect("write");
    agent.wait_metric("tcp_first_total", 2.0);
}

#[test]
fn idle_connections_are_closed_and_counted() {
    let agent = Agent::start("limits:\n  statsd_tcp_idle_timeout: 300ms\n");
    let s = connect(&agent);
    assert_closed_by_server(s);
    agent.wait_metric(
        "meterd_statsd_tcp_connections_closed_total{reason=\"idle_timeout\"}",
        1.0,
    );
    agent.wait_metric("meterd_statsd_tcp_connections_open", 0.0);
}
