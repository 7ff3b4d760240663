//! Wiring: load config, bind every listener (all before serving anything, so a bad address fails
//! fast and names itself), start receivers and the HTTP endpoint, run timers (clock, expiry,
//! config-file watch), reload on demand, and shut down gracefully.
//!
//! Tests start an in-process agent with listeners on `127.0.0.1:0` and read the bound addresses
//! from [`Running`].

mod fleet;
mod reload;
mod settle;
mod state;
mod timers;
mod trim;
mod watcher;

pub use reload::Reloader;
pub use watcher::{content_hash, run_until_signalled, Signals};

use crate::config::load::ConfigErrors;
use crate::config::Config;
use crate::expose::server::{self, Health, HttpState};
use crate::net::{bind, spawn_http};
use crate::pipeline::{Pipeline, Snapshot};
use crate::store::Store;
use crate::telemetry;
use crate::telemetry::catalogue;
use crate::tls::Which;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Bind(#[from] crate::net::BindError),
    #[error("{0}")]
    State(#[from] crate::state::StateError),
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

/// Starts the agent from a config file.
pub async fn start(config_path: &Path) -> Result<Running, StartError> {
    // Hashed before loading: an edit racing the load is then seen as a change, never missed.
    let file_hash = content_hash(config_path);
    let snapshot = crate::pipeline::load(config_path)?;
    let mut running = start_inner(snapshot, config_path.to_path_buf(), file_hash).await?;
    trim::after_load();
    let shutdown = running.shutdown.subscribe();
    running.tasks.spawn(trim::once_settled(shutdown));
    Ok(running)
}

/// Starts the agent from an already-loaded config (`config_path` is watched for reloads).
pub async fn start_with(config: Config, config_path: PathBuf) -> Result<Running, StartError> {
    let file_hash = content_hash(&config_path);
    let label = config_path.display().to_string();
    let snapshot = Snapshot::try_new(Arc::new(config))
        .map_err(|issues| ConfigErrors::unlocated(&label, issues))?;
    start_inner(snapshot, config_path, file_hash).await
}

async fn start_inner(
    snapshot: Snapshot,
    config_path: PathBuf,
    file_hash: Option<u64>,
) -> Result<Running, StartError> {
    let config = snapshot.config.clone();
    let loaded_hash = watcher::watched_hash(file_hash, &config);
    crate::net::limits::raise_fd_limit(&config.limits);
    // `load_config` already read these files; a failure here means they changed since.
    let tls = crate::tls::Live::new(
        config
            .tls
            .build(&config_path.display().to_string(), &|_| (0, 0))?,
    );
    let l = config.listeners.clone();
    // Bind everything first: nothing serves until every address is ours.
    let tcp = TcpListener::bind::<SocketAddr>;
    let http = bind("http", l.http, tcp).await?;
    let udp_threads = config.statsd.udp_receive_threads;
    let statsd_udp = bind("statsd_udp", l.statsd_udp, |a| async move {
        crate::net::udp::UdpSockets::bind(a, udp_threads)
    })
    .await?;
    let statsd_tcp = bind("statsd_tcp", l.statsd_tcp, tcp).await?;
    let otlp_grpc = bind("otlp_grpc", l.otlp_grpc, tcp).await?;
    let otlp_http = bind("otlp_http", l.otlp_http, tcp).await?;
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
    let (state_file, budgets, (api_budgets, next_version)) = state::open_state(&snapshot)?;
    let flush_interval = config.state.flush_interval.0;
    let dedup = state::open_dedup(&config, &state_file)?;
    let ledger = state::open_ledger(&config, &state_file)?;
    let durability = Arc::new(crate::state::durable::Durability::persistent());
    let pipeline = Arc::new(
        Pipeline::with_budgets(store.clone(), snapshot, budgets.clone(), durability.clone())
            .with_dedup(dedup.clone())
            .with_ledger(ledger.clone())
            .with_api_budgets(api_budgets, next_version),
    );
    let health = Arc::new(Health::default());
    health.set("state", Ok(()));
    health.set("config", Ok(()));
    health.set("listeners", Ok(()));
    record_build_info(&store);
    reload::record_reload(&store, true);
    crate::derive::pricing::derive::record_info(
        &store,
        None,
        pipeline.snapshot().deriver.pricing().map(|p| &**p),
    );

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let reloader = Arc::new(Reloader::new(config_path, pipeline.clone(), tls.clone()));

    if let Some(listener) = http {
        let state = HttpState {
            pipeline: pipeline.clone(),
            health: health.clone(),
            start_time_unix: crate::clock::unix_secs_f64(),
            reloader: Some(reloader.clone()),
            state: Some(state_file.clone()),
            renders: Default::default(),
        };
        spawn_http(
            &mut tasks,
            listener,
            server::router(state),
            tls.get(Which::Http),
            crate::net::limits::Gate::for_pipeline(crate::net::limits::Which::Http, &pipeline),
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

    tasks.spawn(timers::store_clock(
        pipeline.clone(),
        health.clone(),
        started,
        shutdown_rx.clone(),
    ));
    tasks.spawn(timers::budget_gauges(pipeline.clone(), shutdown_rx.clone()));
    tasks.spawn(fleet::run(pipeline.clone(), shutdown_rx.clone()));
    let marks = {
        let (marks, bad) = crate::derive::notify::Marks::restore(
            &state_file
                .notified_marks()
                .map_err(|e| e.at_start(state_file.path()))?,
        );
        if bad > 0 {
            tracing::warn!(bad, "unreadable budget notification marks dropped");
        }
        marks
    };
    tasks.spawn(crate::notify::run(
        pipeline.clone(),
        state_file.clone(),
        marks,
        shutdown_rx.clone(),
    ));
    let state_flusher = {
        let (tx, rx) = watch::channel(false);
        let flusher = crate::state::flush::Flusher {
            budgets,
            dedup,
            ledger,
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

fn record_build_info(store: &Store) {
    telemetry::gauge(
        store,
        &catalogue::BUILD_INFO,
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
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
}
