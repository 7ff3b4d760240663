//! Giving back what start-up (and each reload) used once: freed heap, and the program's pages that
//! only loading ran (issue 24, BENCHMARKS.md "Idle RSS").
//!
//! Loading parses the YAML config and price table and compiles the table several times over
//! (validation compiles each layer), peaking near 5 MB of heap of which ~2 MB stays in use; glibc
//! keeps freed pages that lie below live allocations resident. And start-up runs code spread over
//! most of the binary (clap, the YAML parser, config checks, the state store's open), which the
//! kernel maps 64 KiB at a time, so ~10 MiB of the binary stay mapped though idle runs a small
//! part of it. Both are released once loading is done; what idle and traffic use is faulted back
//! in from the page cache (minor faults, no disk reads).

use std::path::Path;

/// A range of the address space: start and length in bytes.
type Range = (usize, usize);

/// Ranges of `smaps` (the text of `/proc/self/smaps`) that map `exe` or a shared library
/// read-only and hold no page of their own: every resident page is the file's page, identical to
/// what a later fault maps back. A read-only mapping written before it was made read-only (the
/// RELRO part the dynamic loader relocates) holds anonymous copies and is never picked: dropping
/// those would revert the relocations.
pub fn clean_file_ranges(smaps: &str, exe: &Path) -> Vec<Range> {
    let mut out = Vec::new();
    // The mapping being read: its range, whether its header qualifies, and whether its
    // `Anonymous:` line said 0 (`None` until seen: a mapping without one is kept).
    let mut current: Option<(Range, bool, Option<bool>)> = None;
    let mut flush = |current: &mut Option<(Range, bool, Option<bool>)>| {
        if let Some((range, true, Some(true))) = current.take() {
            out.push(range);
        }
    };
    for line in smaps.lines() {
        if let Some(header) = mapping_header(line) {
            flush(&mut current);
            let (range, eligible) = header_eligibility(header, exe);
            current = Some((range, eligible, None));
        } else if let (Some(kb), Some((_, _, clean))) =
            (line.strip_prefix("Anonymous:"), &mut current)
        {
            // Unparseable counts as anonymous: when in doubt, keep the mapping.
            let kb = kb.trim().trim_end_matches("kB").trim();
            let zero = kb.parse::<u64>().is_ok_and(|n| n == 0);
            *clean = Some(clean.unwrap_or(true) && zero);
        }
    }
    flush(&mut current);
    out
}

/// The fields of a mapping's header line (`start-end perms offset dev inode [path]`).
fn mapping_header(line: &str) -> Option<Vec<&str>> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (range, perms) = (fields.first()?, fields.get(1)?);
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (a, b) = range.split_once('-')?;
    (hex(a) && hex(b) && perms.len() == 4).then_some(fields)
}

fn header_eligibility(fields: Vec<&str>, exe: &Path) -> (Range, bool) {
    let bounds = fields
        .first()
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| {
            let a = usize::from_str_radix(a, 16).ok()?;
            let b = usize::from_str_radix(b, 16).ok()?;
            b.checked_sub(a).filter(|len| *len > 0).map(|len| (a, len))
        });
    let perms = fields.get(1).copied().unwrap_or("");
    // A path with spaces (or " (deleted)" after an upgrade) is not ours to judge: skipped.
    let path = (fields.len() == 6).then(|| fields[5]);
    let read_only_private = perms.starts_with("r-") && perms.ends_with('p');
    let ours = path.is_some_and(|p| Path::new(p) == exe || is_shared_library(p));
    match bounds {
        Some(range) => (range, read_only_private && ours),
        None => ((0, 0), false),
    }
}

fn is_shared_library(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    path.starts_with('/') && (name.ends_with(".so") || name.contains(".so."))
}

/// Releases freed heap and the program's clean pages, once loading is done. Best effort: on a
/// platform or kernel without these calls nothing happens.
pub fn after_load() {
    release_freed_heap();
    release_clean_pages();
}

/// How long after start-up the second pass waits: every task has run its first poll and the
/// timers their first ticks (the store clock every 250 ms, the memory check at 1 s), which is
/// start-up code too and maps more of the binary back in.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// The second pass, [`SETTLE`] after start-up (or nothing, on shutdown before then).
pub async fn once_settled(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(SETTLE) => after_load(),
        _ = shutdown.wait_for(|s| *s) => {}
    }
}

/// Returns free heap pages to the kernel, in every malloc arena.
pub fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointer; it walks glibc's own free lists under their locks
    // and may be called from any thread at any time.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

#[cfg(target_os = "linux")]
fn release_clean_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let resident_before = rss_file_kib();
    let mut released = 0usize;
    for (start, len) in clean_file_ranges(&smaps, &exe) {
        #[allow(unsafe_code)]
        // SAFETY: the range is a whole read-only private file mapping of this process without
        // anonymous pages (checked above from smaps; nothing can write a read-only mapping in
        // between), so MADV_DONTNEED only unmaps pages equal to the file's: the next access maps
        // the same bytes back. No Rust reference can observe a difference.
        let rc = unsafe { nix::libc::madvise(start as *mut _, len, nix::libc::MADV_DONTNEED) };
        if rc == 0 {
            released += len;
        }
    }
    tracing::debug!(
        mapped_kib = released / 1024,
        resident_file_kib_before = resident_before,
        resident_file_kib_after = rss_file_kib(),
        "start-up pages of the binary and libraries released"
    );
}

/// `RssFile` of this process, for the log line.
#[cfg(target_os = "linux")]
fn rss_file_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssFile:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(not(target_os = "linux"))]
fn release_clean_pages() {}

#[cfg(test)]
#[path = "trim_tests.rs"]
mod tests;
