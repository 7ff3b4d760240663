//! The warning for usage of a model the table does not price names the table's nearest model,
//! so `gpt4o` or `claude-3.5-sonnet` is fixed at the sender (or aliased) instead of searched for.

use super::compile::{Compiled, Entry};
use std::fmt;

/// Formats lazily: the (rate-limited) warning is the only place the search runs.
pub(crate) struct UnknownModel<'a> {
    pub table: Option<&'a Compiled>,
    pub provider: &'a str,
    pub model: &'a str,
}

impl UnknownModel<'_> {
    /// The table's closest `(provider, model)`: the sender's provider first, then any.
    fn near(&self) -> Option<(&str, &str)> {
        let table = self.table?;
        let same: Vec<&Entry> = table
            .entries
            .iter()
            .filter(|e| e.provider.eq_ignore_ascii_case(self.provider))
            .collect();
        let all: Vec<&Entry> = table.entries.iter().collect();
        closest_entry(self.model, &same).or_else(|| closest_entry(self.model, &all))
    }
}

fn closest_entry<'a>(model: &str, entries: &[&'a Entry]) -> Option<(&'a str, &'a str)> {
    let name = crate::names::closest(model, entries.iter().map(|e| &*e.model))?;
    entries
        .iter()
        .find(|e| &*e.model == name)
        .map(|e| (&*e.provider, &*e.model))
}

impl fmt::Display for UnknownModel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no price for model {:?} of provider {:?}: its usage is counted in \
             llm_unpriced_requests_total{{reason=\"unknown_model\"}}",
            self.model, self.provider
        )?;
        match self.near() {
            Some((provider, model)) => write!(
                f,
                "; the table's nearest is {model:?} of provider {provider:?} (send that name, \
                 or add a `match:` pattern or a price for {:?})",
                self.model
            ),
            None => f.write_str("; add it to the pricing table"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::pricing::PricingTable;

    fn table() -> std::sync::Arc<Compiled> {
        let t: PricingTable = serde_saphyr::from_str(
            "models:\n  - {provider: openai, model: gpt-4o, prices: {input: 2.5}}\n  - {provider: openai, model: gpt-4o-mini, prices: {input: 0.15}}\n  - {provider: anthropic, model: claude-3-5-sonnet, prices: {input: 3}}\n",
        )
        .expect("table");
        Compiled::new(&t)
    }

    #[test]
    fn the_warning_names_the_nearest_model() {
        let t = table();
        let msg = |provider: &str, model: &str| {
            UnknownModel {
                table: Some(&t),
                provider,
                model,
            }
            .to_string()
        };
        assert_eq!(
            msg("openai", "gpt4o"),
            "no price for model \"gpt4o\" of provider \"openai\": its usage is counted in \
             llm_unpriced_requests_total{reason=\"unknown_model\"}; the table's nearest is \
             \"gpt-4o\" of provider \"openai\" (send that name, or add a `match:` pattern or a \
             price for \"gpt4o\")"
        );
        assert!(msg("anthropic", "claude-3-5-sonet").contains("nearest is \"claude-3-5-sonnet\""));
        assert!(msg("openai", "whisper-1").ends_with("; add it to the pricing table"));
    }
}
