//! The hand-off point between receivers and the store: receivers call [`Pipeline`] with decoded
//! samples and events; it derives, applies and counts. The current config snapshot ([`Runtime`]) is
//! swapped atomically on reload, so a receiver always sees one consistent config.

use crate::config::Config;
use crate::derive::Deriver;
use crate::model::{QualityEvent, Sample, UsageEvent};
use crate::store::Store;
use crate::telemetry;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// Everything compiled from one config snapshot.
pub struct Runtime {
    pub config: Arc<Config>,
    pub deriver: Deriver,
    pub statsd: crate::statsd::Mapper,
}

impl Runtime {
    pub fn new(config: Arc<Config>) -> Self {
        Runtime {
            deriver: Deriver::new(&config),
            statsd: crate::statsd::Mapper::new(&config.statsd),
            config,
        }
    }
}

pub struct Pipeline {
    store: Arc<Store>,
    runtime: ArcSwap<Runtime>,
}

impl Pipeline {
    pub fn new(store: Arc<Store>, runtime: Runtime) -> Self {
        store.set_limits(runtime.config.limits.store_limits());
        Pipeline {
            store,
            runtime: ArcSwap::from_pointee(runtime),
        }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// True while the memory guard sheds load: receivers with a retry signal (OTLP) should use it.
    pub fn overloaded(&self) -> bool {
        self.store.shedding()
    }

    pub fn swap_runtime(&self, runtime: Runtime) {
        self.store.set_limits(runtime.config.limits.store_limits());
        runtime.deriver.carry_over(&self.runtime.load().deriver);
        self.runtime.store(Arc::new(runtime));
    }

    /// Applies one sample from a receiver, after label redaction; a rejection is counted under
    /// `protocol`, never returned to the sender (one bad series must not fail a whole packet).
    pub fn sample(&self, protocol: &str, sample: &Sample) -> bool {
        let runtime = self.runtime.load();
        match runtime.deriver.redact(&sample.labels) {
            Some(labels) => self.apply(
                protocol,
                &Sample {
                    labels,
                    ..sample.clone()
                },
            ),
            None => self.apply(protocol, sample),
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
        let mut out = Vec::with_capacity(8);
        self.runtime.load().deriver.usage(event, &mut out);
        for s in &out {
            self.apply(protocol, s);
        }
        telemetry::count(
            &self.store,
            "meterd_usage_events",
            "Usage events (model calls or parts of one) derived, by protocol.",
            &[("protocol", protocol)],
            1.0,
        );
    }

    /// Derives grades, outcomes and app signals; rejected events and values capped into `other`
    /// are counted by reason, never returned to the sender.
    pub fn quality(&self, protocol: &str, event: &QualityEvent) {
        let mut out = Vec::with_capacity(3);
        let report = self.runtime.load().deriver.quality(event, &mut out);
        for s in &out {
            self.apply(protocol, s);
        }
        telemetry::count(
            &self.store,
            "meterd_quality_events",
            "Quality events (evaluations, outcomes) received, by protocol.",
            &[("protocol", protocol)],
            1.0,
        );
        if let Some(r) = report.rejected {
            telemetry::count(
                &self.store,
                "meterd_quality_rejected",
                "Quality events dropped as invalid (missing name, score outside its scale, ...), \
                 by protocol and reason.",
                &[("protocol", protocol), ("reason", r.reason())],
                1.0,
            );
        }
        for dimension in report.overflowed {
            telemetry::count(
                &self.store,
                "meterd_quality_values_capped",
                "Quality signal values recorded as `other` because the quality.max_* cap on \
                 distinct values was reached, by dimension.",
                &[("dimension", dimension)],
                1.0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::redact::{RedactAction, RedactRule};
    use crate::model::{Labels, SampleValue};

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
        let pipeline = Pipeline::new(Arc::new(Store::default()), Runtime::new(Arc::new(config)));
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
