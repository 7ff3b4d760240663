//! StatsD hot path: parsing alone, and parse + map + store update (what a worker does per packet).
//!
//! `CARGO_TARGET_DIR=/work/main/target cargo bench --bench statsd`
//! Input: 50 packets of 20 lines each (1000 distinct series), mixed types (c, ms, g, h, d, s) with
//! 2-3 DogStatsD tags, as a typical instrumented service sends them. Throughput is in lines.
//! `parse_map_store_10k_series`: the load generator's shape (`meterd-load statsd --series 10000`),
//! 10,000 series in turn, two lines per series between flushes: what a worker sees flat out.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meterd::config::Config;
use meterd::pipeline::{Pipeline, Snapshot};
use meterd::receivers::statsd::ingest::{Transport, Worker};
use meterd::statsd::parse::{lines, parse_line};
use meterd::store::Store;
use std::hint::black_box;
use std::sync::Arc;

#[path = "../examples/meterd-load/statsd_line.rs"]
mod statsd_line;

const LINES_PER_PACKET: usize = 20;
const PACKETS: usize = 50;

fn line(i: usize) -> String {
    let family = i % 25;
    let (value, kind) = match i % 10 {
        0..=3 => ("1", "c"),
        4..=5 => ("12.5", "ms"),
        6 => ("42", "g"),
        7 => ("3", "h"),
        8 => ("0.25", "d"),
        _ => ("user42", "s"),
    };
    let tags = if i % 2 == 0 { ",region:eu" } else { "" };
    format!(
        "bench.svc.m{family}.{kind}:{value}|{kind}|#route:/api/r{},status:{}{tags}",
        i % 20,
        200 + i % 3
    )
}

fn packets() -> Vec<Vec<u8>> {
    (0..PACKETS)
        .map(|p| {
            (0..LINES_PER_PACKET)
                .map(|l| line(p * LINES_PER_PACKET + l))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    let packets = packets();
    let mut g = c.benchmark_group("statsd");
    g.throughput(Throughput::Elements((PACKETS * LINES_PER_PACKET) as u64));
    g.bench_function("parse_lines", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for p in &packets {
                for l in lines(p) {
                    if let Ok(line) = parse_line(black_box(l)) {
                        n += line.samples().count() + line.tags.count();
                    }
                }
            }
            black_box(n)
        })
    });
    bench_worker(&mut g, "parse_map_store", &packets);
    g.finish();
}

/// What a worker does with `packets` and a flush, its series already created (steady state).
fn bench_worker(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    packets: &[Vec<u8>],
) {
    let snapshot = match Snapshot::try_new(Arc::new(Config::default())) {
        Ok(s) => s,
        Err(issues) => panic!("the default config is invalid: {issues}"),
    };
    let pipeline = Pipeline::new(Arc::new(Store::default()), snapshot);
    let mut worker = Worker::default();
    for p in packets {
        worker.batch(&pipeline, Transport::Udp, p, 0);
    }
    worker.flush(&pipeline);
    g.bench_function(name, |b| {
        b.iter(|| {
            for p in packets {
                worker.batch(&pipeline, Transport::Udp, black_box(p), 0);
            }
            worker.flush(&pipeline);
        })
    });
}

fn many_series(c: &mut Criterion) {
    const SERIES: usize = 10_000;
    let packets: Vec<Vec<u8>> = (0..SERIES * 2 / LINES_PER_PACKET)
        .map(|p| {
            (0..LINES_PER_PACKET)
                .map(|l| statsd_line::line(p * LINES_PER_PACKET + l, SERIES, 2) + "\n")
                .collect::<String>()
                .into_bytes()
        })
        .collect();
    let mut g = c.benchmark_group("statsd");
    g.throughput(Throughput::Elements((SERIES * 2) as u64));
    bench_worker(&mut g, "parse_map_store_10k_series", &packets);
    g.finish();
}

criterion_group!(benches, parse, many_series);
criterion_main!(benches);
