//! StatsD receiver.

use crate::config::{Issues, Validate};
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct StatsdConfig {}

impl Validate for StatsdConfig {
    fn validate(&self, _path: &str, _issues: &mut Issues) {}
}
