//! Budget notifications, pure: which thresholds each budget instance has newly crossed, and which
//! earlier crossings a reset (new period, admin reset, a rolling window draining) has undone.
//!
//! A crossing is remembered as a mark `(budget, group, period start, threshold)`; the caller
//! stores the marks durably *before* notifying, so each threshold of each period is announced
//! once, across restarts too. Rolling and `total` budgets have no period start (0): their marks
//! go when spend falls back below the threshold.

use super::budget::engine::Status;
use super::budget::period::Period;
use super::budget::{BudgetDef, PPM};
use crate::config::notifications::Severity;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    pub budget: String,
    pub group: Vec<(String, String)>,
    pub period_start: i64,
    pub threshold_ppm: u64,
}

impl Mark {
    pub fn key(&self) -> Vec<u8> {
        serde_json::to_vec(&(
            &self.budget,
            &self.group,
            self.period_start,
            self.threshold_ppm,
        ))
        .unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Mark, String> {
        let (budget, group, period_start, threshold_ppm) =
            serde_json::from_slice(bytes).map_err(|e| format!("notification mark: {e}"))?;
        Ok(Mark {
            budget,
            group,
            period_start,
            threshold_ppm,
        })
    }

    fn same_instance(&self, budget: &str, group: &[(String, String)]) -> bool {
        self.budget == budget && self.group == group
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Crossed,
    Reset,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub kind: Kind,
    pub mark: Mark,
    pub period: &'static str,
    pub spend_nanos: u64,
    pub limit_nanos: u64,
    /// Projected spend at the period end (0 when the period has no end).
    pub forecast_nanos: u64,
    /// The threshold's severity ([`severity`]).
    pub severity: Severity,
}

impl Notice {
    pub fn threshold(&self) -> f64 {
        self.mark.threshold_ppm as f64 / PPM as f64
    }
}

/// What one observation changes: notices to send, marks to store and to delete.
#[derive(Debug, Default)]
pub struct Changes {
    pub notices: Vec<Notice>,
    pub puts: Vec<Vec<u8>>,
    pub deletes: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, Default)]
pub struct Marks {
    set: BTreeSet<Mark>,
}

fn anchor(def: &BudgetDef, st: &Status) -> i64 {
    match def.period {
        Period::Rolling(_) | Period::Total => 0,
        _ => st.start,
    }
}

/// The status a budget shows once `threshold_ppm` is reached (as `Status::level` judges it):
/// `exceeded` from 1.0, `critical` for the highest threshold below 1.0 when there are two or
/// more below it, `warning` otherwise.
pub fn severity(def: &BudgetDef, threshold_ppm: u64) -> Severity {
    if threshold_ppm >= PPM {
        return Severity::Exceeded;
    }
    let below: Vec<u64> = def
        .thresholds_ppm
        .iter()
        .copied()
        .filter(|t| *t < PPM)
        .collect();
    if below.len() >= 2 && below.iter().max() == Some(&threshold_ppm) {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

fn reached(st: &Status, t: u64) -> bool {
    u128::from(st.spend) * u128::from(PPM) >= u128::from(t) * u128::from(st.def.limit_nanos)
}

impl Marks {
    /// Marks as stored; undecodable ones are counted and forgotten.
    pub fn restore(keys: &[Vec<u8>]) -> (Marks, usize) {
        let mut bad = 0;
        let set = keys
            .iter()
            .filter_map(|k| Mark::decode(k).map_err(|_| bad += 1).ok())
            .collect();
        (Marks { set }, bad)
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Compares the budgets' statuses with the marks. The caller applies the result with
    /// [`Marks::apply`] once the changes are stored.
    pub fn observe(&self, statuses: &[(Arc<BudgetDef>, Vec<Status>)]) -> Changes {
        let mut c = Changes::default();
        for (def, instances) in statuses {
            for st in instances.iter().filter(|s| !s.untracked) {
                let group: Vec<(String, String)> = st
                    .group
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let start = anchor(def, st);
                let notice = |kind, mark: Mark| Notice {
                    kind,
                    severity: severity(def, mark.threshold_ppm),
                    mark,
                    period: def.period.as_str(),
                    spend_nanos: st.spend,
                    limit_nanos: def.limit_nanos,
                    forecast_nanos: st.forecast,
                };
                for m in self
                    .set
                    .iter()
                    .filter(|m| m.same_instance(&def.name, &group))
                {
                    if m.period_start != start || !reached(st, m.threshold_ppm) {
                        c.deletes.push(m.key());
                        c.notices.push(notice(Kind::Reset, m.clone()));
                    }
                }
                for &t in def.thresholds_ppm.iter() {
                    let mark = Mark {
                        budget: def.name.to_string(),
                        group: group.clone(),
                        period_start: start,
                        threshold_ppm: t,
                    };
                    if reached(st, t) && !self.set.contains(&mark) {
                        c.puts.push(mark.key());
                        c.notices.push(notice(Kind::Crossed, mark));
                    }
                }
            }
        }
        // Budgets no longer configured: their marks go quietly.
        let configured = |b: &str| statuses.iter().any(|(d, _)| &*d.name == b);
        for m in &self.set {
            if !configured(&m.budget) {
                c.deletes.push(m.key());
            }
        }
        c
    }

    pub fn apply(&mut self, c: &Changes) {
        for k in &c.deletes {
            if let Ok(m) = Mark::decode(k) {
                self.set.remove(&m);
            }
        }
        for k in &c.puts {
            if let Ok(m) = Mark::decode(k) {
                self.set.insert(m);
            }
        }
    }
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// An Alertmanager webhook payload (version 4) for one notice, so receivers written for
/// Alertmanager work unchanged: `MeterdBudgetThreshold`, firing on a crossing, resolved on reset.
pub fn webhook_body(n: &Notice, now: i64) -> Value {
    let m = &n.mark;
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), json!("MeterdBudgetThreshold"));
    labels.insert("budget".into(), json!(m.budget));
    labels.insert("period".into(), json!(n.period));
    labels.insert("threshold".into(), json!(format!("{}", n.threshold())));
    for (k, v) in &m.group {
        labels.insert(k.clone(), json!(v));
    }
    let status = match n.kind {
        Kind::Crossed => "firing",
        Kind::Reset => "resolved",
    };
    let spend = n.spend_nanos as f64 / 1e9;
    let limit = n.limit_nanos as f64 / 1e9;
    let summary = match n.kind {
        Kind::Crossed => format!(
            "budget {} reached {:.0}% of {limit} USD ({spend} USD spent)",
            m.budget,
            n.threshold() * 100.0
        ),
        Kind::Reset => format!(
            "budget {} is back under {:.0}% (period reset or spend reset)",
            m.budget,
            n.threshold() * 100.0
        ),
    };
    let fingerprint = blake3::hash(&m.key()).to_hex()[..16].to_string();
    let starts = if m.period_start > 0 {
        m.period_start
    } else {
        now
    };
    let alert = json!({
        "status": status,
        "labels": labels,
        "annotations": {"summary": summary, "spend_usd": format!("{spend}"), "limit_usd": format!("{limit}")},
        "startsAt": rfc3339(starts),
        "endsAt": if n.kind == Kind::Reset { rfc3339(now) } else { "0001-01-01T00:00:00Z".to_string() },
        "generatorURL": "",
        "fingerprint": fingerprint,
    });
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{budget=\"{}\"}}", m.budget),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "meterd",
        "groupLabels": {"budget": m.budget},
        "commonLabels": labels,
        "commonAnnotations": {"summary": summary},
        "externalURL": "",
        "alerts": [alert],
    })
}

pub use super::notify_slack::slack_body;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::budget::matcher::CallLabels;
    use crate::derive::budget::{BudgetConfig, Budgets};
    use crate::model::Labels;

    const NOW: i64 = 1_796_552_400;

    fn budgets() -> Budgets {
        let c = BudgetConfig {
            name: "all".into(),
            period: "monthly".into(),
            limit_usd: 1.0,
            thresholds: vec![0.5, 0.8],
            ..Default::default()
        };
        Budgets::in_memory(&[Arc::new(BudgetDef::compile(&c).unwrap())], NOW)
    }

    fn spend(b: &Budgets, nanos: u64, now: i64) {
        let scope = Labels::empty();
        let call = CallLabels {
            scope: &scope,
            provider: "p",
            model: "m",
        };
        b.record(
            &call,
            nanos,
            now,
            &mut crate::derive::budget::Touched::default(),
        );
    }

    fn step(marks: &mut Marks, b: &Budgets, now: i64) -> Vec<(Kind, u64)> {
        let c = marks.observe(&b.statuses(now));
        marks.apply(&c);
        c.notices
            .iter()
            .map(|n| (n.kind, n.mark.threshold_ppm))
            .collect()
    }

    #[test]
    fn each_threshold_is_announced_once_per_period_and_reset_once() {
        let b = budgets();
        let mut marks = Marks::default();
        assert!(step(&mut marks, &b, NOW).is_empty());
        spend(&b, 600_000_000, NOW);
        assert_eq!(step(&mut marks, &b, NOW), [(Kind::Crossed, 500_000)]);
        assert!(step(&mut marks, &b, NOW).is_empty(), "announced once");
        // Two thresholds at once: both, in order.
        spend(&b, 500_000_000, NOW);
        assert_eq!(
            step(&mut marks, &b, NOW),
            [(Kind::Crossed, 800_000), (Kind::Crossed, 1_000_000)]
        );
        // Marks survive a restart as keys.
        let keys: Vec<Vec<u8>> = marks.set.iter().map(Mark::key).collect();
        let (mut again, bad) = Marks::restore(&keys);
        assert_eq!((again.len(), bad), (3, 0));
        assert!(
            step(&mut again, &b, NOW).is_empty(),
            "not announced again after a restart"
        );
        // Next month: every mark is reset once.
        let next = NOW + 31 * 86_400;
        let resets = step(&mut again, &b, next);
        assert_eq!(resets.len(), 3);
        assert!(resets.iter().all(|(k, _)| *k == Kind::Reset));
        assert!(step(&mut again, &b, next).is_empty());
        assert!(again.is_empty());
    }

    #[test]
    fn a_thresholds_severity_is_the_status_it_gives_the_budget() {
        let def = |t: Vec<f64>| {
            let c = BudgetConfig {
                name: "b".into(),
                period: "monthly".into(),
                limit_usd: 1.0,
                thresholds: t,
                ..Default::default()
            };
            BudgetDef::compile(&c).unwrap()
        };
        let d = def(vec![0.5, 0.8, 0.9, 1.0]);
        let sev: Vec<Severity> = [500_000, 800_000, 900_000, 1_000_000]
            .iter()
            .map(|t| severity(&d, *t))
            .collect();
        use Severity::*;
        assert_eq!(sev, [Warning, Warning, Critical, Exceeded]);
        // One threshold below the limit: a warning, as the budget's status says.
        assert_eq!(severity(&def(vec![0.8]), 800_000), Warning);
        assert_eq!(severity(&def(vec![0.8]), 1_000_000), Exceeded);
        // The statuses agree: a budget at 90% of [0.5, 0.8, 0.9] is critical.
        let b = Budgets::in_memory(&[Arc::new(d)], NOW);
        spend(&b, 900_000_000, NOW);
        let statuses = b.statuses(NOW);
        assert_eq!(statuses[0].1[0].level().as_str(), "critical");
    }

    #[test]
    fn the_payload_is_alertmanager_shaped() {
        let n = Notice {
            kind: Kind::Crossed,
            mark: Mark {
                budget: "search".into(),
                group: vec![("team".into(), "a".into())],
                period_start: NOW,
                threshold_ppm: 800_000,
            },
            period: "monthly",
            spend_nanos: 850_000_000,
            limit_nanos: 1_000_000_000,
            forecast_nanos: 1_200_000_000,
            severity: Severity::Warning,
        };
        let v = webhook_body(&n, NOW);
        assert_eq!(v["version"], "4");
        assert_eq!(v["status"], "firing");
        let a = &v["alerts"][0];
        assert_eq!(a["labels"]["alertname"], "MeterdBudgetThreshold");
        assert_eq!(a["labels"]["threshold"], "0.8");
        assert_eq!(a["labels"]["team"], "a");
        assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
        assert!(Mark::decode(b"[1,2]").is_err());
    }
}
