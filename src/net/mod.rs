//! The network edge shared by every listener: binding sockets (so a bad address fails start-up
//! naming its listener), serving an HTTP app over plain TCP or TLS, and request authentication
//! ([`auth`]) for the scrape endpoint, the API and OTLP/HTTP alike.

pub mod auth;

use crate::store::Store;
use crate::tls::serve::Peer;
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

/// Serves an axum app until `shutdown`, with the client address available to handlers (the admin
/// audit log records it).
async fn serve_http<L>(
    listener: L,
    app: axum::Router,
    mut shutdown: watch::Receiver<bool>,
    what: &'static str,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
    Peer: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let app = app.into_make_service_with_connect_info::<Peer>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = shutdown.wait_for(|s| *s).await;
    });
    if let Err(e) = serve.await {
        tracing::error!(error = %e, "{what} server failed");
    }
}

/// Serves `app` on `listener`, over TLS when `tls` is set.
pub fn spawn_http(
    tasks: &mut JoinSet<()>,
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<Arc<arc_swap::ArcSwap<rustls::ServerConfig>>>,
    (name, store): (&'static str, Arc<Store>),
    shutdown: &watch::Receiver<bool>,
) {
    let shutdown = shutdown.clone();
    match (tls, listener.local_addr()) {
        (Some(config), Ok(local)) => {
            let rx = crate::tls::serve::accept(listener, config, name, store, shutdown.clone());
            let listener = crate::tls::serve::Listener::new(rx, local);
            tasks.spawn(serve_http(listener, app, shutdown, name));
        }
        _ => {
            tasks.spawn(serve_http(listener, app, shutdown, name));
        }
    }
}
