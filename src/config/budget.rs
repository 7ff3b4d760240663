//! `budgets:`: each budget as written. Compiled (period, zone, matchers, integer money) by
//! `derive::budget::BudgetDef`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest limit accepted: far beyond any real budget, and small enough that nano-USD fit in u64.
pub const MAX_LIMIT_USD: f64 = 1e9;

/// `Serialize`: budgets created over the admin API are stored and shown in this same form.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct BudgetConfig {
    /// Identity of the budget: spend is kept under this name across reloads and restarts.
    pub name: String,
    /// Label matchers on scope labels, `provider` and `model` (see `derive::budget::matcher`); empty: all spend.
    #[serde(rename = "match")]
    pub matchers: BTreeMap<String, String>,
    pub period: String,
    /// IANA zone in which calendar periods start (local midnight, Monday, the 1st).
    pub timezone: String,
    pub limit_usd: f64,
    /// Utilization ratios at which the status changes: the lowest is `warning`, the highest below
    /// 1.0 is `critical`; at 1.0 (always implied) the budget is `exceeded` and checks deny.
    pub thresholds: Vec<f64>,
    /// One budget instance per distinct value combination of these labels (per team, per user).
    pub group_by: Vec<String>,
    /// Cap on instances of a grouped budget; spend of further groups goes to `_overflow`.
    pub max_groups: usize,
    /// PromQL giving the fleet-wide spend in USD (when `fleet.prometheus_url` is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet_query: Option<String>,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            name: String::new(),
            matchers: BTreeMap::new(),
            period: String::new(),
            timezone: "UTC".into(),
            limit_usd: 0.0,
            thresholds: vec![0.5, 0.8, 0.9, 1.0],
            group_by: Vec::new(),
            max_groups: 1000,
            fleet_query: None,
        }
    }
}
