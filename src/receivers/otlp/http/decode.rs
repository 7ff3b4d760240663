//! Request bodies: content type, gzip within a cap, protobuf or OTLP/JSON decoding. Pure.

use axum::http::{header, HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use std::io::Read;

pub const PROTOBUF: &str = "application/x-protobuf";
pub const JSON: &str = "application/json";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// A refused request: HTTP status, gRPC-style code for the body, and the `result` it is counted as.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: tonic::Code,
    pub result: &'static str,
    pub message: String,
}

impl Refusal {
    pub(super) fn new(
        status: StatusCode,
        code: tonic::Code,
        result: &'static str,
        message: String,
    ) -> Self {
        Refusal {
            status,
            code,
            result,
            message,
        }
    }
}

pub fn media_type(headers: &HeaderMap) -> Option<Encoding> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mt = ct.split(';').next()?.trim();
    if mt.eq_ignore_ascii_case(PROTOBUF) {
        Some(Encoding::Protobuf)
    } else if mt.eq_ignore_ascii_case(JSON) {
        Some(Encoding::Json)
    } else {
        None
    }
}

/// Gunzips at most `max` bytes: a body that inflates further is refused without ever holding
/// more than `max + 1` bytes.
pub fn gunzip(body: &[u8], max: usize) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                tonic::Code::InvalidArgument,
                "invalid",
                format!("gzip body does not decompress: {e}"),
            )
        })?;
    if out.len() > max {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            tonic::Code::ResourceExhausted,
            "too_large",
            format!("decompressed body exceeds limits.max_decompressed_bytes ({max} bytes)"),
        ));
    }
    Ok(out)
}

/// Decodes a request body per its content type.
pub fn decode<T: prost::Message + Default + serde::de::DeserializeOwned>(
    enc: Encoding,
    body: &[u8],
) -> Result<T, Refusal> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            tonic::Code::InvalidArgument,
            "invalid",
            format!("malformed {what} body: {e}"),
        )
    };
    match enc {
        Encoding::Protobuf => T::decode(body).map_err(|e| invalid("protobuf", &e)),
        Encoding::Json => {
            // serde would also read a struct from an array; OTLP/JSON requests are objects.
            // An empty body is an empty request, which OTLP answers with success.
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(T::default());
            }
            if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(invalid("OTLP/JSON", &"the request must be a JSON object"));
            }
            serde_json::from_slice(body).map_err(|e| invalid("OTLP/JSON", &e))
        }
    }
}

/// Metrics requests, with the JSON check [`hidden_json_errors`] needs.
pub fn decode_metrics(enc: Encoding, body: &[u8]) -> Result<ExportMetricsServiceRequest, Refusal> {
    let req: ExportMetricsServiceRequest = decode(enc, body)?;
    if enc == Encoding::Json {
        hidden_json_errors(&req, body)?;
    }
    Ok(req)
}

/// serde reports a malformed `#[serde(flatten)] Option<oneof>` (a metric's `gauge`/`sum`/...,
/// a point's `asInt`/`asDouble`) as `None` instead of an error. Only when such a `None` appears
/// (rare) is the body re-read as plain JSON to tell "absent" (an item-level rejection) from
/// "present but malformed" (400).
fn hidden_json_errors(req: &ExportMetricsServiceRequest, body: &[u8]) -> Result<(), Refusal> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let suspicious = req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .any(|m| match &m.data {
            None => true,
            Some(Data::Gauge(g)) => g.data_points.iter().any(|p| p.value.is_none()),
            Some(Data::Sum(s)) => s.data_points.iter().any(|p| p.value.is_none()),
            _ => false,
        });
    if !suspicious {
        return Ok(());
    }
    const DATA_KEYS: [&str; 5] = [
        "gauge",
        "sum",
        "histogram",
        "exponentialHistogram",
        "summary",
    ];
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let arr = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_array()).cloned();
    let malformed = |what: &str| {
        Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            tonic::Code::InvalidArgument,
            "invalid",
            format!("malformed OTLP/JSON body: {what}"),
        ))
    };
    for (rm, rm_json) in req
        .resource_metrics
        .iter()
        .zip(arr(&v, "resourceMetrics").unwrap_or_default())
    {
        for (sm, sm_json) in rm
            .scope_metrics
            .iter()
            .zip(arr(&rm_json, "scopeMetrics").unwrap_or_default())
        {
            for (m, m_json) in sm
                .metrics
                .iter()
                .zip(arr(&sm_json, "metrics").unwrap_or_default())
            {
                let points = match &m.data {
                    None if DATA_KEYS.iter().any(|k| m_json.get(k).is_some()) => {
                        return malformed(&format!(
                            "metric {:?} has data that does not decode",
                            m.name
                        ))
                    }
                    Some(Data::Gauge(g)) => Some((&g.data_points, "gauge")),
                    Some(Data::Sum(s)) => Some((&s.data_points, "sum")),
                    _ => None,
                };
                let Some((points, key)) = points else {
                    continue;
                };
                let json_points = m_json
                    .get(key)
                    .and_then(|d| arr(d, "dataPoints"))
                    .unwrap_or_default();
                for (p, p_json) in points.iter().zip(json_points) {
                    if p.value.is_none()
                        && (p_json.get("asInt").is_some() || p_json.get("asDouble").is_some())
                    {
                        return malformed(&format!(
                            "a point of metric {:?} has a value that does not decode",
                            m.name
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}
