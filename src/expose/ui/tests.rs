use super::gather::{spend_table, team_label, unpriced};
use super::parse_refresh;
use super::render::{esc, page};
use super::view::*;
use crate::derive::ledger::query::Group;
use crate::derive::ledger::row::Totals;
use crate::model::Labels;

const HOSTILE: &str = "<script>alert('x')</script>\"&";

fn group(values: &[&str], requests: u64, cost_femto: u128) -> Group {
    Group {
        values: values.iter().map(|s| s.to_string()).collect(),
        totals: Totals {
            requests,
            cost_femto,
            ..Default::default()
        },
    }
}

fn tables(t: Vec<SpendTable>) -> Page {
    Page {
        usage: Usage::Tables {
            timezone: "UTC".into(),
            tables: t,
            unreadable: 0,
        },
        ..Default::default()
    }
}

#[test]
fn escaping_covers_text_and_both_attribute_quotes() {
    assert_eq!(
        esc(HOSTILE),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"
    );
    assert_eq!(esc("gpt-4o"), "gpt-4o");
}

#[test]
fn a_hostile_value_anywhere_renders_as_text() {
    let spend = spend_table(
        "today-team",
        "Today by team",
        vec!["team".into()],
        vec![group(&[HOSTILE], 1, 5)],
        50,
        "/api/v1/usage?group_by=team".into(),
    );
    let mut p = tables(vec![spend]);
    p.version = HOSTILE.into();
    p.budgets.rows = Capped::of(
        vec![BudgetRow {
            name: HOSTILE.into(),
            group: Some(vec![("team".into(), HOSTILE.into())]),
            status: "ok".into(),
            ..Default::default()
        }],
        50,
    );
    p.unpriced = Capped::of(
        vec![UnpricedRow {
            provider: HOSTILE.into(),
            model: HOSTILE.into(),
            reason: "unknown_model".into(),
            requests: 2.0,
        }],
        50,
    );
    p.pricing.table = Some(PriceTable {
        entries: 1,
        hash: HOSTILE.into(),
        sources: vec![HOSTILE.into()],
        models: Capped::of(
            vec![PriceRow {
                provider: HOSTILE.into(),
                model: HOSTILE.into(),
                prices: vec![("input".into(), HOSTILE.into())],
                effective: String::new(),
                source: Some(HOSTILE.into()),
            }],
            50,
        ),
    });
    p.health.checks = vec![(HOSTILE.into(), Err(HOSTILE.into()))];
    p.health.degraded = vec![(HOSTILE.into(), HOSTILE.into())];
    p.health.counters = Capped::of(vec![(HOSTILE.into(), 1.0)], 50);
    let html = page(&p);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("alert('x')"), "{html}");
    // Every hostile text is there, escaped (nothing dropped either).
    assert!(html.matches("&lt;script&gt;").count() >= 14, "{html}");
}

#[test]
fn tables_are_capped_biggest_spend_first_with_the_rest_summed() {
    let groups = (0..7)
        .map(|i| group(&[&format!("m{i}")], 1, 1_000 * (i as u128 + 1)))
        .collect();
    let t = spend_table("x", "x", vec!["model".into()], groups, 3, String::new());
    let names: Vec<&str> = t.rows.rows.iter().map(|r| r.values[0].as_str()).collect();
    assert_eq!(names, ["m6", "m5", "m4"]);
    assert_eq!(t.rows.more, 4);
    let rest = t.rest.clone().expect("rest");
    assert_eq!(rest.requests, 4);
    // 1000+2000+3000+4000 femto
    assert_eq!(rest.cost, "0.00000000001");
    assert_eq!(t.total.requests, 7);
    let html = page(&tables(vec![t]));
    assert_eq!(html.matches("<tr data-row>").count(), 3);
    assert!(html.contains("<tr data-rest data-count=\"4\"><td colspan=\"1\">4 more</td>"));
    assert!(html.contains("data-total"));
}

#[test]
fn the_headline_shows_the_totals_of_today_and_this_month() {
    let t = |id: &str, cost: u128| {
        spend_table(
            id,
            id,
            vec!["provider".into(), "model".into()],
            vec![group(&["openai", "gpt-4o"], 1, cost)],
            50,
            String::new(),
        )
    };
    let html = page(&tables(vec![
        t("today-model", 7_500_000_000_000),
        t("month-model", 22_500_000_000_000),
    ]));
    assert!(
        html.contains("<strong id=\"today-total\">0.0075</strong>"),
        "{html}"
    );
    assert!(
        html.contains("<strong id=\"month-total\">0.0225</strong>"),
        "{html}"
    );
}

#[test]
fn ties_are_ordered_by_group_values_so_the_page_is_stable() {
    let t = spend_table(
        "x",
        "x",
        vec!["team".into()],
        vec![group(&["b"], 1, 5), group(&["a"], 1, 5)],
        50,
        String::new(),
    );
    assert_eq!(t.rows.rows[0].values, ["a"]);
    assert!(t.rest.is_none());
}

#[test]
fn empty_states_say_so() {
    let empty = spend_table(
        "today-team",
        "t",
        vec!["team".into()],
        vec![],
        50,
        "".into(),
    );
    let html = page(&tables(vec![empty]));
    assert!(html.contains("No usage yet."), "{html}");
    assert!(html.contains("No budgets configured."), "{html}");
    assert!(html.contains("Every model seen is priced."), "{html}");
    assert!(html.contains("No price table is configured"), "{html}");
    assert!(html.contains("Nothing received yet."), "{html}");
    let off = page(&Page::default());
    assert!(off.contains("usage.enabled: false"), "{off}");
    let failed = page(&Page {
        usage: Usage::Failed("disk <gone>".into()),
        ..Default::default()
    });
    assert!(failed.contains("disk &lt;gone&gt;"), "{failed}");
}

#[test]
fn the_document_has_no_script_and_no_external_reference() {
    let mut p = tables(vec![]);
    p.refresh = Some(30);
    let html = page(&p);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    for banned in [
        "<script", "http://", "https://", "src=", "@import", "url(", "//",
    ] {
        assert!(!html.contains(banned), "{banned} in {html}");
    }
    // Links go to this agent's own paths; the icon is empty inline data.
    for (i, _) in html.match_indices("href=\"") {
        let rest = &html[i + 6..];
        assert!(
            rest.starts_with('/') || rest.starts_with("data:,\""),
            "{}",
            &rest[..rest.len().min(40)]
        );
    }
}

#[test]
fn budget_cells_carry_exact_spend_and_the_api_figures() {
    let mut p = Page::default();
    p.budgets.rows = Capped::of(
        vec![BudgetRow {
            name: "search".into(),
            group: None,
            period: "monthly".into(),
            spend_nanos: 37_500_000,
            limit_usd: 50.0,
            utilization: 0.00075,
            status: "ok".into(),
            forecast_usd: 1.25,
            period_end: Some("2027-01-01T00:00:00Z".into()),
            source: "local".into(),
        }],
        50,
    );
    p.budgets.orphaned = 2;
    let html = page(&p);
    assert!(
        html.contains("data-nanos=\"37500000\">0.0375</td>"),
        "{html}"
    );
    assert!(html.contains("data-field=\"limit\">50</td>"), "{html}");
    assert!(html.contains(">0.1%</td>"), "{html}");
    assert!(html.contains("(no group has spent yet)"), "{html}");
    assert!(html.contains("2 saved spend records"), "{html}");
}

#[test]
fn unpriced_sums_over_scope_labels_and_caps() {
    let s = |team: &str, model: &str, v: f64| {
        (
            Labels::new([
                ("model", model),
                ("provider", "acme"),
                ("reason", "unknown_model"),
                ("team", team),
            ]),
            v,
        )
    };
    let rows = unpriced(&[s("a", "x", 1.0), s("b", "x", 2.0), s("a", "y", 1.0)], 1);
    assert_eq!(rows.rows.len(), 1);
    assert_eq!(rows.rows[0].model, "x");
    assert_eq!(rows.rows[0].requests, 3.0);
    assert_eq!(rows.more, 1);
}

#[test]
fn team_is_preferred_then_the_first_scope_label() {
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(team_label(&l(&["service", "team"])), Some("team"));
    assert_eq!(team_label(&l(&["service", "env"])), Some("service"));
    assert_eq!(team_label(&[]), None);
}

#[test]
fn refresh_is_the_only_parameter_and_is_bounded() {
    let q = |pairs: &[(&str, &str)]| {
        parse_refresh(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(q(&[]), Ok(None));
    assert_eq!(q(&[("refresh", "30")]), Ok(Some(30)));
    for bad in ["0", "4", "3601", "-1", "1e3", ""] {
        assert!(q(&[("refresh", bad)]).is_err(), "{bad}");
    }
    assert!(q(&[("refresh", "30"), ("refresh", "40")]).is_err());
    assert!(q(&[("refesh", "30")]).is_err());
}

/// Every element a fully populated page opens is closed, in order (a browser would repair a
/// stray tag silently, and shift cells out of their columns).
#[test]
fn a_full_page_is_well_formed() {
    let spend = |id: &str, dims: &[&str], n: usize| {
        let groups = (0..n)
            .map(|i| {
                let v: Vec<String> = dims.iter().map(|d| format!("{d}-{i}")).collect();
                let v: Vec<&str> = v.iter().map(String::as_str).collect();
                group(&v, 1, i as u128)
            })
            .collect();
        let dims = dims.iter().map(|d| d.to_string()).collect();
        spend_table(id, id, dims, groups, 3, "/api/v1/usage".into())
    };
    let mut p = tables(vec![
        spend("today-team", &["team"], 5),
        spend("today-model", &["provider", "model"], 2),
        spend("month-team", &["team"], 0),
        spend("month-model", &["provider", "model"], 9),
    ]);
    p.refresh = Some(10);
    let budget = BudgetRow {
        name: "b".into(),
        group: Some(vec![("team".into(), "a".into())]),
        status: "warning".into(),
        ..Default::default()
    };
    p.budgets.rows = Capped::of(vec![budget.clone(), budget.clone(), budget], 2);
    p.budgets.orphaned = 1;
    p.unpriced = Capped::of(vec![UnpricedRow::default(), UnpricedRow::default()], 1);
    p.pricing.table = Some(PriceTable {
        entries: 2,
        hash: "h".into(),
        sources: vec!["a.yaml".into(), "b.yaml".into()],
        models: Capped::of(vec![PriceRow::default(), PriceRow::default()], 1),
    });
    p.health.checks = vec![("config".into(), Ok(())), ("state".into(), Err("x".into()))];
    p.health.degraded = vec![("memory".into(), "shedding".into())];
    p.health.last_reload_ok = Some(false);
    p.health.counters = Capped::of(vec![("a".into(), 1.5), ("b".into(), 2.0)], 1);
    let html = page(&p);
    let void = ["meta", "link", "!DOCTYPE"];
    let mut open: Vec<&str> = Vec::new();
    for part in html.split('<').skip(1) {
        let tag = part.split(['>', ' ']).next().unwrap_or_default();
        if let Some(closing) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop(),
                Some(closing),
                "at <{}",
                &part[..part.len().min(60)]
            );
        } else if !void.contains(&tag) {
            open.push(tag);
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
    // Each capped table says how many rows it left out.
    for id in [
        "budgets-more",
        "unpriced-more",
        "prices-more",
        "counters-more",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert_eq!(html.matches("data-rest data-count=").count(), 2);
}
