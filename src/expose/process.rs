//! `process_*` metrics, read from `/proc/self` at scrape time (Linux). Names and meanings follow the
//! Prometheus client libraries, so standard dashboards work unchanged. Where `/proc` is missing the
//! metrics are simply absent.

use crate::model::SampleValue;
use crate::store::Store;
use crate::telemetry::{self, catalogue};

/// Linux reports CPU times in USER_HZ ticks, which is 100 on every mainstream architecture; reading
/// sysconf would need unsafe code for no practical gain.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
    pub threads: Option<f64>,
}

/// Parses `/proc/self/stat`: fields after the parenthesised command name (which may itself hold
/// spaces and parentheses, hence the search from the right).
pub fn parse_stat(stat: &str) -> (Option<f64>, Option<f64>) {
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return (None, None);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state(0) ... utime(11) stime(12) ... num_threads(17)
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    let cpu = match (num(11), num(12)) {
        (Some(u), Some(s)) => Some((u + s) / TICKS_PER_SECOND),
        _ => None,
    };
    (cpu, num(17))
}

/// Parses `VmRSS:` / `VmSize:` (kB) from `/proc/self/status`.
pub fn parse_status(status: &str) -> (Option<f64>, Option<f64>) {
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v * 1024.0)
    };
    (kb("VmRSS:"), kb("VmSize:"))
}

pub fn parse_max_fds(limits: &str) -> Option<f64> {
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

pub fn read() -> ProcessStats {
    let (cpu_seconds, threads) = std::fs::read_to_string("/proc/self/stat")
        .map(|s| parse_stat(&s))
        .unwrap_or((None, None));
    let (resident_bytes, virtual_bytes) = std::fs::read_to_string("/proc/self/status")
        .map(|s| parse_status(&s))
        .unwrap_or((None, None));
    ProcessStats {
        cpu_seconds,
        resident_bytes,
        virtual_bytes,
        open_fds: std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as f64)
            .ok(),
        max_fds: std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| parse_max_fds(&l)),
        threads,
    }
}

/// Writes the current process figures into the store (called right before each render).
pub fn record(store: &Store, start_time_unix: f64) {
    let p = read();
    if let Some(cpu) = p.cpu_seconds {
        // The process's own running total: set, not added to.
        let s = telemetry::sample(
            &catalogue::PROCESS_CPU_SECONDS,
            &[],
            SampleValue::CounterSet {
                value: cpu,
                start_unix_nanos: 0,
            },
        );
        let _ = store.apply(&s);
    }
    let gauges = [
        (&catalogue::PROCESS_RESIDENT_MEMORY_BYTES, p.resident_bytes),
        (&catalogue::PROCESS_VIRTUAL_MEMORY_BYTES, p.virtual_bytes),
        (&catalogue::PROCESS_OPEN_FDS, p.open_fds),
        (&catalogue::PROCESS_MAX_FDS, p.max_fds),
        (&catalogue::PROCESS_THREADS, p.threads),
        (
            &catalogue::PROCESS_START_TIME_SECONDS,
            Some(start_time_unix),
        ),
    ];
    for (family, v) in gauges {
        if let Some(v) = v {
            telemetry::gauge(store, family, &[], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_name() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 \
                    12345 1000000 200 18446744073709551615";
        let (cpu, threads) = parse_stat(stat);
        assert_eq!(cpu, Some(3.0));
        assert_eq!(threads, Some(7.0));
        assert_eq!(parse_stat("garbage"), (None, None));
    }

    #[test]
    fn status_and_limits() {
        let status = "Name:\tmeterd\nVmSize:\t  20000 kB\nVmRSS:\t    5000 kB\n";
        assert_eq!(
            parse_status(status),
            (Some(5000.0 * 1024.0), Some(20000.0 * 1024.0))
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024.0));
    }

    #[test]
    fn reads_this_process() {
        let p = read();
        assert!(p.resident_bytes.unwrap_or(0.0) > 0.0);
        assert!(p.open_fds.unwrap_or(0.0) > 0.0);
    }
}
