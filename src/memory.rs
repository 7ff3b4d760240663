//! Memory guard: above `limits.max_memory` (resident set size) meterd sheds new series instead of
//! growing until the kernel OOM-kills it (the idea of the OpenTelemetry Collector's
//! memory_limiter). Samples of series it already holds, and spend, keep flowing: only growth is
//! refused.
//!
//! Shedding stops when resident memory is back under 90 % of the limit, or when meterd itself
//! holds clearly less than when the limit was hit (a tenth of its series gone, e.g. expired after
//! a flood). The second way matters because the allocator keeps freed pages: after a flood RSS can
//! stay above the limit for good while the store is nearly empty, and a guard on RSS alone then
//! shed forever (the guard "latched"). Released that way, the guard sheds again only once the
//! store has grown back to where the limit was hit (the freed pages are in use again), or RSS
//! grows by a tenth of the limit past what it was at the release (something else is growing).

/// Below this many series at the limit, the store is not what fills memory: only RSS releases.
const MIN_SERIES_TO_JUDGE: u64 = 100;

/// What one guard step looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub rss_bytes: u64,
    /// Series meterd holds: the bulk of what it allocates, and what the guard refuses to grow.
    pub series: u64,
}

/// Why the guard flipped, for the log line and `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Resident memory reached the limit.
    Shed,
    /// Resident memory went back under 90 % of the limit.
    ReleasedRss,
    /// meterd holds a tenth fewer series than when shedding began (RSS may still be high).
    ReleasedHeld,
}

/// Pure state machine; the caller samples RSS and the store and applies transitions.
#[derive(Debug)]
pub struct MemoryGuard {
    limit_bytes: u64,
    shedding: bool,
    /// Series held when shedding began.
    series_at_limit: u64,
    /// Set after a release on held state: the series count and RSS at the release. Below that
    /// many series and that RSS (plus a tenth of the limit), an RSS above the limit is the
    /// allocator's retained pages, not new growth.
    rearm_at: Option<(u64, u64)>,
}

impl MemoryGuard {
    pub fn new(limit_bytes: u64) -> Self {
        MemoryGuard {
            limit_bytes,
            shedding: false,
            series_at_limit: 0,
            rearm_at: None,
        }
    }

    pub fn shedding(&self) -> bool {
        self.shedding
    }

    /// Feeds one reading; returns what changed, if anything.
    pub fn update(&mut self, r: Reading) -> Option<Change> {
        let low = self.limit_bytes / 10 * 9;
        if r.rss_bytes < low {
            self.rearm_at = None;
        }
        if self.shedding {
            let mark = self.series_at_limit;
            if r.rss_bytes < low {
                self.shedding = false;
                return Some(Change::ReleasedRss);
            }
            if mark >= MIN_SERIES_TO_JUDGE && r.series <= mark - mark / 10 {
                self.shedding = false;
                self.rearm_at = Some((mark, r.rss_bytes));
                return Some(Change::ReleasedHeld);
            }
            return None;
        }
        let grown_back = self.rearm_at.is_none_or(|(series, rss)| {
            r.series >= series || r.rss_bytes >= rss.saturating_add(self.limit_bytes / 10)
        });
        if r.rss_bytes >= self.limit_bytes && grown_back {
            self.shedding = true;
            self.series_at_limit = r.series;
            self.rearm_at = None;
            return Some(Change::Shed);
        }
        None
    }

    pub fn set_limit(&mut self, limit_bytes: u64) {
        self.limit_bytes = limit_bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rss_bytes: u64, series: u64) -> Reading {
        Reading { rss_bytes, series }
    }

    #[test]
    fn sheds_above_limit_and_recovers_below_ninety_percent() {
        let mut g = MemoryGuard::new(1000);
        assert_eq!(g.update(at(999, 0)), None);
        assert_eq!(g.update(at(1000, 0)), Some(Change::Shed));
        assert_eq!(
            g.update(at(950, 0)),
            None,
            "still above 90 %: keep shedding"
        );
        assert_eq!(g.update(at(900, 0)), None, "exactly 90 % still sheds");
        assert_eq!(g.update(at(899, 0)), Some(Change::ReleasedRss));
        assert_eq!(g.update(at(990, 0)), None);
    }

    #[test]
    fn a_store_emptied_after_a_flood_releases_the_guard_although_rss_stays_high() {
        let mut g = MemoryGuard::new(1000);
        assert_eq!(g.update(at(1050, 200_000)), Some(Change::Shed));
        assert_eq!(g.update(at(1050, 185_000)), None, "a few expired: not yet");
        // The flood expired; the allocator keeps its pages, so RSS does not move.
        assert_eq!(g.update(at(1050, 100)), Some(Change::ReleasedHeld));
        assert!(!g.shedding());
        // Regrowth into the retained pages is not new memory: no shedding until the mark.
        assert_eq!(g.update(at(1050, 150_000)), None);
        assert_eq!(g.update(at(1050, 199_999)), None);
        assert_eq!(g.update(at(1050, 200_000)), Some(Change::Shed));
    }

    #[test]
    fn after_a_release_on_held_state_real_growth_still_sheds() {
        let mut g = MemoryGuard::new(1000);
        // A flood overshot the limit far before the guard's next look; RSS stays there.
        g.update(at(1500, 1_000));
        assert_eq!(g.update(at(1500, 10)), Some(Change::ReleasedHeld));
        assert_eq!(g.update(at(1599, 10)), None);
        assert_eq!(
            g.update(at(1600, 10)),
            Some(Change::Shed),
            "RSS a tenth of the limit past the release with few series: something else grows"
        );
        // Back under 90 %: the mark is forgotten and the plain RSS rule applies again.
        assert_eq!(g.update(at(800, 10)), Some(Change::ReleasedRss));
        assert_eq!(g.update(at(1000, 99)), Some(Change::Shed));
        assert_eq!(
            g.update(at(1000, 0)),
            None,
            "99 series: too few to judge by"
        );
        assert_eq!(g.update(at(800, 0)), Some(Change::ReleasedRss));
        assert_eq!(g.update(at(1000, 10)), Some(Change::Shed));
    }

    #[test]
    fn memory_held_outside_the_store_cannot_release_on_held_state() {
        // Shedding began with (almost) no series: held state says nothing, only RSS releases.
        let mut g = MemoryGuard::new(1000);
        assert_eq!(g.update(at(1000, 5)), Some(Change::Shed));
        assert_eq!(g.update(at(1000, 0)), None);
        assert_eq!(g.update(at(10, 0)), Some(Change::ReleasedRss));
    }

    #[test]
    fn no_limit_never_sheds() {
        let mut g = MemoryGuard::new(u64::MAX);
        assert_eq!(g.update(at(u64::MAX - 1, u64::MAX)), None);
    }
}
