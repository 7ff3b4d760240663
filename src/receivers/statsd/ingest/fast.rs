//! The known-series fast path. Nearly every line has the simple shape `name:value|type|#tags`
//! (one sample, a plain name, no rate, timestamp or container id) and a series seen before. Such
//! a line's series is found by the line's own parts, and the line is merged with only its value
//! parsed, as the full path ([`super::ingest_line`]) would merge it: one sample, rate 1, no
//! warnings. Every other line, and a new series (which the full path creates), takes the full
//! path (`fast_path_tests` runs both on the same packets).
//!
//! A datagram's lines are looked up [`GROUP`] at a time, in two passes: the first hashes each
//! line's key and loads its table slot, key bytes and entry; the second compares and merges, in
//! line order. At 10k series each line's lookup misses the cache two or three times; passing
//! over the group first lets those misses wait together instead of one line at a time.

use super::aggregate::{Candidate, SeriesKey};
use super::{to_value, LineError, Scope};
use crate::statsd::parse::{self, Simple};

/// Lines looked up together: enough for their misses to overlap, few enough for the stack.
pub(super) const GROUP: usize = 16;

/// One line of a group, with its candidate series when it has the simple shape.
#[derive(Clone, Copy)]
pub(super) struct Looked<'a> {
    pub line: &'a str,
    found: Option<(Simple<'a>, Candidate)>,
}

impl<'a> Looked<'a> {
    pub const NONE: Looked<'static> = Looked {
        line: "",
        found: None,
    };

    /// A line for the full path only.
    pub fn full(line: &'a str) -> Self {
        Looked { line, found: None }
    }
}

fn key<'a>(line: &'a Simple<'a>) -> SeriesKey<'a> {
    SeriesKey {
        kind: line.kind,
        name: line.name,
        tags: &line.tags,
        container: None,
    }
}

/// The first pass over one line: its shape and, when simple, its series' candidate slot.
pub(super) fn look_up<'a>(w: &Scope<'_>, line: &'a str) -> Looked<'a> {
    let limits = &w.rt.config.limits;
    // Too long: the full path refuses it. A floor above a rate of 1 refuses every line there.
    if line.len() > limits.max_line_bytes || 1.0 < limits.min_sample_rate {
        return Looked::full(line);
    }
    let found =
        parse::simple(line).and_then(|simple| Some((simple, w.series.candidate(&key(&simple))?)));
    Looked { line, found }
}

/// The second pass: the line merged into its known series, or `None` for the full path.
pub(super) fn merge(w: &mut Scope<'_>, looked: &Looked<'_>) -> Option<Result<(), LineError>> {
    let (simple, candidate) = looked.found?;
    let i = w.series.confirm(&key(&simple), candidate)?;
    let value = match simple.value() {
        Ok(v) => v,
        Err(e) => return Some(Err(e.into())),
    };
    let sample = parse::Sample {
        kind: simple.kind,
        value,
        rate: 1.0,
        timestamp: None,
        container: None,
    };
    Some(to_value(w.set_hasher, &sample).map(|v| w.series.merge(i, v)))
}
