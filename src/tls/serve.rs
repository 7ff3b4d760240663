//! Serving over TLS: one task accepts TCP connections and hands each to its own handshake task (a
//! slow or silent client must not stall the accept loop); finished handshakes reach the server
//! through a channel, to the HTTP server (`net_limits::http`) or as a tonic incoming stream.

use crate::net_limits::{Gate, Guarded};
use crate::store::Store;
use crate::telemetry;
use arc_swap::ArcSwap;
use rustls::ServerConfig;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once per listener; connections beyond are closed at once.
const MAX_HANDSHAKES: usize = 256;

pub type Conn = crate::net_limits::http::Conn<TlsStream<Guarded<TcpStream>>>;

/// Starts the accept loop on `listener`; handshaken connections come out of the returned channel
/// until `shutdown` turns true.
pub fn accept(
    listener: TcpListener,
    config: Arc<ArcSwap<ServerConfig>>,
    gate: Arc<Gate>,
    mut shutdown: watch::Receiver<bool>,
) -> mpsc::Receiver<Conn> {
    let (tx, rx) = mpsc::channel(64);
    let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    let (name, store) = (gate.name(), gate.store().clone());
    tokio::spawn(async move {
        loop {
            // The connection cap and its deadlines apply from the first byte of the handshake.
            let (tcp, peer) = tokio::select! {
                c = gate.accept(&listener) => c,
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let state = tcp.handle();
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                failed(&store, name, "too_many_handshakes");
                continue;
            };
            // The config as of this connection: a reload applies to the next handshake.
            let acceptor = tokio_rustls::TlsAcceptor::from(config.load_full());
            let (tx, store) = (tx.clone(), store.clone());
            tokio::spawn(async move {
                let _permit = permit;
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send((tls, state, peer)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(listener = name, %peer, error = %e, "TLS handshake failed");
                        failed(&store, name, "handshake");
                    }
                    Err(_) => failed(&store, name, "timeout"),
                }
            });
        }
    });
    rx
}

fn failed(store: &Store, listener: &'static str, reason: &'static str) {
    telemetry::count(
        store,
        "meterd_tls_handshake_failures",
        "TLS connections dropped before the handshake completed (plain-text or untrusted \
         clients, timeouts, too many handshakes at once), by listener and reason.",
        &[("listener", listener), ("reason", reason)],
        1.0,
    );
}

/// The client address of a connection, plain or TLS, for handlers (`ConnectInfo<Peer>`).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A handshaken connection as tonic wants it (tonic's own impl needs its TLS feature, which would
/// tie meterd to tonic's rustls setup and pin it to static certificates).
pub struct GrpcIo(pub TlsStream<Guarded<TcpStream>>);

impl tonic::transport::server::Connected for GrpcIo {
    type ConnectInfo = Arc<crate::net_limits::ConnState>;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.get_ref().0.handle()
    }
}

impl AsyncRead for GrpcIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for GrpcIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// Handshaken connections as a tonic incoming stream.
pub fn grpc_incoming(
    rx: mpsc::Receiver<Conn>,
) -> impl tokio_stream::Stream<Item = Result<GrpcIo, io::Error>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::ReceiverStream::new(rx).map(|(tls, _, _)| Ok(GrpcIo(tls)))
}
