//! A recommendation's status as set over the admin API, its stored form, and the resurface rule:
//! a dismissed recommendation is shown as open again once its saving reaches
//! `resurface_factor` times the saving it had when dismissed (and is positive); an implemented
//! one keeps that status (listed with `?status=implemented` or `all`).

use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Open,
    Dismissed,
    Implemented,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Dismissed => "dismissed",
            Status::Implemented => "implemented",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "dismissed" => Some(Status::Dismissed),
            "implemented" => Some(Status::Implemented),
            _ => None,
        }
    }
}

/// What the state file keeps per recommendation id.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub status: Status,
    /// The monthly saving when the status was set (femto-USD).
    pub savings_femto: i128,
    /// The admin token's name.
    pub who: String,
    /// Unix seconds.
    pub at: i64,
}

impl Stored {
    pub fn encode(&self) -> Vec<u8> {
        json!({
            "status": self.status.as_str(),
            "savings_femto": self.savings_femto.to_string(),
            "who": self.who,
            "at": self.at,
        })
        .to_string()
        .into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Stored, String> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("recommendation status: {e}"))?;
        let status = v["status"]
            .as_str()
            .and_then(Status::parse)
            .ok_or_else(|| format!("recommendation status: bad status {}", v["status"]))?;
        let savings_femto = v["savings_femto"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("recommendation status: bad saving {}", v["savings_femto"]))?;
        Ok(Stored {
            status,
            savings_femto,
            who: v["who"].as_str().unwrap_or_default().to_string(),
            at: v["at"].as_i64().unwrap_or(0),
        })
    }
}

/// The status shown for a recommendation saving `savings` now, and whether it resurfaced.
pub fn resolve(stored: Option<&Stored>, savings: i128, factor: f64) -> (Status, bool) {
    let Some(s) = stored else {
        return (Status::Open, false);
    };
    match s.status {
        Status::Open => (Status::Open, false),
        Status::Implemented => (Status::Implemented, false),
        Status::Dismissed => {
            let base = s.savings_femto.max(0) as f64;
            let grown = savings > 0 && savings > s.savings_femto && savings as f64 >= factor * base;
            if grown {
                (Status::Open, true)
            } else {
                (Status::Dismissed, false)
            }
        }
    }
}
