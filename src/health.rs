//! Readiness: named checks that the parts of meterd set (config loaded, listeners bound, state
//! writable) and `/readyz` reports.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Readiness checks by name; each either passes or says why not.
#[derive(Default)]
pub struct Health {
    checks: Mutex<BTreeMap<&'static str, Result<(), String>>>,
}

impl Health {
    pub fn set(&self, check: &'static str, result: Result<(), String>) {
        if let Ok(mut c) = self.checks.lock() {
            c.insert(check, result);
        }
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
