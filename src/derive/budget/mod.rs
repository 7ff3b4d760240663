//! Budgets: spend per period and scope, remaining, forecast.

use crate::config::{Issues, Validate};
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct BudgetConfig {}

impl Validate for BudgetConfig {
    fn validate(&self, _path: &str, _issues: &mut Issues) {}
}
