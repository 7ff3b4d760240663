//! An admitted connection: its reads and writes fail once its deadline passes or the gate evicts
//! it. The deadline is checked only while the owner waits on the socket (a read or write that is
//! pending), so a handler working on a request is never cut off by it.

use super::{ConnLimits, ConnState, Gate};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::futures::OwnedNotified;
use tokio::time::{Instant, Sleep};

/// Far enough to mean "never" for a connection, near enough not to overflow `Instant`.
const NEVER: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 86_400);

pub struct Guarded<IO> {
    io: IO,
    gate: Arc<Gate>,
    state: Arc<ConnState>,
    limits: ConnLimits,
    bytes_read: usize,
    evicted: Pin<Box<OwnedNotified>>,
    /// Made on the first wait (admission may happen outside a runtime).
    timer: Option<Pin<Box<Sleep>>>,
    /// Why meterd closed it, once it did.
    closed: Option<&'static str>,
}

impl<IO> Guarded<IO> {
    pub(super) fn new(io: IO, gate: Arc<Gate>, state: Arc<ConnState>, limits: ConnLimits) -> Self {
        let evicted = Box::pin(state.evict.clone().notified_owned());
        Guarded {
            io,
            gate,
            state,
            limits,
            bytes_read: 0,
            evicted,
            timer: None,
            closed: None,
        }
    }

    /// The connection's state, for marking requests (HTTP) as they begin.
    pub fn handle(&self) -> Arc<ConnState> {
        self.state.clone()
    }

    /// Why meterd closed it (`evicted`, `header_timeout`, `idle_timeout`), if it did.
    pub fn closed_reason(&self) -> Option<&'static str> {
        self.closed
    }

    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    fn deadline(&self) -> (Instant, &'static str) {
        let s = &self.state;
        if s.served.load(Ordering::Relaxed) {
            let idle = self.limits.idle_timeout.unwrap_or(NEVER);
            (s.last_active() + idle, "idle_timeout")
        } else {
            let header = self.limits.header_timeout.unwrap_or(NEVER);
            (s.opened + header, "header_timeout")
        }
    }

    fn close(&mut self, reason: &'static str) -> io::Error {
        if self.closed.is_none() {
            self.closed = Some(reason);
            // An evicted connection was counted by the gate when it chose it.
            if reason != "evicted" {
                self.gate.closed(reason);
            }
        }
        let kind = if reason == "evicted" {
            io::ErrorKind::ConnectionAborted
        } else {
            io::ErrorKind::TimedOut
        };
        io::Error::new(kind, format!("connection closed by meterd: {reason}"))
    }

    /// Called while the socket is pending: fails it if evicted or past its deadline, otherwise
    /// arranges to be woken at the deadline.
    fn check(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if let Some(r) = self.closed {
            return Some(self.close(r));
        }
        if self.evicted.as_mut().poll(cx).is_ready() {
            return Some(self.close("evicted"));
        }
        loop {
            let (due, reason) = self.deadline();
            if Instant::now() >= due {
                return Some(self.close(reason));
            }
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            if timer.deadline() != due {
                timer.as_mut().reset(due);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return None;
            }
        }
    }

    fn read_some(&mut self, n: usize) {
        self.bytes_read = self.bytes_read.saturating_add(n);
        if self.bytes_read >= self.limits.served_after_bytes {
            self.state.served.store(true, Ordering::Relaxed);
        }
        self.state.touch();
    }
}

impl<IO> Drop for Guarded<IO> {
    fn drop(&mut self) {
        self.gate.release(self.state.id);
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(r) = this.closed {
            return Poll::Ready(Err(this.close(r)));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len().saturating_sub(before);
                if n > 0 {
                    this.read_some(n);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.check(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> Guarded<IO> {
    /// One write (plain or vectored) under the guard: refused once the connection was closed by
    /// a limit, counted as activity when it moves bytes, and checked against the limits while it
    /// waits: a client that stops reading its response must not hold the connection forever.
    fn guard_write(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut IO>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if let Some(r) = self.closed {
            return Poll::Ready(Err(self.close(r)));
        }
        match write(Pin::new(&mut self.io), cx) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.state.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.check(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .guard_write(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .guard_write(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// tonic puts this in every request's extensions, so the gRPC service can mark its requests busy.
impl tonic::transport::server::Connected for Guarded<tokio::net::TcpStream> {
    type ConnectInfo = Arc<ConnState>;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.handle()
    }
}
