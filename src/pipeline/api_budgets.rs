//! Budgets created over the admin API, at run time: create, update and delete, each one
//! read-compile-commit-swap under one lock, which config reloads take too ([`Pipeline::swap_snapshot`]),
//! so an API change and a reload never interleave and neither undoes the other.
//!
//! Order of a change: the body is compiled by the step config budgets take (a bad one changes
//! nothing), the record is committed to the state file (fsync), and only then the running
//! budget set is replaced: what was answered 2xx survives kill -9, and what failed to commit
//! never ran. The engine then applies #17's rules (see `derive::budget::engine::reconfigure`):
//! a new limit or thresholds keep the spend; a new match, period, timezone or `group_by` starts
//! new records and keeps the old ones as orphaned; a delete keeps them as orphaned.

use super::Pipeline;
use crate::derive::budget::api::{self, FieldError, State, Stored};
use crate::state::StateFile;
use crate::telemetry::{self, catalogue};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The API budgets as stored, and whether each runs.
#[derive(Default)]
pub struct View {
    pub entries: BTreeMap<String, (Stored, State)>,
}

pub(super) struct ApiBudgets {
    inner: Mutex<Inner>,
    view: arc_swap::ArcSwap<View>,
}

struct Inner {
    set: BTreeMap<String, Stored>,
    next_version: u64,
}

impl Default for ApiBudgets {
    fn default() -> Self {
        ApiBudgets {
            inner: Mutex::new(Inner {
                set: BTreeMap::new(),
                next_version: 1,
            }),
            view: Default::default(),
        }
    }
}

/// Why a change was refused; nothing changed.
#[derive(Debug)]
pub enum Refused {
    /// 400: every problem with the body, by field.
    Invalid(Vec<FieldError>),
    /// 409: the config defines this name (and is authoritative).
    ConfigOwned,
    /// 409: an API budget of this name exists (at this version).
    Exists(u64),
    /// 404: no API budget of this name.
    NotFound,
    /// 412: `If-Match` names another version than the current one.
    Stale { current: u64 },
    /// 409: [`api::MAX_API_BUDGETS`] reached.
    TooMany,
    /// 503: the state file did not take the change.
    NotDurable(String),
}

/// A change that is on disk and running: the record now (`None` after a delete) and before.
pub struct Applied {
    pub now: Option<Stored>,
    pub before: Option<Stored>,
}

impl Pipeline {
    fn api_lock(&self) -> MutexGuard<'_, Inner> {
        // Every step under the lock leaves `Inner` consistent; recover from a poisoned lock.
        self.api.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The API budgets as stored, with their state.
    pub fn api_budgets(&self) -> Arc<View> {
        self.api.view.load_full()
    }

    /// Installs the API budgets read from the state file at start (the budgets engine was built
    /// with [`crate::derive::budget::api::merge`] of the same records).
    pub fn with_api_budgets(self, set: BTreeMap<String, Stored>, next_version: u64) -> Self {
        {
            let mut inner = self.api_lock();
            inner.set = set;
            inner.next_version = next_version.max(1);
            self.apply_api(&inner, &self.snapshot());
        }
        self
    }

    /// Merges config and API budgets and reconfigures the engine; the caller holds the lock.
    fn apply_api(&self, inner: &Inner, snapshot: &super::Snapshot) {
        let merged = api::merge(&snapshot.budgets, &inner.set, &snapshot.config.scope_labels);
        let now = super::unix_secs();
        let before = self.budgets.gauge_labels(now);
        self.budgets.reconfigure(&merged.defs, now);
        let after: std::collections::HashSet<_> =
            self.budgets.gauge_labels(now).into_iter().collect();
        for gone in before.iter().filter(|l| !after.contains(*l)) {
            for family in crate::derive::budget::shared::GAUGE_FAMILIES {
                self.store.remove(family, gone);
            }
        }
        let mut counts: BTreeMap<&str, usize> =
            [("active", 0), ("shadowed", 0), ("invalid", 0)].into();
        let mut entries = BTreeMap::new();
        for (name, state) in merged.states {
            *counts.entry(state.as_str()).or_default() += 1;
            if state != State::Active {
                tracing::warn!(
                    budget = %name,
                    state = state.as_str(),
                    problems = ?state,
                    "API budget not running: a config budget of this name runs instead, or its \
                     definition does not compile; its spend is kept as orphaned. Fix it with PUT \
                     or remove it with DELETE /api/v1/admin/budgets/{{name}}"
                );
            }
            if let Some(stored) = inner.set.get(&name) {
                entries.insert(name, (stored.clone(), state));
            }
        }
        for (state, n) in counts {
            telemetry::gauge(
                &self.store,
                &catalogue::API_BUDGETS,
                &[("state", state)],
                n as f64,
            );
        }
        self.api.view.store(Arc::new(View { entries }));
        // New limits and budgets show on /metrics now, not at the next 5 s refresh.
        self.refresh_budgets();
    }

    /// Applies a reloaded config together with the API budgets (under the API lock).
    pub(super) fn swap_with_api(&self, snapshot: Arc<super::Snapshot>) {
        let inner = self.api_lock();
        self.snapshot.store(snapshot.clone());
        self.apply_api(&inner, &snapshot);
    }

    /// `POST /api/v1/admin/budgets`.
    pub fn api_budget_create(
        &self,
        body: &Value,
        who: &str,
        file: Option<&StateFile>,
    ) -> Result<Applied, Refused> {
        let mut inner = self.api_lock();
        let snapshot = self.snapshot();
        let (c, _) =
            api::definition(body, &snapshot.config.scope_labels).map_err(Refused::Invalid)?;
        if snapshot.config.budgets.iter().any(|b| b.name == c.name) {
            return Err(Refused::ConfigOwned);
        }
        if let Some(existing) = inner.set.get(&c.name) {
            return Err(Refused::Exists(existing.version));
        }
        if inner.set.len() >= api::MAX_API_BUDGETS {
            return Err(Refused::TooMany);
        }
        let now = super::unix_secs();
        let stored = Stored {
            v: api::STORED_FORMAT,
            definition: serde_json::to_value(&c).unwrap_or(Value::Null),
            version: inner.next_version,
            created_at: now,
            created_by: who.into(),
            updated_at: now,
            updated_by: who.into(),
            unreadable: None,
        };
        self.commit(&mut inner, &snapshot, c.name, Some(stored.clone()), file)?;
        Ok(Applied {
            now: Some(stored),
            before: None,
        })
    }

    /// `PUT /api/v1/admin/budgets/{name}`: replaces the definition (the body's `name`, if given,
    /// must be `name`).
    pub fn api_budget_update(
        &self,
        name: &str,
        body: &Value,
        if_match: Option<&str>,
        who: &str,
        file: Option<&StateFile>,
    ) -> Result<Applied, Refused> {
        let mut inner = self.api_lock();
        let snapshot = self.snapshot();
        let before = self.current(&inner, &snapshot, name, if_match, false)?;
        let mut body = body.clone();
        if let Value::Object(m) = &mut body {
            match m.get("name") {
                None => {
                    m.insert("name".into(), Value::String(name.into()));
                }
                Some(Value::String(n)) if n == name => {}
                Some(other) => {
                    return Err(Refused::Invalid(vec![FieldError {
                        field: "name".into(),
                        message: format!(
                            "{other} differs from the name in the URL ({name:?}); to rename, \
                             create the new budget and delete this one"
                        ),
                    }]))
                }
            }
        }
        let (c, _) =
            api::definition(&body, &snapshot.config.scope_labels).map_err(Refused::Invalid)?;
        let stored = Stored {
            definition: serde_json::to_value(&c).unwrap_or(Value::Null),
            version: inner.next_version,
            updated_at: super::unix_secs(),
            updated_by: who.into(),
            unreadable: None,
            ..before.clone()
        };
        self.commit(
            &mut inner,
            &snapshot,
            name.into(),
            Some(stored.clone()),
            file,
        )?;
        Ok(Applied {
            now: Some(stored),
            before: Some(before),
        })
    }

    /// `DELETE /api/v1/admin/budgets/{name}`: the definition goes, its spend stays as orphaned.
    pub fn api_budget_delete(
        &self,
        name: &str,
        if_match: Option<&str>,
        file: Option<&StateFile>,
    ) -> Result<Applied, Refused> {
        let mut inner = self.api_lock();
        let snapshot = self.snapshot();
        let before = self.current(&inner, &snapshot, name, if_match, true)?;
        self.commit(&mut inner, &snapshot, name.into(), None, file)?;
        Ok(Applied {
            now: None,
            before: Some(before),
        })
    }

    /// The API budget `name` may change: it exists, the config does not define the name (unless
    /// `deleting`), and `If-Match` (if any) names its version.
    fn current(
        &self,
        inner: &Inner,
        snapshot: &super::Snapshot,
        name: &str,
        if_match: Option<&str>,
        deleting: bool,
    ) -> Result<Stored, Refused> {
        let in_config = snapshot.config.budgets.iter().any(|b| b.name == name);
        let stored = match inner.set.get(name) {
            // A shadowed API budget may be deleted (the config's stays), not changed.
            Some(s) if !in_config || deleting => s,
            _ if in_config => return Err(Refused::ConfigOwned),
            _ => return Err(Refused::NotFound),
        };
        if !api::if_match_allows(if_match, stored.version) {
            return Err(Refused::Stale {
                current: stored.version,
            });
        }
        Ok(stored.clone())
    }

    /// Commits one record (or its deletion) with the next version, then runs the new set.
    fn commit(
        &self,
        inner: &mut Inner,
        snapshot: &super::Snapshot,
        name: String,
        record: Option<Stored>,
        file: Option<&StateFile>,
    ) -> Result<(), Refused> {
        // A delete hands out no version: the next create gets one no earlier record had.
        let next = match record {
            Some(_) => inner.next_version.saturating_add(1),
            None => inner.next_version,
        };
        if let Some(file) = file {
            let bytes = record.as_ref().map(api::encode);
            file.commit_api_budget(&name, bytes.as_deref(), next)
                .map_err(Refused::NotDurable)?;
        }
        inner.next_version = next;
        match record {
            Some(r) => inner.set.insert(name, r),
            None => inner.set.remove(&name),
        };
        self.apply_api(inner, snapshot);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::{Labels, UsageEvent};
    use crate::pipeline::Snapshot;
    use crate::store::Store;
    use serde_json::json;

    fn snapshot(budgets_yaml: &str) -> Snapshot {
        let yaml = format!("scope_labels: [team]\nbudgets:\n{budgets_yaml}");
        let config: Config =
            crate::config::load::load_str(&yaml, "test.yaml", &|_| None).expect("config");
        Snapshot::try_new(Arc::new(config)).expect("valid config")
    }

    fn limit_gauge(p: &Pipeline, budget: &str, period: &str) -> Option<f64> {
        p.store().value(
            "llm_budget_limit_usd",
            &Labels::new([("budget", budget), ("period", period)]),
        )
    }

    /// Every change runs at once (gauges included) and a budget that leaves, over the API or
    /// from the file, takes its gauges off /metrics.
    #[test]
    fn changes_apply_at_once_and_budgets_that_leave_take_their_gauges() {
        let p = Pipeline::new(
            Arc::new(Store::default()),
            snapshot("  - {name: cfg, period: daily, limit_usd: 5}\n"),
        );
        p.refresh_budgets();
        assert_eq!(limit_gauge(&p, "cfg", "daily"), Some(5.0));
        let body =
            json!({"name": "api", "period": "monthly", "limit_usd": 7, "match": {"team": "a"}});
        let created = p.api_budget_create(&body, "ops", None).expect("created");
        assert_eq!(created.now.map(|s| s.version), Some(1));
        assert_eq!(limit_gauge(&p, "api", "monthly"), Some(7.0));
        let mut ev = UsageEvent::new("openai", "m");
        ev.scope = Labels::new([("team", "a")]);
        p.record_spend("test", &ev, 3);

        let body = json!({"period": "monthly", "limit_usd": 9, "match": {"team": "a"}});
        p.api_budget_update("api", &body, Some("\"1\""), "ops", None)
            .expect("updated");
        assert_eq!(limit_gauge(&p, "api", "monthly"), Some(9.0));
        let spend: u64 = p
            .budgets()
            .statuses(super::super::unix_secs())
            .iter()
            .filter(|(d, _)| &*d.name == "api")
            .flat_map(|(_, s)| s.iter().map(|s| s.spend))
            .sum();
        assert_eq!(spend, 3, "a new limit keeps the spend");
        assert!(matches!(
            p.api_budget_update("api", &body, Some("\"1\""), "ops", None),
            Err(Refused::Stale { current: 2 })
        ));
        assert!(matches!(
            p.api_budget_create(
                &json!({"name": "cfg", "period": "daily", "limit_usd": 1}),
                "ops",
                None
            ),
            Err(Refused::ConfigOwned)
        ));

        p.api_budget_delete("api", None, None).expect("deleted");
        assert_eq!(limit_gauge(&p, "api", "monthly"), None);
        assert_eq!(p.budgets().orphan_count(), 1, "its spend is kept");
        // A reload without the config budget takes its gauges too.
        p.swap_snapshot(snapshot("  []\n"));
        assert_eq!(limit_gauge(&p, "cfg", "daily"), None);
    }
}
