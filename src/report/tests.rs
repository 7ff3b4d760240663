use super::*;
use crate::derive::ledger::query::{self, Dim};
use crate::derive::ledger::row::{Gran, Key, Totals};

/// 2026-12-06T10:20:00Z: 5.43 days into December.
const NOW: i64 = 1_796_552_400;
const HOUR: i64 = NOW - NOW % 3600;
static UTC: TimeZone = TimeZone::UTC;

fn table() -> Arc<Compiled> {
    let yaml = concat!(
        "pricing:\n  models:\n",
        "    - {provider: openai, model: gpt-4o, prices: {input: 2.50, output: 10.00}}\n",
        "    - {provider: openai, model: gpt-4o-mini, prices: {input: 0.15, output: 0.60}}\n",
        "    - {provider: openai, model: whisper-1, prices: {audio_minute: 0.006}}\n",
    );
    let c: crate::config::Config =
        crate::config::load::load_str(yaml, "t.yaml", &|_| None).expect("config");
    Compiled::new(c.pricing.as_ref().expect("pricing"))
}

fn row(start: i64, model: &str, team: &str, requests: u64, cost: u128) -> (Key, Totals) {
    let mut quantities = [0u64; 11];
    quantities[0] = 1000 * requests;
    quantities[1] = 500 * requests;
    (
        Key {
            gran: Gran::Hour,
            start,
            provider: "openai".into(),
            model: model.into(),
            labels: vec![("team".into(), team.into())],
        },
        Totals {
            requests,
            errors: 0,
            quantities,
            cost_femto: cost,
        },
    )
}

fn input<'a>(
    rows: &'a [(Key, Totals)],
    budgets: &'a [Arc<BudgetDef>],
    q: &'a BTreeMap<String, Quality>,
    by: &'a [Dim],
) -> Input<'a> {
    Input {
        rows,
        tz: &UTC,
        tz_name: "UTC",
        from: NOW - NOW % 86_400 - 5 * 86_400,
        to: NOW - NOW % 86_400 + 86_400,
        now: NOW,
        by,
        pricing: None,
        budgets,
        quality: q,
        what_if: &[],
        cache_share_ppm: 0,
        recommendations: &[],
    }
}

#[test]
fn what_if_prices_the_observed_mix_through_the_agents_pricing_path() {
    let table = table();
    // 10 calls of 1000 in / 500 out at gpt-4o: $0.075.
    let rows = vec![row(HOUR, "gpt-4o", "search", 10, 75_000_000_000_000)];
    let mut quality = BTreeMap::new();
    quality.insert(
        "gpt-4o-mini".to_string(),
        Quality {
            graded: 4.0,
            good: 1.0,
            poor: 0.0,
            outcomes: 0.0,
            accepted: 0.0,
        },
    );
    let by = [Dim::Model];
    let mut i = input(&rows, &[], &quality, &by);
    i.pricing = Some(&*table);
    let r = build(&i);
    assert_eq!(r.what_if.len(), 1);
    let w = &r.what_if[0];
    assert_eq!(w.request_input_tokens, 1000);
    let mini = w
        .alternatives
        .iter()
        .find(|a| a.model == "gpt-4o-mini")
        .expect("mini");
    // 10,000 x 0.15/1M + 5,000 x 0.60/1M = 0.0015 + 0.003.
    assert_eq!(mini.cost_femto, Some(4_500_000_000_000));
    assert_eq!(
        mini.quality.as_ref().and_then(Quality::good_rate),
        Some(0.25)
    );
    let whisper = w
        .alternatives
        .iter()
        .find(|a| a.model == "whisper-1")
        .expect("whisper");
    assert_eq!(whisper.cost_femto, None, "no token prices: not priceable");
    assert!(w.alternatives.iter().all(|a| a.model != "gpt-4o"));
    let text = render::text(&r);
    assert!(
        text.contains(
            "gpt-4o -> openai/gpt-4o-mini would have cost 0.0045 USD instead of 0.075 USD"
        ),
        "{text}"
    );
    let csv = render::csv(&r);
    assert!(
        csv.contains("what_if,openai/gpt-4o,10,0,10000,5000,0.075,openai/gpt-4o-mini,0.0045\r\n"),
        "{csv}"
    );
}

#[test]
fn forecast_and_budget_exhaustion_follow_the_month_to_date_rate() {
    let config = crate::derive::budget::BudgetConfig {
        name: "search".into(),
        period: "monthly".into(),
        limit_usd: 10.0,
        matchers: [("team".to_string(), "search".to_string())].into(),
        ..Default::default()
    };
    let budgets = vec![Arc::new(BudgetDef::compile(&config).expect("budget"))];
    let month_start = NOW - 5 * 86_400 - NOW % 86_400;
    let usd = 1_000_000_000_000_000u128;
    let rows = vec![
        row(month_start + 3600, "gpt-4o", "search", 1, 2 * usd),
        row(HOUR, "gpt-4o", "ads", 1, usd),
        // Last month: outside both.
        row(month_start - 3600, "gpt-4o", "search", 1, 50 * usd),
    ];
    let q = BTreeMap::new();
    let by = [Dim::Day];
    let r = build(&input(&rows, &budgets, &q, &by));
    let f = &r.forecast;
    assert_eq!(f.month, "2026-12");
    assert_eq!(f.month_to_date_femto, 3 * usd);
    let elapsed = (NOW - month_start) as f64 / 86_400.0;
    assert!((f.days_elapsed - elapsed).abs() < 1e-9);
    assert_eq!(
        f.avg_per_day_femto,
        (3.0 * usd as f64 / elapsed).round() as u128
    );
    assert_eq!(f.days_in_month, 31.0);
    let b = &r.budgets[0];
    assert_eq!(b.spend_femto, 2 * usd);
    assert_eq!(b.limit_femto, 10 * usd);
    let days = b.days_to_exhaust.expect("spending");
    assert!((days - 8.0 * elapsed / 2.0).abs() < 1e-6, "{days}");
    // 2 USD in 5.4 days is 11.4 USD in 31: over by the difference.
    let projected = b.projected_femto.expect("calendar period");
    assert!(projected > 11 * usd && projected < 12 * usd, "{projected}");
    assert_eq!(b.overage_femto, Some(projected - 10 * usd));
    // The breakdown by day sees the two days of this range.
    assert_eq!(r.sections[0].groups.len(), 2);
    assert_eq!(r.total.cost_femto, 3 * usd);
}

#[test]
fn api_rows_parse_back_to_the_ledger_rows_they_came_from() {
    let rows = vec![
        row(HOUR, "gpt-4o", "search", 3, 1_234_567),
        row(HOUR - 3600, "gpt-4o-mini", "ads, \"EU\"", 2, 5),
    ];
    let tz = TimeZone::get("Asia/Kolkata").expect("tz");
    let scope = vec!["team".to_string()];
    let params: Vec<(String, String)> = vec![
        ("group_by".into(), "hour,provider,model,team".into()),
        ("from".into(), (HOUR - 7200).to_string()),
        ("to".into(), (HOUR + 3600).to_string()),
    ];
    let q = query::parse(&params, &scope, &tz, NOW).expect("query");
    let groups = query::aggregate(&rows, &q, &tz);
    let body = query::to_json(&q, &groups, "Asia/Kolkata", &tz).to_string();
    let mut back = source::parse_usage(body.as_bytes(), &scope).expect("parse");
    back.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = rows.clone();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(back, want);
}

#[test]
fn quality_rates_come_from_the_scrape() {
    let text = "# HELP llm_quality_grade_total x\n\
        llm_quality_grade_total{evaluation=\"relevance\",grade=\"good\",model=\"gpt-4o\"} 3\n\
        llm_quality_grade_total{evaluation=\"relevance\",grade=\"poor\",model=\"gpt-4o\"} 1\n\
        llm_outcomes_total{model=\"gpt-4o\",outcome=\"accepted\"} 1\n\
        llm_outcomes_total{model=\"gpt-4o\",outcome=\"abandoned\"} 1\n\
        llm_outcomes_total_bogus{model=\"x\"} 9\n";
    let q = source::parse_quality(text);
    assert_eq!(q.len(), 1);
    let g = &q["gpt-4o"];
    assert_eq!(g.good_rate(), Some(0.75));
    assert_eq!(g.accepted_rate(), Some(0.5));
}

#[test]
fn statuses_read_from_the_api_are_the_ones_it_stored() {
    use crate::derive::recommend::{self, Kind, Priority, Recommendation, Status, Stored};
    let stored = Stored {
        status: Status::Dismissed,
        savings_femto: -1_234_567_890_123_456_789,
        who: "ops".into(),
        at: NOW,
    };
    let rec = Recommendation {
        id: recommend::id(Kind::UpgradeModel, "a\nb"),
        kind: Kind::UpgradeModel,
        priority: Priority::High,
        title: "t".into(),
        description: "d".into(),
        monthly_savings_femto: 5,
        evidence: serde_json::Value::Null,
        status: Status::Dismissed,
        resurfaced: false,
        stored: Some(stored.clone()),
    };
    let mut open = rec.clone();
    open.id = recommend::id(Kind::DowngradeModel, "a\nb");
    open.stored = None;
    let body = serde_json::json!({
        "recommendations": [recommend::to_json(&rec), recommend::to_json(&open)]
    })
    .to_string();
    let back = source::parse_statuses(body.as_bytes()).expect("parse");
    assert_eq!(back.len(), 1);
    assert_eq!(back[&rec.id], stored);
    assert!(source::parse_statuses(b"not json").is_err());
}
