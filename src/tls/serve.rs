//! Serving over TLS: connections accepted (and admitted under the listener's connection limits) by
//! the network edge arrive through a channel; each gets its own handshake task (a slow or silent
//! client must not stall the others), and finished handshakes leave through another channel, to
//! the HTTP server or as a tonic incoming stream. `T` is whatever the edge attaches to a
//! connection (its state under the limits); it travels along untouched.

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
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once per listener; connections beyond are closed at once.
const MAX_HANDSHAKES: usize = 256;

/// A connection, whatever the edge attached to it, and the client address.
pub type Conn<IO, T> = (IO, T, SocketAddr);

/// Handshakes every connection from `incoming` until `shutdown` turns true; handshaken ones come
/// out of the returned channel.
pub fn accept<IO, T>(
    mut incoming: mpsc::Receiver<Conn<IO, T>>,
    config: Arc<ArcSwap<ServerConfig>>,
    (name, store): (&'static str, Arc<Store>),
    mut shutdown: watch::Receiver<bool>,
) -> mpsc::Receiver<Conn<TlsStream<IO>, T>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let (tcp, extra, peer) = tokio::select! {
                c = incoming.recv() => match c { Some(c) => c, None => break },
                _ = shutdown.wait_for(|s| *s) => break,
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
                        let _ = tx.send((tls, extra, peer)).await;
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

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A handshaken connection as tonic wants it (tonic's own impl needs its TLS feature, which would
/// tie meterd to tonic's rustls setup and pin it to static certificates). Its connect info is what the edge attached to the connection (tonic puts it in every request's
/// extensions).
pub struct GrpcIo<IO, T>(pub TlsStream<IO>, pub T);

impl<IO, T> tonic::transport::server::Connected for GrpcIo<IO, T>
where
    T: Clone + Send + Sync + 'static,
{
    type ConnectInfo = T;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.1.clone()
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin, T: Unpin> AsyncRead for GrpcIo<IO, T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin, T: Unpin> AsyncWrite for GrpcIo<IO, T> {
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
pub fn grpc_incoming<IO, T>(
    rx: mpsc::Receiver<Conn<TlsStream<IO>, T>>,
) -> impl tokio_stream::Stream<Item = Result<GrpcIo<IO, T>, io::Error>>
where
    IO: Send + 'static,
    T: Send + 'static,
{
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::ReceiverStream::new(rx).map(|(tls, extra, _)| Ok(GrpcIo(tls, extra)))
}
