//! A [`Report`] as a terminal table, JSON, or CSV (one table: `section,key,...`).

use super::{Quality, Report};
use crate::derive::ledger::row::Totals;
use crate::derive::pricing::decimal::format_usd;
use serde_json::{json, Value};
use std::fmt::Write;

fn usd(femto: u128) -> String {
    format_usd(femto)
}

fn pct(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn quality_text(q: Option<&Quality>) -> String {
    match q {
        Some(q) => format!(
            "good {} accepted {}",
            pct(q.good_rate()),
            pct(q.accepted_rate())
        ),
        None => "quality -".into(),
    }
}

pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "meterd report {} .. {} ({})", r.from, r.to, r.timezone);
    let _ = writeln!(
        out,
        "total: {} USD, {} requests ({} errors)\n",
        usd(r.total.cost_femto),
        r.total.requests,
        r.total.errors
    );
    for s in &r.sections {
        let _ = writeln!(out, "Spend by {}", s.dim.name());
        let _ = writeln!(
            out,
            "  {:<32} {:>10} {:>8} {:>14} {:>14} {:>18}",
            s.dim.name(),
            "requests",
            "errors",
            "input",
            "output",
            "cost_usd"
        );
        for g in &s.groups {
            let name = g.values.first().map_or("", String::as_str);
            let t = &g.totals;
            let _ = writeln!(
                out,
                "  {:<32} {:>10} {:>8} {:>14} {:>14} {:>18}",
                if name.is_empty() { "(none)" } else { name },
                t.requests,
                t.errors,
                t.quantities[0],
                t.quantities[1],
                usd(t.cost_femto)
            );
        }
        let _ = writeln!(out);
    }
    let f = &r.forecast;
    let _ = writeln!(
        out,
        "Forecast {}: {} USD so far in {:.1} of {:.0} days; {} USD/day; projected {} USD",
        f.month,
        usd(f.month_to_date_femto),
        f.days_elapsed,
        f.days_in_month,
        usd(f.avg_per_day_femto),
        usd(f.projected_femto)
    );
    for b in &r.budgets {
        let _ = writeln!(
            out,
            "  budget {} ({}): {} of {} USD; {} USD/day; projected {}; overage {}; exhausted in {}",
            b.name,
            b.period,
            usd(b.spend_femto),
            usd(b.limit_femto),
            usd(b.avg_per_day_femto),
            b.projected_femto
                .map_or_else(|| "-".into(), |p| format!("{} USD", usd(p))),
            b.overage_femto
                .map_or_else(|| "-".into(), |p| format!("{} USD", usd(p))),
            b.days_to_exhaust
                .map_or_else(|| "never at this rate".into(), |d| format!("{d:.1} days"))
        );
    }
    if !r.what_if.is_empty() {
        let _ = writeln!(out, "\nWhat if (the same token mix at other models)");
    }
    for w in &r.what_if {
        let _ = writeln!(
            out,
            "  {}/{}: {} USD for {} requests ({})",
            w.provider,
            w.model,
            usd(w.totals.cost_femto),
            w.totals.requests,
            quality_text(w.quality.as_ref())
        );
        if let Some(c) = &w.caching {
            let _ = writeln!(
                out,
                "    {} with {:.1}% of input cached would have cost {} USD instead of {} USD",
                w.model,
                c.share_ppm as f64 / 1e4,
                usd(c.cached_femto),
                usd(c.uncached_femto)
            );
        }
        for a in &w.alternatives {
            match a.cost_femto {
                Some(c) => {
                    let _ = writeln!(
                        out,
                        "    {} -> {}/{} would have cost {} USD instead of {} USD ({})",
                        w.model,
                        a.provider,
                        a.model,
                        usd(c),
                        usd(w.totals.cost_femto),
                        quality_text(a.quality.as_ref())
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "    {} -> {}/{}: not priceable (the table lacks a price this usage needs)",
                        w.model, a.provider, a.model
                    );
                }
            }
        }
    }
    if !r.recommendations.is_empty() {
        let _ = writeln!(out, "\nRecommendations");
        let _ = writeln!(
            out,
            "  {:<8} {:<20} {:>16} {:<11} {:<20} title",
            "priority", "type", "usd_per_month", "status", "id"
        );
    }
    for rec in &r.recommendations {
        let _ = writeln!(
            out,
            "  {:<8} {:<20} {:>16} {:<11} {:<20} {}",
            rec.priority.as_str(),
            rec.kind.as_str(),
            crate::derive::recommend::usd_signed(rec.monthly_savings_femto),
            rec.status.as_str(),
            rec.id,
            rec.title
        );
    }
    out
}

fn totals_json(t: &Totals) -> Value {
    json!({
        "requests": t.requests,
        "errors": t.errors,
        "input_tokens": t.quantities[0],
        "output_tokens": t.quantities[1],
        "cost_usd": usd(t.cost_femto),
    })
}

fn quality_json(q: Option<&Quality>) -> Value {
    match q {
        Some(q) => json!({"good_rate": q.good_rate(), "accepted_rate": q.accepted_rate(),
                          "graded": q.graded, "outcomes": q.outcomes}),
        None => Value::Null,
    }
}

/// Money as exact decimal strings (`"5.62"`): a script can sum them without float drift.
pub fn json(r: &Report) -> Value {
    let sections: Vec<Value> = r
        .sections
        .iter()
        .map(|s| {
            let rows: Vec<Value> = s
                .groups
                .iter()
                .map(|g| {
                    let mut v = totals_json(&g.totals);
                    v[s.dim.name()] = json!(g.values.first());
                    v
                })
                .collect();
            json!({"by": s.dim.name(), "rows": rows})
        })
        .collect();
    let f = &r.forecast;
    json!({
        "from": r.from, "to": r.to, "timezone": r.timezone,
        "total": totals_json(&r.total),
        "sections": sections,
        "forecast": {
            "month": f.month,
            "month_to_date_usd": usd(f.month_to_date_femto),
            "days_elapsed": f.days_elapsed,
            "days_in_month": f.days_in_month,
            "avg_per_day_usd": usd(f.avg_per_day_femto),
            "projected_usd": usd(f.projected_femto),
            "budgets": r.budgets.iter().map(|b| json!({
                "name": b.name, "period": b.period,
                "limit_usd": usd(b.limit_femto), "spend_usd": usd(b.spend_femto),
                "avg_per_day_usd": usd(b.avg_per_day_femto),
                "projected_usd": b.projected_femto.map(usd),
                "overage_usd": b.overage_femto.map(usd),
                "days_to_exhaust": b.days_to_exhaust,
            })).collect::<Vec<_>>(),
        },
        "what_if": r.what_if.iter().map(|w| json!({
            "provider": w.provider, "model": w.model,
            "usage": {
                "requests": w.totals.requests,
                "input_tokens": w.totals.quantities[0],
                "output_tokens": w.totals.quantities[1],
                "cached_input_tokens": w.totals.quantities[2],
                "reasoning_tokens": w.totals.quantities[5],
                "request_input_tokens": w.request_input_tokens,
            },
            "cost_usd": usd(w.totals.cost_femto),
            "quality": quality_json(w.quality.as_ref()),
            "caching": w.caching.map(|c| json!({
                "cached_input_share": c.share_ppm as f64 / 1e6,
                "uncached_cost_usd": usd(c.uncached_femto),
                "cost_usd": usd(c.cached_femto),
            })),
            "alternatives": w.alternatives.iter().map(|a| json!({
                "provider": a.provider, "model": a.model,
                "cost_usd": a.cost_femto.map(usd),
                "quality": quality_json(a.quality.as_ref()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "recommendations": r.recommendations.iter()
            .map(crate::derive::recommend::to_json).collect::<Vec<_>>(),
    })
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One RFC 4180 table: `section,key,requests,errors,input_tokens,output_tokens,cost_usd,
/// alternative,alternative_cost_usd`, with a row per breakdown group and per what-if pair.
pub fn csv(r: &Report) -> String {
    let mut out = String::from(
        "section,key,requests,errors,input_tokens,output_tokens,cost_usd,alternative,alternative_cost_usd\r\n",
    );
    let mut line = |section: &str, key: &str, t: &Totals, alt: &str, alt_cost: &str| {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{}\r\n",
            field(section),
            field(key),
            t.requests,
            t.errors,
            t.quantities[0],
            t.quantities[1],
            usd(t.cost_femto),
            field(alt),
            alt_cost
        );
    };
    line("total", "", &r.total, "", "");
    for s in &r.sections {
        for g in &s.groups {
            let key = g.values.first().map_or("", String::as_str);
            line(s.dim.name(), key, &g.totals, "", "");
        }
    }
    for w in &r.what_if {
        let key = format!("{}/{}", w.provider, w.model);
        for a in &w.alternatives {
            let alt = format!("{}/{}", a.provider, a.model);
            let cost = a.cost_femto.map(usd).unwrap_or_default();
            line("what_if", &key, &w.totals, &alt, &cost);
        }
    }
    out
}
