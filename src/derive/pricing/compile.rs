//! The price table compiled for the hot path: integer rates, lower-cased names, an exact-name
//! index, compiled globs and regexes, effective dates as Unix nanoseconds.

use super::{Dim, ModelEntry, PricingTable};
use crate::model::money::{mul_div_round, Amount, FEMTO_PER_USD};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use super::compile_packed::PackedRates;
use super::matching::glob_match;
pub(super) use super::matching::Pattern;
pub use super::matching::{strip_version, MatchKind, Rank};

/// Femto-USD per quantity unit (token, character, millisecond of audio, image, request), one per
/// [`Dim`]; `None` where the entry has no price.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rates(pub [Option<u128>; 13]);

impl Rates {
    pub fn get(&self, d: Dim) -> Option<u128> {
        self.0[d as usize]
    }
}

/// Converts one table price to femto-USD per quantity unit. Per-1M-token and per-1M-character
/// prices must have at most 9 decimal places and per-second prices at most 12, so the rate is a
/// whole number of femto-USD and costs add up exactly. A per-minute price is rounded (half up) to
/// whole femto-USD per millisecond: at most 0.5e-15 USD per ms, under $0.00000000003 per minute.
pub fn rate(dim: Dim, price: &Amount) -> Result<u128, String> {
    let scaled = price.scaled()?;
    let femto = u128::try_from(scaled).map_err(|_| format!("{price} is negative"))?;
    let per = dim.units_per_price();
    if dim == Dim::AudioMinute {
        return Ok(mul_div_round(femto, 1, per));
    }
    if femto % per != 0 {
        let places = if per == 1_000 { 12 } else { 9 };
        return Err(format!(
            "{price} per {} has more than {places} decimal places; it cannot be billed exactly per {}",
            dim.price_unit(),
            dim.quantity_unit().trim_end_matches('s')
        ));
    }
    Ok(femto / per)
}

/// A multiplier (service tier) as parts per 1e15.
pub fn multiplier(m: &Amount) -> Result<u128, String> {
    u128::try_from(m.scaled()?).map_err(|_| format!("multiplier {m} is negative"))
}

/// Rates from a `prices:` map, with the problems found (key, message). Unknown or bad prices are
/// left out, so a table compiled despite problems never bills a wrong amount.
pub fn rates_of(prices: &BTreeMap<String, Amount>, base: &Rates) -> (Rates, Vec<(String, String)>) {
    let mut r = base.clone();
    let mut problems = Vec::new();
    for (key, price) in prices {
        match Dim::from_name(key) {
            None => problems.push((
                key.clone(),
                format!(
                    "unknown price dimension `{key}`; known: {}",
                    Dim::ALL.map(Dim::name).join(", ")
                ),
            )),
            Some(d) => match rate(d, price) {
                Ok(v) => r.0[d as usize] = Some(v),
                Err(e) => problems.push((key.clone(), e)),
            },
        }
    }
    (r, problems)
}

/// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 timestamp to Unix nanoseconds.
pub fn parse_date(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let ts = if let Ok(d) = s.parse::<jiff::civil::Date>() {
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string())?
    } else {
        s.parse::<jiff::Timestamp>()
            .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD) or RFC 3339 timestamp"))?
    };
    u64::try_from(ts.as_nanosecond()).map_err(|_| format!("{s:?} is before 1970"))
}

#[derive(Debug)]
pub struct Entry {
    /// Position in the table's `models` list.
    pub index: usize,
    pub provider: Box<str>,
    pub model: Box<str>,
    pub(super) patterns: Vec<Pattern>,
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub base: PackedRates,
    /// Sorted by threshold, ascending.
    pub tiers: Vec<(u64, PackedRates)>,
    pub service_tiers: HashMap<String, u128>,
    /// Explicit prices by lower-cased service tier: `[0]` for the base, `[i + 1]` for `tiers[i]`.
    /// Only the dimensions given are `Some`.
    pub service_prices: Vec<HashMap<String, PackedRates>>,
    pub layer: u32,
    pub source: Option<Box<str>>,
    pub checked: Option<Box<str>>,
}

impl Entry {
    pub fn in_force(&self, at: Option<u64>) -> bool {
        let t = at.unwrap_or(u64::MAX);
        self.from.is_none_or(|f| f <= t) && self.to.is_none_or(|to| t < to)
    }

    /// Rates for a request whose input is `request_input` tokens: the highest tier whose threshold
    /// the input exceeds, else the base.
    pub fn rates_for(&self, request_input: Option<u64>) -> &PackedRates {
        match request_input {
            Some(n) => self
                .tiers
                .iter()
                .rev()
                .find(|(above, _)| n > *above)
                .map_or(&self.base, |(_, r)| r),
            None => &self.base,
        }
    }

    /// The position (0 = base, i + 1 = `tiers[i]`) of the rates [`Entry::rates_for`] picks.
    pub fn tier_position(&self, request_input: Option<u64>) -> usize {
        match request_input {
            Some(n) => self
                .tiers
                .iter()
                .rposition(|(above, _)| n > *above)
                .map_or(0, |i| i + 1),
            None => 0,
        }
    }

    /// The rates a call pays: its long-context tier's rates, each replaced by the explicit price
    /// of its service tier where the table gives one, else multiplied by `multiplier` (parts per
    /// 1e15, rounded half up to whole femto-USD per unit).
    pub fn effective_rates(
        &self,
        request_input: Option<u64>,
        service_tier: Option<&str>,
        multiplier: u128,
    ) -> Rates {
        let pos = self.tier_position(request_input);
        let base = self.rates_for(request_input);
        let explicit = service_tier.and_then(|t| {
            self.service_prices
                .get(pos)
                .and_then(|m| m.get(&*lowercase(t)))
        });
        let mut out = Rates::default();
        for d in Dim::ALL {
            out.0[d as usize] = explicit.and_then(|e| e.get(d)).or_else(|| {
                base.get(d).map(|r| {
                    if multiplier == FEMTO_PER_USD {
                        r
                    } else {
                        mul_div_round(r, multiplier, FEMTO_PER_USD)
                    }
                })
            });
        }
        out
    }

    /// The dimensions priced explicitly for this service tier at this input size.
    pub fn explicit_dims(
        &self,
        request_input: Option<u64>,
        service_tier: Option<&str>,
    ) -> Vec<Dim> {
        let pos = self.tier_position(request_input);
        service_tier
            .and_then(|t| self.service_prices.get(pos)?.get(&*lowercase(t)))
            .map_or_else(Vec::new, |r| {
                Dim::ALL
                    .into_iter()
                    .filter(|d| r.get(*d).is_some())
                    .collect()
            })
    }

    /// The best rank with which this entry matches `name` (lower-cased) or its unversioned forms.
    pub(super) fn rank(&self, name: &str, family: &[&str]) -> Option<(Rank, MatchKind)> {
        let mut best: Option<(Rank, MatchKind)> = None;
        let mut offer = |r: Rank, k: MatchKind| {
            if best.as_ref().is_none_or(|(b, _)| r > *b) {
                best = Some((r, k));
            }
        };
        for p in &self.patterns {
            match p {
                Pattern::Exact(e) => {
                    if **e == *name {
                        offer(
                            Rank {
                                class: 4,
                                a: 0,
                                b: 0,
                            },
                            MatchKind::Exact,
                        );
                    } else if let Some(i) = family.iter().position(|f| **f == **e) {
                        let a = 255 - i as u32;
                        offer(Rank { class: 3, a, b: 0 }, MatchKind::Family(e.to_string()));
                    }
                }
                Pattern::Glob {
                    text,
                    prefix,
                    literals,
                } => {
                    let (a, b) = (*prefix, *literals);
                    if glob_match(text, name) {
                        offer(Rank { class: 2, a, b }, MatchKind::Glob(text.to_string()));
                    } else if family.iter().any(|f| glob_match(text, f)) {
                        offer(Rank { class: 1, a, b }, MatchKind::Glob(text.to_string()));
                    }
                }
                Pattern::Regex(re) => {
                    if re.is_match(name) {
                        offer(
                            Rank {
                                class: 0,
                                a: 0,
                                b: 0,
                            },
                            MatchKind::Regex(re.as_str().trim_start_matches("(?i)").to_string()),
                        );
                    }
                }
            }
        }
        best
    }
}

/// One resolved price entry for a usage event.
#[derive(Debug)]
pub struct Resolution<'a> {
    pub entry: &'a Entry,
    pub how: MatchKind,
}

/// The maps every priced event looks names up in (several lookups per event): std's SipHash
/// was most of a lookup's cost. Seeded per process like std's, so names cannot be chosen to
/// collide.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The compiled table. Cheap to share (`Arc`) between the deriver and the `price` command.
#[derive(Debug, Default)]
pub struct Compiled {
    pub entries: Vec<Entry>,
    aliases: FastMap<String, String>,
    service_tiers: HashMap<String, u128>,
    by_provider: FastMap<String, Vec<usize>>,
    /// provider -> lower-cased exact pattern -> entries: the common case needs no scan. Nested so
    /// a lookup borrows the event's names instead of building a key.
    exact: FastMap<String, FastMap<String, Vec<usize>>>,
    /// provider -> family name -> the newest version date (`YYYYMMDD`) the table lists for it
    /// as an exact name (`gpt-4o-2024-08-06` makes gpt-4o known through 20240806).
    known_through: FastMap<String, FastMap<String, u32>>,
    /// provider -> every `from` and `to` of its entries, sorted: between two of them, which of
    /// the provider's entries are in force does not change, nor does any resolution.
    boundaries: FastMap<String, Vec<u64>>,
    /// Unique per compiled table (0 for a default one): what a remembered resolution is tied to,
    /// so a reloaded table never answers from the previous one's.
    id: u64,
    /// `meterd_pricing_info` labels.
    pub hash: String,
    pub source: String,
}

/// Event times over which a resolution holds: `lo <= t` and, when bounded, `t < hi` (an event
/// without a time asks at `u64::MAX`, the open-ended prices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub lo: u64,
    pub hi: Option<u64>,
}

impl Window {
    pub fn contains(&self, t: u64) -> bool {
        self.lo <= t && self.hi.is_none_or(|h| t < h)
    }
}

static NEXT_TABLE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Compiled {
    /// Compiles a table. Problems (which validation reports) are skipped, never guessed around.
    pub fn new(table: &PricingTable) -> Arc<Compiled> {
        let mut c = Compiled {
            aliases: table
                .provider_aliases
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v.to_lowercase()))
                .collect(),
            service_tiers: multipliers(&table.service_tiers),
            hash: table.content_hash(),
            source: if table.sources.is_empty() {
                "inline".to_string()
            } else {
                table
                    .sources
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            },
            ..Default::default()
        };
        // Exactly one slot per entry: grown by doubling, the shipped table's ~600 entries left
        // ~40 % of the vector unused for as long as the table is loaded.
        c.entries.reserve_exact(table.models.len());
        for (index, m) in table.models.iter().enumerate() {
            let e = compile_entry(index, m);
            for p in &e.patterns {
                if let Pattern::Exact(name) = p {
                    let known = c.known_through.entry(e.provider.to_string()).or_default();
                    for (f, date) in super::matching::family(name) {
                        if let Some(d) = date {
                            let k = known.entry(f.to_string()).or_default();
                            *k = (*k).max(d);
                        }
                    }
                    c.exact
                        .entry(e.provider.to_string())
                        .or_default()
                        .entry(name.to_string())
                        .or_default()
                        .push(index);
                }
            }
            c.by_provider
                .entry(e.provider.to_string())
                .or_default()
                .push(index);
            let b = c.boundaries.entry(e.provider.to_string()).or_default();
            b.extend(e.from.into_iter().chain(e.to));
            c.entries.push(e);
        }
        for b in c.boundaries.values_mut() {
            b.sort_unstable();
            b.dedup();
        }
        c.id = NEXT_TABLE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Arc::new(c)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The table provider name for an event's provider.
    pub fn provider<'a>(&'a self, provider: &'a str) -> std::borrow::Cow<'a, str> {
        let lc = lowercase(provider);
        match self.aliases.get(&*lc) {
            Some(a) => std::borrow::Cow::Borrowed(a.as_str()),
            None => lc,
        }
    }

    /// Every entry in force at `at` tied at the best rank for this name, best layer first. More
    /// than one entry of the best layer means the table is ambiguous for this name.
    pub fn candidates(
        &self,
        provider: &str,
        model: &str,
        at: Option<u64>,
    ) -> Vec<(usize, Rank, MatchKind)> {
        let provider = self.provider(provider);
        let name = lowercase(model);
        let exact = Rank {
            class: 4,
            a: 0,
            b: 0,
        };
        let mut found: Vec<(usize, Rank, MatchKind)> = self
            .exact_in_force(&provider, &name, at)
            .map(|e| (e.index, exact, MatchKind::Exact))
            .collect();
        if found.is_empty() {
            found = self.best_ranked(&provider, &name, at);
        }
        found.sort_by_key(|(i, _, _)| self.precedence(*i));
        found
    }

    /// Entries with `name` as an exact pattern, in force at `at`. An exact name outranks
    /// everything else, so when one is in force no scan is needed. `provider` and `name` are
    /// normalized ([`Compiled::provider`], lower case).
    fn exact_in_force<'s>(
        &'s self,
        provider: &str,
        name: &str,
        at: Option<u64>,
    ) -> impl Iterator<Item = &'s Entry> + 's {
        self.exact
            .get(provider)
            .and_then(|m| m.get(name))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.entries.get(i))
            .filter(move |e| e.in_force(at))
    }

    /// Entries in force at `at` tied at the best rank by pattern, in no particular order.
    fn best_ranked(
        &self,
        provider: &str,
        name: &str,
        at: Option<u64>,
    ) -> Vec<(usize, Rank, MatchKind)> {
        let Some(ids) = self.by_provider.get(provider) else {
            return Vec::new();
        };
        // A dated version newer than every version the table lists for its family is a model
        // the table does not know yet (mistral-large-2512 is not mistral-large-2411's price):
        // unpriced and counted beats priced wrong.
        let known = self.known_through.get(provider);
        let family: Vec<&str> = super::matching::family(name)
            .into_iter()
            .filter(|(f, date)| {
                date.is_none_or(|d| {
                    known
                        .and_then(|k| k.get(*f))
                        .is_none_or(|newest| d <= *newest)
                })
            })
            .map(|(f, _)| f)
            .collect();
        let mut found: Vec<(usize, Rank, MatchKind)> = ids
            .iter()
            .filter_map(|&i| self.entries.get(i))
            .filter(|e| e.in_force(at))
            .filter_map(|e| e.rank(name, &family).map(|(r, k)| (e.index, r, k)))
            .collect();
        let Some(best) = found.iter().map(|(_, r, _)| *r).max() else {
            return Vec::new();
        };
        found.retain(|(_, r, _)| *r == best);
        found
    }

    /// Among equally good matches: the later layer, then the first entry in the file.
    fn precedence(&self, entry: usize) -> (std::cmp::Reverse<u32>, usize) {
        let layer = self.entries.get(entry).map_or(0, |e| e.layer);
        (std::cmp::Reverse(layer), entry)
    }

    /// When `model` is unpriced because its version is newer than every version the table lists
    /// for its family: that family and the newest listed date (`YYYYMMDD`), for the message.
    pub fn newer_than_known(&self, provider: &str, model: &str) -> Option<(String, u32)> {
        let provider = self.provider(provider);
        let known = self.known_through.get(&*provider)?;
        let name = lowercase(model);
        super::matching::family(&name)
            .into_iter()
            .find_map(|(f, date)| {
                let newest = *known.get(f)?;
                (date? > newest).then(|| (f.to_string(), newest))
            })
    }

    /// The entry pricing `model` of `provider` at `at` (Unix nanoseconds; `None` = the prices in
    /// force now and onward, i.e. open-ended entries). Ties go to the later layer, then the first
    /// entry in the file (validation rejects ties within one layer).
    pub fn resolve(&self, provider: &str, model: &str, at: Option<u64>) -> Option<Resolution<'_>> {
        // The first of `candidates`, without collecting and sorting an exact name's (nearly
        // every event).
        let provider = self.provider(provider);
        let name = lowercase(model);
        if let Some(entry) = self
            .exact_in_force(&provider, &name, at)
            .min_by_key(|e| self.precedence(e.index))
        {
            return Some(Resolution {
                entry,
                how: MatchKind::Exact,
            });
        }
        let (i, _, how) = self
            .best_ranked(&provider, &name, at)
            .into_iter()
            .min_by_key(|(i, _, _)| self.precedence(*i))?;
        Some(Resolution {
            entry: self.entries.get(i)?,
            how,
        })
    }

    /// [`Compiled::resolve`], with the event times over which the answer is the same: every
    /// candidate is an entry of the (aliased) provider, whose in-force set changes only at one of
    /// its entries' `from` or `to`.
    pub fn resolve_window(
        &self,
        provider: &str,
        model: &str,
        at: Option<u64>,
    ) -> (Option<Resolution<'_>>, Window) {
        let t = at.unwrap_or(u64::MAX);
        let window = match self.boundaries.get(&*self.provider(provider)) {
            Some(b) => {
                let after = b.partition_point(|&x| x <= t);
                Window {
                    lo: after
                        .checked_sub(1)
                        .and_then(|i| b.get(i))
                        .copied()
                        .unwrap_or(0),
                    hi: b.get(after).copied(),
                }
            }
            None => Window { lo: 0, hi: None },
        };
        (self.resolve(provider, model, at), window)
    }

    /// See the `id` field; 0 for a table not built by [`Compiled::new`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The multiplier (parts per 1e15) for a service tier: the entry's own, else the table's,
    /// else 1x.
    pub fn service_multiplier(&self, entry: &Entry, tier: Option<&str>) -> u128 {
        let Some(t) = tier else {
            return FEMTO_PER_USD;
        };
        let t = lowercase(t);
        entry
            .service_tiers
            .get(&*t)
            .or_else(|| self.service_tiers.get(&*t))
            .copied()
            .unwrap_or(FEMTO_PER_USD)
    }
}

/// Lower case, borrowed when it already is (event names mostly are): no allocation per event.
fn lowercase(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.to_lowercase())
    }
}

fn multipliers(m: &BTreeMap<String, Amount>) -> HashMap<String, u128> {
    m.iter()
        .filter_map(|(k, v)| multiplier(v).ok().map(|v| (k.to_lowercase(), v)))
        .collect()
}

fn compile_entry(index: usize, m: &ModelEntry) -> Entry {
    let patterns: Vec<Pattern> = if m.patterns.is_empty() {
        vec![Pattern::Exact(m.model.to_lowercase().into())]
    } else {
        m.patterns
            .iter()
            .filter_map(|p| Pattern::parse(p).ok())
            .collect()
    };
    let (base, _) = rates_of(&m.prices, &Rates::default());
    let explicit =
        |p: &BTreeMap<String, BTreeMap<String, Amount>>| -> HashMap<String, PackedRates> {
            p.iter()
                .map(|(k, v)| {
                    let rates = rates_of(v, &Rates::default()).0;
                    (k.to_lowercase(), PackedRates::pack(&rates))
                })
                .collect()
        };
    let mut sorted: Vec<(u64, PackedRates, HashMap<String, PackedRates>)> = m
        .tiers
        .iter()
        .map(|t| {
            (
                t.above_input_tokens,
                PackedRates::pack(&rates_of(&t.prices, &base).0),
                explicit(&t.service_tier_prices),
            )
        })
        .collect();
    sorted.sort_by_key(|(n, _, _)| *n);
    let mut service_prices = vec![explicit(&m.service_tier_prices)];
    let mut tiers = Vec::with_capacity(sorted.len());
    for (n, r, s) in sorted {
        tiers.push((n, r));
        service_prices.push(s);
    }
    let date = |d: &Option<String>| d.as_deref().and_then(|s| parse_date(s).ok());
    Entry {
        index,
        provider: m.provider.to_lowercase().into(),
        model: m.model.as_str().into(),
        patterns,
        from: date(&m.effective_from),
        to: date(&m.effective_to),
        base: PackedRates::pack(&base),
        tiers,
        service_tiers: multipliers(&m.service_tiers),
        service_prices,
        layer: m.origin.layer,
        source: m.source.as_deref().map(Box::from),
        checked: m.checked.as_deref().map(Box::from),
    }
}
