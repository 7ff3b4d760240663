//! What the load cost and what meterd counted: its own counters (scraped), the process's CPU time
//! and RSS (/proc), and the kernel's UDP drop counter for the target socket.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Sum of every series of each named family in a text exposition (labels ignored unless the
/// requested name includes them).
pub fn scrape_values(url: &str) -> Result<BTreeMap<String, f64>, String> {
    let body = reqwest::blocking::Client::new()
        .get(url)
        .timeout(Duration::from_secs(30))
        .send()
        .and_then(|r| r.text())
        .map_err(|e| format!("scrape {url}: {e}"))?;
    let mut out = BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let family = series.split('{').next().unwrap_or(series);
        *out.entry(family.to_string()).or_insert(0.0) += v;
        out.insert(series.to_string(), v);
    }
    Ok(out)
}

pub struct ProcSample {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// CPU time (user + system) and RSS of `pid`, from /proc.
pub fn proc_sample(pid: u32) -> Result<ProcSample, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; index 11 and 12 after the command.
    let hz = clock_ticks_per_second();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(ProcSample {
        cpu_seconds: (ticks(11) + ticks(12)) / hz,
        rss_bytes: rss_kib * 1024,
    })
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The kernel's drop counter of the UDP socket bound to `port` (all sockets on that port summed).
pub fn udp_kernel_drops(port: u16) -> u64 {
    let mut total = 0;
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_port = cols
                .get(1)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                total += cols.last().and_then(|d| d.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    total
}

/// Before/after bookkeeping around one load run.
pub struct Run {
    metrics_url: String,
    pid: Option<u32>,
    started: Instant,
    before: BTreeMap<String, f64>,
    proc_before: Option<ProcSample>,
}

impl Run {
    pub fn start(metrics_url: &str, pid: Option<u32>) -> Result<Run, String> {
        Ok(Run {
            metrics_url: metrics_url.to_string(),
            pid,
            before: scrape_values(metrics_url)?,
            proc_before: pid.map(proc_sample).transpose()?,
            started: Instant::now(),
        })
    }

    /// Waits until the named counters stop moving (meterd drained its queues), then reports
    /// their deltas and the process cost over the run. `counters[0]` counts `unit` at meterd:
    /// CPU is also given per item it counted, since what a client counts as sent need not be
    /// what arrived (an HTTP client may resend a request it believes unsent).
    pub fn finish(self, sent: u64, unit: &str, counters: &[&str]) -> Result<(), String> {
        let send_secs = self.started.elapsed().as_secs_f64();
        let mut after = scrape_values(&self.metrics_url)?;
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(200));
            let next = scrape_values(&self.metrics_url)?;
            let settled = counters.iter().all(|c| next.get(*c) == after.get(*c));
            after = next;
            if settled {
                break;
            }
        }
        println!(
            "sent            {sent} {unit} in {send_secs:.2} s = {:.0} {unit}/s",
            sent as f64 / send_secs
        );
        let delta = |c: &str| {
            after.get(c).copied().unwrap_or(0.0) - self.before.get(c).copied().unwrap_or(0.0)
        };
        for c in counters {
            println!("{c:<48} +{:.0}", delta(c));
        }
        let counted = counters.first().map_or(0.0, |c| delta(c));
        if let (Some(pid), Some(before)) = (self.pid, self.proc_before) {
            let now = proc_sample(pid)?;
            let cpu = now.cpu_seconds - before.cpu_seconds;
            println!(
                "meterd cpu      {cpu:.2} s ({:.1}% of one core), {:.3} us per {unit_one} sent, {:.3} us per {unit_one} counted",
                100.0 * cpu / send_secs,
                1e6 * cpu / sent.max(1) as f64,
                1e6 * cpu / counted.max(1.0),
                unit_one = unit.trim_end_matches('s')
            );
            println!(
                "meterd rss      {:.1} MiB (before {:.1} MiB)",
                now.rss_bytes as f64 / 1048576.0,
                before.rss_bytes as f64 / 1048576.0
            );
        }
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct ScrapeArgs {
    #[arg(long, default_value = "http://127.0.0.1:9464/metrics")]
    pub metrics: String,
    #[arg(long, default_value_t = 20)]
    pub count: usize,
    /// Ask for OpenMetrics instead of the text format.
    #[arg(long)]
    pub openmetrics: bool,
}

pub fn scrape(a: ScrapeArgs) -> Result<(), String> {
    let client = reqwest::blocking::Client::new();
    let accept = if a.openmetrics {
        "application/openmetrics-text; version=1.0.0"
    } else {
        "text/plain; version=0.0.4"
    };
    let mut times = Vec::with_capacity(a.count);
    let mut bytes = 0;
    for _ in 0..a.count.max(1) {
        let t = Instant::now();
        let body = client
            .get(&a.metrics)
            .header("accept", accept)
            .send()
            .and_then(|r| r.bytes())
            .map_err(|e| format!("scrape: {e}"))?;
        times.push(t.elapsed());
        bytes = body.len();
    }
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!(
        "scrapes {}  body {bytes} bytes  p50 {:.2} ms  p90 {:.2} ms  max {:.2} ms",
        times.len(),
        pct(0.5),
        pct(0.9),
        pct(1.0)
    );
    Ok(())
}
