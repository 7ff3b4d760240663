//! StatsD, the pure part: lines in, samples and `llm.*` convention events out. The sockets that
//! receive them are `receivers::statsd`.
//!
//! - [`parse`]: the line grammar (zero-copy);
//! - [`mapping`]: config rules from StatsD names to Prometheus names and labels;
//! - [`convention`]: the `llm.*` names that become usage and quality events.

pub mod convention;
pub mod mapping;
pub mod parse;

pub use crate::config::statsd::{MappingConfig, StatsdConfig};
pub use mapping::Mapper;
