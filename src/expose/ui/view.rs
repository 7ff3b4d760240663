//! The status page's view model: plain values the handler gathers and [`super::render`] turns
//! into HTML. Every text here is raw (unescaped); rendering escapes it.

/// The whole page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub version: String,
    /// When the page was built, in the ledger's time zone.
    pub generated: String,
    pub uptime_secs: u64,
    /// `<meta http-equiv="refresh">` seconds, when asked for with `?refresh=N`.
    pub refresh: Option<u32>,
    pub usage: Usage,
    pub budgets: Budgets,
    pub unpriced: Capped<UnpricedRow>,
    pub pricing: Pricing,
    pub health: Health,
    pub recommendations: Recommendations,
}

/// Rows shown (at most `ui.max_rows`) and how many were left out.
#[derive(Clone, Debug, PartialEq)]
pub struct Capped<T> {
    pub rows: Vec<T>,
    pub more: usize,
}

impl<T> Default for Capped<T> {
    fn default() -> Self {
        Capped {
            rows: Vec::new(),
            more: 0,
        }
    }
}

impl<T> Capped<T> {
    /// Keeps the first `max` of `rows` (already in display order).
    pub fn of(mut rows: Vec<T>, max: usize) -> Capped<T> {
        let more = rows.len().saturating_sub(max);
        rows.truncate(max);
        Capped { rows, more }
    }
}

/// The spend section, from the usage ledger.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Usage {
    /// `usage.enabled: false`.
    #[default]
    Off,
    /// The state file could not be read (the message says why).
    Failed(String),
    Tables {
        timezone: String,
        tables: Vec<SpendTable>,
        /// Rows of the state file that could not be decoded (left out of every figure).
        unreadable: usize,
    },
}

/// One `group_by` of today's or this month's usage, biggest spend first.
#[derive(Clone, Debug, PartialEq)]
pub struct SpendTable {
    /// The table's HTML id (`today-team`, `month-model`, ...).
    pub id: String,
    pub title: String,
    /// The `group_by` dimensions, in column order.
    pub dims: Vec<String>,
    pub rows: Capped<SpendRow>,
    /// The rows left out, summed (values empty).
    pub rest: Option<SpendRow>,
    /// Every row, summed.
    pub total: SpendRow,
    /// The `/api/v1/usage` query that answers the same figures.
    pub api: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpendRow {
    pub values: Vec<String>,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Exact decimal (the API's `cost_usd_exact`).
    pub cost: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Budgets {
    pub rows: Capped<BudgetRow>,
    /// Saved spend of budgets the config no longer has.
    pub orphaned: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BudgetRow {
    pub name: String,
    /// `None`: a grouped budget no group has spent in yet.
    pub group: Option<Vec<(String, String)>>,
    pub period: String,
    pub spend_nanos: u64,
    pub limit_usd: f64,
    pub utilization: f64,
    pub status: String,
    pub forecast_usd: f64,
    pub period_end: Option<String>,
    /// `local` or `fleet`.
    pub source: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnpricedRow {
    pub provider: String,
    pub model: String,
    pub reason: String,
    /// Usage events (weighted), as `llm_unpriced_requests_total` counts them.
    pub requests: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pricing {
    /// `None`: no price table is configured.
    pub table: Option<PriceTable>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    pub entries: usize,
    pub hash: String,
    /// The files the table was read from (empty: inline in the config).
    pub sources: Vec<String>,
    pub models: Capped<PriceRow>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceRow {
    pub provider: String,
    pub model: String,
    /// Dimension and price as written in the table.
    pub prices: Vec<(String, String)>,
    pub effective: String,
    /// The entry's `source` (usually the provider's price page).
    pub source: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Health {
    /// Readiness checks and their failure, as `/readyz` judges them.
    pub checks: Vec<(String, Result<(), String>)>,
    pub degraded: Vec<(String, String)>,
    /// `None` before the first load is recorded.
    pub last_reload_ok: Option<bool>,
    /// RFC 3339 of the last successful config load.
    pub last_reload_success: Option<String>,
    /// Ingest and rejection counters: exposed series name, value.
    pub counters: Capped<(String, f64)>,
}

/// Open recommendations (`/api/v1/recommendations`), highest priority first.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Recommendations {
    /// `recommendations.enabled: false`.
    #[default]
    Off,
    /// They could not be computed (the message says why).
    Failed(String),
    Open(Capped<RecommendationRow>),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecommendationRow {
    pub id: String,
    pub kind: String,
    pub priority: String,
    pub title: String,
    pub description: String,
    /// Exact decimal (`estimated_monthly_savings_usd_exact`; negative: an extra cost).
    pub savings: String,
}
