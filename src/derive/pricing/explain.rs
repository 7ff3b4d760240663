//! The human breakdown `meterd price` prints, from the same [`cost::price`] the agent uses.

use super::compile::Compiled;
use super::cost::{self, Breakdown};
use crate::model::money::{format_usd, FEMTO_PER_USD};
use crate::model::UsageEvent;
use std::fmt::Write;

/// Renders the cost breakdown of `ev`; `Err` (with the same text style) when the model is unknown.
pub fn explain(table: &Compiled, ev: &UsageEvent) -> Result<String, String> {
    let p = match cost::price(table, ev) {
        Breakdown::UnknownModel => {
            let why = table.newer_than_known(&ev.provider, &ev.model).map_or_else(
                String::new,
                |(family, d)| {
                    let through = match d % 100 {
                        99 => format!("{}-{:02}", d / 10_000, d / 100 % 100),
                        day => format!("{}-{:02}-{day:02}", d / 10_000, d / 100 % 100),
                    };
                    format!(
                        "; it is newer than every {family} version the table lists (through \
                         {through}), so it is not given an older version's price: add an entry \
                         for it"
                    )
                },
            );
            return Err(format!(
                "no price for model {:?} of provider {:?} (provider in the table: {:?}); it would \
                 be counted in llm_unpriced_requests_total{{reason=\"unknown_model\"}}{why}",
                &*ev.model,
                &*ev.provider,
                table.provider(&ev.provider)
            ));
        }
        Breakdown::Priced(p) if p.overflow => {
            return Err(format!(
                "the cost of this usage of {:?} / {:?} does not fit meterd's money counters: it \
                 would be refused and counted in meterd_money_overflow_total",
                &*ev.provider, &*ev.model
            ))
        }
        Breakdown::Priced(p) => p,
    };
    let e = p.resolution.entry;
    let mut out = String::new();
    let date = |n: Option<u64>| {
        n.and_then(|n| jiff::Timestamp::from_nanosecond(i128::from(n)).ok())
            .map_or_else(String::new, |t| t.strftime("%Y-%m-%d").to_string())
    };
    let validity = match (e.from, e.to) {
        (None, None) => String::new(),
        (Some(f), None) => format!(", in force from {}", date(Some(f))),
        (None, Some(t)) => format!(", in force until {}", date(Some(t))),
        (f, t) => format!(", in force {} to {}", date(f), date(t)),
    };
    let _ = writeln!(
        out,
        "{} / {}: table entry models[{}] {:?} ({}){validity}",
        ev.provider, ev.model, e.index, &*e.model, p.resolution.how,
    );
    if let Some(s) = &e.source {
        let _ = writeln!(
            out,
            "source: {s}{}",
            e.checked
                .as_ref()
                .map_or_else(String::new, |c| format!(" (checked {c})"))
        );
    }
    let _ = writeln!(out, "table: {} (hash {})", table.source, table.hash);
    if let Some(t) = p.tier {
        let _ = writeln!(out, "tier: request input above {t} tokens");
    }
    let normalized =
        crate::derive::semantics::normalize(&ev.usage, ev.semantics, ev.usage.requests > 0);
    if let Some(u) = &normalized.usage {
        let why: Vec<&str> = normalized
            .inconsistent
            .iter()
            .flatten()
            .map(|i| i.reason())
            .collect();
        let _ = writeln!(
            out,
            "usage read as raw ({}): parts added to their whole, {} input and {} output tokens",
            if why.is_empty() {
                "declared".to_owned()
            } else {
                format!("inconsistent: {}", why.join(", "))
            },
            u.input_tokens,
            u.output_tokens
        );
    }
    let explicit = e.explicit_dims(
        cost::request_input(ev, normalized.usage.as_ref().unwrap_or(&ev.usage)),
        ev.service_tier.as_deref(),
    );
    if !explicit.is_empty() {
        let _ = writeln!(
            out,
            "service tier {:?}: the table's own prices for {}",
            ev.service_tier.as_deref().unwrap_or(""),
            explicit
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if p.multiplier != FEMTO_PER_USD {
        let _ = writeln!(
            out,
            "service tier {:?}: {}prices x{}",
            ev.service_tier.as_deref().unwrap_or(""),
            if explicit.is_empty() { "" } else { "other " },
            format_usd(p.multiplier)
        );
    }
    let _ = writeln!(
        out,
        "{:<16} {:>18}  {:<30} {:>22}",
        "dimension", "quantity", "price (USD)", "cost (USD)"
    );
    for l in &p.lines {
        let per = l.billed_as.units_per_price();
        // A premium line shows the premium's own rate per priced unit.
        let price = format!(
            "{} / {}{}",
            format_usd(l.rate.saturating_mul(per)),
            l.billed_as.price_unit(),
            match (l.premium_over, l.billed_as != l.dim) {
                (Some(w), _) => format!(" (premium over {}, billed on its own line)", w.name()),
                (None, true) => format!(" ({} rate)", l.billed_as.name()),
                (None, false) => String::new(),
            }
        );
        let _ = writeln!(
            out,
            "{:<16} {:>18}  {:<30} {:>22}",
            l.dim.name(),
            format!("{} {}", l.quantity, l.dim.quantity_unit()),
            price,
            format_usd(l.femto)
        );
    }
    let _ = writeln!(
        out,
        "{:<16} {:>18}  {:<30} {:>22}",
        "total",
        "",
        "",
        format_usd(p.total)
    );
    for d in &p.unpriced {
        let _ = writeln!(
            out,
            "unpriced: {} (the entry has no {} price; counted as reason=\"unknown_usage_type\")",
            d.name(),
            d.name()
        );
    }
    Ok(out)
}
