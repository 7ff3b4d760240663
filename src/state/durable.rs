//! The durability barrier: a receiver that must not acknowledge before spend is on disk (OTLP)
//! awaits [`Durability::wait`] with the budget engine's write sequence number. Waiters only wake
//! the flusher; the flusher commits everything dirty in one transaction and publishes the sequence
//! number it covered, so any number of concurrent requests share one fsync (group commit).

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

#[derive(Clone, Debug, Default)]
struct Progress {
    committed: u64,
    /// Highest sequence number whose commit failed (cleared by a later success beyond it).
    failed: u64,
    error: Option<Arc<str>>,
    /// The flusher has stopped (shutdown): nothing more will become durable.
    closed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("budget spend is not durable: {0}")]
pub struct NotDurable(pub Arc<str>);

pub struct Durability {
    persistent: bool,
    progress: watch::Sender<Progress>,
    wake: Notify,
}

impl Durability {
    /// No state file: every wait returns at once (there is nothing to make durable).
    pub fn volatile() -> Durability {
        Durability {
            persistent: false,
            progress: watch::Sender::new(Progress::default()),
            wake: Notify::new(),
        }
    }

    pub fn persistent() -> Durability {
        Durability {
            persistent: true,
            ..Durability::volatile()
        }
    }

    /// Returns once every change up to sequence number `target` is committed to disk, or the
    /// error of the commit that tried.
    pub async fn wait(&self, target: u64) -> Result<(), NotDurable> {
        if !self.persistent {
            return Ok(());
        }
        let mut rx = self.progress.subscribe();
        if rx.borrow_and_update().committed >= target {
            return Ok(());
        }
        self.wake.notify_one();
        loop {
            {
                let p = rx.borrow_and_update();
                if p.committed >= target {
                    return Ok(());
                }
                if p.failed >= target {
                    return Err(NotDurable(
                        p.error
                            .clone()
                            .unwrap_or_else(|| Arc::from("commit failed")),
                    ));
                }
                if p.closed {
                    return Err(NotDurable(Arc::from(
                        "state flusher stopped (shutting down)",
                    )));
                }
            }
            if rx.changed().await.is_err() {
                return Err(NotDurable(Arc::from("state flusher gone")));
            }
        }
    }

    /// [`Self::wait`], bounded: a commit stuck on a hung disk turns into an error after `timeout`
    /// instead of holding the caller (an OTLP request and its concurrency slot) indefinitely.
    pub async fn wait_within(&self, target: u64, timeout: Duration) -> Result<(), NotDurable> {
        match tokio::time::timeout(timeout, self.wait(target)).await {
            Ok(result) => result,
            Err(_) => Err(NotDurable(Arc::from(format!(
                "state commit took longer than {timeout:?} (state.commit_timeout)"
            )))),
        }
    }

    /// For the flusher: resolves when a waiter asks for a commit.
    pub async fn requested(&self) {
        self.wake.notified().await;
    }

    pub fn committed(&self, seq: u64) {
        self.progress.send_modify(|p| {
            p.committed = p.committed.max(seq);
            if p.committed >= p.failed {
                p.error = None;
            }
        });
    }

    pub fn failed(&self, seq: u64, error: &str) {
        self.progress.send_modify(|p| {
            p.failed = p.failed.max(seq);
            p.error = Some(Arc::from(error));
        });
    }

    pub fn close(&self) {
        self.progress.send_modify(|p| p.closed = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_resolve_on_commit_and_fail_on_error() {
        let d = Arc::new(Durability::persistent());
        assert_eq!(d.wait(0).await, Ok(()));
        let waiter = {
            let d = d.clone();
            tokio::spawn(async move { d.wait(3).await })
        };
        // The waiter wakes the flusher...
        d.requested().await;
        // ...and a commit that covers less does not release it.
        d.committed(2);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        d.committed(3);
        assert_eq!(waiter.await.unwrap(), Ok(()));

        let waiter = {
            let d = d.clone();
            tokio::spawn(async move { d.wait(5).await })
        };
        d.requested().await;
        d.failed(5, "disk full");
        let err = waiter.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        // A later success clears the failure for later waiters.
        d.committed(6);
        assert_eq!(d.wait(5).await, Ok(()));
        d.close();
        assert!(d.wait(7).await.is_err());
        assert_eq!(Durability::volatile().wait(99).await, Ok(()));
    }

    /// A flusher that never finishes its commit (a hung disk): the waiter gets an error naming the
    /// setting instead of waiting forever. A commit that lands is still an Ok under a timeout.
    #[tokio::test]
    async fn a_stalled_commit_times_out_and_a_prompt_one_does_not() {
        let d = Arc::new(Durability::persistent());
        let waiter = {
            let d = d.clone();
            tokio::spawn(async move { d.wait_within(1, Duration::from_millis(50)).await })
        };
        // The flusher is asked to commit, and then stalls: it never reports back.
        d.requested().await;
        let err = waiter.await.unwrap().unwrap_err();
        assert!(err.0.contains("longer than 50ms"), "{err}");
        assert!(err.0.contains("state.commit_timeout"), "{err}");

        // The same request again, and this time the commit lands.
        let waiter = {
            let d = d.clone();
            tokio::spawn(async move { d.wait_within(1, Duration::from_secs(3600)).await })
        };
        d.requested().await;
        d.committed(1);
        assert_eq!(waiter.await.unwrap(), Ok(()));
    }
}
