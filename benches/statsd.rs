//! StatsD hot path: parsing alone, and parse + map + store update (what a worker does per packet).
//!
//! `CARGO_TARGET_DIR=/work/main/target cargo bench --bench statsd`
//! Input: 50 packets of 20 lines each (1000 distinct series), mixed types (c, ms, g, h, d, s) with
//! 2-3 DogStatsD tags, as a typical instrumented service sends them. Throughput is in lines.
//! `parse_map_store_10k_series`: the load generator's shape (`meterd-load statsd --series 10000`),
//! 10,000 series in turn, two lines per series between flushes: what a worker sees flat out.
//! `parse_map_store_10k_series_x{1,2}_threads`: the same per worker, one or two workers on threads
//! of their own into one store (what `statsd.udp_receive_threads: 2` adds on a second core).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meterd::config::Config;
use meterd::pipeline::{Pipeline, Snapshot};
use meterd::receivers::statsd::ingest::{Transport, Worker};
use meterd::statsd::parse::{lines, parse_line};
use meterd::store::Store;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

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

/// `series` series in turn, two lines per series; lines `from..to` of that sequence, in packets.
fn series_packets(series: usize, lines: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    let all: Vec<usize> = lines.collect();
    all.chunks(LINES_PER_PACKET)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&i| statsd_line::line(i, series, 2) + "\n")
                .collect::<String>()
                .into_bytes()
        })
        .collect()
}

fn many_series(c: &mut Criterion) {
    const SERIES: usize = 10_000;
    let packets = series_packets(SERIES, 0..SERIES * 2);
    let mut g = c.benchmark_group("statsd");
    g.throughput(Throughput::Elements((SERIES * 2) as u64));
    bench_worker(&mut g, "parse_map_store_10k_series", &packets);
    g.finish();
}

/// What a second core adds: `threads` workers on threads of their own (as
/// `statsd.udp_receive_threads` runs them), each with 10,000 series of its own (a sender each) and
/// the same families, into one store. Per iteration each worker takes its 20,000 lines and
/// flushes; an iteration ends when the slowest worker is done, so lines/s is the group's rate.
fn threads(c: &mut Criterion) {
    const SERIES: usize = 10_000;
    let mut g = c.benchmark_group("statsd");
    // `own_families`: each thread's metric names differ (`load0.*`, `load1.*`), so the two never
    // flush into the same store family (and its lock).
    for (threads, own_families) in [(1usize, false), (2, false), (2, true)] {
        let total = SERIES * threads;
        // Series s of thread t: s in t*SERIES..(t+1)*SERIES, each twice per iteration.
        let work: Vec<Vec<Vec<u8>>> = (0..threads)
            .map(|t| {
                let mut p = series_packets(total, t * SERIES..(t + 1) * SERIES);
                p.extend(series_packets(
                    total,
                    total + t * SERIES..total + (t + 1) * SERIES,
                ));
                if own_families {
                    let prefix = format!("load{t}.");
                    for packet in &mut p {
                        *packet = String::from_utf8_lossy(packet)
                            .replace("load.", &prefix)
                            .into_bytes();
                    }
                }
                p
            })
            .collect();
        let snapshot = match Snapshot::try_new(Arc::new(Config::default())) {
            Ok(s) => s,
            Err(issues) => panic!("the default config is invalid: {issues}"),
        };
        let pipeline = Pipeline::new(Arc::new(Store::default()), snapshot);
        // Threads that live through the whole measurement (a thread per iteration would move a
        // worker's tables from core to core), started and awaited at two barriers per iteration.
        let (start, done) = (Barrier::new(threads + 1), Barrier::new(threads + 1));
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for packets in &work {
                let (pipeline, start, done, stop) = (&pipeline, &start, &done, &stop);
                scope.spawn(move || {
                    let mut worker = Worker::default();
                    loop {
                        start.wait();
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        for p in packets {
                            worker.batch(pipeline, Transport::Udp, black_box(p), 0);
                        }
                        worker.flush(pipeline);
                        done.wait();
                    }
                });
            }
            let round = || {
                start.wait();
                done.wait();
            };
            // The series are created before measuring, as in `bench_worker`.
            round();
            g.throughput(Throughput::Elements((total * 2) as u64));
            g.bench_function(
                format!(
                    "parse_map_store_10k_series_x{threads}_threads{}",
                    if own_families { "_own_families" } else { "" }
                ),
                |b| {
                    b.iter_custom(|iters| {
                        let t = std::time::Instant::now();
                        for _ in 0..iters {
                            round();
                        }
                        t.elapsed()
                    })
                },
            );
            stop.store(true, Ordering::Relaxed);
            start.wait();
        });
    }
    g.finish();
}

criterion_group!(benches, parse, many_series, threads);
criterion_main!(benches);
