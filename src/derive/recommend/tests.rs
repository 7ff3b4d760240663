use super::*;
use crate::derive::budget::BudgetConfig;
use crate::derive::forecast;
use crate::derive::whatif::reprice;

/// 2026-12-06T10:20:00Z.
const NOW: i64 = 1_796_552_400;
const HOUR: i64 = NOW - NOW % 3600;
const USD: u128 = 1_000_000_000_000_000;
static UTC: TimeZone = TimeZone::UTC;

fn table() -> Arc<Compiled> {
    let yaml = concat!(
        "pricing:\n  models:\n",
        "    - {provider: openai, model: gpt-4o, prices: {input: 2.50, cached_input: 1.25, output: 10.00}}\n",
        "    - {provider: openai, model: gpt-4o-mini, prices: {input: 0.15, output: 0.60}}\n",
        "    - {provider: anthropic, model: claude-haiku, prices: {input: 0.80, output: 4.00}}\n",
    );
    let c: crate::config::Config =
        crate::config::load::load_str(yaml, "t.yaml", &|_| None).expect("config");
    Compiled::new(c.pricing.as_ref().expect("pricing"))
}

fn row(start: i64, provider: &str, model: &str, requests: u64, cached: u64) -> (Key, Totals) {
    let mut quantities = [0u64; 11];
    quantities[0] = 1000 * requests;
    quantities[1] = 500 * requests;
    quantities[2] = cached;
    let mut t = Totals {
        requests,
        errors: 0,
        quantities,
        cost_femto: 0,
    };
    t.cost_femto = reprice(&table(), provider, model, &t, 1000, 0).unwrap_or(0);
    (
        Key {
            gran: Gran::Hour,
            start,
            provider: provider.into(),
            model: model.into(),
            labels: vec![("team".into(), "search".into())],
        },
        t,
    )
}

fn settings() -> Settings {
    let mut s = Settings::new(&RecommendationsConfig::default());
    s.min_requests = 1;
    s.min_quality_samples = 10.0;
    s.min_monthly_savings_femto = 0;
    s
}

fn q(graded: f64, good: f64, poor: f64, outcomes: f64, accepted: f64) -> Quality {
    Quality {
        graded,
        good,
        poor,
        outcomes,
        accepted,
    }
}

struct Fixture {
    table: Arc<Compiled>,
    rows: Vec<(Key, Totals)>,
    quality: BTreeMap<String, Quality>,
    caches: Vec<AppCache>,
    budgets: Vec<Arc<BudgetDef>>,
    settings: Settings,
    statuses: BTreeMap<String, Stored>,
}

impl Fixture {
    fn new(rows: Vec<(Key, Totals)>) -> Fixture {
        Fixture {
            table: table(),
            rows,
            quality: BTreeMap::new(),
            caches: Vec::new(),
            budgets: Vec::new(),
            settings: settings(),
            statuses: BTreeMap::new(),
        }
    }

    fn run(&self) -> Vec<Recommendation> {
        recommend(&Input {
            rows: &self.rows,
            tz: &UTC,
            now: NOW,
            pricing: Some(&self.table),
            quality: &self.quality,
            caches: &self.caches,
            budgets: &self.budgets,
            settings: &self.settings,
            statuses: &self.statuses,
        })
    }
}

fn of(recs: &[Recommendation], kind: Kind) -> Vec<&Recommendation> {
    recs.iter().filter(|r| r.kind == kind).collect()
}

/// A week of gpt-4o usage from the window start, one row a day, uncached.
fn week_of(requests: u64, cached: u64) -> Vec<(Key, Totals)> {
    (0..7)
        .map(|d| {
            row(
                HOUR - (7 - d) * 86_400,
                "openai",
                "gpt-4o",
                requests,
                cached,
            )
        })
        .collect()
}

fn week() -> Vec<(Key, Totals)> {
    week_of(100, 0)
}

#[test]
fn downgrade_with_proven_quality_saves_the_repriced_difference_per_30_days() {
    let mut f = Fixture::new(week());
    f.quality
        .insert("gpt-4o".into(), q(40.0, 30.0, 2.0, 20.0, 15.0));
    f.quality
        .insert("gpt-4o-mini".into(), q(40.0, 30.0, 2.0, 20.0, 16.0));
    let recs = f.run();
    let d = of(&recs, Kind::DowngradeModel);
    assert_eq!(d.len(), 1, "{recs:#?}");
    let r = d[0];
    assert_eq!(r.priority, Priority::High);
    assert_eq!(r.evidence["alternative"], "openai/gpt-4o-mini");
    assert_eq!(r.evidence["quality"], "no worse");
    // 700 calls of 1000 in / 500 out: 1.75 + 3.5 = 5.25 USD at gpt-4o, 0.105 + 0.21 at mini.
    assert_eq!(r.evidence["window_cost_usd"], "5.25");
    assert_eq!(r.evidence["alternative_cost_usd"], "0.315");
    let (from, to) = window(&UTC, NOW, 7 * 86_400);
    let span = (to - from) as u128;
    let want = (4_935 * USD / 1000 * 2_592_000 * 2 + span) / (2 * span);
    assert_eq!(r.monthly_savings_femto, want as i128);
    assert_eq!(r.evidence["window"]["observed_secs"], span as i64);
    assert!(r.evidence["window"].get("note").is_none());
}

#[test]
fn a_measured_quality_drop_is_never_recommended() {
    let mut f = Fixture::new(week());
    f.quality
        .insert("gpt-4o".into(), q(40.0, 30.0, 2.0, 20.0, 15.0));
    // Cheaper, but graded good less often.
    f.quality
        .insert("gpt-4o-mini".into(), q(40.0, 20.0, 2.0, 20.0, 15.0));
    // Cheaper, graded the same, accepted less often.
    f.quality
        .insert("claude-haiku".into(), q(40.0, 30.0, 2.0, 20.0, 10.0));
    let recs = f.run();
    assert!(of(&recs, Kind::DowngradeModel).is_empty(), "{recs:#?}");
    assert_eq!(
        rules::compare(f.quality.get("gpt-4o"), f.quality.get("gpt-4o-mini"), 10.0),
        rules::Verdict::Worse("good-grade rate 50.0% vs 75.0%".into())
    );
}

#[test]
fn without_quality_data_the_downgrade_says_so_stays_in_the_provider_and_ranks_low() {
    let f = Fixture::new(week());
    let recs = f.run();
    let d = of(&recs, Kind::DowngradeModel);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].priority, Priority::Low);
    assert_eq!(d[0].evidence["quality"], "no data");
    assert_eq!(d[0].evidence["alternative"], "openai/gpt-4o-mini");
    assert!(
        d[0].description.contains("no quality data"),
        "{}",
        d[0].description
    );
    // Too few samples on one side is no data too, not a proof.
    let mut f = Fixture::new(week());
    f.quality
        .insert("gpt-4o".into(), q(5.0, 5.0, 0.0, 0.0, 0.0));
    f.quality
        .insert("gpt-4o-mini".into(), q(40.0, 10.0, 20.0, 0.0, 0.0));
    assert_eq!(
        of(&f.run(), Kind::DowngradeModel)[0].evidence["quality"],
        "no data"
    );
}

#[test]
fn uncached_input_on_a_model_with_a_cached_price_is_an_optimize_cache() {
    let f = Fixture::new(week());
    let recs = f.run();
    let c = of(&recs, Kind::OptimizeCache);
    assert_eq!(c.len(), 1, "{recs:#?}");
    // Half of 700k input tokens at 1.25 instead of 2.50: 0.4375 USD less over the window.
    assert_eq!(c[0].evidence["uncached_cost_usd"], "5.25");
    assert_eq!(c[0].evidence["cached_cost_usd"], "4.8125");
    let (from, to) = window(&UTC, NOW, 7 * 86_400);
    let span = (to - from) as i128;
    let diff = (4375 * USD / 10_000) as i128;
    assert_eq!(
        c[0].monthly_savings_femto,
        (diff * 2_592_000 * 2 + span) / (2 * span)
    );
    // Cached enough already: nothing to say. A model without a cached price: nothing either.
    let cached: Vec<_> = week_of(100, 20_000)
        .into_iter()
        .chain([row(HOUR, "openai", "gpt-4o-mini", 100, 0)])
        .collect();
    assert!(of(&Fixture::new(cached).run(), Kind::OptimizeCache).is_empty());
}

#[test]
fn app_caches_below_the_hit_rate_are_reported_without_a_made_up_saving() {
    let mut f = Fixture::new(Vec::new());
    f.caches = vec![
        AppCache {
            cache: "semantic".into(),
            hits: 10.0,
            misses: 90.0,
        },
        AppCache {
            cache: "exact".into(),
            hits: 50.0,
            misses: 50.0,
        },
    ];
    let recs = f.run();
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(recs[0].evidence["cache"], "semantic");
    assert_eq!(recs[0].monthly_savings_femto, 0);
}

#[test]
fn a_mostly_poor_model_gets_an_upgrade_with_its_extra_cost() {
    let rows: Vec<_> = (0..7)
        .map(|d| row(HOUR - d * 86_400, "openai", "gpt-4o-mini", 100, 0))
        .collect();
    let mut f = Fixture::new(rows);
    f.quality
        .insert("gpt-4o-mini".into(), q(40.0, 5.0, 30.0, 0.0, 0.0));
    f.quality
        .insert("gpt-4o".into(), q(40.0, 35.0, 1.0, 0.0, 0.0));
    let recs = f.run();
    let u = of(&recs, Kind::UpgradeModel);
    assert_eq!(u.len(), 1, "{recs:#?}");
    assert!(u[0].monthly_savings_femto < 0);
    assert_eq!(u[0].evidence["alternative"], "openai/gpt-4o");
    assert!(u[0].evidence["extra_monthly_cost_usd"]
        .as_str()
        .is_some_and(|s| !s.starts_with('-')));
    assert_eq!(u[0].priority, Priority::High);
}

#[test]
fn a_budget_forecast_to_overrun_names_its_contributors_and_the_cut() {
    let c = BudgetConfig {
        name: "search".into(),
        period: "monthly".into(),
        limit_usd: 6.0,
        ..Default::default()
    };
    let mut f = Fixture::new(week());
    f.budgets = vec![Arc::new(BudgetDef::compile(&c).expect("budget"))];
    let recs = f.run();
    let b = of(&recs, Kind::ReduceModelUsage);
    assert_eq!(b.len(), 1, "{recs:#?}");
    let e = &b[0].evidence;
    assert_eq!(e["budget"], "search");
    assert_eq!(e["contributors"][0]["model"], "gpt-4o");
    let fc = forecast::budget(&f.rows, &f.budgets[0], NOW).expect("forecast");
    assert_eq!(
        b[0].monthly_savings_femto,
        fc.overage_femto.unwrap_or(0) as i128
    );
    assert!(e["cut_share"].as_f64().is_some_and(|c| c > 0.0 && c <= 1.0));
    // Rows must reach back to the month start for this.
    assert!(rows_from(&UTC, &f.budgets, NOW, &f.settings) <= fc.start);
}

#[test]
fn ids_depend_on_type_and_models_not_on_figures_and_order_is_deterministic() {
    let a = Fixture::new(week()).run();
    let mut more = week();
    more.push(row(HOUR - 3600, "openai", "gpt-4o", 5000, 0));
    let b = Fixture::new(more).run();
    let ids = |r: &[Recommendation]| -> Vec<(Kind, String)> {
        r.iter().map(|r| (r.kind, r.id.clone())).collect()
    };
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(a, Fixture::new(week()).run());
    assert!(a[0].priority <= a[1].priority);
    assert!(a
        .iter()
        .all(|r| r.id.starts_with("rec_") && r.id.len() == 20));
}

#[test]
fn a_ledger_younger_than_the_window_scales_from_its_first_bucket() {
    let f = Fixture::new(vec![row(HOUR - 86_400, "openai", "gpt-4o", 700, 0)]);
    let recs = f.run();
    let d = of(&recs, Kind::DowngradeModel)[0];
    let span = NOW + 1 - (HOUR - 86_400);
    assert_eq!(d.evidence["window"]["observed_secs"], span);
    assert!(d.evidence["window"]["note"].is_string());
    let diff = (4_935 * USD / 1000) as i128;
    let span = i128::from(span);
    assert_eq!(
        d.monthly_savings_femto,
        (diff * 2_592_000 * 2 + span) / (2 * span)
    );
}

#[test]
fn dismissed_stays_dismissed_until_the_saving_grows_by_the_factor() {
    let mut f = Fixture::new(week());
    let first = f.run();
    let d = of(&first, Kind::DowngradeModel)[0].clone();
    f.statuses.insert(
        d.id.clone(),
        Stored {
            status: Status::Dismissed,
            savings_femto: d.monthly_savings_femto,
            who: "ops".into(),
            at: NOW,
        },
    );
    let again = f.run();
    let r = again.iter().find(|r| r.id == d.id).expect("listed");
    assert_eq!((r.status, r.resurfaced), (Status::Dismissed, false));
    // 1.5x the usage: below the 2.0 factor.
    f.rows.extend(week_of(50, 0));
    let r = f.run().into_iter().find(|r| r.id == d.id).expect("listed");
    assert_eq!(r.status, Status::Dismissed);
    // 2x: back.
    f.rows.extend(week_of(60, 0));
    let r = f.run().into_iter().find(|r| r.id == d.id).expect("listed");
    assert_eq!((r.status, r.resurfaced), (Status::Open, true));
    let json = to_json(&r);
    assert_eq!(json["status"], "open");
    assert_eq!(json["status_set"]["status"], "dismissed");
    // Implemented stays implemented, whatever the saving.
    assert_eq!(
        status::resolve(
            Some(&Stored {
                status: Status::Implemented,
                savings_femto: 1,
                who: "ops".into(),
                at: NOW
            }),
            1 << 100,
            2.0
        ),
        (Status::Implemented, false)
    );
}

#[test]
fn stored_statuses_round_trip_and_garbage_is_an_error() {
    let s = Stored {
        status: Status::Dismissed,
        savings_femto: -123_456_789_012_345_678_901_234,
        who: "alice".into(),
        at: NOW,
    };
    assert_eq!(Stored::decode(&s.encode()), Ok(s));
    assert!(Stored::decode(b"{}").is_err());
    assert!(Stored::decode(b"\xff").is_err());
    assert!(Stored::decode(br#"{"status":"open","savings_femto":"x"}"#).is_err());
}

#[test]
fn disabled_or_empty_gives_nothing_and_signed_money_is_exact() {
    let mut f = Fixture::new(week());
    f.settings.enabled = false;
    assert!(f.run().is_empty());
    assert!(Fixture::new(Vec::new()).run().is_empty());
    assert_eq!(usd_signed(-1_250_000_000_000_000), "-1.25");
    assert_eq!(usd_signed(0), "0.00");
    assert_eq!(usd_signed_f64(-1_250_000_000_000_000), -1.25);
}

#[test]
fn absurd_volumes_and_costs_never_panic() {
    let mut rows = week();
    let mut huge = row(HOUR, "openai", "gpt-4o", 1, 0);
    huge.1.requests = u64::MAX;
    huge.1.quantities = [u64::MAX; 11];
    huge.1.cost_femto = u128::MAX;
    rows.push(huge);
    rows.push(row(HOUR, "openai", "unknown-model", 10, 0));
    let mut f = Fixture::new(rows);
    f.quality
        .insert("gpt-4o".into(), q(f64::MAX, f64::MAX, 0.0, f64::NAN, 1.0));
    f.caches = vec![AppCache {
        cache: "c".into(),
        hits: f64::NAN,
        misses: f64::INFINITY,
    }];
    let c = BudgetConfig {
        name: "b".into(),
        period: "monthly".into(),
        limit_usd: 0.01,
        ..Default::default()
    };
    f.budgets = vec![Arc::new(BudgetDef::compile(&c).expect("budget"))];
    let recs = f.run();
    assert!(recs.iter().all(|r| !r.id.is_empty()));
    for r in &recs {
        let _ = to_json(r);
    }
}
