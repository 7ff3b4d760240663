//! OTLP receiver (gRPC and HTTP; metrics, traces, logs).

use crate::config::{Issues, Validate};
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct OtlpConfig {}

impl Validate for OtlpConfig {
    fn validate(&self, _path: &str, _issues: &mut Issues) {}
}
