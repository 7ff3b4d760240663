//! The network edge shared by every listener: binding sockets (so a bad address fails start-up
//! naming its listener), connection limits on every TCP listener ([`limits`]), serving an HTTP app
//! over plain TCP or TLS, and request authentication ([`auth`]) for the scrape endpoint, the API
//! and OTLP/HTTP alike.

pub mod auth;
pub mod client;
pub mod limits;
pub mod udp;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug, thiserror::Error)]
#[error("cannot bind {listener} on {addr}: {source}")]
pub struct BindError {
    pub listener: &'static str,
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Binds `listener`'s address with `bind` (`TcpListener::bind`, `UdpSocket::bind`); `None` when
/// the listener is off.
pub async fn bind<S, F, Fut>(
    listener: &'static str,
    addr: Option<SocketAddr>,
    bind: F,
) -> Result<Option<S>, BindError>
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = std::io::Result<S>>,
{
    let Some(addr) = addr else { return Ok(None) };
    bind(addr).await.map(Some).map_err(|source| BindError {
        listener,
        addr,
        source,
    })
}

/// Serves `app` on `listener`, over TLS when `tls` is set, admitting connections through `gate`
/// (its cap, header and idle deadlines; see [`limits`]).
pub fn spawn_http(
    tasks: &mut JoinSet<()>,
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<Arc<arc_swap::ArcSwap<rustls::ServerConfig>>>,
    gate: Arc<limits::Gate>,
    shutdown: &watch::Receiver<bool>,
) {
    let shutdown = shutdown.clone();
    // The limits apply from the first byte, TLS handshake included.
    let admitted = limits::http::accept_plain(listener, gate.clone(), shutdown.clone());
    match tls {
        Some(config) => {
            let owner = (gate.name(), gate.store().clone());
            let rx = crate::tls::serve::accept(admitted, config, owner, shutdown.clone());
            tasks.spawn(limits::http::serve(rx, app, gate, shutdown));
        }
        None => {
            tasks.spawn(limits::http::serve(admitted, app, gate, shutdown));
        }
    }
}
