//! The status page as HTML: a pure function of the [`Page`] view model. No script, no external
//! asset, one inline stylesheet; every text is escaped (label values come from senders). Cells
//! that tests read carry `data-*` attributes, so a browser test need not parse prose.

use super::view::{BudgetRow, Budgets, Page, SpendRow, SpendTable, Usage};
use crate::model::money::format_usd;
use std::fmt::Write;

const STYLE: &str =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}\
h1{font-size:1.4em;margin:0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}\
h3{font-size:1em;margin:1em 0 .3em}table{border-collapse:collapse;margin:.3em 0}\
th,td{padding:.2em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:600;\
border-top:1px solid #999}.muted{color:#666}.ok{color:#176f2c}.warning{color:#8a6d00}\
.critical,.exceeded,.fail{color:#b00020;font-weight:600}nav a{margin-right:1em}.headline{font-size:1.1em}\
details{margin:.5em 0}code{font-size:.95em}td[data-dim]:empty::after{content:\"(not set)\";\
color:#666}";

/// Text escaped for HTML content and (double- or single-quoted) attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A counter value: whole numbers without a fraction, others with 3 decimals.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// The whole document.
pub fn page(p: &Page) -> String {
    let mut o = String::with_capacity(16 * 1024);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    o.push_str("<link rel=\"icon\" href=\"data:,\">");
    if let Some(r) = p.refresh {
        let _ = write!(o, "<meta http-equiv=\"refresh\" content=\"{r}\">");
    }
    let _ = write!(
        o,
        "<title>meterd status</title><style>{STYLE}</style></head><body>\n<header><h1>meterd \
         <span id=\"version\">{}</span></h1><p class=\"muted\">generated <span \
         id=\"generated\">{}</span>, up <span id=\"uptime\" data-secs=\"{}\">{}</span></p>\
         <nav><a href=\"/metrics\">/metrics</a><a href=\"/api/v1/usage\">/api/v1/usage</a>\
         <a href=\"/api/v1/usage?format=csv\">usage CSV</a><a href=\"/api/v1/budgets\">\
         /api/v1/budgets</a><a href=\"/readyz\">/readyz</a></nav></header>\n",
        esc(&p.version),
        esc(&p.generated),
        p.uptime_secs,
        duration(p.uptime_secs)
    );
    usage(&mut o, &p.usage);
    budgets(&mut o, &p.budgets);
    super::render_recs::recommendations(&mut o, &p.recommendations);
    super::render_status::unpriced(&mut o, &p.unpriced);
    super::render_status::pricing(&mut o, &p.pricing);
    super::render_status::health(&mut o, &p.health);
    o.push_str("</body></html>\n");
    o
}

fn usage(o: &mut String, u: &Usage) {
    o.push_str("<section id=\"spend\"><h2>Spend</h2>\n");
    match u {
        Usage::Off => o.push_str(
            "<p class=\"empty\">The usage ledger is off (<code>usage.enabled: false</code>).</p>",
        ),
        Usage::Failed(e) => {
            let _ = write!(
                o,
                "<p class=\"fail\" id=\"usage-error\">The usage ledger could not be read: {}</p>",
                esc(e)
            );
        }
        Usage::Tables {
            timezone,
            tables,
            unreadable,
        } => {
            let _ = write!(
                o,
                "<p class=\"muted\">Days are local to <code>{}</code> (usage.timezone); cost is \
                 exact, as <code>cost_usd_exact</code> in the usage API.</p>",
                esc(timezone)
            );
            headline(o, tables);
            if *unreadable > 0 {
                let _ = write!(
                    o,
                    "<p class=\"fail\">{unreadable} unreadable ledger rows are left out.</p>"
                );
            }
            for t in tables {
                spend_table(o, t);
            }
        }
    }
    o.push_str("</section>\n");
}

/// Today's and this month's total, from the by-model tables (every group, capped or not).
fn headline(o: &mut String, tables: &[SpendTable]) {
    let total = |id: &str| {
        tables
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.total.cost.as_str())
    };
    if let (Some(today), Some(month)) = (total("today-model"), total("month-model")) {
        let _ = write!(
            o,
            "<p class=\"headline\">Spent today <strong id=\"today-total\">{}</strong> USD, this \
             month <strong id=\"month-total\">{}</strong> USD.</p>",
            esc(today),
            esc(month)
        );
    }
}

fn spend_table(o: &mut String, t: &SpendTable) {
    let _ = write!(
        o,
        "<h3>{} <a class=\"muted\" href=\"{}\">(API)</a></h3>",
        esc(&t.title),
        esc(&t.api)
    );
    if t.rows.rows.is_empty() {
        let _ = writeln!(
            o,
            "<p class=\"empty\" id=\"{}\">No usage yet.</p>",
            esc(&t.id)
        );
        return;
    }
    let _ = write!(o, "<table id=\"{}\"><thead><tr>", esc(&t.id));
    for d in &t.dims {
        let _ = write!(o, "<th>{}</th>", esc(d));
    }
    o.push_str(
        "<th class=\"n\">requests</th><th class=\"n\">errors</th><th class=\"n\">input tokens\
         </th><th class=\"n\">output tokens</th><th class=\"n\">cost USD</th></tr></thead><tbody>",
    );
    for r in &t.rows.rows {
        spend_row(o, "data-row", &t.dims, r, None);
    }
    if let Some(rest) = &t.rest {
        let attr = format!("data-rest data-count=\"{}\"", t.rows.more);
        let label = format!("{} more", t.rows.more);
        spend_row(o, &attr, &t.dims, rest, Some(&label));
    }
    spend_row(
        o,
        "class=\"total\" data-total",
        &t.dims,
        &t.total,
        Some("total"),
    );
    o.push_str("</tbody></table>\n");
}

/// One row: a group's values in the dimension columns, or a summary's label spanning them.
fn spend_row(o: &mut String, attrs: &str, dims: &[String], r: &SpendRow, summary: Option<&str>) {
    let _ = write!(o, "<tr {attrs}>");
    match summary {
        None => {
            for (d, v) in dims.iter().zip(&r.values) {
                let _ = write!(o, "<td data-dim=\"{}\">{}</td>", esc(d), esc(v));
            }
        }
        Some(label) => {
            let _ = write!(o, "<td colspan=\"{}\">{}</td>", dims.len(), esc(label));
        }
    }
    let _ = write!(
        o,
        "<td class=\"n\" data-field=\"requests\">{}</td><td class=\"n\" data-field=\"errors\">{}\
         </td><td class=\"n\" data-field=\"input_tokens\">{}</td><td class=\"n\" \
         data-field=\"output_tokens\">{}</td><td class=\"n\" data-field=\"cost\">{}</td></tr>",
        r.requests,
        r.errors,
        r.input_tokens,
        r.output_tokens,
        esc(&r.cost)
    );
}

pub(super) fn more_line(o: &mut String, id: &str, more: usize, what: &str) {
    if more > 0 {
        let _ = write!(
            o,
            "<p class=\"muted\" id=\"{id}-more\" data-count=\"{more}\">{more} more {what} not \
             shown (ui.max_rows).</p>"
        );
    }
}

fn budgets(o: &mut String, b: &Budgets) {
    o.push_str("<section id=\"budgets-section\"><h2>Budgets</h2>\n");
    if b.rows.rows.is_empty() {
        o.push_str("<p class=\"empty\" id=\"budgets\">No budgets configured.</p>");
    } else {
        o.push_str(
            "<table id=\"budgets\"><thead><tr><th>budget</th><th>group</th><th>period</th>\
             <th class=\"n\">spend USD</th><th class=\"n\">limit USD</th><th class=\"n\">used\
             </th><th>status</th><th class=\"n\">forecast USD</th><th>period ends</th>\
             <th>source</th></tr></thead><tbody>",
        );
        for r in &b.rows.rows {
            budget_row(o, r);
        }
        o.push_str("</tbody></table>");
        more_line(o, "budgets", b.rows.more, "budget groups");
    }
    if b.orphaned > 0 {
        let _ = write!(
            o,
            "<p class=\"muted\">{} saved spend records of budgets not in the config (see \
             <a href=\"/api/v1/budgets\">orphaned</a>).</p>",
            b.orphaned
        );
    }
    o.push_str("</section>\n");
}

fn budget_row(o: &mut String, r: &BudgetRow) {
    let group = match &r.group {
        None => "(no group has spent yet)".to_string(),
        Some(g) if g.is_empty() => String::new(),
        Some(g) => g
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let _ = write!(
        o,
        "<tr data-budget=\"{name}\"><td data-field=\"name\">{name}</td><td data-field=\"group\">\
         {group}</td><td data-field=\"period\">{period}</td><td class=\"n\" data-field=\"spend\" \
         data-nanos=\"{nanos}\">{spend}</td><td class=\"n\" data-field=\"limit\">{limit}</td>\
         <td class=\"n\" data-field=\"utilization\" data-value=\"{util}\">{util_pct:.1}%</td>\
         <td data-field=\"status\" class=\"{status}\">{status}</td><td class=\"n\" \
         data-field=\"forecast\" data-value=\"{forecast}\">{forecast:.4}</td>\
         <td data-field=\"period_end\">{end}</td><td data-field=\"source\">{source}</td></tr>",
        name = esc(&r.name),
        group = esc(&group),
        period = esc(&r.period),
        nanos = r.spend_nanos,
        spend = format_usd(u128::from(r.spend_nanos) * 1_000_000),
        limit = r.limit_usd,
        util = r.utilization,
        util_pct = r.utilization * 100.0,
        status = esc(&r.status),
        forecast = r.forecast_usd,
        end = esc(r.period_end.as_deref().unwrap_or("never")),
        source = esc(&r.source),
    );
}
