//! Quality: evaluation scores -> grades, user outcomes.

use crate::config::{Issues, Validate};
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct QualityConfig {}

impl Validate for QualityConfig {
    fn validate(&self, _path: &str, _issues: &mut Issues) {}
}
