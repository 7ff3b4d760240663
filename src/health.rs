//! Readiness: named checks that the parts of meterd set (config loaded, listeners bound, state
//! writable) and `/readyz` reports.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Readiness checks by name; each either passes or says why not. Degradations (the memory guard
/// shedding new series) are reported on `/readyz` without failing it: meterd still serves.
#[derive(Default)]
pub struct Health {
    checks: Mutex<BTreeMap<&'static str, Result<(), String>>>,
    degraded: Mutex<BTreeMap<&'static str, String>>,
}

impl Health {
    pub fn set(&self, check: &'static str, result: Result<(), String>) {
        if let Ok(mut c) = self.checks.lock() {
            c.insert(check, result);
        }
    }

    /// Sets (`Some`) or clears (`None`) a degradation named `what`.
    pub fn degrade(&self, what: &'static str, why: Option<String>) {
        if let Ok(mut d) = self.degraded.lock() {
            match why {
                Some(w) => d.insert(what, w),
                None => d.remove(what),
            };
        }
    }

    pub fn degradations(&self) -> Vec<(String, String)> {
        self.degraded
            .lock()
            .map(|d| d.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Every check by name, with its failure if it fails (the status page lists them all).
    pub fn checks(&self) -> Vec<(String, Result<(), String>)> {
        self.checks
            .lock()
            .map(|c| c.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Ready when at least one check is registered and none fails.
    pub fn failures(&self) -> Vec<(String, String)> {
        match self.checks.lock() {
            Ok(c) if c.is_empty() => vec![("startup".into(), "not started yet".into())],
            Ok(c) => c
                .iter()
                .filter_map(|(k, v)| v.as_ref().err().map(|e| (k.to_string(), e.clone())))
                .collect(),
            Err(_) => vec![("health".into(), "health registry poisoned".into())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degradations_are_listed_until_cleared_and_never_fail_readiness() {
        let h = Health::default();
        h.set("config", Ok(()));
        h.degrade("memory", Some("shedding new series".into()));
        assert!(h.failures().is_empty());
        assert_eq!(
            h.degradations(),
            vec![("memory".to_string(), "shedding new series".to_string())]
        );
        h.degrade("memory", None);
        assert!(h.degradations().is_empty());
    }
}
