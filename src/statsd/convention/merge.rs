//! Usage lines of one batch (a datagram, or the datagrams and TCP lines read together) that
//! describe the same call identity are summed into one event before pricing. Pure.
//!
//! Why: a StatsD line carries one dimension, so an inclusive sender's `cached_input` line arrives
//! apart from the `input` line that contains it; priced apart, the input bills every token at the
//! base rate and the cache read cannot take its discount back (counters do not go down). Priced
//! together, each part bills once at its own rate. Pricing is linear in the quantities (integer
//! rates), so summing lines of one identity (same provider, model, tags, tier tag, service tier,
//! timestamp, sample rate and semantics) costs exactly what the lines would if each call's lines
//! were priced together. A sum whose parts exceed its whole (a part whose whole came in another
//! batch) is not merged: its lines are priced one by one, conservatively, as before.

use crate::derive::semantics;
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
        && a.service_tier == b.service_tier
        && a.request_input_tokens == b.request_input_tokens
        && a.unix_nanos == b.unix_nanos
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
    // (sum, how many lines it holds); `slot[i]`: the group line i joined, if any.
    let mut groups: Vec<(UsageEvent, usize)> = Vec::new();
    let mut slot: Vec<Option<usize>> = Vec::with_capacity(events.len());
    for ev in &events {
        let joined = if mergeable(ev) {
            match groups.iter().position(|(g, _)| same_call(g, ev)) {
                Some(i) => {
                    add(&mut groups[i].0.usage, &ev.usage);
                    groups[i].1 += 1;
                    Some(i)
                }
                None if groups.len() < MAX_GROUPS => {
                    groups.push((ev.clone(), 1));
                    Some(groups.len() - 1)
                }
                None => None,
            }
        } else {
            None
        };
        slot.push(joined);
    }
    let merged: Vec<bool> = groups
        .iter()
        .map(|(g, n)| {
            *n > 1
                && semantics::normalize(&g.usage, g.semantics, false)
                    .inconsistent
                    .iter()
                    .all(Option::is_none)
        })
        .collect();
    let mut out = Vec::with_capacity(events.len());
    let mut sums: Vec<Option<UsageEvent>> = groups.into_iter().map(|(g, _)| Some(g)).collect();
    for (ev, joined) in events.into_iter().zip(slot) {
        match joined {
            // The first line of a merged group stands for all of them.
            Some(i) if merged.get(i) == Some(&true) => {
                if let Some(sum) = sums.get_mut(i).and_then(Option::take) {
                    out.push(sum);
                }
            }
            _ => out.push(ev),
        }
    }
    out
}

#[cfg(test)]
mod tests;
