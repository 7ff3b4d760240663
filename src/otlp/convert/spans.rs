//! What span conversion reads from a span and a trace request, for prost's types and the
//! in-place view ([`crate::otlp::view::traces`]) alike: [`super::genai::span_usage`],
//! [`super::stage::span_stage`] and [`super::ttft::span_ttft`] are written once over these.

use super::attrs::Attribute;
use crate::otlp::view::traces::{SpanView, TracesView};
use crate::otlp::view::Attr;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};

pub trait SpanData {
    type Attr: Attribute;
    fn attributes(&self) -> &[Self::Attr];
    fn trace_id(&self) -> &[u8];
    fn span_id(&self) -> &[u8];
    fn trace_state(&self) -> &str;
    fn start_time_unix_nano(&self) -> u64;
    fn end_time_unix_nano(&self) -> u64;
    /// Whether the span's status is `ERROR`.
    fn status_is_error(&self) -> bool;
    /// Each event's name and time.
    fn events(&self) -> impl Iterator<Item = (&str, u64)>;
}

impl SpanData for Span {
    type Attr = KeyValue;

    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    fn trace_id(&self) -> &[u8] {
        &self.trace_id
    }

    fn span_id(&self) -> &[u8] {
        &self.span_id
    }

    fn trace_state(&self) -> &str {
        &self.trace_state
    }

    fn start_time_unix_nano(&self) -> u64 {
        self.start_time_unix_nano
    }

    fn end_time_unix_nano(&self) -> u64 {
        self.end_time_unix_nano
    }

    fn status_is_error(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.code == StatusCode::Error as i32)
    }

    fn events(&self) -> impl Iterator<Item = (&str, u64)> {
        self.events
            .iter()
            .map(|e| (e.name.as_str(), e.time_unix_nano))
    }
}

impl<'a> SpanData for SpanView<'a> {
    type Attr = Attr<'a>;

    fn attributes(&self) -> &[Attr<'a>] {
        &self.attributes
    }

    fn trace_id(&self) -> &[u8] {
        self.trace_id
    }

    fn span_id(&self) -> &[u8] {
        self.span_id
    }

    fn trace_state(&self) -> &str {
        self.trace_state
    }

    fn start_time_unix_nano(&self) -> u64 {
        self.start_time_unix_nano
    }

    fn end_time_unix_nano(&self) -> u64 {
        self.end_time_unix_nano
    }

    fn status_is_error(&self) -> bool {
        self.status == Some(StatusCode::Error as i32)
    }

    fn events(&self) -> impl Iterator<Item = (&str, u64)> {
        self.events.iter().copied()
    }
}

/// The spans of a trace export, grouped as sent: per resource and instrumentation scope.
pub trait TraceRequest {
    type Span: SpanData;
    fn span_count(&self) -> usize;
    /// Each scope's spans with their resource's attributes and the scope's name.
    fn scopes(&self) -> impl Iterator<Item = (&[KeyValue], &str, &[Self::Span])>;
}

impl TraceRequest for ExportTraceServiceRequest {
    type Span = Span;

    fn span_count(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }

    fn scopes(&self) -> impl Iterator<Item = (&[KeyValue], &str, &[Span])> {
        self.resource_spans.iter().flat_map(|rs| {
            let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            rs.scope_spans.iter().map(move |ss| {
                let scope = ss.scope.as_ref().map_or("", |s| s.name.as_str());
                (resource, scope, &ss.spans[..])
            })
        })
    }
}

impl<'a> TraceRequest for TracesView<'a> {
    type Span = SpanView<'a>;

    fn span_count(&self) -> usize {
        TracesView::span_count(self)
    }

    fn scopes(&self) -> impl Iterator<Item = (&[KeyValue], &str, &[SpanView<'a>])> {
        self.resource_spans.iter().flat_map(|rs| {
            let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            rs.scope_spans.iter().map(move |ss| {
                let scope = ss.scope.as_ref().map_or("", |s| s.name.as_str());
                (resource, scope, &ss.spans[..])
            })
        })
    }
}
