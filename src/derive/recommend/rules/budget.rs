//! `reduce_model_usage`: budgets forecast to overrun.

use super::{name, rec, signed};
use crate::derive::forecast;
use crate::derive::recommend::{Input, Kind, Priority, Recommendation};
use crate::model::money::format_usd;
use serde_json::json;
use std::collections::BTreeMap;

/// Budgets forecast past their limit at the period end: the largest contributors and the cut
/// that keeps the budget within it. The saving is the overage avoided this period.
pub(super) fn budgets(i: &Input<'_>) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for b in i.budgets {
        let Some(f) = forecast::budget(i.rows, b, i.now) else {
            continue;
        };
        let (Some(projected), Some(overage), Some(end)) =
            (f.projected_femto, f.overage_femto, f.end)
        else {
            continue;
        };
        if overage == 0 {
            continue;
        }
        let mut by_model: BTreeMap<(String, String), u128> = BTreeMap::new();
        for (k, t) in forecast::budget_rows(i.rows, b, f.start, i.now) {
            let c = by_model
                .entry((k.provider.clone(), k.model.clone()))
                .or_default();
            *c = c.saturating_add(t.cost_femto);
        }
        let mut top: Vec<((String, String), u128)> = by_model.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(3);
        // Spend still to come at the current rate, and the share of it to cut.
        let coming = projected.saturating_sub(f.spend_femto);
        let cut = if coming == 0 {
            1.0
        } else {
            (overage as f64 / coming as f64).min(1.0)
        };
        let days_left = ((end - i.now) as f64 / forecast::DAY).max(1.0 / 24.0);
        let allowed_per_day = f.limit_femto.saturating_sub(f.spend_femto) as f64 / days_left;
        let saving = signed(overage);
        let mut r = rec(
            Kind::ReduceModelUsage,
            &format!("budget\n{}", f.name),
            Priority::High,
            saving,
        );
        let names: Vec<String> = top
            .iter()
            .map(|((p, m), c)| format!("{} ({} USD)", name(p, m), format_usd(*c)))
            .collect();
        r.title = format!("Budget {} is forecast to overrun", f.name);
        r.description = format!(
            "Budget {} ({}) has spent {} of {} USD and is heading for {} USD by the period end. \
             Largest contributors: {}. Cutting its spend by {:.1}% for the rest of the period \
             (to {} USD a day) keeps it within the limit.",
            f.name,
            f.period,
            format_usd(f.spend_femto),
            format_usd(f.limit_femto),
            format_usd(projected),
            names.join(", "),
            cut * 100.0,
            format_usd(allowed_per_day.round() as u128),
        );
        r.evidence = json!({
            "budget": f.name, "period": f.period,
            "spend_usd": format_usd(f.spend_femto),
            "limit_usd": format_usd(f.limit_femto),
            "projected_usd": format_usd(projected),
            "overage_usd": format_usd(overage),
            "avg_per_day_usd": format_usd(f.avg_per_day_femto),
            "allowed_per_day_usd": format_usd(allowed_per_day.round() as u128),
            "cut_share": cut,
            "contributors": top.iter().map(|((p, m), c)| json!({
                "provider": p, "model": m, "spend_usd": format_usd(*c)})).collect::<Vec<_>>(),
            "savings_basis": "the overage avoided in this budget period",
        });
        out.push(r);
    }
    out
}
