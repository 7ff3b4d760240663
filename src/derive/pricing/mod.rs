//! Pricing: usage -> money, from a YAML price table.

use crate::config::{Issues, Validate};
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PricingTable {}

impl Validate for PricingTable {
    fn validate(&self, _path: &str, _issues: &mut Issues) {}
}
