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
pub mod cost;
pub mod decimal;
pub mod derive;
pub mod diff;
pub mod explain;
pub mod import;
mod import_genai;
mod import_litellm;
mod matching;
mod validate;

pub use compile::{Compiled, Resolution};
pub use cost::{Breakdown, Line, Priced};
pub use decimal::Amount;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The whole price table: one file, or several layered (see [`PricingTable::layer`]).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PricingTable {
    /// Another pricing file this one layers on top of, relative to this file's directory: point
    /// `pricing_file` at your own file that `extends: /etc/meterd/pricing.yaml` and holds only
    /// negotiated prices and internal models.
    pub extends: Option<PathBuf>,
    /// Multipliers by service tier (`batch: 0.5`); tiers not listed price at 1x.
    pub service_tiers: BTreeMap<String, Amount>,
    /// Provider names as apps send them -> provider names used in `models` (case-insensitive).
    pub provider_aliases: BTreeMap<String, String>,
    pub models: Vec<ModelEntry>,
    /// Files this table was read from, base first (empty for an inline table).
    #[serde(skip)]
    pub sources: Vec<PathBuf>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ModelEntry {
    pub provider: String,
    /// The canonical model name: what `meterd price` shows and what an override replaces.
    pub model: String,
    /// Exact names, globs, or `regex:...`; empty means `[model]`.
    #[serde(rename = "match")]
    pub patterns: Vec<String>,
    pub prices: BTreeMap<String, Amount>,
    pub tiers: Vec<TierEntry>,
    pub service_tiers: BTreeMap<String, Amount>,
    /// Explicit prices per service tier (`priority: {input: 2.50, output: 20.00}`): they replace
    /// the base prices for that tier, without a multiplier; dimensions not listed keep base x
    /// multiplier. Long-context `tiers` carry their own.
    pub service_tier_prices: BTreeMap<String, BTreeMap<String, Amount>>,
    /// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 timestamp. Inclusive.
    pub effective_from: Option<String>,
    /// Exclusive: the next price's `effective_from`.
    pub effective_to: Option<String>,
    pub source: Option<String>,
    pub checked: Option<String>,
    pub notes: Option<String>,
    /// Where this entry was defined, for messages after layering.
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origin {
    /// File label (empty: the table being validated itself).
    pub file: Arc<str>,
    /// Key path of the entry in that file (`models[3]`, `pricing.models[0]`).
    pub path: String,
    /// 0 for the base table; each layer on top counts up. Later layers win ties.
    pub layer: u32,
}

/// A long-context tier: when a request's input exceeds `above_input_tokens`, these prices replace
/// the base ones (dimensions not listed keep the base price).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TierEntry {
    pub above_input_tokens: u64,
    pub prices: BTreeMap<String, Amount>,
    /// Explicit service-tier prices above this threshold (as the entry's `service_tier_prices`).
    pub service_tier_prices: BTreeMap<String, BTreeMap<String, Amount>>,
}

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

impl PricingTable {
    /// Layers `top` over `self`: an entry of `top` replaces every entry of `self` with the same
    /// provider and model (all their dated versions), other entries are added; `service_tiers` and
    /// `provider_aliases` merge key by key with `top` winning.
    pub fn layer(mut self, top: PricingTable) -> PricingTable {
        let layer = self
            .models
            .iter()
            .map(|m| m.origin.layer)
            .max()
            .unwrap_or(0)
            + 1;
        let key = |m: &ModelEntry| (m.provider.to_lowercase(), m.model.to_lowercase());
        let replaced: std::collections::HashSet<(String, String)> =
            top.models.iter().map(key).collect();
        self.models.retain(|m| !replaced.contains(&key(m)));
        self.models.extend(top.models.into_iter().map(|mut m| {
            m.origin.layer = layer;
            m
        }));
        self.service_tiers.extend(top.service_tiers);
        self.provider_aliases.extend(top.provider_aliases);
        self.sources.extend(top.sources);
        self.extends = None;
        self
    }

    /// Records where each entry came from (call before layering).
    pub fn set_origin(&mut self, file: &str, prefix: &str) {
        let file: Arc<str> = Arc::from(file);
        for (i, m) in self.models.iter_mut().enumerate() {
            m.origin.file = file.clone();
            m.origin.path = crate::config::index(&crate::config::child(prefix, "models"), i);
        }
    }

    /// A stable short hash of the table's content (hex FNV-1a over its canonical debug form): the
    /// `hash` label of `meterd_pricing_info`, identical for identical tables across restarts.
    pub fn content_hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let text = format!(
            "{:?}{:?}{:?}",
            self.service_tiers,
            self.provider_aliases,
            self.models
                .iter()
                .map(|m| {
                    (
                        &m.provider,
                        &m.model,
                        &m.patterns,
                        &m.prices,
                        &m.tiers,
                        &m.service_tiers,
                        &m.service_tier_prices,
                        &m.effective_from,
                        &m.effective_to,
                    )
                })
                .collect::<Vec<_>>()
        );
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
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
mod reference_tests;
#[cfg(test)]
mod service_tier_tests;
#[cfg(test)]
mod tests;
