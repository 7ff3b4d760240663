//! Store updates and `/metrics` rendering: the two costs every ingested sample and every scrape pay.
//!
//! `cargo bench --bench store` (criterion; results and machine notes in BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use meterd::expose::text::{render, Format};
use meterd::model::{Labels, Sample, SampleValue};
use meterd::store::{Store, StoreLimits};
use std::hint::black_box;

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let labels = Labels::new([
                ("route", format!("/api/r{}", i % 100)),
                ("status", (200 + i % 5).to_string()),
                ("instance", format!("i{}", i / 500)),
            ]);
            let value = match i % 3 {
                0 => SampleValue::CounterAdd(1.0),
                1 => SampleValue::GaugeSet(i as f64),
                _ => SampleValue::Observe {
                    value: 0.25,
                    weight: 1.0,
                },
            };
            let name = match i % 3 {
                0 => "bench_requests",
                1 => "bench_queue_depth",
                _ => "bench_latency_seconds",
            };
            Sample::new(name, labels, value)
        })
        .collect()
}

fn limits() -> StoreLimits {
    StoreLimits {
        max_series_per_metric: 1_000_000,
        max_series_total: 1_000_000,
        ..StoreLimits::default()
    }
}

fn update(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_update");
    for series in [1_000, 100_000] {
        let store = Store::new(limits());
        let batch = samples(series);
        for s in &batch {
            let _ = store.apply(s);
        }
        g.throughput(Throughput::Elements(batch.len() as u64));
        g.bench_function(format!("existing_series_{series}"), |b| {
            b.iter(|| {
                for s in &batch {
                    let _ = black_box(store.apply(s));
                }
            })
        });
    }
    g.bench_function("new_series_1000", |b| {
        let batch = samples(1_000);
        b.iter_batched(
            || Store::new(limits()),
            |store| {
                for s in &batch {
                    let _ = store.apply(s);
                }
                store
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn scrape(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    g.sample_size(20);
    // 100,000 counter and gauge series: the scrape target.
    let store = Store::new(limits());
    for i in 0..100_000 {
        let labels = Labels::new([
            ("series", format!("s{i}")),
            ("team", format!("t{}", i % 10)),
        ]);
        let value = if i % 2 == 0 {
            SampleValue::CounterAdd(i as f64)
        } else {
            SampleValue::GaugeSet(i as f64)
        };
        let name = if i % 2 == 0 {
            "bench_counter"
        } else {
            "bench_gauge"
        };
        let _ = store.apply(&Sample::new(name, labels, value));
    }
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("snapshot_and_text_100k_series", |b| {
        b.iter(|| black_box(render(&store.snapshot(), Format::Text).len()))
    });
    g.bench_function("snapshot_and_openmetrics_100k_series", |b| {
        b.iter(|| black_box(render(&store.snapshot(), Format::OpenMetrics).len()))
    });
    g.finish();
}

criterion_group!(benches, update, scrape);
criterion_main!(benches);
