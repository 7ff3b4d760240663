//! The hand-off point between receivers and the store: receivers call [`Pipeline`] with decoded
//! samples and events; it derives, applies and counts. The current config, compiled
//! ([`Snapshot`], built by [`load`] or [`Snapshot::try_new`]), is swapped atomically on reload, so
//! a receiver always sees one consistent config.
//!
//! The budgets the engine runs are the config's plus those created over the admin API
//! ([`api_budgets`]), merged by one pure step (`derive::budget::api::merge`) under one lock, on
//! every reload and every API change alike.

pub mod api_budgets;
mod snapshot;

pub use snapshot::{load, Snapshot};

use crate::derive::budget::matcher::CallLabels;
use crate::derive::budget::{Budgets, Touched};
use crate::derive::dedup::Dedup;
use crate::derive::ledger::{self, SharedLedger};
use crate::derive::usage::UsageRejected;
use crate::model::{
    Exemplar, HistogramData, Labels, QualityEvent, Sample, SampleValue, UsageEvent,
};
use crate::state::durable::{Durability, NotDurable};
use crate::store::{Combined, FamilyCache, PairsTarget, Store};
use crate::telemetry;
use crate::telemetry::catalogue;
use arc_swap::ArcSwap;
use std::sync::Arc;

static USAGE_REJECTED_LOG: telemetry::RateLimit = telemetry::RateLimit::new();

pub struct Pipeline {
    store: Arc<Store>,
    snapshot: ArcSwap<Snapshot>,
    /// Budget spend outlives config snapshots: reloads reconfigure it in place.
    budgets: Arc<Budgets>,
    /// Span and response keys of priced calls: persisted with the spend (see [`Self::spend_mark`]).
    dedup: Arc<Dedup>,
    /// Usage rollups: flushed with the spend, like the dedup keys.
    ledger: Arc<SharedLedger>,
    durability: Arc<Durability>,
    /// Budgets created over the admin API, merged with the config's on every change and reload.
    api: api_budgets::ApiBudgets,
}

/// The budget clock: periods are calendar time, not process uptime.
fn unix_secs() -> i64 {
    crate::clock::unix_secs_i64()
}

impl Pipeline {
    /// A pipeline whose budgets live in memory only (no state file).
    pub fn new(store: Arc<Store>, snapshot: Snapshot) -> Self {
        let budgets = Arc::new(Budgets::in_memory(&snapshot.budgets, unix_secs()));
        Pipeline::with_budgets(store, snapshot, budgets, Arc::new(Durability::volatile()))
    }

    /// A pipeline with budgets restored from (and flushed to) a state file.
    pub fn with_budgets(
        store: Arc<Store>,
        snapshot: Snapshot,
        budgets: Arc<Budgets>,
        durability: Arc<Durability>,
    ) -> Self {
        store.set_limits(snapshot.config.limits.store_limits());
        let otlp = &snapshot.config.otlp;
        let dedup = Arc::new(Dedup::new(&otlp.dedup, &otlp.usage_scopes));
        let ledger = Arc::new(SharedLedger::new(&snapshot.config.usage, unix_secs()));
        let pipeline = Pipeline {
            store,
            snapshot: ArcSwap::from_pointee(snapshot),
            budgets,
            dedup,
            ledger,
            durability,
            api: Default::default(),
        };
        pipeline.count_orphans();
        pipeline
    }

    /// Uses `dedup` (restored from the state file, flushed with the spend) instead of a new one.
    pub fn with_dedup(mut self, dedup: Arc<Dedup>) -> Self {
        self.dedup = dedup;
        self
    }

    /// Uses `ledger` (restored from the state file, flushed with the spend).
    pub fn with_ledger(mut self, ledger: Arc<SharedLedger>) -> Self {
        self.ledger = ledger;
        self
    }

    pub fn ledger(&self) -> &Arc<SharedLedger> {
        &self.ledger
    }

    pub fn budgets(&self) -> &Arc<Budgets> {
        &self.budgets
    }

    pub fn dedup(&self) -> &Arc<Dedup> {
        &self.dedup
    }

    /// Resolves once the budget spend of every usage event handed in so far is on disk. Many
    /// concurrent callers share one commit; an OTLP handler awaits this before acknowledging.
    pub async fn durable(&self) -> Result<(), NotDurable> {
        self.durability.wait(self.spend_mark()).await
    }

    /// The write sequence number now: pass it to [`Self::durable_since`] after handing in a
    /// request's usage. The sum of the budgets', the dedup window's and the ledger's: each only
    /// grows, and the flusher takes all at one instant, so a commit covering a later sum covers
    /// every part.
    pub fn spend_mark(&self) -> u64 {
        self.budgets
            .seq()
            .wrapping_add(self.dedup.seq())
            .wrapping_add(self.ledger.seq())
    }

    /// Like [`Self::durable`] for a request that started at `mark`, with an error once `timeout`
    /// (`state.commit_timeout`) has passed. A request during which no spend was recorded (by it
    /// or anyone) has nothing to wait for, so metrics-only exports are not refused because the
    /// state volume is unwritable.
    pub async fn durable_since(
        &self,
        mark: u64,
        timeout: std::time::Duration,
    ) -> Result<(), NotDurable> {
        let now = self.spend_mark();
        if now == mark {
            return Ok(());
        }
        self.durability.wait_within(now, timeout).await
    }
    /// Rolls budget periods and rewrites every budget gauge (run on a timer).
    pub fn refresh_budgets(&self) {
        let mut out = Vec::new();
        self.budgets.refresh(unix_secs(), &mut out);
        // Group labels came through `Deriver::scope` (already redacted): apply, not `sample`.
        for s in &out {
            self.apply("budget", s);
        }
        self.count_orphans();
    }

    /// Saved spend kept for budgets the config does not have: an operator sees it here (and in
    /// `/api/v1/budgets`), and forgets it explicitly or lets its period end.
    fn count_orphans(&self) {
        telemetry::gauge(
            &self.store,
            &catalogue::BUDGET_ORPHANED_RECORDS,
            &[],
            self.budgets.orphan_count() as f64,
        );
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn swap_snapshot(&self, snapshot: Snapshot) {
        self.store.set_limits(snapshot.config.limits.store_limits());
        snapshot.deriver.carry_over(&self.snapshot.load().deriver);
        let otlp = &snapshot.config.otlp;
        self.dedup.configure(&otlp.dedup, &otlp.usage_scopes);
        self.ledger.configure(&snapshot.config.usage);
        // The budget set is the config's plus the API's: merged under the API lock.
        self.swap_with_api(Arc::new(snapshot));
    }

    /// Deletes the orphaned spend records of budget `name` (an admin action); the caller awaits
    /// [`Pipeline::durable`] to know they are gone from disk.
    pub fn forget_budget(&self, name: &str) -> Vec<(crate::derive::budget::saved::Saved, u64)> {
        let gone = self.budgets.forget(name, unix_secs());
        self.count_orphans();
        gone
    }

    /// Applies one sample from a receiver, after label redaction; a rejection is counted under
    /// `protocol`, never returned to the sender (one bad series must not fail a whole packet).
    pub fn sample(&self, protocol: &str, sample: &Sample) -> bool {
        let snapshot = self.snapshot.load();
        let exemplar = sample
            .exemplar
            .as_ref()
            .and_then(|e| snapshot.deriver.redact_exemplar(e));
        match (snapshot.deriver.redact(&sample.labels), exemplar) {
            (None, None) => self.apply(protocol, sample),
            (labels, exemplar) => self.apply(
                protocol,
                &Sample {
                    labels: labels.unwrap_or_else(|| sample.labels.clone()),
                    exemplar: exemplar.or_else(|| sample.exemplar.clone()),
                    ..sample.clone()
                },
            ),
        }
    }

    /// [`Pipeline::sample`] for a sample named by borrowed, normalized label pairs (OTLP data
    /// points): a point of an existing series is stored without building its label set. Redacted
    /// with `snapshot`, the snapshot the caller translated the request with; `cache` is the
    /// caller's for this metric name (see [`Store::apply_pairs`]).
    pub fn sample_pairs(
        &self,
        protocol: &str,
        snapshot: &Snapshot,
        cache: &mut FamilyCache,
        target: PairsTarget<'_>,
        value: SampleValue,
        exemplar: Option<Exemplar>,
    ) -> bool {
        // Exemplar attributes leave meterd on /metrics like series labels do.
        let exemplar = exemplar.map(|e| snapshot.deriver.redact_exemplar(&e).unwrap_or(e));
        if snapshot
            .deriver
            .redacts(target.pairs.iter().map(|(k, _)| *k))
        {
            let labels = Labels::new(target.pairs.iter().copied());
            let labels = snapshot.deriver.redact(&labels).unwrap_or(labels);
            let sample = Sample {
                name: target.name.into(),
                labels,
                value,
                options: target.options.clone(),
                exemplar,
            };
            return self.apply(protocol, &sample);
        }
        match self
            .store
            .apply_pairs(cache, target, &value, exemplar.as_ref())
        {
            Ok(()) => true,
            Err(r) => {
                telemetry::rejected(&self.store, protocol, target.name, r);
                false
            }
        }
    }

    /// Applies a derived sample (its labels came through `Deriver::scope`, already redacted).
    fn apply(&self, protocol: &str, sample: &Sample) -> bool {
        match self.store.apply(sample) {
            Ok(()) => true,
            Err(r) => {
                telemetry::rejected(&self.store, protocol, &sample.name, r);
                false
            }
        }
    }

    pub fn usage(&self, protocol: &str, event: &UsageEvent) {
        self.usage_events(protocol, std::slice::from_ref(event));
    }

    /// [`Self::usage`] for many events, counted once (one counter update per request, not per
    /// span: the count cost as much as deriving a span's tokens). What the events derive is
    /// combined per series and written once per batch, and the ledger is locked once per batch:
    /// request threads met on the same series and locks for every span (see [`Combined`]).
    pub fn usage_events(&self, protocol: &str, events: &[UsageEvent]) {
        let mut out = Vec::with_capacity(16);
        let mut touched = Touched::default();
        let mut combined = Combined::default();
        let mut ledgered = Vec::with_capacity(events.len());
        let rt = self.snapshot.load();
        let max_usage = rt.config.limits.max_usage_per_line;
        let now = unix_secs();
        let mut derived = 0u64;
        for event in events {
            // The one ceiling every protocol passes: a rejected event reaches neither tokens, cost
            // nor budgets.
            if let Err(r) = crate::derive::usage::check_ceiling(event, max_usage) {
                self.usage_rejected(protocol, event, r);
                continue;
            }
            derived += 1;
            match rt.deriver.usage_priced(event, &mut combined) {
                Ok(priced) => {
                    // Fits: `usage_priced` refuses totals past u64 nano-USD.
                    let nanos = crate::derive::pricing::derive::nano(priced.femto).unwrap_or(0);
                    // Budgets and the ledger see the same scope: built once.
                    let scope = rt.deriver.scope(&event.scope);
                    self.budget_spend(&scope, event, nanos, now, &mut touched);
                    ledgered.push((event, scope, priced));
                }
                Err(_) => telemetry::money_overflow(&self.store, "cost", &event.model),
            }
        }
        self.ledger_record(&ledgered, now);
        if !touched.is_empty() {
            self.budgets.touched_gauges(&mut touched, &mut out);
            out.drain(..).for_each(|s| combined.push(s));
        }
        combined.apply(&self.store, &mut |name, r, n| {
            telemetry::rejected_n(&self.store, protocol, name, r, n)
        });
        telemetry::count(
            &self.store,
            &catalogue::USAGE_EVENTS,
            &[("protocol", protocol)],
            derived as f64,
        );
    }

    /// Counts the events into the usage ledger's hour and day rows (scope labels as budgets see
    /// them: allow-listed and redacted): summed per row, under one lock.
    fn ledger_record(&self, events: &[(&UsageEvent, Labels, crate::derive::Priced)], now: i64) {
        if events.is_empty() {
            return;
        }
        let mut batch = ledger::batch::Batch::default();
        for (event, scope, priced) in events {
            batch.add(&ledger::Entry {
                provider: &event.provider,
                model: &event.model,
                scope,
                usage: &priced.usage,
                weight: event.weight,
                error: event.status == Some(crate::model::CallStatus::Error),
                cost_femto: priced.femto,
            });
        }
        let folded = self.ledger.record_batch(&batch, now);
        if folded > 0 {
            telemetry::count(
                &self.store,
                &catalogue::USAGE_ROWS_FOLDED,
                &[],
                folded as f64,
            );
        }
    }

    fn usage_rejected(&self, protocol: &str, event: &UsageEvent, r: UsageRejected) {
        telemetry::count(
            &self.store,
            &catalogue::USAGE_REJECTED,
            &[("protocol", protocol), ("reason", r.reason())],
            1.0,
        );
        telemetry::rate_limited_warn(
            &USAGE_REJECTED_LOG,
            format_args!(
                "usage of {:?} / {:?} from {protocol} refused ({}: {r}): {:?} x weight {}",
                &*event.provider,
                &*event.model,
                r.reason(),
                event.usage,
                event.weight
            ),
        );
    }

    /// Merges a time-to-first-token histogram increment (OTLP metrics) into
    /// `llm_time_to_first_token_seconds`. Not usage: nothing is priced or counted as a call.
    pub fn ttft_histogram(&self, protocol: &str, template: &UsageEvent, data: HistogramData) {
        let mut out = Vec::with_capacity(1);
        self.snapshot
            .load()
            .deriver
            .ttft_histogram(template, data, &mut out);
        for s in &out {
            self.apply(protocol, s);
        }
    }

    /// Zeroes a budget's current spend (every group, or one) and rewrites its gauges. The caller
    /// awaits [`Pipeline::durable`] to know the reset is on disk.
    pub fn reset_budget(
        &self,
        name: &str,
        group: Option<&[(String, String)]>,
    ) -> Result<
        Vec<(crate::derive::budget::engine::Status, u64)>,
        crate::derive::budget::engine::ResetError,
    > {
        let mut out = Vec::new();
        let reset = self.budgets.reset(name, group, unix_secs(), &mut out)?;
        for s in &out {
            self.apply("budget", s);
        }
        Ok(reset)
    }

    /// Counts `cost_nanos` toward the budgets `event` matches, without deriving anything else
    /// (for sources that know the cost already, and for driving budgets in tests).
    pub fn record_spend(&self, protocol: &str, event: &UsageEvent, cost_nanos: u64) {
        let rt = self.snapshot.load();
        let mut out = Vec::new();
        let scope = rt.deriver.scope(&event.scope);
        let mut touched = Touched::default();
        self.budget_spend(&scope, event, cost_nanos, unix_secs(), &mut touched);
        self.budgets.touched_gauges(&mut touched, &mut out);
        for s in &out {
            self.apply(protocol, s);
        }
    }

    /// Counts `cost` (nano-USD) toward matching budgets, on the event's scope labels after the
    /// allow-list plus provider and model; notes the budget instances touched in `touched`.
    fn budget_spend(
        &self,
        scope: &Labels,
        event: &UsageEvent,
        cost: u64,
        now: i64,
        touched: &mut Touched,
    ) {
        if cost == 0 || self.budgets.is_empty() {
            return;
        }
        let call = CallLabels {
            scope,
            provider: &event.provider,
            model: &event.model,
        };
        let recorded = self.budgets.record(&call, cost, now, touched);
        for budget in recorded.overflowed {
            telemetry::count(
                &self.store,
                &catalogue::BUDGET_GROUPS_OVERFLOWED,
                &[("budget", &budget)],
                1.0,
            );
        }
        for budget in recorded.money_overflow {
            telemetry::money_overflow(&self.store, "budget", &budget);
        }
    }

    /// Derives grades, outcomes and app signals; rejected events and values capped into `other`
    /// are counted by reason, never returned to the sender.
    pub fn quality(&self, protocol: &str, event: &QualityEvent) {
        let mut out = Vec::with_capacity(3);
        let report = self.snapshot.load().deriver.quality(event, &mut out);
        for s in &out {
            self.apply(protocol, s);
        }
        telemetry::count(
            &self.store,
            &catalogue::QUALITY_EVENTS,
            &[("protocol", protocol)],
            1.0,
        );
        if let Some(r) = report.rejected {
            telemetry::count(
                &self.store,
                &catalogue::QUALITY_REJECTED,
                &[("protocol", protocol), ("reason", r.reason())],
                1.0,
            );
        }
        for dimension in report.overflowed {
            telemetry::count(
                &self.store,
                &catalogue::QUALITY_VALUES_CAPPED,
                &[("dimension", dimension)],
                1.0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::derive::redact::{RedactAction, RedactRule};

    /// Issue 17 item 2: an event past the usage ceiling reaches neither tokens, cost nor budgets;
    /// one within a raised ceiling whose cost overflows u64 nano-USD is refused and counted, not
    /// saturated at 18.4 billion USD.
    #[test]
    fn absurd_usage_and_money_overflow_are_refused_and_counted() {
        let yaml = "pricing:\n  models:\n    - {provider: openai, model: o1-pro, prices: {input: 150, output: 600}}\n\
                    budgets:\n  - {name: all, period: total, limit_usd: 1000}\n\
                    limits: {max_usage_per_line: 1000000000000000}\n";
        let config: Config =
            crate::config::load::load_str(yaml, "test.yaml", &|_| None).expect("config");
        let pipeline = Pipeline::new(
            Arc::new(Store::default()),
            Snapshot::try_new(Arc::new(config)).expect("valid config"),
        );
        let value = |name: &str, labels: &[(&str, &str)]| {
            pipeline
                .store()
                .value(name, &Labels::new(labels.iter().copied()))
        };
        let mut ev = UsageEvent::new("openai", "o1-pro");
        ev.usage.output_tokens = 2_000_000_000_000_000;
        pipeline.usage("otlp", &ev);
        assert_eq!(
            value(
                "meterd_usage_rejected",
                &[("protocol", "otlp"), ("reason", "usage_value_too_large")]
            ),
            Some(1.0)
        );
        // 1e15 output tokens at $600/1M: $6e11, past u64 nano-USD.
        ev.usage.output_tokens = 1_000_000_000_000_000;
        pipeline.usage("otlp", &ev);
        assert_eq!(
            value("meterd_money_overflow", &[("where", "cost")]),
            Some(1.0)
        );
        let snapshot = pipeline.store().snapshot();
        assert!(!snapshot.iter().any(|f| &*f.name == "llm_cost_usd"));
        let statuses = pipeline.budgets().statuses(super::unix_secs());
        assert_eq!(statuses.len(), 1);
        assert!(statuses.iter().all(|(_, s)| s.iter().all(|s| s.spend == 0)));
    }

    #[test]
    fn receiver_samples_are_redacted_before_storing() {
        let config = Config {
            redact: vec![
                RedactRule {
                    label: "email".into(),
                    action: RedactAction::Drop,
                    ..Default::default()
                },
                RedactRule {
                    label: "user".into(),
                    action: RedactAction::Hash,
                    key: Some("0123456789abcdef-key".into()),
                    ..Default::default()
                },
            ],
            ..Config::default()
        };
        let pipeline = Pipeline::new(
            Arc::new(Store::default()),
            Snapshot::try_new(Arc::new(config)).expect("valid config"),
        );
        let labels = Labels::new([("email", "a@b.c"), ("user", "alice"), ("route", "/x")]);
        assert!(pipeline.sample(
            "test",
            &Sample::new("hits", labels, SampleValue::CounterAdd(1.0))
        ));
        let snapshot = pipeline.store().snapshot();
        let family = snapshot
            .iter()
            .find(|f| &*f.name == "hits")
            .expect("family");
        let (stored, _) = &family.series[0];
        assert_eq!(stored.get("email"), None);
        assert_eq!(stored.get("route"), Some("/x"));
        let user = stored.get("user").expect("user kept, hashed");
        assert!(user.starts_with("h:") && !user.contains("alice"), "{user}");
    }
}
