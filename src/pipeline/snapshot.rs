//! One config, compiled for use. [`Snapshot::try_new`] is the single step that turns a
//! [`Config`] into what runs (price table, budgets, StatsD mappings, redaction, quality families,
//! the fleet query target), used alike by start, reload and `check-config` ([`load`]): a config
//! with any problem yields no snapshot, so nothing downstream needs a fallback for what "should
//! have been validated".

use crate::config::fleet::Target;
use crate::config::load::{load_config_with, ConfigErrors};
use crate::config::{child, Config, Issues, Validate};
use crate::derive::budget::BudgetDef;
use crate::derive::Deriver;
use crate::statsd::Mapper;
use std::path::Path;
use std::sync::Arc;

/// Everything compiled from one config. Swapped whole on reload, so a receiver always sees one
/// consistent config.
pub struct Snapshot {
    pub config: Arc<Config>,
    pub deriver: Deriver,
    pub statsd: Mapper,
    /// Budgets as the engine runs them (the engine itself outlives snapshots).
    pub budgets: Arc<[Arc<BudgetDef>]>,
    /// Where fleet spend is queried; `None` when `fleet.prometheus_url` is unset.
    pub fleet_target: Option<Target>,
}

impl Snapshot {
    /// Checks and compiles every section; every problem is reported, by key path.
    pub fn try_new(config: Arc<Config>) -> Result<Snapshot, Issues> {
        let mut issues = Issues::default();
        config.validate("", &mut issues);
        if let Some(table) = &config.pricing {
            table.validate("pricing", &mut issues);
        }
        let budgets = crate::derive::budget::compile_all(
            &config.budgets,
            &config.scope_labels,
            "budgets",
            &mut issues,
        );
        let statsd = match Mapper::try_new(&config.statsd, "statsd") {
            Ok(m) => Some(m),
            Err(i) => {
                issues.append(i);
                None
            }
        };
        let fleet_target = match config.fleet.prometheus_url.as_deref() {
            None => None,
            Some(url) => match Target::parse(url) {
                Ok(t) => Some(t),
                Err(e) => {
                    issues.error(child("fleet", "prometheus_url"), e);
                    None
                }
            },
        };
        match statsd {
            Some(statsd) if issues.is_empty() => Ok(Snapshot {
                deriver: Deriver::new(&config),
                statsd,
                budgets: budgets.into(),
                fleet_target,
                config,
            }),
            _ => Err(issues),
        }
    }
}

/// Loads a config file and compiles it: every problem (of the file, its price tables, and of
/// compiling) as `file:line:column: key: message`.
pub fn load(path: &Path) -> Result<Snapshot, ConfigErrors> {
    load_config_with(path, |config| Snapshot::try_new(Arc::new(config)))
}
