//! Usage events of one batch that carry single dimensions of the same call identity (StatsD lines
//! of a datagram or of one TCP read; GenAI metric points of one OTLP export) are summed into one
//! event before pricing. Pure.
//!
//! Why: a StatsD line carries one dimension, so an inclusive sender's `cached_input` line arrives
//! apart from the `input` line that contains it; priced apart, the input bills every token at the
//! base rate and the cache read cannot take its discount back (counters do not go down). Priced
//! together, each part bills once at its own rate. Pricing is linear in the quantities (integer
//! rates), so summing lines of one identity (same provider, model, tags, tier tag, service tier,
//! second, sample rate and semantics) costs exactly what the lines would if each call's lines
//! were priced together. A sum whose parts exceed its whole (a part whose whole came in another
//! batch) is not merged: its lines are priced one by one, conservatively, as before.

use super::normalize;
use crate::model::{Usage, UsageEvent};

/// Distinct identities remembered per batch; lines past it are priced on their own (bounded work
/// per line: at most this many comparisons).
const MAX_GROUPS: usize = 64;

fn same_call(a: &UsageEvent, b: &UsageEvent) -> bool {
    a.provider == b.provider
        && a.model == b.model
        && a.operation == b.operation
        && a.scope == b.scope
        && a.status == b.status
        && a.error_type == b.error_type
        && a.service_tier == b.service_tier
        && a.request_input_tokens == b.request_input_tokens
        // The same second: an SDK stamps each instrument of one collection a little apart.
        && a.unix_nanos / 1_000_000_000 == b.unix_nanos / 1_000_000_000
        && a.weight.to_bits() == b.weight.to_bits()
        && a.semantics == b.semantics
        && a.trace_id == b.trace_id
}

/// Token lines only: request lines carry status and latency of a call (and a `requests` count that
/// would make the sum's input pick a tier), so they stay as sent.
fn mergeable(ev: &UsageEvent) -> bool {
    ev.usage.requests == 0 && ev.duration.is_none() && ev.time_to_first_token.is_none()
}

fn add(into: &mut Usage, u: &Usage) {
    let pairs = [
        (&mut into.input_tokens, u.input_tokens),
        (&mut into.output_tokens, u.output_tokens),
        (&mut into.cached_input_tokens, u.cached_input_tokens),
        (&mut into.cache_write_5m_tokens, u.cache_write_5m_tokens),
        (&mut into.cache_write_1h_tokens, u.cache_write_1h_tokens),
        (&mut into.reasoning_tokens, u.reasoning_tokens),
        (&mut into.audio_input_tokens, u.audio_input_tokens),
        (&mut into.audio_output_tokens, u.audio_output_tokens),
        (&mut into.audio_millis, u.audio_millis),
        (&mut into.characters, u.characters),
        (&mut into.images, u.images),
    ];
    for (a, b) in pairs {
        *a = a.saturating_add(b);
    }
}

/// Sums the usage lines of each call identity in `events` (see the module docs). Events that are
/// not token lines, and identities whose sum would be inconsistent, are returned as they came.
pub fn merge_lines(events: Vec<UsageEvent>) -> Vec<UsageEvent> {
    if events.len() < 2 {
        return events;
    }
    struct Group {
        first: usize,
        sum: Usage,
        lines: usize,
    }
    // Events are not cloned: a group points at its first line and sums the usage.
    let mut groups: Vec<Group> = Vec::new();
    let mut slot: Vec<Option<usize>> = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        let joined = if mergeable(ev) {
            match groups.iter().position(|g| same_call(&events[g.first], ev)) {
                Some(g) => {
                    add(&mut groups[g].sum, &ev.usage);
                    groups[g].lines += 1;
                    Some(g)
                }
                None if groups.len() < MAX_GROUPS => {
                    groups.push(Group {
                        first: i,
                        sum: ev.usage.clone(),
                        lines: 1,
                    });
                    Some(groups.len() - 1)
                }
                None => None,
            }
        } else {
            None
        };
        slot.push(joined);
    }
    // `Some(sum)` for the groups that merge; taken by their first line.
    let mut sums: Vec<Option<Usage>> = groups
        .into_iter()
        .map(|g| {
            let consistent = normalize(&g.sum, events[g.first].semantics, false)
                .inconsistent
                .iter()
                .all(Option::is_none);
            (g.lines > 1 && consistent).then_some(g.sum)
        })
        .collect();
    if sums.iter().all(Option::is_none) {
        return events;
    }
    let merged: Vec<bool> = sums.iter().map(Option::is_some).collect();
    let mut out = Vec::with_capacity(events.len());
    for (mut ev, joined) in events.into_iter().zip(slot) {
        match joined {
            // A merged group's first line carries the sum; its other lines are dropped.
            Some(g) if merged.get(g) == Some(&true) => {
                if let Some(u) = sums.get_mut(g).and_then(Option::take) {
                    ev.usage = u;
                    out.push(ev);
                }
            }
            _ => out.push(ev),
        }
    }
    out
}

#[cfg(test)]
mod tests;
