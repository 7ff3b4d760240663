//! The status page's sections that describe the agent rather than spend: unpriced models, the
//! price table in force and ingest health (see [`super::render`] for the conventions).

use super::render::{esc, more_line, number};
use super::view::{Capped, Health, Pricing, UnpricedRow};
use std::fmt::Write;

pub(super) fn unpriced(o: &mut String, u: &Capped<UnpricedRow>) {
    o.push_str(
        "<section id=\"unpriced-section\"><h2>Unpriced models</h2><p class=\"muted\">Usage the \
         price table could not price, since the agent started \
         (<code>llm_unpriced_requests_total</code>).</p>\n",
    );
    if u.rows.is_empty() {
        o.push_str("<p class=\"empty\" id=\"unpriced\">Every model seen is priced.</p>");
    } else {
        o.push_str(
            "<table id=\"unpriced\"><thead><tr><th>provider</th><th>model</th><th>reason</th>\
             <th class=\"n\">events</th></tr></thead><tbody>",
        );
        for r in &u.rows {
            let _ = write!(
                o,
                "<tr><td data-field=\"provider\">{}</td><td data-field=\"model\">{}</td>\
                 <td data-field=\"reason\">{}</td><td class=\"n\" data-field=\"requests\">{}</td>\
                 </tr>",
                esc(&r.provider),
                esc(&r.model),
                esc(&r.reason),
                number(r.requests)
            );
        }
        o.push_str("</tbody></table>");
        more_line(o, "unpriced", u.more, "models");
    }
    o.push_str("</section>\n");
}

pub(super) fn pricing(o: &mut String, p: &Pricing) {
    o.push_str("<section id=\"pricing\"><h2>Price table</h2>\n");
    let Some(t) = &p.table else {
        o.push_str(
            "<p class=\"empty\" id=\"price-entries\" data-count=\"0\">No price table is \
             configured: usage is counted, not priced (<code>pricing_file</code>).</p></section>\n",
        );
        return;
    };
    let _ = write!(
        o,
        "<p><span id=\"price-entries\" data-count=\"{n}\">{n}</span> model prices, content hash \
         <code id=\"price-hash\">{}</code>, from ",
        esc(&t.hash),
        n = t.entries
    );
    if t.sources.is_empty() {
        o.push_str("<span id=\"price-sources\">the config itself (inline)</span>.</p>");
    } else {
        o.push_str("</p><ul id=\"price-sources\">");
        for s in &t.sources {
            let _ = write!(o, "<li><code>{}</code></li>", esc(s));
        }
        o.push_str("</ul>");
    }
    let _ = write!(
        o,
        "<details><summary>Prices (USD per 1M tokens unless the unit says otherwise)</summary>\
         <table id=\"prices\"><thead><tr><th>provider</th><th>model</th><th>prices</th>\
         <th>effective</th><th>source</th></tr></thead><tbody>"
    );
    for m in &t.models.rows {
        let prices: Vec<String> = m.prices.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.provider),
            esc(&m.model),
            esc(&prices.join(", ")),
            esc(&m.effective),
            esc(m.source.as_deref().unwrap_or(""))
        );
    }
    o.push_str("</tbody></table>");
    more_line(o, "prices", t.models.more, "entries");
    o.push_str("</details></section>\n");
}

pub(super) fn health(o: &mut String, h: &Health) {
    o.push_str("<section id=\"health\"><h2>Ingest health</h2><table id=\"checks\"><tbody>");
    for (name, result) in &h.checks {
        let (class, text) = match result {
            Ok(()) => ("ok", "ok".to_string()),
            Err(e) => ("fail", format!("failing: {e}")),
        };
        let _ = write!(
            o,
            "<tr data-check=\"{n}\"><td>{n}</td><td class=\"{class}\">{}</td></tr>",
            esc(&text),
            n = esc(name)
        );
    }
    for (name, why) in &h.degraded {
        let _ = write!(
            o,
            "<tr data-degraded=\"{n}\"><td>{n}</td><td class=\"warning\">degraded: {}</td></tr>",
            esc(why),
            n = esc(name)
        );
    }
    let reload = match h.last_reload_ok {
        Some(true) => ("ok", "the last config load succeeded"),
        Some(false) => ("fail", "the last reload failed: an older config is running"),
        None => ("muted", "no config load recorded"),
    };
    let _ = write!(
        o,
        "<tr><td>config reload</td><td class=\"{}\" id=\"reload\">{}{}</td></tr></tbody></table>",
        reload.0,
        reload.1,
        h.last_reload_success
            .as_deref()
            .map(|t| format!(" (last success {})", esc(t)))
            .unwrap_or_default()
    );
    if h.counters.rows.is_empty() {
        o.push_str("<p class=\"empty\">Nothing received yet.</p>");
    } else {
        o.push_str(
            "<h3>Received and rejected</h3><table id=\"counters\"><thead><tr><th>series</th>\
             <th class=\"n\">value</th></tr></thead><tbody>",
        );
        for (series, v) in &h.counters.rows {
            let _ = write!(
                o,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                esc(series),
                number(*v)
            );
        }
        o.push_str("</tbody></table>");
        more_line(o, "counters", h.counters.more, "series");
    }
    o.push_str("</section>\n");
}
