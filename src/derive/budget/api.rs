//! Budgets created over the admin API (issue #26), the pure part: the JSON body checked field by
//! field, the stored form, and the merge with the config's budgets into the one set the engine
//! runs. The HTTP edge is `expose::admin::budgets`, the redb table `state::api_budgets`, the
//! read-compile-commit-swap under one lock `pipeline::api_budgets`.
//!
//! - A body is the JSON form of a config budget entry. Every problem is reported at once, by JSON
//!   path (`limit_usd`, `match.team`, `thresholds[2]`), in check-config's words: type errors are
//!   serde's, and the budget is compiled by [`super::compile_one`], the step config budgets take.
//! - Config budgets are authoritative: an API budget whose name the config (newly) uses is
//!   [`State::Shadowed`] and does not run; one whose stored definition no longer compiles (an
//!   upgrade) is [`State::Invalid`], kept and reported, never dropped. Either way its spend
//!   records are kept as orphaned by the engine.
//! - An API budget's matchers are part of its shape ([`super::BudgetDef::shape_match`]).

use super::{compile_one, BudgetConfig, BudgetDef};
use crate::config::Issues;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Longest budget name accepted over the API: it becomes a label value and a URL path segment.
pub const MAX_NAME_BYTES: usize = 64;
/// Most budgets the API keeps (each one costs gauges and check work on every call).
pub const MAX_API_BUDGETS: usize = 1000;
/// Largest request body, in bytes; a budget definition is a few hundred.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The version of the stored record format.
pub const STORED_FORMAT: u32 = 1;

/// The keys a body may have: those of a config budget entry (a unit test keeps them in step).
pub const FIELDS: &[&str] = &[
    "name",
    "match",
    "period",
    "timezone",
    "limit_usd",
    "thresholds",
    "group_by",
    "max_groups",
    "fleet_query",
];

/// One problem with a budget definition, by JSON path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Names become label values and URL path segments: ASCII letters, digits, `.`, `_`, `-`,
/// starting with a letter or digit, at most [`MAX_NAME_BYTES`].
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is required".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "is {} bytes long; at most {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || !name.chars().all(ok) {
        return Err(format!(
            "{name:?}: use ASCII letters, digits, '.', '_' and '-', starting with a letter or digit"
        ));
    }
    Ok(())
}

/// Reads one field with serde, so a type error reads as it does in check-config.
fn field<T: for<'de> Deserialize<'de>>(
    v: &Value,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> Option<T> {
    match T::deserialize(v) {
        Ok(t) => Some(t),
        Err(e) => {
            errs.push(err(path, e.to_string()));
            None
        }
    }
}

/// Reads a list element by element, so each bad element is named (`thresholds[2]`); a bad element
/// becomes `stand_in`, so later elements keep their index in what compiling reports.
fn list<T: for<'de> Deserialize<'de> + Clone>(
    v: &Value,
    path: &str,
    stand_in: T,
    errs: &mut Vec<FieldError>,
) -> Vec<T> {
    let Value::Array(items) = v else {
        return field(v, path, errs).unwrap_or_default();
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| field(item, &format!("{path}[{i}]"), errs).unwrap_or(stand_in.clone()))
        .collect()
}

/// A definition from a parsed body, every problem by JSON path: unknown keys (with the key
/// probably meant), wrong types, then what compiling finds in the fields that did parse.
pub fn definition(
    body: &Value,
    scope_labels: &[String],
) -> Result<(BudgetConfig, BudgetDef), Vec<FieldError>> {
    let Value::Object(map) = body else {
        return Err(vec![err(
            "",
            "the body must be a JSON object: a budget as in the config's `budgets:` list",
        )]);
    };
    let mut errs = Vec::new();
    let mut c = BudgetConfig::default();
    for (key, v) in map {
        match key.as_str() {
            "name" => c.name = field(v, key, &mut errs).unwrap_or_default(),
            "match" => {
                if let Value::Object(m) = v {
                    for (label, spec) in m {
                        if let Some(s) = field::<String>(spec, &format!("match.{label}"), &mut errs)
                        {
                            c.matchers.insert(label.clone(), s);
                        }
                    }
                } else {
                    field::<BTreeMap<String, String>>(v, key, &mut errs);
                }
            }
            "period" => c.period = field(v, key, &mut errs).unwrap_or_default(),
            "timezone" => {
                if let Some(tz) = field(v, key, &mut errs) {
                    c.timezone = tz;
                }
            }
            "limit_usd" => c.limit_usd = field(v, key, &mut errs).unwrap_or(0.0),
            "thresholds" => c.thresholds = list(v, key, 1.0, &mut errs),
            "group_by" => c.group_by = list(v, key, "provider".to_string(), &mut errs),
            "max_groups" => c.max_groups = field(v, key, &mut errs).unwrap_or(1000),
            "fleet_query" => c.fleet_query = field(v, key, &mut errs).unwrap_or_default(),
            other => {
                let msg = match crate::names::closest(other, FIELDS.iter().copied()) {
                    Some(near) => format!("unknown key `{other}`; did you mean `{near}`?"),
                    None => format!("unknown key `{other}`"),
                };
                errs.push(err(other, msg));
            }
        }
    }
    if !c.name.is_empty() {
        if let Err(e) = check_name(&c.name) {
            errs.push(err("name", e));
        }
    }
    let typed: Vec<String> = errs.iter().map(|e| e.field.clone()).collect();
    let mut issues = Issues::default();
    let def = compile_one(&c, scope_labels, "", &mut issues);
    // A field that did not parse is reported once, as the type error.
    errs.extend(
        issues
            .0
            .into_iter()
            .filter(|i| !typed.iter().any(|t| covers(t, &i.path)))
            .map(|i| err(i.path, i.message)),
    );
    match def {
        Some(mut def) if errs.is_empty() => {
            def.shape_match = Some(shape_match(&c).into());
            Ok((c, def))
        }
        _ => Err(errs),
    }
}

/// Whether an error at `outer` already covers one at `inner` (`thresholds` covers `thresholds[1]`).
fn covers(outer: &str, inner: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with(['.', '[']))
}

/// An API budget's matchers as part of its shape: canonical JSON (sorted keys).
pub fn shape_match(c: &BudgetConfig) -> String {
    serde_json::to_string(&c.matchers).unwrap_or_default()
}

/// One API budget as stored (JSON bytes in the state file's `api_budgets` table).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stored {
    pub v: u32,
    /// The definition as accepted (defaults filled in): kept as JSON so that a definition a
    /// later meterd cannot compile is still shown, and can be fixed or deleted.
    pub definition: Value,
    /// Changes on every update; the HTTP `ETag`. Never reused, even after a delete.
    pub version: u64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    /// Why the stored bytes could not be read (then `definition` holds them as text).
    #[serde(skip)]
    pub unreadable: Option<String>,
}

pub fn encode(s: &Stored) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_default()
}

/// Reads a stored record. Never fails: a record that cannot be read is kept (as text) and
/// reported, so it can be deleted or replaced, rather than stopping start-up or vanishing.
pub fn decode(bytes: &[u8]) -> Stored {
    let unreadable = |why: String| Stored {
        v: STORED_FORMAT,
        definition: Value::String(String::from_utf8_lossy(bytes).into_owned()),
        version: 0,
        created_at: 0,
        created_by: String::new(),
        updated_at: 0,
        updated_by: String::new(),
        unreadable: Some(why),
    };
    match serde_json::from_slice::<Stored>(bytes) {
        Ok(s) if s.v == STORED_FORMAT => s,
        Ok(s) => unreadable(format!(
            "stored format {} (this meterd reads {STORED_FORMAT})",
            s.v
        )),
        Err(e) => unreadable(format!("undecodable stored record: {e}")),
    }
}

/// Whether an API budget runs, and if not, why.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    Active,
    /// The config defines a budget of this name: the config's runs.
    Shadowed,
    /// The stored definition does not compile (any more): every problem.
    Invalid(Vec<FieldError>),
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Active => "active",
            State::Shadowed => "shadowed",
            State::Invalid(_) => "invalid",
        }
    }
}

/// The budgets the engine runs (config first, then active API budgets) and each API budget's state.
pub struct Merged {
    pub defs: Vec<Arc<BudgetDef>>,
    pub states: BTreeMap<String, State>,
}

/// Merges the config's compiled budgets with the stored API budgets: the one budget set used at
/// start, on every reload and on every API change.
pub fn merge(
    config: &[Arc<BudgetDef>],
    api: &BTreeMap<String, Stored>,
    scope_labels: &[String],
) -> Merged {
    let mut defs = config.to_vec();
    let mut states = BTreeMap::new();
    for (name, stored) in api {
        let state = if config.iter().any(|d| *d.name == **name) {
            State::Shadowed
        } else if let Some(why) = &stored.unreadable {
            State::Invalid(vec![err("", why.clone())])
        } else {
            match definition(&stored.definition, scope_labels) {
                Ok((c, def)) if c.name == *name => {
                    defs.push(Arc::new(def));
                    State::Active
                }
                Ok((c, _)) => State::Invalid(vec![err(
                    "name",
                    format!("{:?} differs from the key it is stored under", c.name),
                )]),
                Err(errs) => State::Invalid(errs),
            }
        };
        states.insert(name.clone(), state);
    }
    Merged { defs, states }
}

/// Whether an `If-Match` header allows a change to the budget at `current` (RFC 9110: `*`, or a
/// list of strong entity tags; a weak tag never matches). No header: allowed (last writer wins).
pub fn if_match_allows(header: Option<&str>, current: u64) -> bool {
    let Some(h) = header else {
        return true;
    };
    h.split(',').map(str::trim).any(|tag| {
        tag == "*"
            || tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .is_some_and(|t| t.parse::<u64>() == Ok(current))
    })
}

/// The `ETag` of a version.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests;
