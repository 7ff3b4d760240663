//! When the config watcher may apply what it reads. An editor or `kubectl cp` writing the config
//! file is seen by the watcher in passing: an empty file (truncated before the write) or one cut
//! mid-line. Applying such a file would drop every budget, pricing entry and mapping it lost, so
//! the watcher waits for the write to finish. SIGHUP and the admin reload are explicit requests
//! and apply what is there (budget spend survives either way: see `derive::budget::orphans`).
//!
//! Pure: file content in, a verdict out.

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    /// Not now; the reason is logged once per content, and the next poll looks again.
    Wait(&'static str),
}

#[derive(Debug, Default)]
pub struct Settle {
    /// The content hash seen at the previous poll, to tell a write still in progress from a file
    /// that simply has no final newline.
    last_seen: Option<u64>,
    /// The content last logged as waiting, so a file left empty logs once, not every poll.
    last_logged: Option<u64>,
}

impl Settle {
    pub fn verdict(&mut self, content: &[u8], hash: u64) -> Verdict {
        let previous = self.last_seen.replace(hash);
        if content.iter().all(u8::is_ascii_whitespace) {
            return Verdict::Wait(
                "the config file is empty (a write in progress?); keeping the running config \
                 until it has content (SIGHUP applies it as it is)",
            );
        }
        if !content.ends_with(b"\n") && previous != Some(hash) {
            return Verdict::Wait(
                "the config file does not end with a newline (a write in progress?); applying \
                 it once it is unchanged at the next check",
            );
        }
        // A later wait on the same content (emptied again) is news again.
        self.last_logged = None;
        Verdict::Apply
    }

    /// Whether a wait for this content is news (to log once per content).
    pub fn first_wait(&mut self, hash: u64) -> bool {
        self.last_logged.replace(hash) != Some(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_never_applied_by_the_watcher() {
        let mut s = Settle::default();
        for content in [&b""[..], b"\n", b"  \n\t\n"] {
            for _ in 0..3 {
                assert!(matches!(s.verdict(content, 1), Verdict::Wait(_)));
            }
        }
    }

    #[test]
    fn a_file_cut_mid_line_waits_one_check_and_a_complete_one_applies_at_once() {
        let mut s = Settle::default();
        let cut = b"budgets:\n  - name: a\n    limit_u";
        assert!(matches!(s.verdict(cut, 7), Verdict::Wait(_)));
        // Still being written: new content, still no newline.
        let longer = b"budgets:\n  - name: a\n    limit_usd: 5";
        assert!(matches!(s.verdict(longer, 8), Verdict::Wait(_)));
        // Unchanged since the last check: a file without a final newline, applied.
        assert_eq!(s.verdict(longer, 8), Verdict::Apply);
        assert_eq!(s.verdict(b"budgets: []\n", 9), Verdict::Apply);
    }

    #[test]
    fn waits_are_logged_once_per_content_until_a_file_applies() {
        let mut s = Settle::default();
        assert!(s.first_wait(1));
        assert!(!s.first_wait(1));
        assert!(s.first_wait(2));
        assert_eq!(s.verdict(b"a: 1\n", 3), Verdict::Apply);
        assert!(
            s.first_wait(2),
            "emptied again after a good file: logged again"
        );
    }
}
