//! `ExportTraceServiceRequest` read in place: span ids, times, trace state and attribute keys and
//! string values are slices of the request buffer (prost's decode made a `String` per attribute
//! key and value, and dropping them was as costly again). Resources and scopes are checked in
//! place and decoded with prost, once each, as for metrics; links are checked and skipped (meterd
//! does not read them).
//!
//! The same one-sided contract as [`super::decode`]: either the request is read exactly as prost
//! would read it, or [`Bail`] and the caller decodes it with prost.

use super::super::wire::{self, check, schema, Bail, Reader, Schema, Wire};
use super::{attr, envelope, Attr};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;

#[derive(Debug, Default)]
pub struct TracesView<'a> {
    pub resource_spans: Vec<ResourceSpansView<'a>>,
}

#[derive(Debug, Default)]
pub struct ResourceSpansView<'a> {
    pub resource: Option<Resource>,
    pub scope_spans: Vec<ScopeSpansView<'a>>,
}

#[derive(Debug, Default)]
pub struct ScopeSpansView<'a> {
    pub scope: Option<InstrumentationScope>,
    pub spans: Vec<SpanView<'a>>,
}

/// The fields of a span meterd reads; the others are checked as prost would check them.
#[derive(Debug, Default)]
pub struct SpanView<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub trace_state: &'a str,
    pub name: &'a str,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Vec<Attr<'a>>,
    /// Each event's name and time (their attributes are checked, not read).
    pub events: Vec<(&'a str, u64)>,
    /// The status code, `None` without a status.
    pub status: Option<i32>,
}

impl TracesView<'_> {
    pub fn span_count(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }
}

/// Depth of each message below the request, for [`check`]'s bound.
const RESOURCE_DEPTH: u32 = 2;
const SCOPE_DEPTH: u32 = 3;
const SPAN_PART_DEPTH: u32 = 4;

static LINK: Schema = Schema(&[
    (1, wire::Kind::Bytes),
    (2, wire::Kind::Bytes),
    (3, wire::Kind::Str),
    (4, wire::Kind::Msg(&schema::KEY_VALUE)),
    (5, wire::Kind::Varint),
    (6, wire::Kind::I32),
]);

/// The request read in place, or [`Bail`] for prost to decode.
pub fn decode_traces(buf: &[u8]) -> Result<TracesView<'_>, Bail> {
    let mut out = TracesView::default();
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        if n == 1 {
            out.resource_spans.push(resource_spans(wire::len(w)?)?);
        }
    }
    Ok(out)
}

fn resource_spans(buf: &[u8]) -> Result<ResourceSpansView<'_>, Bail> {
    let (resource, scope_spans) = envelope(buf, (&schema::RESOURCE, RESOURCE_DEPTH), scope_spans)?;
    Ok(ResourceSpansView {
        resource,
        scope_spans,
    })
}

fn scope_spans(buf: &[u8]) -> Result<ScopeSpansView<'_>, Bail> {
    let (scope, spans) = envelope(buf, (&schema::SCOPE, SCOPE_DEPTH), span)?;
    Ok(ScopeSpansView { scope, spans })
}

fn span(buf: &[u8]) -> Result<SpanView<'_>, Bail> {
    // Most spans carry under a dozen attributes: one allocation for them.
    let mut s = SpanView {
        attributes: Vec::with_capacity(12),
        ..SpanView::default()
    };
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match n {
            1 => s.trace_id = wire::len(w)?,
            2 => s.span_id = wire::len(w)?,
            3 => s.trace_state = wire::str(w)?,
            4 => {
                wire::len(w)?;
            }
            5 => s.name = wire::str(w)?,
            6 | 10 | 12 | 14 => {
                wire::varint(w)?;
            }
            7 => s.start_time_unix_nano = wire::fixed64(w)?,
            8 => s.end_time_unix_nano = wire::fixed64(w)?,
            9 => s.attributes.push(attr(wire::len(w)?)?),
            11 => s.events.push(event(wire::len(w)?)?),
            13 => check(&LINK, wire::len(w)?, SPAN_PART_DEPTH)?,
            15 => {
                // A second status merges into the first in prost: left to prost.
                if s.status.is_some() {
                    return Err(Bail);
                }
                s.status = Some(status(wire::len(w)?)?);
            }
            // Flags: fixed32, not read.
            16 if !matches!(w, Wire::I32(_)) => return Err(Bail),
            _ => {}
        }
    }
    Ok(s)
}

fn event(buf: &[u8]) -> Result<(&str, u64), Bail> {
    let (mut name, mut time) = ("", 0);
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match n {
            1 => time = wire::fixed64(w)?,
            2 => name = wire::str(w)?,
            3 => check(&schema::KEY_VALUE, wire::len(w)?, SPAN_PART_DEPTH + 1)?,
            4 => {
                wire::varint(w)?;
            }
            _ => {}
        }
    }
    Ok((name, time))
}

fn status(buf: &[u8]) -> Result<i32, Bail> {
    let mut code = 0;
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match n {
            2 => {
                wire::str(w)?;
            }
            // An enum: prost keeps any int32, known or not.
            3 => code = wire::varint(w)? as i32,
            _ => {}
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests;
