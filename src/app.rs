//! Wiring: load config, bind every listener (all before serving anything, so a bad address fails
//! fast and names itself), start receivers and the HTTP endpoint, run timers (clock, expiry,
//! config-file watch), reload on demand, and shut down gracefully.
//!
//! Tests start an in-process agent with listeners on `127.0.0.1:0` and read the bound addresses
//! from [`Running`].

mod reload;
mod settle;

pub use reload::Reloader;

use crate::config::load::{load_config, ConfigErrors};
use crate::config::Config;
use crate::expose::server::{self, Health, HttpState};
use crate::pipeline::{Pipeline, Runtime};
use crate::store::Store;
use crate::telemetry;
use crate::tls::serve::Peer;
use crate::tls::Which;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("cannot bind {listener} on {addr}: {source}")]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    State(#[from] crate::state::StateError),
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

/// Addresses actually bound (the config may say port 0).
#[derive(Clone, Debug, Default)]
pub struct BoundAddrs {
    pub http: Option<SocketAddr>,
    pub statsd_udp: Option<SocketAddr>,
    pub statsd_tcp: Option<SocketAddr>,
    pub otlp_grpc: Option<SocketAddr>,
    pub otlp_http: Option<SocketAddr>,
}

pub struct Running {
    pub addrs: BoundAddrs,
    pub pipeline: Arc<Pipeline>,
    pub health: Arc<Health>,
    reloader: Arc<Reloader>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Stopped last, after the receivers have drained, so its final flush sees all spend.
    state_flusher: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

async fn bind_tcp(
    listener: &'static str,
    addr: Option<SocketAddr>,
) -> Result<Option<tokio::net::TcpListener>, StartError> {
    let Some(addr) = addr else { return Ok(None) };
    tokio::net::TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|source| StartError::Bind {
            listener,
            addr,
            source,
        })
}

async fn bind_udp(
    listener: &'static str,
    addr: Option<SocketAddr>,
) -> Result<Option<tokio::net::UdpSocket>, StartError> {
    let Some(addr) = addr else { return Ok(None) };
    tokio::net::UdpSocket::bind(addr)
        .await
        .map(Some)
        .map_err(|source| StartError::Bind {
            listener,
            addr,
            source,
        })
}

/// Starts the agent from a config file.
pub async fn start(config_path: &Path) -> Result<Running, StartError> {
    // Hashed before loading: an edit racing the load is then seen as a change, never missed.
    let file_hash = content_hash(config_path);
    let config = load_config(config_path)?;
    start_inner(config, config_path.to_path_buf(), file_hash).await
}

/// Starts the agent from an already-loaded config (`config_path` is watched for reloads).
pub async fn start_with(config: Config, config_path: PathBuf) -> Result<Running, StartError> {
    let file_hash = content_hash(&config_path);
    start_inner(config, config_path, file_hash).await
}

async fn start_inner(
    config: Config,
    config_path: PathBuf,
    file_hash: Option<u64>,
) -> Result<Running, StartError> {
    let loaded_hash = watched_hash(file_hash, &config);
    // `load_config` already read these files; a failure here means they changed since.
    let tls = crate::tls::Live::new(
        config
            .tls
            .build(&config_path.display().to_string(), &|_| (0, 0))?,
    );
    let l = config.listeners.clone();
    // Bind everything first: nothing serves until every address is ours.
    let http = bind_tcp("http", l.http).await?;
    let statsd_udp = bind_udp("statsd_udp", l.statsd_udp).await?;
    let statsd_tcp = bind_tcp("statsd_tcp", l.statsd_tcp).await?;
    let otlp_grpc = bind_tcp("otlp_grpc", l.otlp_grpc).await?;
    let otlp_http = bind_tcp("otlp_http", l.otlp_http).await?;
    let local = |r: Option<std::io::Result<SocketAddr>>| r.and_then(Result::ok);
    let addrs = BoundAddrs {
        http: local(http.as_ref().map(|s| s.local_addr())),
        statsd_udp: local(statsd_udp.as_ref().map(|s| s.local_addr())),
        statsd_tcp: local(statsd_tcp.as_ref().map(|s| s.local_addr())),
        otlp_grpc: local(otlp_grpc.as_ref().map(|s| s.local_addr())),
        otlp_http: local(otlp_http.as_ref().map(|s| s.local_addr())),
    };

    let store = Arc::new(Store::new(config.limits.store_limits()));
    let started = Instant::now();
    let (state_file, budgets) = open_state(&config)?;
    let flush_interval = config.state.flush_interval.0;
    let dedup = open_dedup(&config, &state_file)?;
    let durability = Arc::new(crate::state::durable::Durability::persistent());
    let pipeline = Arc::new(
        Pipeline::with_budgets(
            store.clone(),
            Runtime::new(Arc::new(config)),
            budgets.clone(),
            durability.clone(),
        )
        .with_dedup(dedup.clone()),
    );
    let health = Arc::new(Health::default());
    health.set("state", Ok(()));
    health.set("config", Ok(()));
    health.set("listeners", Ok(()));
    record_build_info(&store);
    record_reload(&store, true);
    crate::derive::pricing::derive::record_info(
        &store,
        None,
        pipeline.runtime().deriver.pricing().map(|p| &**p),
    );

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let reloader = Arc::new(Reloader::new(config_path, pipeline.clone(), tls.clone()));

    if let Some(listener) = http {
        let state = HttpState {
            pipeline: pipeline.clone(),
            health: health.clone(),
            start_time_unix: unix_now(),
            reloader: Some(reloader.clone()),
            renders: Default::default(),
        };
        spawn_http(
            &mut tasks,
            listener,
            server::router(state),
            tls.get(Which::Http),
            ("http", store.clone()),
            &shutdown_rx,
        );
    }
    crate::receivers::spawn(
        &mut tasks,
        &pipeline,
        &shutdown_rx,
        crate::receivers::Sockets {
            statsd_udp,
            statsd_tcp,
            otlp_grpc,
            otlp_http,
        },
        &tls,
    );

    // Coarse clock for the store: TTLs are minutes, so a 250 ms tick is plenty precise.
    {
        let store = store.clone();
        let pipeline = pipeline.clone();
        let health = health.clone();
        let mut rx = shutdown_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut last_sweep = Instant::now();
            let mut guard = crate::memory::MemoryGuard::new(u64::MAX);
            let mut last_memory_check = Instant::now();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = rx.wait_for(|s| *s) => break,
                }
                store.set_now_ms(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
                if last_memory_check.elapsed() >= Duration::from_secs(1) {
                    last_memory_check = Instant::now();
                    check_memory(&pipeline, &health, &mut guard);
                }
                if last_sweep.elapsed() >= Duration::from_secs(5) {
                    last_sweep = Instant::now();
                    let expired = store.sweep();
                    telemetry::count(
                        &store,
                        "meterd_series_expired",
                        "Series removed after being idle longer than their TTL.",
                        &[],
                        expired as f64,
                    );
                }
            }
        });
    }

    // Budget gauges: refreshed on every spend, and here so new periods and draining rolling
    // windows show without traffic.
    {
        let pipeline = pipeline.clone();
        let mut rx = shutdown_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(BUDGET_GAUGE_REFRESH);
            loop {
                tokio::select! {
                    _ = tick.tick() => pipeline.refresh_budgets(),
                    _ = rx.wait_for(|s| *s) => break,
                }
            }
        });
    }
    tasks.spawn(crate::state::fleet::run(
        pipeline.clone(),
        shutdown_rx.clone(),
    ));
    let state_flusher = {
        let (tx, rx) = watch::channel(false);
        let flusher = crate::state::flush::Flusher {
            budgets,
            dedup,
            durability,
            file: state_file,
            store: store.clone(),
            health: health.clone(),
        };
        Some((tx, tokio::spawn(flusher.run(flush_interval, rx))))
    };

    let show = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_string(), |a| a.to_string());
    let tls_on: Vec<&str> = crate::tls::ALL
        .iter()
        .filter(|w| tls.get(**w).is_some())
        .map(|w| w.name())
        .collect();
    tracing::info!(
        http = %show(addrs.http),
        statsd_udp = %show(addrs.statsd_udp),
        statsd_tcp = %show(addrs.statsd_tcp),
        otlp_grpc = %show(addrs.otlp_grpc),
        otlp_http = %show(addrs.otlp_http),
        tls = %tls_on.join(","),
        config = %reloader.config_path().display(),
        "meterd listening"
    );
    reloader.remember_loaded_hash(loaded_hash);

    Ok(Running {
        addrs,
        pipeline,
        health,
        reloader,
        shutdown: shutdown_tx,
        tasks,
        state_flusher,
    })
}

const BUDGET_GAUGE_REFRESH: Duration = Duration::from_secs(5);

/// Opens the state file and restores budget spend. A file (or record) that cannot be read stops
/// start-up with an error naming it and a preserved copy: never a silent reset to zero.
fn open_state(
    config: &Config,
) -> Result<
    (
        Arc<crate::state::StateFile>,
        Arc<crate::derive::budget::Budgets>,
    ),
    StartError,
> {
    let (file, saved) = crate::state::StateFile::open(&config.state.data_dir)?;
    let now = i64::try_from(unix_now() as u64).unwrap_or(0);
    match crate::derive::budget::Budgets::new(&config.budgets, &saved, now) {
        Ok((budgets, notes)) => {
            for note in notes {
                tracing::warn!(file = %file.path().display(), "{note}");
            }
            tracing::info!(
                file = %file.path().display(),
                records = saved.len(),
                "budget state loaded"
            );
            Ok((Arc::new(file), Arc::new(budgets)))
        }
        Err(reason) => Err(file.into_corrupt(reason).into()),
    }
}

/// Restores the span and response keys of the last run, so a retry after a restart (kill -9
/// included) is still recognised. Keys that cannot be read are dropped (they only stop a double
/// count); a table that cannot be read at all stops start-up like bad spend records.
fn open_dedup(
    config: &Config,
    file: &crate::state::StateFile,
) -> Result<Arc<crate::derive::dedup::Dedup>, StartError> {
    let otlp = &config.otlp;
    let dedup = crate::derive::dedup::Dedup::new(&otlp.dedup, &otlp.usage_scopes);
    let records = file
        .dedup_records()
        .map_err(|reason| crate::state::StateError::Io {
            file: file.path().to_path_buf(),
            reason,
        })?;
    let r = dedup.restore(&records, unix_now() as u64);
    if r.malformed > 0 {
        tracing::warn!(
            file = %file.path().display(),
            malformed = r.malformed,
            "unreadable dedup keys dropped from the state file"
        );
    }
    tracing::info!(
        file = %file.path().display(),
        loaded = r.loaded,
        expired = r.expired,
        "dedup keys loaded"
    );
    Ok(Arc::new(dedup))
}

fn record_build_info(store: &Store) {
    telemetry::gauge(
        store,
        "meterd_build_info",
        "meterd build: version and rustc target, value 1.",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
}

fn record_reload(store: &Store, ok: bool) {
    telemetry::count(
        store,
        "meterd_config_reloads",
        "Config loads, by result (success, failure). A failed reload keeps the previous config.",
        &[("result", if ok { "success" } else { "failure" })],
        1.0,
    );
    telemetry::gauge(
        store,
        "meterd_config_last_reload_successful",
        "1 if the last config (re)load succeeded, 0 if it failed and an older config is running.",
        &[],
        if ok { 1.0 } else { 0.0 },
    );
    if ok {
        telemetry::gauge(
            store,
            "meterd_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
            &[],
            unix_now(),
        );
    }
}

impl Running {
    /// Re-reads the config file (see [`Reloader::reload`]).
    pub fn reload(&self) -> Result<(), ConfigErrors> {
        self.reloader.reload()
    }

    /// Signals every task to stop, then waits (bounded) for them to drain.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop within 10s; exiting anyway");
            self.tasks.abort_all();
        }
        if let Some((stop, task)) = self.state_flusher.take() {
            let _ = stop.send(true);
            if tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
            {
                tracing::error!("final budget state flush did not finish within 10s");
            }
        }
    }

    pub fn config_path(&self) -> &Path {
        self.reloader.config_path()
    }

    /// Content hash of the config file and the pricing and TLS files it loaded, as they are now.
    pub fn watched_hash(&self) -> Option<u64> {
        watched_hash(
            content_hash(self.config_path()),
            &self.pipeline.runtime().config,
        )
    }

    fn loaded_hash(&self) -> Option<u64> {
        self.reloader.loaded_hash()
    }

    /// Whether the config file, as it is now, looks completely written (see [`settle`]).
    fn settled(&self, settle: &mut settle::Settle) -> bool {
        let Ok(content) = std::fs::read(self.config_path()) else {
            // Unreadable: the reload reports why.
            return true;
        };
        let hash = content_hash_of(&content);
        match settle.verdict(&content, hash) {
            settle::Verdict::Apply => true,
            settle::Verdict::Wait(why) => {
                if settle.first_wait(hash) {
                    tracing::warn!(config = %self.config_path().display(), "{why}");
                }
                false
            }
        }
    }
}

/// The config file's hash combined with the pricing and TLS files that config loaded: editing
/// any reloads (a certificate renewed on disk is picked up without a signal).
fn watched_hash(config_file_hash: Option<u64>, config: &Config) -> Option<u64> {
    let mut h = config_file_hash?;
    let pricing = config.pricing.iter().flat_map(|p| p.sources.iter());
    for f in pricing.map(PathBuf::as_path).chain(config.tls.files()) {
        h = h.rotate_left(7) ^ content_hash(f).unwrap_or(0);
    }
    Some(h)
}

/// One memory guard step: reads RSS and the store's size, applies the configured limit
/// (reloadable), flips shedding, and says so on `/readyz` (still 200: a sidecar that sheds new
/// series must not take its app's pod out of service).
fn check_memory(pipeline: &Pipeline, health: &Health, guard: &mut crate::memory::MemoryGuard) {
    use crate::memory::{Change, Reading};
    let limit = pipeline
        .runtime()
        .config
        .limits
        .max_memory
        .map_or(u64::MAX, |b| b.0);
    guard.set_limit(limit);
    let Some(rss) = crate::expose::process::read().resident_bytes else {
        return;
    };
    let store = pipeline.store();
    let series = store.series_count() as u64;
    let Some(change) = guard.update(Reading {
        rss_bytes: rss as u64,
        series,
    }) else {
        return;
    };
    let shedding = change == Change::Shed;
    store.set_shedding(shedding);
    match change {
        Change::Shed => {
            tracing::warn!(
                rss_bytes = rss,
                limit_bytes = limit,
                series,
                "memory limit reached: shedding new series (samples of existing series and spend \
                 still flow)"
            );
            health.degrade(
                "memory",
                Some(format!(
                    "shedding new series: resident memory {rss} bytes reached limits.max_memory \
                     ({limit} bytes) holding {series} series"
                )),
            );
        }
        Change::ReleasedRss | Change::ReleasedHeld => {
            tracing::info!(
                rss_bytes = rss,
                series,
                released_on = if change == Change::ReleasedRss {
                    "resident memory"
                } else {
                    "series held"
                },
                "memory guard released: accepting new series"
            );
            health.degrade("memory", None);
        }
    }
    telemetry::gauge(
        store,
        "meterd_memory_shedding",
        "1 while resident memory is above limits.max_memory and new series are shed.",
        &[],
        if shedding { 1.0 } else { 0.0 },
    );
}

/// Hash of a watched file's content. Content, not mtime: an editor's rename-over or a Kubernetes
/// ConfigMap symlink swap is noticed, and a mere touch is not a reload. Config files are small
/// (the loader caps them), so reading one every few seconds costs nothing.
pub fn content_hash(path: &Path) -> Option<u64> {
    Some(content_hash_of(&std::fs::read(path).ok()?))
}

fn content_hash_of(content: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
    h.write(content);
    h.finish()
}

/// The handled signals. Install them *before* [`start`]: once meterd logs that it is listening a
/// supervisor may send SIGHUP at any moment, and the default action of an unhandled SIGHUP is to
/// terminate the process.
pub struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

/// Runs until SIGTERM/SIGINT: reloads on SIGHUP and when the config file's content changes.
/// `watch_interval: None` disables watching (SIGHUP still reloads).
pub async fn run_until_signalled(
    running: Running,
    signals: Signals,
    watch_interval: Option<Duration>,
) -> std::io::Result<()> {
    let Signals {
        mut hup,
        mut term,
        mut int,
    } = signals;
    // A disabled watch still needs a timer in the select; a year-long one never fires in practice
    // and its first tick is skipped, so it cannot race with a write right after start.
    let period = watch_interval.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut settle = settle::Settle::default();
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading config");
                let _ = running.reload();
            }
            _ = poll.tick() => {
                let now = running.watched_hash();
                if now.is_some() && now != running.loaded_hash() && running.settled(&mut settle) {
                    tracing::info!("config or pricing file changed: reloading");
                    let _ = running.reload();
                }
            }
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
        }
    }
    running.shutdown().await;
    tracing::info!("meterd stopped");
    Ok(())
}
