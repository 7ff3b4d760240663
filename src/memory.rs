//! Memory guard: above `limits.max_memory` (resident set size) meterd sheds new series and tells
//! OTLP clients to retry later, instead of growing until the kernel OOM-kills it (the same idea as
//! the OpenTelemetry Collector's memory_limiter). Hysteresis keeps it from flapping: shedding stops
//! only once usage is back under 90 % of the limit.

/// Pure state machine; the caller samples RSS and applies transitions.
#[derive(Debug)]
pub struct MemoryGuard {
    limit_bytes: u64,
    shedding: bool,
}

impl MemoryGuard {
    pub fn new(limit_bytes: u64) -> Self {
        MemoryGuard {
            limit_bytes,
            shedding: false,
        }
    }

    /// Feeds one RSS reading; returns the new state when it changed.
    pub fn update(&mut self, rss_bytes: u64) -> Option<bool> {
        let next = if self.shedding {
            rss_bytes >= self.limit_bytes / 10 * 9
        } else {
            rss_bytes >= self.limit_bytes
        };
        (next != self.shedding).then(|| {
            self.shedding = next;
            next
        })
    }

    pub fn set_limit(&mut self, limit_bytes: u64) {
        self.limit_bytes = limit_bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheds_above_limit_and_recovers_below_ninety_percent() {
        let mut g = MemoryGuard::new(1000);
        assert_eq!(g.update(999), None);
        assert_eq!(g.update(1000), Some(true));
        assert_eq!(g.update(950), None, "still above 90 %: keep shedding");
        assert_eq!(g.update(900), None, "exactly 90 % still sheds");
        assert_eq!(g.update(899), Some(false));
        assert_eq!(g.update(990), None);
    }
}
