//! `pricing:` (inline, or the files named by `pricing_file` and `extends`): the price table as
//! written, and how layers of it combine. Compiled for pricing by `derive::pricing::Compiled`.

use super::{child, index};
use crate::model::money::Amount;
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
            m.origin.path = index(&child(prefix, "models"), i);
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
