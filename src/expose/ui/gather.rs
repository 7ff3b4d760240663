//! Builds the status page's view model from what the API endpoints read: the usage ledger
//! through the usage API's own query code, budgets through the budget API's, readiness from
//! [`Health`](crate::health::Health), counters from the store.

use super::view::{
    BudgetRow, Budgets, Capped, Health, Page, PriceRow, PriceTable, Pricing, RecommendationRow,
    Recommendations, SpendRow, SpendTable, UnpricedRow, Usage,
};
use crate::config::Config;
use crate::derive::ledger::clock;
use crate::derive::ledger::query::{self, Group};
use crate::derive::ledger::row::Totals;
use crate::expose::server::HttpState;
use crate::model::money::format_usd;
use crate::model::Labels;
use crate::telemetry::{catalogue, Family};
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

/// Ingest and rejection counters shown under "Ingest health".
const COUNTERS: &[&Family] = &[
    &catalogue::OTLP_REQUESTS,
    &catalogue::OTLP_ITEMS_RECEIVED,
    &catalogue::OTLP_ITEMS_REJECTED,
    &catalogue::STATSD_PACKETS_RECEIVED,
    &catalogue::STATSD_LINES_RECEIVED,
    &catalogue::STATSD_ERRORS,
    &catalogue::STATSD_PACKETS_DROPPED,
    &catalogue::USAGE_EVENTS,
    &catalogue::USAGE_REJECTED,
    &catalogue::SAMPLES_REJECTED,
    &catalogue::SERIES_DROPPED,
    &catalogue::CONNECTIONS_REJECTED,
    &catalogue::HTTP_UNAUTHORIZED,
    &catalogue::STATE_FLUSHES,
    &catalogue::CONFIG_RELOADS,
];

/// The `group_by` of the "by team" tables: `team` when it is a scope label, else the first.
pub fn team_label(scope_labels: &[String]) -> Option<&str> {
    scope_labels
        .iter()
        .find(|l| *l == "team")
        .or_else(|| scope_labels.first())
        .map(String::as_str)
}

fn spend_row(values: Vec<String>, t: &Totals) -> SpendRow {
    SpendRow {
        values,
        requests: t.requests,
        errors: t.errors,
        input_tokens: t.quantities[0],
        output_tokens: t.quantities[1],
        cost: format_usd(t.cost_femto),
    }
}

/// One table: the biggest spend first (ties by group values), capped at `max` rows, the rest
/// summed on one line, and the total of every group.
pub fn spend_table(
    id: &str,
    title: &str,
    dims: Vec<String>,
    mut groups: Vec<Group>,
    max: usize,
    api: String,
) -> SpendTable {
    let total = spend_row(Vec::new(), &query::sum(&groups));
    groups.sort_by(|a, b| {
        b.totals
            .cost_femto
            .cmp(&a.totals.cost_femto)
            .then_with(|| a.values.cmp(&b.values))
    });
    let rest_groups = groups.split_off(groups.len().min(max));
    let rest = (!rest_groups.is_empty()).then(|| spend_row(Vec::new(), &query::sum(&rest_groups)));
    let rows = groups
        .into_iter()
        .map(|g| spend_row(g.values, &g.totals))
        .collect();
    SpendTable {
        id: id.to_string(),
        title: title.to_string(),
        dims,
        rows: Capped {
            rows,
            more: rest_groups.len(),
        },
        rest,
        total,
        api,
    }
}

async fn usage(st: &HttpState, config: &Config, now: i64) -> Usage {
    let settings = st.pipeline.ledger().settings();
    if !settings.enabled {
        return Usage::Off;
    }
    let tz: &TimeZone = &settings.timezone;
    let today = clock::date_text(tz, clock::day_start(tz, now));
    let mut dims: Vec<Vec<&str>> = Vec::new();
    if let Some(team) = team_label(&config.scope_labels) {
        dims.push(vec![team]);
    }
    dims.push(vec!["provider", "model"]);
    // The month's day rows hold today's: read once, group four ways.
    let parse = |from: Option<&str>, group_by: &[&str]| {
        let mut params = vec![("group_by".to_string(), group_by.join(","))];
        if let Some(f) = from {
            params.push(("from".to_string(), f.to_string()));
        }
        query::parse(&params, &config.scope_labels, tz, now).map_err(|b| b.error)
    };
    let month = match parse(None, &["provider"]) {
        Ok(q) => q,
        Err(e) => return Usage::Failed(e),
    };
    let (rows, unreadable) = match crate::expose::usage::read_rows(st, &month).await {
        Ok(r) => r,
        Err(e) => return Usage::Failed(e),
    };
    let max = config.ui.max_rows;
    let mut tables = Vec::new();
    for (when, from) in [("today", Some(today.as_str())), ("month", None)] {
        for d in &dims {
            let q = match parse(from, d) {
                Ok(q) => q,
                Err(e) => return Usage::Failed(e),
            };
            let groups = query::aggregate(&rows, &q, tz);
            let title = match when {
                "today" => format!("Today ({today}) by {}", d.join(" and ")),
                _ => format!("This month by {}", d.join(" and ")),
            };
            let api = match from {
                Some(f) => format!("/api/v1/usage?from={f}&group_by={}", d.join(",")),
                None => format!("/api/v1/usage?group_by={}", d.join(",")),
            };
            let dims = d.iter().map(|s| s.to_string()).collect();
            let id = format!("{when}-{}", if d.len() == 1 { "team" } else { "model" });
            tables.push(spend_table(&id, &title, dims, groups, max, api));
        }
    }
    Usage::Tables {
        timezone: settings.timezone_name.to_string(),
        tables,
        unreadable,
    }
}

/// Budgets as `GET /api/v1/budgets` lists them, the fullest first (ties by name).
fn budgets(st: &HttpState, max: usize, now: i64) -> Budgets {
    let list = crate::expose::api::budget_list(&st.pipeline, now);
    let mut rows: Vec<BudgetRow> = list
        .budgets
        .into_iter()
        .map(|b| BudgetRow {
            name: b.name,
            group: b.group.map(|g| g.into_iter().collect()),
            period: b.period.to_string(),
            spend_nanos: b.spend_nanos,
            limit_usd: b.limit_usd,
            utilization: b.utilization,
            status: b.status.to_string(),
            forecast_usd: b.forecast_usd,
            period_end: b.period_end,
            source: b.source.to_string(),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.utilization
            .total_cmp(&a.utilization)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.group.cmp(&b.group))
    });
    Budgets {
        rows: Capped::of(rows, max),
        orphaned: list.orphaned.len(),
    }
}

/// `llm_unpriced_requests_total` summed per provider, model and reason (over scope labels).
pub fn unpriced(series: &[(Labels, f64)], max: usize) -> Capped<UnpricedRow> {
    let mut sums: BTreeMap<(&str, &str, &str), f64> = BTreeMap::new();
    for (l, v) in series {
        let key = (
            l.get("provider").unwrap_or(""),
            l.get("model").unwrap_or(""),
            l.get("reason").unwrap_or(""),
        );
        *sums.entry(key).or_default() += v;
    }
    let mut rows: Vec<UnpricedRow> = sums
        .into_iter()
        .map(|((p, m, r), v)| UnpricedRow {
            provider: p.to_string(),
            model: m.to_string(),
            reason: r.to_string(),
            requests: v,
        })
        .collect();
    rows.sort_by(|a, b| b.requests.total_cmp(&a.requests));
    Capped::of(rows, max)
}

fn pricing(st: &HttpState, config: &Config, max: usize) -> Pricing {
    let snapshot = st.pipeline.snapshot();
    let (Some(table), Some(compiled)) = (&config.pricing, snapshot.deriver.pricing()) else {
        return Pricing { table: None };
    };
    let models = table
        .models
        .iter()
        .map(|m| PriceRow {
            provider: m.provider.clone(),
            model: m.model.clone(),
            prices: m
                .prices
                .iter()
                .map(|(k, v)| (k.clone(), v.0.to_string()))
                .collect(),
            effective: match (&m.effective_from, &m.effective_to) {
                (None, None) => String::new(),
                (f, t) => format!(
                    "{} to {}",
                    f.as_deref().unwrap_or("…"),
                    t.as_deref().unwrap_or("…")
                ),
            },
            source: m.source.clone(),
        })
        .collect();
    Pricing {
        table: Some(PriceTable {
            entries: compiled.len(),
            hash: compiled.hash.clone(),
            sources: table
                .sources
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            models: Capped::of(models, max),
        }),
    }
}

fn health(st: &HttpState, max: usize) -> Health {
    let store = st.pipeline.store();
    let gauge = |f: &Family| store.value(f.name, &Labels::empty());
    let mut counters = Vec::new();
    for f in COUNTERS {
        let name = f.exposed_name();
        for (labels, v) in store.family_values(f.name) {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            counters.push((format!("{name}{{{}}}", l.join(",")), v));
        }
    }
    Health {
        checks: st.health.checks(),
        degraded: st.health.degradations(),
        last_reload_ok: gauge(&catalogue::CONFIG_LAST_RELOAD_SUCCESSFUL).map(|v| v == 1.0),
        last_reload_success: gauge(&catalogue::CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS)
            .and_then(|t| jiff::Timestamp::from_second(t as i64).ok())
            .map(|t| t.to_string()),
        counters: Capped::of(counters, max),
    }
}

/// Everything the page shows, as of `now` (Unix seconds).
pub async fn page(st: &HttpState, config: &Config, refresh: Option<u32>, now: i64) -> Page {
    let max = config.ui.max_rows;
    let tz = st.pipeline.ledger().settings().timezone;
    let unpriced_series = st.pipeline.store().family_values("llm_unpriced_requests");
    Page {
        version: env!("CARGO_PKG_VERSION").to_string(),
        generated: clock::time_text(&tz, now),
        uptime_secs: (crate::clock::unix_secs_f64() - st.start_time_unix).max(0.0) as u64,
        refresh,
        usage: usage(st, config, now).await,
        budgets: budgets(st, max, now),
        unpriced: unpriced(&unpriced_series, max),
        pricing: pricing(st, config, max),
        health: health(st, max),
        recommendations: recommendations(st, config, max, now).await,
    }
}

/// The open recommendations, as `/api/v1/recommendations` lists them.
async fn recommendations(st: &HttpState, config: &Config, max: usize, now: i64) -> Recommendations {
    if !config.recommendations.enabled {
        return Recommendations::Off;
    }
    match crate::expose::recommendations::compute(st, now).await {
        Err(e) => Recommendations::Failed(e),
        Ok(recs) => {
            let rows = recs
                .into_iter()
                .filter(|r| r.status == crate::derive::recommend::Status::Open)
                .map(|r| RecommendationRow {
                    savings: crate::derive::recommend::usd_signed(r.monthly_savings_femto),
                    id: r.id,
                    kind: r.kind.as_str().to_string(),
                    priority: r.priority.as_str().to_string(),
                    title: r.title,
                    description: r.description,
                })
                .collect();
            Recommendations::Open(Capped::of(rows, max))
        }
    }
}
