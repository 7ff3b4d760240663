//! Serves an axum router over admitted connections with hyper's HTTP/1 connection directly
//! (`axum::serve` sets no timer, so it has no header timeout): each connection gets the header
//! read timeout, marks its requests busy for the gate, and drains on shutdown.

use super::{ConnState, Gate};
use crate::tls::serve::Peer;
use axum::extract::ConnectInfo;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// hyper's own header timer also covers each later request on a kept-alive connection; it runs a
/// little longer than the gate's, so the first request's deadline is the counted one.
const HYPER_HEADER_SLACK: Duration = Duration::from_secs(1);

/// One admitted connection ready for HTTP: the stream (plain or TLS over a [`super::Guarded`]),
/// its state in the gate, the client address.
pub type Conn<IO> = (IO, Arc<ConnState>, SocketAddr);

/// Accepts on `listener` through `gate` into a channel until shutdown (plain TCP).
pub fn accept_plain(
    listener: tokio::net::TcpListener,
    gate: Arc<Gate>,
    mut shutdown: watch::Receiver<bool>,
) -> mpsc::Receiver<Conn<super::Guarded<tokio::net::TcpStream>>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (io, peer) = tokio::select! {
                c = gate.accept(&listener) => c,
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let state = io.handle();
            if tx.send((io, state, peer)).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// Serves `app` on every connection from `incoming` until `shutdown`, then lets requests in
/// progress finish.
pub async fn serve<IO>(
    mut incoming: mpsc::Receiver<Conn<IO>>,
    app: axum::Router,
    gate: Arc<Gate>,
    mut shutdown: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        let (io, state, peer) = tokio::select! {
            c = incoming.recv() => match c { Some(c) => c, None => break },
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let header = (gate.limits)().header_timeout;
        conns.spawn(connection(
            io,
            state,
            peer,
            app.clone(),
            header,
            shutdown.clone(),
        ));
    }
    while conns.join_next().await.is_some() {}
}

async fn connection<IO>(
    io: IO,
    state: Arc<ConnState>,
    peer: SocketAddr,
    app: axum::Router,
    header_timeout: Option<Duration>,
    mut shutdown: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = state.begin_request();
        let mut req = req.map(|b| WatchedBody::new(b, &state));
        req.extensions_mut().insert(ConnectInfo(Peer(peer)));
        let app = app.clone();
        async move {
            let resp = app.oneshot(req).await;
            drop(busy);
            resp
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout.map(|t| t + HYPER_HEADER_SLACK));
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Clients hanging up, timeouts and evictions (already counted) are routine.
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// A request body that tells the gate while it is still arriving (see `ConnState::awaiting_body`).
struct WatchedBody {
    inner: Incoming,
    state: Option<Arc<ConnState>>,
}

impl WatchedBody {
    fn new(inner: Incoming, state: &Arc<ConnState>) -> WatchedBody {
        let state = (!inner.is_end_stream()).then(|| {
            state.awaiting_body.fetch_add(1, Ordering::Relaxed);
            state.clone()
        });
        WatchedBody { inner, state }
    }

    fn done(&mut self) {
        if let Some(s) = self.state.take() {
            s.awaiting_body.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        self.done();
    }
}

impl Body for WatchedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(r, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) || this.inner.is_end_stream()
        {
            this.done();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
