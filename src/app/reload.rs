//! Config reload, shared by every trigger (SIGHUP, the file watcher, `POST /api/v1/admin/reload`):
//! a bad file is rejected with every error and the running config stays.

use crate::config::load::ConfigErrors;
use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::Store;
use crate::telemetry::{self, catalogue};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub struct Reloader {
    pub(super) config_path: PathBuf,
    pub(super) pipeline: Arc<Pipeline>,
    /// Content hash of the config (and pricing) files as last loaded: the watcher compares against
    /// what was *loaded*, so an edit landing between start and the first poll is still noticed.
    loaded_hash: Mutex<Option<u64>>,
    /// Certificates of the TLS listeners, rebuilt from the files on every reload.
    pub(super) tls: crate::tls::Live,
    /// One reload at a time: a signal and an admin request arriving together must not interleave
    /// their swaps.
    serial: Mutex<()>,
}

impl Reloader {
    pub(super) fn new(
        config_path: PathBuf,
        pipeline: Arc<Pipeline>,
        tls: crate::tls::Live,
    ) -> Self {
        Reloader {
            config_path,
            pipeline,
            loaded_hash: Mutex::new(None),
            tls,
            serial: Mutex::new(()),
        }
    }

    /// Re-reads the config file. A bad file is rejected (logged with every error, counted) and the
    /// running config stays. Listener addresses cannot change without a restart; that is logged.
    pub fn reload(&self) -> Result<(), ConfigErrors> {
        let _one_at_a_time = self.serial.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = self.reload_once();
        // Loading ran again (and compiled the table again), whatever the outcome.
        super::trim::after_load();
        outcome
    }

    fn reload_once(&self) -> Result<(), ConfigErrors> {
        let store = self.pipeline.store();
        let file_hash = super::watcher::content_hash(&self.config_path);
        let loaded = crate::pipeline::load(&self.config_path).and_then(|new| {
            // Certificates are read here, before anything is swapped, so a bad key file rejects
            // the whole reload like any other config error.
            let tls = self.tls.prepare(&new.config.tls, &self.config_path)?;
            Ok((new, tls))
        });
        match loaded {
            Ok((new, tls)) => {
                let config = &new.config;
                self.remember_loaded_hash(super::watcher::watched_hash(file_hash, config));
                let old = self.pipeline.snapshot();
                if old.config.listeners != config.listeners {
                    tracing::warn!("listener addresses changed in config; they apply on restart");
                }
                // commit_timeout is read per request, so only these two wait for a restart.
                if (&old.config.state.data_dir, &old.config.state.flush_interval)
                    != (&config.state.data_dir, &config.state.flush_interval)
                {
                    tracing::warn!("state settings changed in config; they apply on restart");
                }
                self.tls.apply(tls);
                crate::derive::pricing::derive::record_info(
                    store,
                    old.deriver.pricing().map(|p| &**p),
                    new.deriver.pricing().map(|p| &**p),
                );
                self.pipeline.swap_snapshot(new);
                record_reload(store, true);
                tracing::info!(config = %self.config_path.display(), "config reloaded");
                Ok(())
            }
            Err(e) => {
                // Remembered too, so the watcher does not retry the same bad content every poll.
                self.remember_loaded_hash(super::watcher::watched_hash(
                    file_hash,
                    &self.pipeline.snapshot().config,
                ));
                record_reload(store, false);
                tracing::error!(
                    config = %self.config_path.display(),
                    errors = %e,
                    "config reload rejected; keeping the running config"
                );
                Err(e)
            }
        }
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn config(&self) -> Arc<Config> {
        self.pipeline.snapshot().config.clone()
    }

    pub(super) fn remember_loaded_hash(&self, hash: Option<u64>) {
        if let Ok(mut h) = self.loaded_hash.lock() {
            *h = hash;
        }
    }

    pub(super) fn loaded_hash(&self) -> Option<u64> {
        self.loaded_hash.lock().ok().and_then(|h| *h)
    }
}

impl crate::expose::server::Reload for Reloader {
    fn reload(&self) -> Result<(), ConfigErrors> {
        Reloader::reload(self)
    }

    fn config_file(&self) -> Option<String> {
        Some(self.config_path.display().to_string())
    }
}

/// Counts a config load and records its outcome in the reload gauges.
pub(super) fn record_reload(store: &Store, ok: bool) {
    telemetry::count(
        store,
        &catalogue::CONFIG_RELOADS,
        &[("result", if ok { "success" } else { "failure" })],
        1.0,
    );
    telemetry::gauge(
        store,
        &catalogue::CONFIG_LAST_RELOAD_SUCCESSFUL,
        &[],
        if ok { 1.0 } else { 0.0 },
    );
    if ok {
        telemetry::gauge(
            store,
            &catalogue::CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS,
            &[],
            crate::clock::unix_secs_f64(),
        );
    }
}
