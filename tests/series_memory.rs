//! Memory per series: issue 9 budgets at most 300 bytes per counter or gauge series beyond the text
//! of its labels. Measured with a counting global allocator (this test binary's only), so the figure
//! is the heap the store really holds, not an estimate from type sizes.
//!
//! `cargo test --release --test series_memory -- --nocapture` prints the figures BENCHMARKS.md quotes.
//! The figure counts requested bytes; the system allocator adds its own rounding (up to 16 bytes) to
//! each allocation a series holds: one for the label set, one per label name and per label value.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is how a test fails

use meterd::model::{Labels, Sample, SampleValue};
use meterd::store::{Store, StoreLimits};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// A global allocator is an `unsafe` trait by definition; this one only forwards to the system
// allocator and counts, which is the least code that can measure what the store holds.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with the same layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const SERIES: usize = 100_000;

/// Heap bytes per series held by the store beyond the label text, for `SERIES` series of one kind.
fn bytes_per_series(name: &str, value: impl Fn(usize) -> SampleValue) -> (f64, f64) {
    let store = Store::new(StoreLimits {
        max_series_per_metric: SERIES,
        max_series_total: SERIES,
        ..StoreLimits::default()
    });
    // The store keeps the samples' label sets (shared, not copied); everything else of the samples
    // is freed before the count is read, so the figure is what the store holds.
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let samples: Vec<Sample> = (0..SERIES)
        .map(|i| {
            let labels = Labels::new([
                ("route", format!("/v1/route/{i}")),
                ("team", format!("team-{}", i % 10)),
            ]);
            Sample::new(name, labels, value(i))
        })
        .collect();
    let label_text: usize = samples.iter().map(|s| s.labels.text_len()).sum();
    for s in &samples {
        store.apply(s).expect("every series fits under the caps");
    }
    drop(samples);
    let held = LIVE_BYTES.load(Ordering::Relaxed) - before;
    assert_eq!(store.series_count(), SERIES);
    let per_series = held as f64 / SERIES as f64;
    let text = label_text as f64 / SERIES as f64;
    (per_series - text, text)
}

#[test]
fn counter_and_gauge_series_cost_at_most_300_bytes_beyond_label_text() {
    let (counter, text) = bytes_per_series("mem_counter", |_| SampleValue::CounterAdd(1.0));
    let (gauge, _) = bytes_per_series("mem_gauge", |i| SampleValue::GaugeSet(i as f64));
    let (histogram, _) = bytes_per_series("mem_histogram", |i| SampleValue::Observe {
        value: i as f64 / 1000.0,
        weight: 1.0,
    });
    println!(
        "heap per series beyond {text:.1} bytes of label text: counter {counter:.1}, \
         gauge {gauge:.1}, histogram (15 buckets) {histogram:.1}"
    );
    assert!(counter <= 300.0, "counter series cost {counter:.1} bytes");
    assert!(gauge <= 300.0, "gauge series cost {gauge:.1} bytes");
}
