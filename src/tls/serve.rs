//! Serving over TLS: one task accepts TCP connections and hands each to its own handshake task (a
//! slow or silent client must not stall the accept loop); finished handshakes reach the server
//! through a channel, as an axum [`Listener`](axum::serve::Listener) or a tonic incoming stream.

use crate::store::Store;
use crate::telemetry;
use crate::telemetry::catalogue;
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

pub type Conn = (TlsStream<TcpStream>, SocketAddr);

/// Starts the accept loop on `listener`; handshaken connections come out of the returned channel
/// until `shutdown` turns true.
pub fn accept(
    listener: TcpListener,
    config: Arc<ArcSwap<ServerConfig>>,
    name: &'static str,
    store: Arc<Store>,
    mut shutdown: watch::Receiver<bool>,
) -> mpsc::Receiver<Conn> {
    let (tx, rx) = mpsc::channel(64);
    let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let (tcp, peer) = match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
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
                        let _ = tx.send((tls, peer)).await;
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
        &catalogue::TLS_HANDSHAKE_FAILURES,
        &[("listener", listener), ("reason", reason)],
        1.0,
    );
}

/// The client address of a connection, plain or TLS, for handlers (`ConnectInfo<Peer>`).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Listener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Handshaken connections as an axum listener.
pub struct Listener {
    rx: mpsc::Receiver<Conn>,
    local: SocketAddr,
}

impl Listener {
    pub fn new(rx: mpsc::Receiver<Conn>, local: SocketAddr) -> Listener {
        Listener { rx, local }
    }
}

impl axum::serve::Listener for Listener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop stopped (shutdown): the server's graceful shutdown ends it.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// A handshaken connection as tonic wants it (tonic's own impl needs its TLS feature, which would
/// tie meterd to tonic's rustls setup and pin it to static certificates).
pub struct GrpcIo(pub TlsStream<TcpStream>);

impl tonic::transport::server::Connected for GrpcIo {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
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
    tokio_stream::wrappers::ReceiverStream::new(rx).map(|(tls, _)| Ok(GrpcIo(tls)))
}
