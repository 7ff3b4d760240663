//! Pure translation of OTLP export requests: metrics to Prometheus samples, GenAI spans and token
//! metrics to usage events, evaluation log events to quality events. No I/O, no clock.

pub mod attrs;
pub mod genai;
pub mod logs;
pub mod metrics;
pub mod names;
#[cfg(test)]
mod proptests;
pub mod resource;
pub mod usage_metrics;
