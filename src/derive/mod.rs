//! Derivation: usage and quality events -> `llm_*` samples (and, as later stages land, cost and
//! budget spend). Pure: built from a config snapshot, given events, returns samples. No I/O, no clock.

pub mod budget;
mod call_labels;
pub mod dedup;
pub mod error_type;
pub mod forecast;
pub mod ledger;
pub mod notify;
mod notify_slack;
pub mod pricing;
pub mod quality;
pub mod recommend;
pub mod redact;
pub mod semantics;
pub(crate) mod sink;
pub mod usage;
pub mod whatif;

use crate::config::Config;
use crate::model::{Labels, QualityEvent, Sample, SampleValue, UsageEvent};
use crate::telemetry::catalogue;
use sink::Sink;

/// Everything derivation needs, compiled from one config snapshot. Rebuilt on reload.
pub struct Deriver {
    scope_labels: Box<[Box<str>]>,
    redactor: redact::Redactor,
    usage: usage::UsageFamilies,
    pricing: Option<std::sync::Arc<pricing::Compiled>>,
    pricing_families: pricing::derive::PricingFamilies,
    quality: quality::QualityFamilies,
}

impl Deriver {
    pub fn new(config: &Config) -> Self {
        Deriver {
            scope_labels: config
                .scope_labels
                .iter()
                .map(|s| Box::from(s.as_str()))
                .collect(),
            redactor: redact::Redactor::new(&config.redact),
            usage: usage::UsageFamilies::default(),
            pricing: config.pricing.as_ref().map(pricing::Compiled::new),
            pricing_families: Default::default(),
            quality: quality::QualityFamilies::new(&config.quality),
        }
    }

    /// Keeps only the configured scope labels: senders attach many tags, and derived families must
    /// stay bounded by what the operator chose to break spend down by.
    /// Redaction rules apply after the allow-list: a scope label can be kept *and* hashed.
    pub fn scope(&self, labels: &Labels) -> Labels {
        let kept = if labels
            .names()
            .all(|n| self.scope_labels.iter().any(|s| &**s == n))
        {
            labels.clone()
        } else {
            Labels::new(
                labels
                    .iter()
                    .filter(|(k, _)| self.scope_labels.iter().any(|s| &**s == *k)),
            )
        };
        self.redactor.apply(&kept).unwrap_or(kept)
    }

    /// The redacted form of a receiver's label set, or `None` when no rule applies.
    pub fn redact(&self, labels: &Labels) -> Option<Labels> {
        self.redactor.apply(labels)
    }

    /// The redacted form of an exemplar's labels, or `None` when no rule applies.
    pub fn redact_exemplar(
        &self,
        exemplar: &crate::model::Exemplar,
    ) -> Option<crate::model::Exemplar> {
        self.redactor.apply_exemplar(exemplar)
    }

    /// Whether [`Deriver::redact`] would change a label set with these names.
    pub fn redacts<'a>(&self, names: impl Iterator<Item = &'a str>) -> bool {
        self.redactor.touches(names)
    }

    /// The compiled price table in force (`None` when the config has none).
    pub fn pricing(&self) -> Option<&std::sync::Arc<pricing::Compiled>> {
        self.pricing.as_ref()
    }

    /// Derives usage and cost samples for one event. Returns the event's total priced cost in
    /// nano-USD (0 when unpriced), for budgets; `MoneyOverflow` when the cost does not fit the
    /// money counters (its usage samples are still appended, no cost sample is). The event's usage
    /// is made inclusive first ([`semantics`]): tokens are counted and priced, and tiers chosen, on
    /// the inclusive figures.
    pub fn usage(
        &self,
        ev: &UsageEvent,
        out: &mut Vec<Sample>,
    ) -> Result<u64, pricing::cost::MoneyOverflow> {
        let femto = self.usage_priced(ev, out)?.femto;
        pricing::derive::nano(femto).ok_or(pricing::cost::MoneyOverflow)
    }

    /// [`Deriver::usage`], returning the exact cost in femto-USD and the inclusive usage it was
    /// priced on (what the usage ledger counts).
    pub(crate) fn usage_priced<'a>(
        &self,
        ev: &'a UsageEvent,
        out: &mut impl Sink<'a>,
    ) -> Result<Priced, pricing::cost::MoneyOverflow> {
        let normalized = semantics::normalize(&ev.usage, ev.semantics, ev.usage.requests > 0);
        for why in normalized.inconsistent.into_iter().flatten() {
            out.sample(inconsistent_sample(ev, why));
        }
        let trace_id = ev.trace_id.as_deref();
        let inclusive;
        let ev = match normalized.usage {
            None => ev,
            Some(usage) => {
                inclusive = UsageEvent {
                    usage,
                    semantics: crate::model::UsageSemantics::Inclusive,
                    ..ev.clone()
                };
                &inclusive
            }
        };
        let femto = if self.redactor.is_empty()
            && ev
                .scope
                .names()
                .all(|n| self.scope_labels.iter().any(|s| &**s == n))
        {
            let labels = usage::EventLabels::of(ev, trace_id);
            self.usage.derive(ev, &labels, out);
            self.pricing_families
                .derive(self.pricing.as_deref(), ev, &labels, out)?
        } else {
            let mut scoped = ev.clone();
            scoped.scope = self.scope(&ev.scope);
            let labels = usage::EventLabels::of(&scoped, trace_id);
            self.usage.derive(&scoped, &labels, out);
            self.pricing_families
                .derive(self.pricing.as_deref(), &scoped, &labels, out)?
        };
        Ok(Priced {
            femto,
            usage: ev.usage.clone(),
        })
    }
}

/// What [`Deriver::usage_priced`] priced: exact cost and the inclusive usage.
#[derive(Clone, Debug)]
pub struct Priced {
    pub femto: u128,
    pub usage: crate::model::Usage,
}

static INCONSISTENT_LOG: crate::telemetry::RateLimit = crate::telemetry::RateLimit::new();

/// `meterd_usage_inconsistent_total{provider,reason}` += 1, and a (rate-limited) line saying how
/// to declare the source raw.
fn inconsistent_sample(ev: &UsageEvent, why: semantics::Inconsistency) -> Sample {
    crate::telemetry::rate_limited_warn(
        &INCONSISTENT_LOG,
        format_args!(
            "usage of {:?} model {:?} is inconsistent ({}): its parts exceed its whole, so it \
             is priced as raw usage (parts outside the whole); if this source always sends raw \
             usage, declare it (statsd.raw_usage_providers, otlp.raw_usage_scopes)",
            &*ev.provider,
            &*ev.model,
            why.reason()
        ),
    );
    crate::telemetry::sample(
        &catalogue::USAGE_INCONSISTENT,
        &[("provider", &ev.provider), ("reason", why.reason())],
        SampleValue::CounterAdd(1.0),
    )
}

impl Deriver {
    /// A time-to-first-token histogram increment from a pre-aggregated source (OTLP metrics);
    /// `template` carries the call identity and scope, as a usage event would.
    pub fn ttft_histogram(
        &self,
        template: &UsageEvent,
        data: crate::model::HistogramData,
        out: &mut Vec<Sample>,
    ) {
        if self.redactor.is_empty()
            && template
                .scope
                .names()
                .all(|n| self.scope_labels.iter().any(|s| &**s == n))
        {
            self.usage.derive_ttft_histogram(template, data, out);
        } else {
            let mut scoped = template.clone();
            scoped.scope = self.scope(&template.scope);
            self.usage.derive_ttft_histogram(&scoped, data, out);
        }
    }

    /// Grades, outcomes and app signals; the report says what the caller must count as rejected
    /// or capped.
    pub fn quality(&self, ev: &QualityEvent, out: &mut Vec<Sample>) -> quality::QualityReport {
        if self.redactor.is_empty()
            && ev
                .scope
                .names()
                .all(|n| self.scope_labels.iter().any(|s| &**s == n))
        {
            self.quality.derive(ev, out)
        } else {
            let mut scoped = ev.clone();
            scoped.scope = self.scope(&ev.scope);
            self.quality.derive(&scoped, out)
        }
    }

    /// Keeps what the previous snapshot learned at runtime (label values admitted under the
    /// quality caps), so a reload does not re-admit a fresh set of values on top of the old ones.
    pub fn carry_over(&self, prev: &Deriver) {
        self.quality.carry_over(&prev.quality);
        self.usage.carry_over(&prev.usage);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_usage_is_counted_inclusive_and_inconsistency_is_reported() {
        let d = Deriver::new(&Config::default());
        let tokens = |out: &[Sample], tt: &str| {
            out.iter()
                .find(|s| &*s.name == "llm_tokens" && s.labels.get("token_type") == Some(tt))
                .map(|s| s.value.clone())
        };
        let mut ev = UsageEvent::new("anthropic", "claude-sonnet-4-5");
        ev.usage.requests = 1;
        ev.usage.input_tokens = 2000;
        ev.usage.cached_input_tokens = 250_000;
        let mut out = Vec::new();
        assert!(d.usage(&ev, &mut out).is_ok());
        assert_eq!(
            tokens(&out, "input"),
            Some(SampleValue::CounterAdd(252_000.0))
        );
        let inconsistent: Vec<_> = out
            .iter()
            .filter(|s| &*s.name == "meterd_usage_inconsistent")
            .collect();
        assert_eq!(inconsistent.len(), 1, "{out:?}");
        assert_eq!(
            inconsistent[0].labels.get("reason"),
            Some("cache_exceeds_input")
        );
        assert!(inconsistent[0].options.internal);
        // Declared raw: the same counts, nothing inconsistent.
        ev.semantics = crate::model::UsageSemantics::RawInput;
        out.clear();
        assert!(d.usage(&ev, &mut out).is_ok());
        assert_eq!(
            tokens(&out, "input"),
            Some(SampleValue::CounterAdd(252_000.0))
        );
        assert!(!out.iter().any(|s| &*s.name == "meterd_usage_inconsistent"));
    }

    #[test]
    fn scope_keeps_only_allow_listed_labels() {
        let d = Deriver::new(&Config::default());
        let l = Labels::new([("team", "a"), ("user_id", "u1"), ("env", "prod")]);
        assert_eq!(d.scope(&l), Labels::new([("team", "a"), ("env", "prod")]));
    }
}
