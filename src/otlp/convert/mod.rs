//! Pure translation of OTLP export requests: metrics to Prometheus samples, GenAI spans and token
//! metrics to usage events (with time to first token), evaluation log events and stage spans to
//! quality events. No I/O, no clock.

pub mod attrs;
pub mod exponential;
pub mod genai;
pub mod logs;
pub mod metrics;
pub mod names;
#[cfg(test)]
mod proptests;
pub mod resource;
pub mod spans;
pub mod stage;
pub mod ttft;
pub mod usage_metrics;
