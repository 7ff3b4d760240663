//! Receiving an OTLP/HTTP body. It happens before the request takes one of the shared concurrency
//! slots (`otlp.max_concurrent_requests`): a client that stalls mid-body then holds only its own
//! connection and the bytes it sent, never a slot gRPC and other HTTP senders need. What bounds
//! memory instead is a byte budget over every body being received at once
//! (`limits.max_buffered_body_bytes`), taken as bytes arrive, so a stalled sender that declared a
//! large `Content-Length` holds nothing it has not sent. The caller adds the deadline
//! (`limits.otlp_body_timeout`).

use super::Refusal;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes of bodies being received or waiting for a slot, across connections.
#[derive(Clone)]
pub struct Budget(Arc<Semaphore>);

impl Budget {
    /// `bytes` is raised to `max_request_bytes` so one largest body always fits.
    pub fn new(bytes: u64, max_request_bytes: usize) -> Budget {
        let bytes = usize::try_from(bytes)
            .unwrap_or(usize::MAX)
            .max(max_request_bytes)
            .min(Semaphore::MAX_PERMITS);
        Budget(Arc::new(Semaphore::new(bytes)))
    }
}

/// A body as received: still compressed if `gzip`; its bytes stay booked in the budget until
/// this is dropped (after decoding).
pub struct Received {
    pub raw: Vec<u8>,
    pub gzip: bool,
    _held: Option<OwnedSemaphorePermit>,
}

/// Reads the body within the wire cap and the budget. `Content-Encoding` is checked here and
/// undone later, off the async threads.
pub async fn receive(
    budget: &Budget,
    max: usize,
    headers: &HeaderMap,
    body: Body,
) -> Result<Received, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            tonic::Code::ResourceExhausted,
            "too_large",
            format!("request body exceeds limits.max_request_bytes ({max} bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e.is_empty() || e == "identity" => false,
        Some(e) if e == "gzip" => true,
        Some(e) => {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                "unsupported_encoding",
                format!("Content-Encoding {e:?} is not supported (use gzip or none)"),
            ))
        }
    };
    let mut body = body;
    let mut raw = Vec::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                tonic::Code::InvalidArgument,
                "invalid",
                format!("cannot read request body: {e}"),
            )
        })?;
        // Trailers carry nothing OTLP uses.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if raw.len().saturating_add(data.len()) > max {
            return Err(too_large());
        }
        let n = u32::try_from(data.len()).map_err(|_| too_large())?;
        let permit = budget.0.clone().try_acquire_many_owned(n).map_err(|_| {
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                tonic::Code::Unavailable,
                "overloaded",
                "meterd is receiving too many request bodies at once \
                 (limits.max_buffered_body_bytes); retry after the Retry-After delay"
                    .into(),
            )
        })?;
        match &mut held {
            Some(h) => h.merge(permit),
            None => held = Some(permit),
        }
        raw.extend_from_slice(&data);
    }
    Ok(Received {
        raw,
        gzip,
        _held: held,
    })
}
