//! `ExportMetricsServiceRequest` read in place: point attributes, metric names and units are
//! `&str` into the request buffer instead of a `String` each (prost's decode allocated one per
//! key and per value, about half a point's cost). What is per resource or rare (resources,
//! scopes, exemplars, exponential histogram and summary points, non-string attribute values) is
//! checked in place and decoded with prost where it is used.
//!
//! [`decode`] either reads the request exactly as prost would, or returns [`Bail`] and the caller
//! decodes it with prost (see [`super::wire`]); the differential tests hold it to that.

use super::wire::{self, check, schema, Bail, Reader, Schema, Wire};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

#[derive(Debug, Default)]
pub struct MetricsView<'a> {
    pub resource_metrics: Vec<ResourceView<'a>>,
}

#[derive(Debug, Default)]
pub struct ResourceView<'a> {
    pub resource: Option<Resource>,
    pub scope_metrics: Vec<ScopeView<'a>>,
}

#[derive(Debug, Default)]
pub struct ScopeView<'a> {
    pub scope: Option<InstrumentationScope>,
    pub metrics: Vec<MetricView<'a>>,
}

#[derive(Debug, Default)]
pub struct MetricView<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub unit: &'a str,
    pub data: Option<DataView<'a>>,
}

#[derive(Debug)]
pub enum DataView<'a> {
    Gauge(Vec<NumberPoint<'a>>),
    Sum {
        points: Vec<NumberPoint<'a>>,
        temporality: i32,
        monotonic: bool,
    },
    Histogram {
        points: Vec<HistogramPoint<'a>>,
        temporality: i32,
    },
    Exponential {
        points: Vec<ExponentialHistogramDataPoint>,
        temporality: i32,
    },
    Summary(Vec<SummaryDataPoint>),
}

/// One attribute; [`AttrValue::Other`] holds an `AnyValue` that is not a plain scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attr<'a> {
    pub key: &'a str,
    pub value: AttrValue<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrValue<'a> {
    /// No value (the attribute is skipped, as prost's `None` is).
    None,
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// The encoded `AnyValue` (arrays, maps, bytes, anything unusual), checked; decoded with
    /// prost when its text is needed.
    Other(&'a [u8]),
}

impl AttrValue<'_> {
    pub fn decode_other(raw: &[u8]) -> Option<AnyValue> {
        AnyValue::decode(raw).ok()
    }
}

#[derive(Debug, Default)]
pub struct NumberPoint<'a> {
    pub attributes: Vec<Attr<'a>>,
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub value: Option<f64>,
    pub flags: u32,
    pub exemplars: Vec<&'a [u8]>,
}

#[derive(Debug, Default)]
pub struct HistogramPoint<'a> {
    pub attributes: Vec<Attr<'a>>,
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub count: u64,
    pub sum: Option<f64>,
    pub bucket_counts: Vec<u64>,
    pub explicit_bounds: Vec<f64>,
    pub flags: u32,
    pub exemplars: Vec<&'a [u8]>,
}

/// Exemplars (checked in place) decoded; they are rare and convert wants prost's type.
pub fn exemplars(raw: &[&[u8]]) -> Vec<Exemplar> {
    raw.iter()
        .filter_map(|b| Exemplar::decode(*b).ok())
        .collect()
}

/// The request read in place, or [`Bail`] for prost to decode.
pub fn decode(buf: &[u8]) -> Result<MetricsView<'_>, Bail> {
    let mut out = MetricsView::default();
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        if n == 1 {
            out.resource_metrics.push(resource_metrics(wire::len(w)?)?);
        }
    }
    Ok(out)
}

/// Depth of each message below the request, for [`check`]'s bound.
const RESOURCE_DEPTH: u32 = 2;
const SCOPE_DEPTH: u32 = 3;
const POINT_DEPTH: u32 = 5;

/// What every OTLP envelope (`Resource*`, `Scope*` of each signal) holds: field 1 its resource
/// or scope, read through prost once checked, field 2 the repeated children, field 3 the schema
/// URL. A second field 1 merges into the first in prost: left to prost.
pub(crate) fn envelope<'a, M: Message + Default, T>(
    buf: &'a [u8],
    (schema, depth): (&Schema, u32),
    mut child: impl FnMut(&'a [u8]) -> Result<T, Bail>,
) -> Result<(Option<M>, Vec<T>), Bail> {
    let mut head = None;
    let mut children = Vec::new();
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match n {
            1 => {
                if head.is_some() {
                    return Err(Bail);
                }
                let b = wire::len(w)?;
                check(schema, b, depth)?;
                head = Some(M::decode(b).map_err(|_| Bail)?);
            }
            2 => children.push(child(wire::len(w)?)?),
            3 => {
                wire::str(w)?;
            }
            _ => {}
        }
    }
    Ok((head, children))
}

fn resource_metrics(buf: &[u8]) -> Result<ResourceView<'_>, Bail> {
    let (resource, scope_metrics) =
        envelope(buf, (&schema::RESOURCE, RESOURCE_DEPTH), scope_metrics)?;
    Ok(ResourceView {
        resource,
        scope_metrics,
    })
}

fn scope_metrics(buf: &[u8]) -> Result<ScopeView<'_>, Bail> {
    let (scope, metrics) = envelope(buf, (&schema::SCOPE, SCOPE_DEPTH), metric)?;
    Ok(ScopeView { scope, metrics })
}

fn metric(buf: &[u8]) -> Result<MetricView<'_>, Bail> {
    let mut out = MetricView::default();
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match n {
            1 => out.name = wire::str(w)?,
            2 => out.description = wire::str(w)?,
            3 => out.unit = wire::str(w)?,
            12 => check(&schema::KEY_VALUE, wire::len(w)?, SCOPE_DEPTH + 1)?,
            5 | 7 | 9 | 10 | 11 => {
                // A repeated oneof message merges (same kind) or replaces: left to prost.
                if out.data.is_some() {
                    return Err(Bail);
                }
                out.data = Some(data(n, wire::len(w)?)?);
            }
            _ => {}
        }
    }
    Ok(out)
}

fn data(kind: u32, buf: &[u8]) -> Result<DataView<'_>, Bail> {
    let mut numbers = Vec::new();
    let mut histograms = Vec::new();
    let mut exponentials = Vec::new();
    let mut summaries = Vec::new();
    let mut temporality = 0i32;
    let mut monotonic = false;
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match (kind, n) {
            (5 | 7, 1) => numbers.push(number_point(wire::len(w)?)?),
            (9, 1) => histograms.push(histogram_point(wire::len(w)?)?),
            (10, 1) => {
                let b = wire::len(w)?;
                check(&schema::EXPONENTIAL_POINT, b, POINT_DEPTH)?;
                exponentials.push(ExponentialHistogramDataPoint::decode(b).map_err(|_| Bail)?);
            }
            (11, 1) => {
                let b = wire::len(w)?;
                check(&schema::SUMMARY_POINT, b, POINT_DEPTH)?;
                summaries.push(SummaryDataPoint::decode(b).map_err(|_| Bail)?);
            }
            (7 | 9 | 10, 2) => temporality = wire::varint(w)? as i32,
            (7, 3) => monotonic = wire::varint(w)? != 0,
            _ => {}
        }
    }
    Ok(match kind {
        5 => DataView::Gauge(numbers),
        7 => DataView::Sum {
            points: numbers,
            temporality,
            monotonic,
        },
        9 => DataView::Histogram {
            points: histograms,
            temporality,
        },
        10 => DataView::Exponential {
            points: exponentials,
            temporality,
        },
        _ => DataView::Summary(summaries),
    })
}

fn number_point(buf: &[u8]) -> Result<NumberPoint<'_>, Bail> {
    let mut p = NumberPoint::default();
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match n {
            7 => p.attributes.push(attr(wire::len(w)?)?),
            2 => p.start_time_unix_nano = wire::fixed64(w)?,
            3 => p.time_unix_nano = wire::fixed64(w)?,
            4 => p.value = Some(wire::double(w)?),
            6 => p.value = Some(wire::fixed64(w)? as i64 as f64),
            5 => p.exemplars.push(exemplar(w)?),
            8 => p.flags = wire::varint(w)? as u32,
            _ => {}
        }
    }
    Ok(p)
}

fn histogram_point(buf: &[u8]) -> Result<HistogramPoint<'_>, Bail> {
    let mut p = HistogramPoint::default();
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match n {
            9 => p.attributes.push(attr(wire::len(w)?)?),
            2 => p.start_time_unix_nano = wire::fixed64(w)?,
            3 => p.time_unix_nano = wire::fixed64(w)?,
            4 => p.count = wire::fixed64(w)?,
            5 => p.sum = Some(wire::double(w)?),
            6 => wire::repeated_fixed64(w, &mut p.bucket_counts)?,
            7 => {
                let mut bits = Vec::new();
                wire::repeated_fixed64(w, &mut bits)?;
                p.explicit_bounds
                    .extend(bits.into_iter().map(f64::from_bits));
            }
            8 => p.exemplars.push(exemplar(w)?),
            10 => p.flags = wire::varint(w)? as u32,
            11 | 12 => {
                wire::double(w)?;
            }
            _ => {}
        }
    }
    Ok(p)
}

fn exemplar(w: Wire<'_>) -> Result<&[u8], Bail> {
    let b = wire::len(w)?;
    check(&schema::EXEMPLAR, b, POINT_DEPTH + 1)?;
    Ok(b)
}

/// A `KeyValue`: a plain scalar value is read in place, anything else kept encoded.
fn attr(buf: &[u8]) -> Result<Attr<'_>, Bail> {
    match wire::plain_attr(buf) {
        Some(Ok((key, value))) => Ok(Attr {
            key,
            value: match value {
                wire::Plain::Str(s) => AttrValue::Str(s),
                wire::Plain::Int(i) => AttrValue::Int(i),
            },
        }),
        Some(Err(Bail)) => Err(Bail),
        None => attr_fields(buf),
    }
}

/// [`attr`] for any encoding prost accepts, field by field.
fn attr_fields(buf: &[u8]) -> Result<Attr<'_>, Bail> {
    let mut key = "";
    let mut value = None;
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        match n {
            1 => key = wire::str(w)?,
            2 => {
                if value.is_some() {
                    return Err(Bail);
                }
                value = Some(any_value(wire::len(w)?)?);
            }
            3 => {
                wire::varint(w)?;
            }
            _ => {}
        }
    }
    Ok(Attr {
        key,
        value: value.unwrap_or(AttrValue::None),
    })
}

fn any_value(buf: &[u8]) -> Result<AttrValue<'_>, Bail> {
    let mut value = AttrValue::None;
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.next_field()? {
        value = match n {
            1 => AttrValue::Str(wire::str(w)?),
            2 => AttrValue::Bool(wire::varint(w)? != 0),
            3 => AttrValue::Int(wire::varint(w)? as i64),
            4 => AttrValue::Double(wire::double(w)?),
            // Composite, bytes and string-table values: rare, and prost's merge rules for a
            // repeated oneof message apply; the whole value is checked and kept encoded.
            5..=8 => {
                check(&schema::ANY_VALUE, buf, POINT_DEPTH + 2)?;
                return Ok(AttrValue::Other(buf));
            }
            _ => continue,
        };
    }
    Ok(value)
}

pub mod traces;

#[cfg(test)]
mod tests;
