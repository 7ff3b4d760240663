//! One bad item must not refuse a whole OTLP request. prost refuses a message whole when any
//! string in it is not UTF-8, so one span with a broken attribute used to refuse every span of the
//! request, spend included. When a protobuf request fails to decode, [`repair`] walks its wire
//! format down the OTLP nesting (request -> resource -> scope -> [metric ->] item), keeps every
//! unit that decodes, drops the items (span, data point, log record) that do not, and reports how
//! many it dropped; the caller decodes the repaired bytes and answers with `partial_success`.
//! When a failure is above the items (a resource's or scope's own attributes, a metric's name),
//! every item under that unit is dropped and counted. A request whose wire structure itself is
//! broken is not repaired: it stays a malformed request. Pure; only on the failure path.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// Which export request a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Metrics,
    Traces,
    Logs,
}

/// A request with its undecodable items removed.
#[derive(Debug, PartialEq)]
pub struct Repaired {
    pub body: Vec<u8>,
    /// Items dropped (spans, data points or log records).
    pub rejected: i64,
}

/// One level of the OTLP nesting.
struct Spec {
    /// Whether a unit of this message decodes whole.
    decodes: fn(&[u8]) -> bool,
    /// The fields holding the next level (empty: this is an item).
    children: &'static [(u32, &'static Spec)],
}

fn decodes<T: prost::Message + Default>(b: &[u8]) -> bool {
    T::decode(b).is_ok()
}

const fn item(decodes: fn(&[u8]) -> bool) -> Spec {
    Spec {
        decodes,
        children: &[],
    }
}

static SPAN: Spec = item(decodes::<Span>);
static SCOPE_SPANS: Spec = Spec {
    decodes: decodes::<ScopeSpans>,
    children: &[(2, &SPAN)],
};
static RESOURCE_SPANS: Spec = Spec {
    decodes: decodes::<ResourceSpans>,
    children: &[(2, &SCOPE_SPANS)],
};
static TRACES: Spec = Spec {
    decodes: decodes::<ExportTraceServiceRequest>,
    children: &[(1, &RESOURCE_SPANS)],
};

static LOG_RECORD: Spec = item(decodes::<LogRecord>);
static SCOPE_LOGS: Spec = Spec {
    decodes: decodes::<ScopeLogs>,
    children: &[(2, &LOG_RECORD)],
};
static RESOURCE_LOGS: Spec = Spec {
    decodes: decodes::<ResourceLogs>,
    children: &[(2, &SCOPE_LOGS)],
};
static LOGS: Spec = Spec {
    decodes: decodes::<ExportLogsServiceRequest>,
    children: &[(1, &RESOURCE_LOGS)],
};

static NUMBER_POINT: Spec = item(decodes::<NumberDataPoint>);
static HISTOGRAM_POINT: Spec = item(decodes::<HistogramDataPoint>);
static EXP_HISTOGRAM_POINT: Spec = item(decodes::<ExponentialHistogramDataPoint>);
static SUMMARY_POINT: Spec = item(decodes::<SummaryDataPoint>);
static GAUGE: Spec = Spec {
    decodes: decodes::<Gauge>,
    children: &[(1, &NUMBER_POINT)],
};
static SUM: Spec = Spec {
    decodes: decodes::<Sum>,
    children: &[(1, &NUMBER_POINT)],
};
static HISTOGRAM: Spec = Spec {
    decodes: decodes::<Histogram>,
    children: &[(1, &HISTOGRAM_POINT)],
};
static EXP_HISTOGRAM: Spec = Spec {
    decodes: decodes::<ExponentialHistogram>,
    children: &[(1, &EXP_HISTOGRAM_POINT)],
};
static SUMMARY: Spec = Spec {
    decodes: decodes::<Summary>,
    children: &[(1, &SUMMARY_POINT)],
};
static METRIC: Spec = Spec {
    decodes: decodes::<Metric>,
    children: &[
        (5, &GAUGE),
        (7, &SUM),
        (9, &HISTOGRAM),
        (10, &EXP_HISTOGRAM),
        (11, &SUMMARY),
    ],
};
static SCOPE_METRICS: Spec = Spec {
    decodes: decodes::<ScopeMetrics>,
    children: &[(2, &METRIC)],
};
static RESOURCE_METRICS: Spec = Spec {
    decodes: decodes::<ResourceMetrics>,
    children: &[(2, &SCOPE_METRICS)],
};
static METRICS: Spec = Spec {
    decodes: decodes::<ExportMetricsServiceRequest>,
    children: &[(1, &RESOURCE_METRICS)],
};

/// The request without its undecodable items, or `None` when nothing item-level explains the
/// failure (a broken wire structure, or a request that decodes already).
pub fn repair(signal: Signal, body: &[u8]) -> Option<Repaired> {
    let spec = match signal {
        Signal::Metrics => &METRICS,
        Signal::Traces => &TRACES,
        Signal::Logs => &LOGS,
    };
    if (spec.decodes)(body) {
        return None;
    }
    let mut rejected = 0;
    let out = rebuild(spec, body, &mut rejected)?;
    (rejected > 0 && (spec.decodes)(&out)).then_some(Repaired {
        body: out,
        rejected,
    })
}

/// The message rebuilt with its failing children dropped (and counted), or `None` when its own
/// fields fail (or its wire format is broken): the caller drops it whole.
fn rebuild(spec: &Spec, unit: &[u8], rejected: &mut i64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(unit.len());
    let mut dropped_here = 0;
    for field in Fields(unit) {
        let field = field.ok()?;
        let child = spec
            .children
            .iter()
            .find(|(n, _)| *n == field.number)
            .filter(|_| field.payload.is_some());
        match (child, field.payload) {
            (Some((_, child)), Some(payload)) => {
                if (child.decodes)(payload) {
                    out.extend_from_slice(field.raw);
                } else if child.children.is_empty() {
                    dropped_here += 1;
                } else if let Some(rebuilt) = rebuild(child, payload, &mut dropped_here) {
                    put_len_field(&mut out, field.number, &rebuilt);
                } else {
                    dropped_here += items(child, payload);
                }
            }
            _ => out.extend_from_slice(field.raw),
        }
    }
    if !(spec.decodes)(&out) {
        // The failure is in this unit's own fields: everything under it goes (counted by the
        // caller through `items`).
        return None;
    }
    *rejected += dropped_here;
    Some(out)
}

/// Items under a unit (1 for an item), for a unit dropped whole.
fn items(spec: &Spec, unit: &[u8]) -> i64 {
    if spec.children.is_empty() {
        return 1;
    }
    Fields(unit)
        .map_while(Result::ok)
        .filter_map(|f| {
            let (_, child) = spec.children.iter().find(|(n, _)| *n == f.number)?;
            Some(items(child, f.payload?))
        })
        .sum()
}

/// One field of a protobuf message: its number, its whole encoding (tag included) and, for a
/// length-delimited field, its payload.
struct Field<'a> {
    number: u32,
    raw: &'a [u8],
    payload: Option<&'a [u8]>,
}

/// The fields of a message in wire order; an `Err(())` ends a broken message.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let buf = self.0;
        let parsed = (|| {
            let mut at = 0;
            let tag = varint(buf, &mut at)?;
            let number = u32::try_from(tag >> 3).ok().filter(|n| *n > 0)?;
            let payload = match tag & 7 {
                0 => {
                    varint(buf, &mut at)?;
                    None
                }
                1 => {
                    at = at.checked_add(8).filter(|e| *e <= buf.len())?;
                    None
                }
                5 => {
                    at = at.checked_add(4).filter(|e| *e <= buf.len())?;
                    None
                }
                2 => {
                    let len = usize::try_from(varint(buf, &mut at)?).ok()?;
                    let end = at.checked_add(len).filter(|e| *e <= buf.len())?;
                    let p = buf.get(at..end)?;
                    at = end;
                    Some(p)
                }
                _ => return None,
            };
            Some((
                Field {
                    number,
                    raw: buf.get(..at)?,
                    payload,
                },
                at,
            ))
        })();
        match parsed {
            Some((field, used)) => {
                self.0 = buf.get(used..).unwrap_or_default();
                Some(Ok(field))
            }
            None => {
                self.0 = &[];
                Some(Err(()))
            }
        }
    }
}

fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_len_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests;
