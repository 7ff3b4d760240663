//! Connection limits shared by every TCP listener (HTTP endpoint, OTLP/HTTP, OTLP/gRPC, StatsD
//! TCP): a cap on open connections, a deadline for a new connection's request headers and an
//! idle timeout, each counted when it closes something.
//!
//! At the cap a new connection is not simply refused: a half-open flood would then lock out the
//! liveness probe and every honest client. Instead an existing connection makes room: the oldest
//! that never completed a request (what a slowloris client holds), else the one idle longest.
//! Only when every connection is busy or served and active within [`MIN_IDLE_TO_EVICT`] is the
//! newcomer closed.
//!
//! - [`Gate`]: one per listener; admits or evicts, keeps `meterd_connections_open{listener}`.
//! - [`Guarded`]: the admitted socket; enforces the deadlines and eviction from inside its reads
//!   and writes, so it works under hyper, tonic and the StatsD reader alike.
//! - [`http`]: serves an axum router over guarded connections with hyper's header timeout.

pub mod http;
mod io;

pub use io::Guarded;

use crate::store::Store;
use crate::telemetry;
use crate::telemetry::catalogue;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;

/// A connection active more recently than this is never evicted: an honest client sends its
/// request within milliseconds of connecting, a stalled one sits.
pub const MIN_IDLE_TO_EVICT: Duration = Duration::from_millis(500);

/// A request in progress protects its connection only while bytes still move: one silent this
/// long (a gRPC message that stopped arriving) no longer pins a slot. An honest request is silent
/// only while meterd works on it or waits for its commit (`state.commit_timeout`, 10 s by
/// default), and losing its connection then at the cap only means the retry it would get anyway.
pub const BUSY_SILENT_FOR: Duration = Duration::from_secs(60);

/// The limits of one listener, read from the live config at each accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    pub max_connections: usize,
    /// Until the connection is marked served; `None`: no deadline.
    pub header_timeout: Option<Duration>,
    /// After it is served, with no bytes moving; `None`: no deadline.
    pub idle_timeout: Option<Duration>,
    /// Bytes read that mark a connection served (`usize::MAX`: only [`Guarded::handle`]'s owner
    /// marks it, e.g. when HTTP request headers are complete).
    pub served_after_bytes: usize,
}

/// The listeners whose limits live in `limits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Http,
    OtlpHttp,
    OtlpGrpc,
    StatsdTcp,
}

/// HTTP/2's client connection preface.
const H2_PREFACE_BYTES: usize = 24;

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Http => "http",
            Which::OtlpHttp => "otlp_http",
            Which::OtlpGrpc => "otlp_grpc",
            Which::StatsdTcp => "statsd_tcp",
        }
    }

    pub fn limits(self, l: &crate::config::Limits) -> ConnLimits {
        let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
        let (max_connections, served_after_bytes) = match self {
            Which::Http => (l.http_max_connections, usize::MAX),
            Which::OtlpHttp => (l.otlp_http_max_connections, usize::MAX),
            Which::OtlpGrpc => (l.otlp_grpc_max_connections, H2_PREFACE_BYTES),
            Which::StatsdTcp => (l.statsd_tcp_max_connections, 1),
        };
        match self {
            // The StatsD reader keeps its own (reloadable) idle timeout and has no headers.
            Which::StatsdTcp => ConnLimits {
                max_connections,
                header_timeout: None,
                idle_timeout: None,
                served_after_bytes,
            },
            _ => ConnLimits {
                max_connections,
                header_timeout: nonzero(l.header_read_timeout.0),
                idle_timeout: nonzero(l.idle_timeout.0),
                served_after_bytes,
            },
        }
    }
}

/// What the gate knows of one open connection.
pub struct ConnState {
    id: u64,
    opened: Instant,
    /// Milliseconds since `opened` of the last byte read or written.
    last_active_ms: AtomicU64,
    served: AtomicBool,
    busy: AtomicUsize,
    /// Requests among `busy` still waiting for their body from the client: meterd is not
    /// working on those, so a stalled body does not protect its connection from eviction.
    awaiting_body: AtomicUsize,
    evict: Arc<Notify>,
}

impl ConnState {
    /// Marks the start of a request (headers complete): the connection is served and, until the
    /// returned guard drops, busy (never evicted).
    pub fn begin_request(self: &Arc<Self>) -> Busy {
        self.served.store(true, Ordering::Relaxed);
        self.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    fn last_active(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed))
    }

    fn candidate(&self) -> Candidate {
        Candidate {
            id: self.id,
            opened: self.opened,
            last_active: self.last_active(),
            served: self.served.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed) > self.awaiting_body.load(Ordering::Relaxed),
        }
    }
}

/// A request in progress (see [`ConnState::begin_request`]).
pub struct Busy(Arc<ConnState>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection as the eviction choice sees it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub id: u64,
    pub opened: Instant,
    pub last_active: Instant,
    pub served: bool,
    pub busy: bool,
}

/// Which connection makes room for a new one at the cap: the oldest that never completed a
/// request, else the one idle longest; never one busy (unless silent for [`BUSY_SILENT_FOR`]),
/// nor a served one active within `min_idle` of `now`. A connection still in its headers is fair game however fresh: in a burst of
/// half-open connections refusing the newcomer instead would lock out the honest client that
/// arrives behind it, while an honest client's headers take far less time than a flood needs to
/// push it to the front.
pub fn choose_victim(
    conns: impl Iterator<Item = Candidate>,
    now: Instant,
    min_idle: Duration,
) -> Option<u64> {
    conns
        .filter(|c| {
            let idle = now.saturating_duration_since(c.last_active);
            (!c.busy || idle >= BUSY_SILENT_FOR) && (!c.served || idle >= min_idle)
        })
        .min_by_key(|c| (c.served, if c.served { c.last_active } else { c.opened }))
        .map(|c| c.id)
}

/// Admission to one listener.
pub struct Gate {
    which: Which,
    store: Arc<Store>,
    limits: Box<dyn Fn() -> ConnLimits + Send + Sync>,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
}

impl Gate {
    pub fn new(
        which: Which,
        store: Arc<Store>,
        limits: impl Fn() -> ConnLimits + Send + Sync + 'static,
    ) -> Arc<Gate> {
        Arc::new(Gate {
            which,
            store,
            limits: Box::new(limits),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// A gate reading its limits from the running config (so a reload applies to new
    /// connections).
    pub fn for_pipeline(which: Which, pipeline: &Arc<crate::pipeline::Pipeline>) -> Arc<Gate> {
        let p = pipeline.clone();
        Gate::new(which, pipeline.store().clone(), move || {
            which.limits(&p.snapshot().config.limits)
        })
    }

    pub fn name(&self) -> &'static str {
        self.which.name()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The next admitted connection. Accept errors (out of file descriptors, ...) are logged,
    /// counted and retried with backoff instead of spinning.
    pub async fn accept(
        self: &Arc<Self>,
        listener: &TcpListener,
    ) -> (Guarded<TcpStream>, SocketAddr) {
        let mut backoff = Duration::from_millis(5);
        loop {
            match listener.accept().await {
                Ok((tcp, peer)) => {
                    backoff = Duration::from_millis(5);
                    // Small request/response exchanges (gRPC above all) must not wait on Nagle.
                    let _ = tcp.set_nodelay(true);
                    if let Some(g) = self.admit(tcp) {
                        return (g, peer);
                    }
                }
                Err(e) => {
                    tracing::warn!(listener = self.name(), error = %e, "accept failed");
                    self.rejected("accept_error");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Admits `io`, making room at the cap if an idle connection can give it; `None` (counted,
    /// the socket closed) when none can.
    pub fn admit<IO>(self: &Arc<Self>, io: IO) -> Option<Guarded<IO>> {
        let limits = (self.limits)();
        let now = Instant::now();
        let (state, open) = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            if open.len() >= limits.max_connections {
                let victim =
                    choose_victim(open.values().map(|c| c.candidate()), now, MIN_IDLE_TO_EVICT);
                let Some(victim) = victim.and_then(|id| open.remove(&id)) else {
                    drop(open);
                    self.rejected("connection_limit");
                    return None;
                };
                // Wakes the victim's reads or writes, which fail; its owner drops it.
                victim.evict.notify_one();
                self.closed("evicted");
            }
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let state = Arc::new(ConnState {
                id,
                opened: now,
                last_active_ms: AtomicU64::new(0),
                served: AtomicBool::new(false),
                busy: AtomicUsize::new(0),
                awaiting_body: AtomicUsize::new(0),
                evict: Arc::new(Notify::new()),
            });
            open.insert(id, state.clone());
            (state, open.len())
        };
        self.set_open(open);
        Some(Guarded::new(io, self.clone(), state, limits))
    }

    fn release(&self, id: u64) {
        let open = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            open.remove(&id);
            open.len()
        };
        self.set_open(open);
    }

    fn set_open(&self, n: usize) {
        telemetry::gauge(
            &self.store,
            &catalogue::CONNECTIONS_OPEN,
            &[("listener", self.name())],
            n as f64,
        );
    }

    fn rejected(&self, reason: &'static str) {
        telemetry::count(
            &self.store,
            &catalogue::CONNECTIONS_REJECTED,
            &[("listener", self.name()), ("reason", reason)],
            1.0,
        );
    }

    pub(crate) fn closed(&self, reason: &'static str) {
        telemetry::count(
            &self.store,
            &catalogue::CONNECTIONS_CLOSED,
            &[("listener", self.name()), ("reason", reason)],
            1.0,
        );
    }
}

/// Raises the soft open-file limit to the hard one, so the connection caps (not the kernel) are
/// what bound meterd, and warns when the caps could still exhaust it.
pub fn raise_fd_limit(limits: &crate::config::Limits) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let soft = if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::warn!(soft, hard, error = %e, "cannot raise the open-file limit");
                soft
            }
        }
    } else {
        soft
    };
    // Files, the state store, UDP and listening sockets, signal pipes: a generous allowance.
    const RESERVED_FDS: u64 = 64;
    let caps = [
        Which::Http,
        Which::OtlpHttp,
        Which::OtlpGrpc,
        Which::StatsdTcp,
    ]
    .iter()
    .map(|w| w.limits(limits).max_connections as u64)
    .fold(0u64, u64::saturating_add);
    if caps.saturating_add(RESERVED_FDS) > soft {
        tracing::warn!(
            open_file_limit = soft,
            connection_caps = caps,
            "the connection caps (limits.*_max_connections) add up to more than the open-file \
             limit allows: lower them or raise `ulimit -n`"
        );
    }
}

#[cfg(test)]
mod tests;
