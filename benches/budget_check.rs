//! The budget check an app asks before every model call, and recording one event's spend: both
//! must stay far below a millisecond with a realistic number of budgets.
//!
//! `cargo bench --bench budget_check`

use criterion::{criterion_group, criterion_main, Criterion};
use meterd::derive::budget::matcher::CallLabels;
use meterd::derive::budget::{BudgetConfig, BudgetDef, Budgets, Touched};
use meterd::model::Labels;
use std::hint::black_box;

/// 20 budgets: team equality, model regexes, a grouped per-user budget, rolling windows.
fn budgets() -> Budgets {
    let mut configs = Vec::new();
    for i in 0..20 {
        let mut c = BudgetConfig {
            name: format!("b{i}"),
            period: ["monthly", "daily", "rolling_24h", "weekly"][i % 4].into(),
            limit_usd: 100.0,
            ..Default::default()
        };
        match i % 3 {
            0 => {
                c.matchers.insert("team".into(), format!("team{}", i % 5));
            }
            1 => {
                c.matchers.insert("model".into(), "=~gpt-4.*".into());
            }
            _ => c.group_by = vec!["user".into()],
        }
        configs.push(c);
    }
    let defs: Vec<_> = configs
        .iter()
        .map(|c| match BudgetDef::compile(c) {
            Ok(def) => std::sync::Arc::new(def),
            Err(e) => panic!("budget {}: {e:?}", c.name),
        })
        .collect();
    Budgets::in_memory(&defs, 1_800_000_000)
}

fn bench(c: &mut Criterion) {
    let b = budgets();
    let scope = Labels::new([("team", "team0"), ("user", "alice")]);
    let call = CallLabels {
        scope: &scope,
        provider: "openai",
        model: "gpt-4o",
    };
    for i in 0..1000 {
        b.record(&call, 1000 + i, 1_800_000_000, &mut Touched::default());
    }
    let query: Vec<(String, String)> = vec![
        ("team".into(), "team0".into()),
        ("user".into(), "alice".into()),
        ("model".into(), "gpt-4o".into()),
    ];
    c.bench_function("budget_check_20_budgets", |bn| {
        bn.iter(|| black_box(b.check(&query[..], 1_800_000_100)))
    });
    c.bench_function("budget_record_20_budgets", |bn| {
        // One event alone in its batch: spend recorded and its gauges built, as before batching.
        let mut out = Vec::with_capacity(64);
        let mut touched = Touched::default();
        bn.iter(|| {
            out.clear();
            black_box(b.record(&call, 1234, 1_800_000_100, &mut touched));
            b.touched_gauges(&mut touched, &mut out);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
