//! Name matching rules that decide which price a call gets: dated versions, `-latest` aliases,
//! cloud model ids (Bedrock inference profiles, Vertex `@` versions).

use super::compile::{parse_date, strip_version};
use super::cost::{self, Breakdown};
use super::*;
use crate::config::load::load_str;
use crate::model::UsageEvent;
use std::sync::Arc;

const TABLE: &str = r#"
models:
  - {provider: mistral, model: mistral-large, prices: {input: 2, output: 6}}
  - {provider: mistral, model: mistral-large-2411, prices: {input: 2, output: 6}}
  - {provider: mistral, model: mistral-small, prices: {input: 0.1, output: 0.3}}
  - {provider: openai, model: gpt-4o, prices: {input: 2.5, output: 10}}
  - {provider: openai, model: gpt-4o-2024-08-06, prices: {input: 2.5, output: 10}}
  - {provider: openai, model: chatgpt-4o-latest, prices: {input: 5, output: 15}}
  - {provider: anthropic, model: claude-sonnet-4-5, prices: {input: 3, output: 15}}
  - {provider: google, model: claude-sonnet-4-5, prices: {input: 3, output: 15}}
  - {provider: bedrock, model: anthropic.claude-sonnet-4-5-20250929-v1:0, prices: {input: 3, output: 15}}
  - {provider: bedrock, model: us.anthropic.claude-sonnet-4-5-20250929-v1:0, prices: {input: 3.3, output: 16.5}}
  - {provider: bedrock, model: anthropic.claude-haiku-4-5, prices: {input: 1, output: 5}}
provider_aliases: {gcp.vertex_ai: google, aws.bedrock: bedrock}
"#;

fn table() -> Arc<Compiled> {
    let t: PricingTable =
        load_str(TABLE, "t.yaml", &|_| None).unwrap_or_else(|e| panic!("table: {e}"));
    Compiled::new(&t)
}

/// The entry a name resolves to, or `None` when it is unpriced.
fn resolves(t: &Compiled, provider: &str, model: &str) -> Option<String> {
    let mut e = UsageEvent::new(provider, model);
    e.unix_nanos = parse_date("2026-01-01").expect("date");
    e.usage.input_tokens = 1;
    match cost::price(t, &e) {
        Breakdown::Priced(p) => Some(p.resolution.entry.model.to_string()),
        Breakdown::UnknownModel => None,
    }
}

#[test]
fn a_dated_version_newer_than_any_the_table_knows_is_unpriced_not_the_old_price() {
    let t = table();
    // mistral-large-2512 is a new, cheaper model: the table knows the family only through 2411.
    assert_eq!(resolves(&t, "mistral", "mistral-large-2512"), None);
    assert_eq!(resolves(&t, "mistral", "mistral-large-2605"), None);
    // An older or known version still takes the family price.
    assert_eq!(
        resolves(&t, "mistral", "mistral-large-2407").as_deref(),
        Some("mistral-large")
    );
    assert_eq!(
        resolves(&t, "mistral", "mistral-large-2411").as_deref(),
        Some("mistral-large-2411")
    );
    // A family the table lists no dated version of strips as before.
    assert_eq!(
        resolves(&t, "mistral", "mistral-small-2503").as_deref(),
        Some("mistral-small")
    );
    // Full dates too: gpt-4o is known through 2024-08-06.
    assert_eq!(
        resolves(&t, "openai", "gpt-4o-2024-05-13").as_deref(),
        Some("gpt-4o")
    );
    assert_eq!(resolves(&t, "openai", "gpt-4o-2024-11-20"), None);
    // `meterd price` says why.
    let mut e = UsageEvent::new("mistral", "mistral-large-2512");
    e.usage.input_tokens = 1;
    let err = super::explain::explain(&t, &e).expect_err("unpriced");
    assert!(
        err.contains("newer than every mistral-large version the table lists (through 2024-11)"),
        "{err}"
    );
}

#[test]
fn latest_aliases_need_their_own_entries() {
    let t = table();
    assert_eq!(
        resolves(&t, "openai", "chatgpt-4o-latest").as_deref(),
        Some("chatgpt-4o-latest")
    );
    assert_eq!(resolves(&t, "mistral", "mistral-large-latest"), None);
    assert_eq!(strip_version("mistral-large-latest"), None);
}

#[test]
fn claude_on_vertex_and_bedrock_prices_as_itself() {
    let t = table();
    assert_eq!(
        resolves(&t, "gcp.vertex_ai", "claude-sonnet-4-5@20250929").as_deref(),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(
        resolves(
            &t,
            "aws.bedrock",
            "anthropic.claude-sonnet-4-5-20250929-v1:0"
        )
        .as_deref(),
        Some("anthropic.claude-sonnet-4-5-20250929-v1:0")
    );
    // A regional profile the reference prices keeps its premium.
    assert_eq!(
        resolves(
            &t,
            "aws.bedrock",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        )
        .as_deref(),
        Some("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    );
    // A profile the table does not list prices as the model it routes to.
    for id in [
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "apac.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ] {
        assert_eq!(
            resolves(&t, "aws.bedrock", id).as_deref(),
            Some("anthropic.claude-sonnet-4-5-20250929-v1:0"),
            "{id}"
        );
    }
    assert_eq!(
        resolves(
            &t,
            "aws.bedrock",
            "us.anthropic.claude-haiku-4-5-20251001-v1:0"
        )
        .as_deref(),
        Some("anthropic.claude-haiku-4-5")
    );
}

#[test]
fn the_exact_name_fast_path_resolves_as_the_full_ranking_does() {
    // `resolve` skips ranking when an exact name is in force; on the shipped table (two layers,
    // dated entries, aliases) and on the names of the test table, with dates before, inside and
    // after entries' validity, it must pick what `candidates` ranks first.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = crate::config::load::load_pricing(&root.join("config/pricing.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let tables = [Compiled::new(&shipped), table()];
    let dates = [
        None,
        parse_date("2023-01-01").ok(),
        parse_date("2026-12-01").ok(),
    ];
    let mut checked = 0;
    for t in &tables {
        let mut names: Vec<(String, String)> = t
            .entries
            .iter()
            .map(|e| (e.provider.to_string(), e.model.to_string()))
            .collect();
        // Upper case, aliases and names with no exact entry take the other paths.
        names.push(("OpenAI".into(), "GPT-4o".into()));
        names.push(("gcp.vertex_ai".into(), "claude-sonnet-4-5".into()));
        names.push(("openai".into(), "gpt-4o-2099-01-01".into()));
        for (provider, model) in &names {
            for at in dates {
                let fast = t
                    .resolve(provider, model, at)
                    .map(|r| (r.entry.index, r.how));
                let full = t
                    .candidates(provider, model, at)
                    .first()
                    .map(|(i, _, how)| (*i, how.clone()));
                assert_eq!(fast, full, "{provider}/{model} at {at:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1_000, "{checked}");
}
