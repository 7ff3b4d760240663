//! The load generator's StatsD line, also used by `benches/statsd.rs` (through `#[path]`), so the
//! in-process benches parse exactly what `meterd-load statsd` sends.

/// Deterministic line `i`: metric family by i % 50, series by i % series; types in the mix a
/// real app sends (mostly counters and timers).
pub fn line(i: usize, series: usize, tags: usize) -> String {
    let s = i % series.max(1);
    let family = s % 50;
    let (value, kind) = match i % 10 {
        0..=4 => ("1", "c"),
        5..=6 => ("12.5", "ms"),
        7 => ("42", "g"),
        8 => ("3", "h"),
        _ => ("0.25", "d"),
    };
    let mut l = format!("load.m{family}.{kind}:{value}|{kind}|#series:s{s}");
    for t in 0..tags {
        l.push_str(&format!(",tag{t}:v{}", (s / 50 + t) % 8));
    }
    l
}
