//! Pricing one usage event against the shipped table: paid once per span, metric point or StatsD
//! usage line. `cargo bench --bench pricing`.

use criterion::{criterion_group, criterion_main, Criterion};
use meterd::derive::pricing::{cost, Compiled};
use meterd::model::UsageEvent;
use std::hint::black_box;

fn event(provider: &str, model: &str) -> UsageEvent {
    let mut e = UsageEvent::new(provider, model);
    e.unix_nanos = 1_756_684_800_000_000_000;
    e.usage.input_tokens = 1200;
    e.usage.cached_input_tokens = 200;
    e.usage.output_tokens = 300;
    e.usage.requests = 1;
    e
}

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/pricing.yaml");
    let table = meterd::config::load::load_pricing(std::path::Path::new(path))
        .unwrap_or_else(|e| panic!("{e}"));
    let t = Compiled::new(&table);
    for (name, provider, model) in [
        ("exact", "openai", "gpt-4o"),
        ("dated", "anthropic", "claude-sonnet-4-5-20250929"),
        (
            "regex",
            "aws.bedrock",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        ),
        ("unknown", "openai", "gpt-99-turbo"),
    ] {
        let e = event(provider, model);
        c.bench_function(&format!("price_{name}"), |b| {
            b.iter(|| match cost::price(black_box(&t), black_box(&e)) {
                cost::Breakdown::Priced(p) => p.total,
                cost::Breakdown::UnknownModel => 0,
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
