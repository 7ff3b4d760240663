//! Starts the ingest listeners on sockets bound by `app` (so tests can bind port 0).

use crate::pipeline::Pipeline;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Sockets {
    pub statsd_udp: Option<tokio::net::UdpSocket>,
    pub statsd_tcp: Option<tokio::net::TcpListener>,
    pub otlp_grpc: Option<tokio::net::TcpListener>,
    pub otlp_http: Option<tokio::net::TcpListener>,
}

pub fn spawn(
    _tasks: &mut JoinSet<()>,
    _pipeline: &Arc<Pipeline>,
    _shutdown: &watch::Receiver<bool>,
    _sockets: Sockets,
) {
    crate::statsd::spawn(
        _tasks,
        _pipeline,
        _shutdown,
        _sockets.statsd_udp,
        _sockets.statsd_tcp,
    );
}
