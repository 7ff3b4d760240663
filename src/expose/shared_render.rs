//! One `/metrics` render shared by every scrape that arrives while it is in flight.
//!
//! A render of a large store costs a snapshot, the text and (with gzip) its compressed copy, tens
//! of megabytes at 200k series. Rendering once per concurrent request multiplied that by the number
//! of scrapers (8 parallel scrapes peaked at 1.45 GB), so a scraper storm could OOM-kill the
//! sidecar. Here one render runs at a time (a scrape of another variant, format x gzip, waits for
//! it to finish); a scrape that arrives while a render of its own variant is in flight waits for
//! that one and is served the same bytes. Nothing is cached past the
//! flight: once every waiter has its response, the render's memory goes with the last response
//! body, and the next scrape renders afresh (a scrape never sees data older than the render in
//! progress when it arrived).

use bytes::Bytes;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::OnceCell;

/// What one render produced: the body, or why it failed (shared, so cloned to each waiter).
pub type Rendered = Result<Bytes, String>;

/// One render in flight; its waiters hold the `Arc`, the slot only a `Weak`.
#[derive(Default)]
struct Flight {
    result: OnceCell<Rendered>,
}

/// The four variants: text or OpenMetrics, identity or gzip.
pub struct SharedRender {
    slots: [Mutex<Weak<Flight>>; 4],
    /// One render at a time across variants: peak memory is one render's, whatever the mix.
    rendering: Arc<tokio::sync::Semaphore>,
}

impl Default for SharedRender {
    fn default() -> Self {
        SharedRender {
            slots: Default::default(),
            rendering: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }
}

/// How a scrape was served: by the render it started, or by joining one in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    Rendered,
    Shared,
}

impl SharedRender {
    /// Serves variant `slot` (0..4): joins the render in flight for it, or starts one with
    /// `render`, which runs on the blocking pool.
    pub async fn get<F>(&self, slot: usize, render: F) -> (Rendered, Served)
    where
        F: FnOnce() -> Rendered + Send + 'static,
    {
        let Some(cell) = self.slots.get(slot) else {
            return (Err(format!("no render slot {slot}")), Served::Rendered);
        };
        let (flight, joined) = {
            let mut weak = match cell.lock() {
                Ok(w) => w,
                Err(p) => p.into_inner(),
            };
            match weak.upgrade() {
                Some(f) => (f, true),
                None => {
                    let f = Arc::new(Flight::default());
                    *weak = Arc::downgrade(&f);
                    (f, false)
                }
            }
        };
        let mut ran = false;
        let ran_here = &mut ran;
        let result = flight
            .result
            .get_or_init(|| async move {
                *ran_here = true;
                // Held until the render is done (the permit moves into the blocking task, so a
                // cancelled scrape does not release it early).
                let Ok(permit) = self.rendering.clone().acquire_owned().await else {
                    return Err("render gate closed".to_owned());
                };
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    render()
                })
                .await
                .unwrap_or_else(|e| Err(format!("render task failed: {e}")))
            })
            .await
            .clone();
        // A joiner whose leader was cancelled (client gone) runs the render itself: that is still
        // one render for the flight, so it is reported as the one that rendered.
        let served = if joined && !ran {
            Served::Shared
        } else {
            Served::Rendered
        };
        (result, served)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_render_and_later_ones_render_again() {
        let shared = Arc::new(SharedRender::default());
        let renders = Arc::new(AtomicUsize::new(0));
        // The render blocks until every request has joined, so all of them overlap it.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let shared = shared.clone();
            let renders = renders.clone();
            let rx = release_rx.clone();
            tasks.push(tokio::spawn(async move {
                shared
                    .get(1, move || {
                        renders.fetch_add(1, Ordering::SeqCst);
                        rx.lock().map_err(|e| e.to_string())?.recv().ok();
                        Ok(Bytes::from_static(b"body"))
                    })
                    .await
            }));
        }
        // Wait until all eight hold the flight (the leader plus seven joiners), then release it.
        loop {
            let holders = shared.slots[1]
                .lock()
                .map(|w| w.strong_count())
                .unwrap_or(0);
            if holders == 8 {
                break;
            }
            tokio::task::yield_now().await;
        }
        release_tx.send(()).expect("release");
        let mut served = Vec::new();
        for t in tasks {
            let (body, how) = t.await.expect("task");
            assert_eq!(body.as_deref(), Ok(&b"body"[..]));
            served.push(how);
        }
        assert_eq!(
            renders.load(Ordering::SeqCst),
            1,
            "one render for all eight"
        );
        assert_eq!(served.iter().filter(|s| **s == Served::Rendered).count(), 1);

        // Nothing is kept past the flight: the next request renders anew.
        release_tx.send(()).expect("release");
        let renders2 = renders.clone();
        let rx = release_rx.clone();
        let (_, how) = shared
            .get(1, move || {
                renders2.fetch_add(1, Ordering::SeqCst);
                rx.lock().map_err(|e| e.to_string())?.recv().ok();
                Ok(Bytes::from_static(b"again"))
            })
            .await;
        assert_eq!(how, Served::Rendered);
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renders_of_different_variants_never_overlap() {
        let shared = Arc::new(SharedRender::default());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for slot in 0..4 {
            let (shared, running, most) = (shared.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                shared
                    .get(slot, move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        // Long enough for the other variants to try to start meanwhile.
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(Bytes::new())
                    })
                    .await
            }));
        }
        for t in tasks {
            assert!(t.await.expect("task").0.is_ok());
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_render_is_reported_to_its_requests_and_an_unknown_slot_is_an_error() {
        let shared = SharedRender::default();
        let (r, _) = shared.get(0, || Err("boom".into())).await;
        assert_eq!(r, Err("boom".to_string()));
        let (r, _) = shared.get(9, || Ok(Bytes::new())).await;
        assert!(r.is_err());
    }
}
