//! The decode call of OTLP/HTTP with the lenient fallback of [`crate::otlp::lenient`]: a protobuf
//! body that fails to decode is repaired (undecodable items dropped) and decoded again.

use super::decode::{Encoding, Refusal};
use crate::otlp::lenient;
use crate::receivers::otlp::ingest::{Ingest, Signal};

/// The request, and how many items were dropped to decode it; the original refusal when the body
/// cannot be repaired (JSON, a broken wire structure, a failure above the items).
pub fn decode<Req>(
    decoder: fn(Encoding, &[u8]) -> Result<Req, Refusal>,
    enc: Encoding,
    signal: Signal,
    raw: &[u8],
) -> Result<(Req, i64), Refusal> {
    match decoder(enc, raw) {
        Ok(req) => Ok((req, 0)),
        Err(refusal) if enc == Encoding::Protobuf => {
            match lenient::repair(Ingest::lenient_signal(signal), raw) {
                Some(repaired) => Ok((decoder(enc, &repaired.body)?, repaired.rejected)),
                None => Err(refusal),
            }
        }
        Err(refusal) => Err(refusal),
    }
}
