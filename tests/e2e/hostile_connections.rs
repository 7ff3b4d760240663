//! Issue 20, the network half, against the real binary: stalled OTLP/HTTP bodies must not take
//! the concurrency slots gRPC and HTTP ingest need; thousands of half-sent request headers must
//! not exhaust meterd's file descriptors, and `/healthz` and OTLP keep answering through them;
//! StatsD TCP at its cap makes room instead of silently dropping a new client's lines.

use crate::support::agent::{Agent, EPHEMERAL_LISTENERS};
use crate::support::binary::{self, Meterd};
use crate::support::wait_until;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    metrics_service_client::MetricsServiceClient, ExportMetricsServiceRequest,
};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use prost::Message;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

fn gauge_request(name: &str) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            value: Some(number_data_point::Value::AsDouble(1.0)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// meterd under `prlimit --nofile=<nofile>` (soft and hard), so it cannot raise its own limit.
fn start(dir: &tempfile::TempDir, extra_yaml: &str, nofile: u32) -> Meterd {
    let config = dir.path().join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n{extra_yaml}",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={nofile}:{nofile}"))
        .arg(binary::exe())
        .args(binary::args(&config));
    Meterd::spawn(cmd)
}

fn http_export(m: &Meterd, name: &str) -> (u16, String) {
    let resp = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/metrics", m.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(gauge_request(name).encode_to_vec())
        .timeout(Duration::from_secs(10))
        .send()
        .unwrap_or_else(|e| panic!("OTLP/HTTP export {name}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().unwrap_or_default())
}

fn grpc_export(addr: SocketAddr, name: &str) -> Result<(), tonic::Status> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut client = MetricsServiceClient::connect(format!("http://{addr}"))
            .await
            .map_err(|e| tonic::Status::unavailable(format!("connect: {e}")))?;
        let mut req = tonic::Request::new(gauge_request(name));
        req.set_timeout(Duration::from_secs(10));
        client.export(req).await.map(|_| ())
    })
}

/// An OTLP/HTTP request whose headers promise 1,000 body bytes and whose body stops after 10.
fn stalled_body(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(
        b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\
          Content-Length: 1000\r\n\r\n0123456789",
    )
    .expect("write");
    s
}

#[test]
fn stalled_otlp_http_bodies_do_not_refuse_grpc_or_http_ingest() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Defaults: 16 concurrency slots shared by both transports.
    let m = start(&dir, "", 4096);
    let stalled: Vec<TcpStream> = (0..24).map(|_| stalled_body(m.otlp_http)).collect();
    // Every staller's headers are parsed long before this: on the old code each then held a slot.
    std::thread::sleep(Duration::from_millis(500));
    for round in 0..5 {
        let name = format!("while_stalled_http_{round}");
        let (status, body) = http_export(&m, &name);
        assert_eq!(
            status, 200,
            "OTLP/HTTP round {round} with 24 stalled bodies: {body}"
        );
        let name = format!("while_stalled_grpc_{round}");
        grpc_export(m.otlp_grpc, &name)
            .unwrap_or_else(|s| panic!("OTLP/gRPC round {round} with 24 stalled bodies: {s:?}"));
    }
    assert_eq!(m.metric("while_stalled_http_4"), Some(1.0));
    assert_eq!(m.metric("while_stalled_grpc_4"), Some(1.0));
    assert_eq!(
        m.metric(
            r#"meterd_otlp_requests_total{result="overloaded",signal="metrics",transport="grpc"}"#
        ),
        None
    );
    drop(stalled);
}

#[test]
fn stalled_bodies_filling_the_connection_cap_make_room_for_new_senders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&dir, "limits:\n  otlp_http_max_connections: 8\n", 4096);
    let stalled: Vec<TcpStream> = (0..24).map(|_| stalled_body(m.otlp_http)).collect();
    // Longer than the eviction floor: a body that stopped arriving is the client's wait, so its
    // connection is idle and can make room.
    std::thread::sleep(Duration::from_millis(800));
    for round in 0..3 {
        let name = format!("past_the_cap_{round}");
        let (status, body) = http_export(&m, &name);
        assert_eq!(
            status, 200,
            "round {round} with the cap full of stalled bodies: {body}"
        );
    }
    assert!(m
        .metric(r#"meterd_connections_closed_total{listener="otlp_http",reason="evicted"}"#)
        .is_some_and(|n| n >= 1.0));
    drop(stalled);
}

#[test]
fn a_body_past_its_deadline_is_answered_408_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&dir, "limits:\n  otlp_body_timeout: 1s\n", 4096);
    let mut s = stalled_body(m.otlp_http);
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("otlp_body_timeout"), "{answer}");
    assert_eq!(
        m.metric(
            r#"meterd_otlp_requests_total{result="timeout",signal="metrics",transport="http"}"#
        ),
        Some(1.0)
    );
}

/// Raises this test process's own open-file limit so it can hold the flood (the limit under test
/// is meterd's).
fn raise_own_fd_limit(want: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, hard.min(want.max(soft)), hard).expect("setrlimit");
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert!(
        soft >= want,
        "this test needs {want} open files in the test process; `ulimit -n` allows {soft}"
    );
}

const HALF_HEADER: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";

/// Opens `n` connections to `addr` that each send half a request header (for gRPC, part of the
/// HTTP/2 preface) and then nothing. Ones
/// meterd refuses or evicts are simply closed; the rest are held by the returned vector.
fn header_flood(addr: SocketAddr, n: usize, half: &[u8]) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    // A server that stopped accepting leaves connects hanging in a full backlog: give up early.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for _ in 0..n {
        if std::time::Instant::now() > deadline {
            break;
        }
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
            continue;
        };
        if s.write_all(half).is_ok() {
            held.push(s);
        }
    }
    held
}

#[test]
fn a_header_flood_leaves_healthz_and_otlp_answering_within_1024_files() {
    raise_own_fd_limit(8192);
    let dir = tempfile::tempdir().expect("tempdir");
    // The issue's measurement: 1,024 file descriptors, 3,000 half-sent headers; then the ingest
    // ports too.
    let m = start(&dir, "", 1024);
    let flood = header_flood(m.http, 3000, HALF_HEADER);
    let ingest_flood = header_flood(m.otlp_http, 1000, HALF_HEADER);
    let grpc_flood = header_flood(m.otlp_grpc, 1000, b"PRI * HTTP/2.0\r\n");
    assert!(!flood.is_empty());

    let (status, body) = m.get("/healthz");
    assert_eq!(status, 200, "/healthz during the flood: {body}");
    let (status, body) = http_export(&m, "during_flood_http");
    assert_eq!(status, 200, "OTLP/HTTP during the flood: {body}");
    if let Err(s) = grpc_export(m.otlp_grpc, "during_flood_grpc") {
        let (_, metrics) = m.get("/metrics");
        let conns: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("meterd_connections"))
            .collect();
        panic!("OTLP/gRPC during the flood: {s:?}\n{}", conns.join("\n"));
    }
    assert_eq!(m.metric("during_flood_http"), Some(1.0));

    let open = m
        .metric(r#"meterd_connections_open{listener="http"}"#)
        .expect("open gauge");
    assert!(open <= 128.0, "the default cap is 128, {open} open");
    let made_room = m
        .metric(r#"meterd_connections_closed_total{listener="http",reason="evicted"}"#)
        .unwrap_or(0.0)
        + m.metric(
            r#"meterd_connections_rejected_total{listener="http",reason="connection_limit"}"#,
        )
        .unwrap_or(0.0);
    assert!(
        made_room >= 2000.0,
        "{made_room} connections evicted or refused"
    );
    assert!(!m.log().contains("Too many open files"), "{}", m.log());
    assert!(m
        .metric(r#"meterd_connections_open{listener="otlp_grpc"}"#)
        .is_some_and(|n| n <= 128.0));
    drop((flood, ingest_flood, grpc_flood));
}

#[test]
fn half_sent_headers_are_closed_at_the_header_deadline_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&dir, "limits:\n  header_read_timeout: 1s\n", 4096);
    let mut held = header_flood(m.http, 3, HALF_HEADER);
    assert_eq!(held.len(), 3);
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("expected meterd to close a half-sent header, got {other:?}"),
        }
    }
    wait_until("header timeouts counted", Duration::from_secs(10), || {
        (m.metric(r#"meterd_connections_closed_total{listener="http",reason="header_timeout"}"#)
            == Some(3.0))
        .then_some(())
    });
}

#[test]
fn statsd_tcp_at_its_cap_closes_the_idle_connection_to_take_a_new_client() {
    let agent = Agent::start("limits:\n  statsd_tcp_max_connections: 1\n");
    let addr = agent.addrs().statsd_tcp.expect("statsd tcp");
    let mut idle = TcpStream::connect(addr).expect("connect");
    idle.write_all(b"tcp.idle:1|c\n").expect("write");
    agent.wait_metric("tcp_idle_total", 1.0);
    // Idle for longer than meterd's eviction floor.
    std::thread::sleep(Duration::from_millis(800));

    let mut new = TcpStream::connect(addr).expect("connect");
    new.write_all(b"tcp.new:1|c\n").expect("write");
    agent.wait_metric("tcp_new_total", 1.0);
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    match idle.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the idle connection should have been closed, got {other:?}"),
    }
    agent.wait_metric(
        r#"meterd_statsd_tcp_connections_closed_total{reason="evicted"}"#,
        1.0,
    );
    agent.wait_metric(
        r#"meterd_connections_closed_total{listener="statsd_tcp",reason="evicted"}"#,
        1.0,
    );
    agent.wait_metric("meterd_statsd_tcp_connections_open", 1.0);
}

#[test]
fn a_kept_alive_connection_idle_past_idle_timeout_is_closed_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = start(&dir, "limits:\n  idle_timeout: 1s\n", 4096);
    let mut s = TcpStream::connect(m.http).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The answer, then (keep-alive) nothing until meterd closes the idle connection.
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let all = String::from_utf8_lossy(&all);
    assert!(all.starts_with("HTTP/1.1 200"), "{all}");
    wait_until("the idle close counted", Duration::from_secs(10), || {
        (m.metric(r#"meterd_connections_closed_total{listener="http",reason="idle_timeout"}"#)
            == Some(1.0))
        .then_some(())
    });
}
