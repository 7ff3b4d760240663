//! Watching the config: the files a config loaded are hashed by content, SIGHUP and a changed
//! hash reload, SIGTERM/SIGINT stop the agent.

use super::{settle, Running};
use crate::config::Config;
use std::path::{Path, PathBuf};
use std::time::Duration;

impl Running {
    /// Content hash of the config file and the pricing and TLS files it loaded, as they are now.
    pub fn watched_hash(&self) -> Option<u64> {
        watched_hash(
            content_hash(self.config_path()),
            &self.pipeline.snapshot().config,
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
pub(super) fn watched_hash(config_file_hash: Option<u64>, config: &Config) -> Option<u64> {
    let mut h = config_file_hash?;
    let pricing = config.pricing.iter().flat_map(|p| p.sources.iter());
    for f in pricing.map(PathBuf::as_path).chain(config.tls.files()) {
        h = h.rotate_left(7) ^ content_hash(f).unwrap_or(0);
    }
    Some(h)
}

/// Hash of a watched file's content. Content, not mtime: an editor's rename-over or a Kubernetes
/// ConfigMap symlink swap is noticed, and a mere touch is not a reload. Config files are small
/// (the loader caps them), so reading one every few seconds costs nothing.
pub fn content_hash(path: &Path) -> Option<u64> {
    Some(content_hash_of(&std::fs::read(path).ok()?))
}

pub(super) fn content_hash_of(content: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
    h.write(content);
    h.finish()
}

/// The handled signals. Install them *before* [`super::start`]: once meterd logs that it is listening a
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
