//! Pricing: usage -> money, from a YAML price table (`config/pricing.yaml`).
//!
//! # The table
//! ```yaml
//! service_tiers: {batch: 0.5, flex: 0.5}      # multipliers chosen by UsageEvent.service_tier
//! provider_aliases: {gcp.gemini: google}      # event provider name -> table provider name
//! models:
//!   - provider: openai
//!     model: gpt-4o
//!     match: ["gpt-4o", "gpt-4o-2024-*", "regex:^gpt-4o-(audio|search)"]   # default: [model]
//!     prices: {input: 2.50, cached_input: 1.25, output: 10.00}
//!     tiers: [{above_input_tokens: 200000, prices: {input: 5.00}}]
//!     service_tiers: {priority: 2}             # overrides the table-wide multiplier
//!     service_tier_prices:                     # explicit prices replace base x multiplier
//!       priority: {input: 4.25, cached_input: 2.125, output: 17.00}
//!     effective_from: 2024-10-01               # inclusive, UTC; effective_to is exclusive
//!     source: https://openai.com/api/pricing
//!     checked: 2026-11-23
//! ```
//! Prices are USD per 1M tokens (`input`, `output`, `cached_input`, `cache_write_5m`,
//! `cache_write_1h`, `reasoning`, `audio_input`, `audio_output`), per 1M characters (`character`),
//! per minute or second of audio (`audio_minute` | `audio_second`), per image (`image`) and per
//! request (`request`).
//!
//! # Matching
//! Model names match case-insensitively, only among entries of the event's provider (after
//! `provider_aliases`). Among the entries in force at the event's time, the most specific wins:
//! 1. an exact name equal to the model;
//! 2. an exact name equal to the model without its version suffix (`gpt-4o-2024-08-06` ->
//!    `gpt-4o`, `claude-3-5-sonnet-20241022`, `...@20240620`, `...-v2:0`, `-latest`, `-002`),
//!    fewer suffixes stripped first;
//! 3. a glob (`*`, `?`) matching the model, the longest literal prefix first, then the most literal
//!    characters; then a glob matching the unversioned name;
//! 4. a `regex:` pattern (anchored by you, matched case-insensitively).
//!
//! Two entries of one layer tying at the best rank for a name are *ambiguous*; the check reports
//! them (and an entry no name can reach is *shadowed*). Across layers, the later layer (overrides)
//! wins ties.
//!
//! # Cost
//! See [`cost`]: the inclusion rule, tiers, service-tier multipliers, rounding.

pub mod compile;
mod compile_packed;
pub mod cost;

pub mod derive;
pub mod diff;
pub mod explain;
pub mod import;
mod import_genai;
mod import_litellm;
mod matching;
mod near;
mod validate;

pub use crate::config::pricing::{ModelEntry, Origin, PricingTable, TierEntry};
/// Exact money lives in [`crate::model::money`]; this name stays for the price-table code.
pub use crate::model::money as decimal;
pub use crate::model::money::Amount;
pub use compile::{Compiled, Resolution};
pub use cost::{Breakdown, Line, Priced};

/// A priced dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Input,
    Output,
    CachedInput,
    CacheWrite5m,
    CacheWrite1h,
    Reasoning,
    AudioInput,
    AudioOutput,
    AudioMinute,
    AudioSecond,
    Character,
    Image,
    Request,
}

impl Dim {
    pub const ALL: [Dim; 13] = [
        Dim::Input,
        Dim::Output,
        Dim::CachedInput,
        Dim::CacheWrite5m,
        Dim::CacheWrite1h,
        Dim::Reasoning,
        Dim::AudioInput,
        Dim::AudioOutput,
        Dim::AudioMinute,
        Dim::AudioSecond,
        Dim::Character,
        Dim::Image,
        Dim::Request,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dim::Input => "input",
            Dim::Output => "output",
            Dim::CachedInput => "cached_input",
            Dim::CacheWrite5m => "cache_write_5m",
            Dim::CacheWrite1h => "cache_write_1h",
            Dim::Reasoning => "reasoning",
            Dim::AudioInput => "audio_input",
            Dim::AudioOutput => "audio_output",
            Dim::AudioMinute => "audio_minute",
            Dim::AudioSecond => "audio_second",
            Dim::Character => "character",
            Dim::Image => "image",
            Dim::Request => "request",
        }
    }

    pub fn from_name(name: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The `cost_type` label this dimension's money is counted under.
    pub fn cost_type(self) -> &'static str {
        match self {
            Dim::Input => "input",
            Dim::Output => "output",
            Dim::CachedInput => "cached_input",
            Dim::CacheWrite5m | Dim::CacheWrite1h => "cache_write",
            Dim::Reasoning => "reasoning",
            Dim::AudioInput | Dim::AudioOutput | Dim::AudioMinute | Dim::AudioSecond => "audio",
            Dim::Character => "character",
            Dim::Image => "image",
            Dim::Request => "request",
        }
    }

    /// What one price is for, in the table.
    pub fn price_unit(self) -> &'static str {
        match self {
            Dim::Character => "1M characters",
            Dim::AudioMinute => "minute",
            Dim::AudioSecond => "second",
            Dim::Image => "image",
            Dim::Request => "request",
            _ => "1M tokens",
        }
    }

    /// What the usage quantity counts.
    pub fn quantity_unit(self) -> &'static str {
        match self {
            Dim::Character => "characters",
            Dim::AudioMinute | Dim::AudioSecond => "ms",
            Dim::Image => "images",
            Dim::Request => "requests",
            _ => "tokens",
        }
    }

    /// Quantity units per priced unit: a price per 1M tokens is a price per 1e6 quantity units, a
    /// price per minute is per 60000 ms.
    pub fn units_per_price(self) -> u128 {
        match self {
            Dim::AudioMinute => 60_000,
            Dim::AudioSecond => 1_000,
            Dim::Image | Dim::Request => 1,
            _ => 1_000_000,
        }
    }
}

impl crate::config::Validate for PricingTable {
    fn validate(&self, path: &str, issues: &mut crate::config::Issues) {
        validate::check(self, path, issues);
    }
}

#[cfg(test)]
mod import_tests;
#[cfg(test)]
mod layering_tests;
#[cfg(test)]
mod matching_tests;
#[cfg(test)]
mod memo_tests;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod service_tier_tests;
#[cfg(test)]
mod tests;
