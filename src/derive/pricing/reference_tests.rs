//! The shipped table against its vendored source: the generated layer is what the snapshot
//! imports to, and the hand-kept layer on top agrees with the snapshot on every model both name,
//! except for the references' own known errors listed below.

use super::diff::{diff, facts};
use super::import::{import, Source};
use super::*;
use std::path::Path;

fn root(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn snapshot() -> PricingTable {
    let text = std::fs::read_to_string(root("config/pricing/litellm.json")).expect("snapshot");
    import(Source::Litellm, &text, "test")
        .unwrap_or_else(|e| panic!("{e}"))
        .table
}

/// (provider, model, field, why the shipped price differs from the snapshot's).
const KNOWN_ERRORS: [(&str, &str, &str, &str); 4] = [
    // LiteLLM's direct-API Sonnet 4.5 has no >200k tier; its own Bedrock and Vertex entries,
    // genai-prices and Anthropic's page bill long prompts at 6 / 22.50.
    (
        "anthropic",
        "claude-sonnet-4-5",
        "tiers[above 200000]",
        "long-context tier missing in the snapshot",
    ),
    (
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "tiers[above 200000]",
        "long-context tier missing in the snapshot",
    ),
    // LiteLLM repeats the text input price for transcription audio tokens; OpenAI (and
    // genai-prices) charge 6 and 3 per 1M audio tokens.
    (
        "openai",
        "gpt-4o-transcribe",
        "audio_input",
        "audio tokens priced as text in the snapshot",
    ),
    (
        "openai",
        "gpt-4o-mini-transcribe",
        "audio_input",
        "audio tokens priced as text in the snapshot",
    ),
];

fn allowed(provider: &str, model: &str, field: &str) -> bool {
    KNOWN_ERRORS
        .iter()
        .any(|(p, m, f, _)| *p == provider && *m == model && field.starts_with(f))
}

#[test]
fn the_generated_layer_is_what_the_vendored_snapshot_imports_to() {
    let generated =
        crate::config::load::load_pricing(&root("config/pricing/litellm.yaml")).expect("layer");
    let changes = diff(&generated, &snapshot());
    assert!(
        changes.is_empty(),
        "config/pricing/litellm.yaml is stale; regenerate it with `meterd pricing import` \
         (README, Pricing):\n{}",
        changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_shipped_table_agrees_with_the_snapshot_on_every_model_both_name() {
    let shipped = crate::config::load::load_pricing(&root("config/pricing.yaml")).expect("table");
    let compiled = Compiled::new(&shipped);
    let mut problems = Vec::new();
    let mut checked = 0;
    for want in &snapshot().models {
        // What the shipped table bills for this name today.
        let Some(r) = compiled.resolve(&want.provider, &want.model, None) else {
            problems.push(format!("{}/{}: unpriced", want.provider, want.model));
            continue;
        };
        let got = &shipped.models[r.entry.index];
        checked += 1;
        let (a, b) = (facts(want), facts(got));
        for field in a
            .keys()
            .chain(b.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            if field == "match" || field == "effective_to" {
                continue;
            }
            let (va, vb) = (a.get(field), b.get(field));
            if va.map(|v| &v.0) != vb.map(|v| &v.0) && !allowed(&want.provider, &want.model, field)
            {
                problems.push(format!(
                    "{}/{} {field}: snapshot {} shipped {} (entry {:?})",
                    want.provider,
                    want.model,
                    va.map_or("(none)", |v| v.1.as_str()),
                    vb.map_or("(none)", |v| v.1.as_str()),
                    got.model
                ));
            }
        }
    }
    assert!(checked > 500, "{checked}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
