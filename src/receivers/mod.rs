//! The ingest edges: StatsD and OTLP listeners, started on sockets bound by `app` (so tests can
//! bind port 0), handing what the pure decoders produce to the pipeline.

pub mod otlp;
pub mod statsd;

use crate::pipeline::Pipeline;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Sockets {
    pub statsd_udp: Option<crate::net::udp::UdpSockets>,
    pub statsd_tcp: Option<tokio::net::TcpListener>,
    pub otlp_grpc: Option<tokio::net::TcpListener>,
    pub otlp_http: Option<tokio::net::TcpListener>,
}

pub fn spawn(
    tasks: &mut JoinSet<()>,
    pipeline: &Arc<Pipeline>,
    shutdown: &watch::Receiver<bool>,
    sockets: Sockets,
    tls: &crate::tls::Live,
) {
    statsd::spawn(
        tasks,
        pipeline,
        shutdown,
        sockets.statsd_udp,
        sockets.statsd_tcp,
    );
    otlp::spawn(
        tasks,
        pipeline,
        shutdown,
        sockets.otlp_grpc,
        sockets.otlp_http,
        tls,
    );
}
