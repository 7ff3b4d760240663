//! Error messages a person can act on: a misspelt key names the key it resembles (and the value
//! it carried is not reported missing as well), a duplicate key says which and where, an unset
//! environment variable is one error, a port out of range says so.

use super::ConfigError;
use crate::config::{auth, budget, fleet, otlp, pricing, quality, redact, statsd, tls};
use crate::config::{Config, Limits, Listeners, StateConfig};
use serde::de::{self, Deserialize, Visitor};

/// A deserializer that only records the field names a struct asks for, then stops.
struct FieldProbe<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The keys a config struct accepts, as serde knows them.
fn fields_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

/// The keys accepted under `parent` (a key path with list indexes and map keys written `[]`/`*`).
fn known_keys(parent: &str) -> &'static [&'static str] {
    match parent {
        "" => fields_of::<Config>(),
        "listeners" => fields_of::<Listeners>(),
        "limits" => fields_of::<Limits>(),
        "state" => fields_of::<StateConfig>(),
        "statsd" => fields_of::<statsd::StatsdConfig>(),
        "statsd.mappings[]" => fields_of::<statsd::MappingConfig>(),
        "otlp" => fields_of::<otlp::OtlpConfig>(),
        "otlp.dedup" => fields_of::<otlp::DedupConfig>(),
        "pricing" => fields_of::<pricing::PricingTable>(),
        "pricing.models[]" | "models[]" => fields_of::<pricing::ModelEntry>(),
        "budgets[]" => fields_of::<budget::BudgetConfig>(),
        "fleet" => fields_of::<fleet::FleetConfig>(),
        "quality" => fields_of::<quality::QualityConfig>(),
        "quality.grades" => fields_of::<quality::Grades>(),
        "quality.default_scale" | "quality.evaluations.*.scale" => fields_of::<quality::Scale>(),
        "quality.evaluations.*" => fields_of::<quality::EvaluationConfig>(),
        "redact[]" => fields_of::<redact::RedactRule>(),
        "http_auth" => fields_of::<auth::AuthConfig>(),
        "admin" => fields_of::<auth::AdminConfig>(),
        "ui" => fields_of::<crate::config::ui::UiConfig>(),
        "tls" => fields_of::<tls::TlsListeners>(),
        "tls.otlp_grpc" | "tls.otlp_http" | "tls.http" | "tls.statsd_tcp" => {
            fields_of::<tls::TlsConfig>()
        }
        _ => &[],
    }
}

/// `budgets[0].limt_usd` -> (`budgets[]`, `limt_usd`); map keys of known maps become `*`.
fn split(path: &str) -> (String, &str) {
    let (parent, key) = match path.rfind(['.', '[']) {
        Some(i) if path.as_bytes()[i] == b'.' => (&path[..i], &path[i + 1..]),
        _ => ("", path),
    };
    let mut normal = String::with_capacity(parent.len());
    let mut in_index = false;
    for c in parent.chars() {
        match c {
            '[' => {
                in_index = true;
                normal.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => normal.push(c),
        }
    }
    if let Some(rest) = normal.strip_prefix("quality.evaluations.") {
        let tail = rest.split_once('.').map_or("", |(_, t)| t);
        normal = format!(
            "quality.evaluations.*{}",
            if tail.is_empty() {
                String::new()
            } else {
                format!(".{tail}")
            }
        );
    }
    (normal, key)
}

/// The message for an unknown key, and the known key it was probably meant to be.
pub(super) fn unknown_key(path: &str) -> (String, Option<&'static str>) {
    let (parent, key) = split(path);
    let key = key.trim_end_matches(']');
    match crate::names::closest(key, known_keys(&parent).iter().copied()) {
        Some(near) => (
            format!("unknown key `{key}`; did you mean `{near}`?"),
            Some(near),
        ),
        None => (format!("unknown key `{key}`"), None),
    }
}

/// The path a misspelt key at `path` was meant to have (`budgets[0].limit_usd`).
pub(super) fn meant(path: &str, near: &str) -> String {
    match path.rfind('.') {
        Some(i) => format!("{}.{near}", &path[..i]),
        None => near.to_string(),
    }
}

/// Drops what other errors already explain in other words: a problem with the key a misspelling
/// was meant to be (its value sits under the misspelt key), and a parse or validation error on the
/// line of an unset environment variable (the value is empty because of it).
pub(super) fn without_echoes(errors: Vec<ConfigError>) -> Vec<ConfigError> {
    let meant_paths: Vec<String> = errors
        .iter()
        .filter_map(|e| {
            let near = e
                .message
                .split("; did you mean `")
                .nth(1)?
                .split('`')
                .next()?;
            Some(meant(&e.path, near))
        })
        .collect();
    let env_lines: Vec<(&str, usize)> = errors
        .iter()
        .filter(|e| e.path.is_empty() && e.message.starts_with(ENV_UNSET))
        .map(|e| (e.file.as_str(), e.line))
        .collect();
    let keep: Vec<bool> = errors
        .iter()
        .map(|e| {
            let echo_of_typo = meant_paths
                .iter()
                .any(|m| e.path == *m || e.path.starts_with(&format!("{m}.")));
            let echo_of_env = !e.path.is_empty() && env_lines.contains(&(e.file.as_str(), e.line));
            !(echo_of_typo || echo_of_env)
        })
        .collect();
    errors
        .into_iter()
        .zip(keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect()
}

/// How env.rs words an unset variable.
const ENV_UNSET: &str = "environment variable ";

/// Rewrites the YAML parser's wording for what a person sees: a duplicate key, a port out of
/// range. `value` is the text at the error's position.
pub(super) fn parse_error(
    message: String,
    path: &str,
    first_at: Option<usize>,
    value: &str,
) -> String {
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return match first_at {
            Some(line) => {
                format!("duplicate key `{key}` (already set at line {line}); keep one of the two")
            }
            None => format!("duplicate key `{key}`; keep one of the two"),
        };
    }
    if message.contains("socket address") {
        let value = value
            .trim()
            .trim_matches(|c| matches!(c, '"' | '\'' | ',' | '}' | ' '));
        if let Some((_, port)) = value.rsplit_once(':') {
            if let Ok(n) = port.parse::<u64>() {
                if n > u64::from(u16::MAX) {
                    return format!(
                        "port {n} is out of range (0-65535; 0 picks a free port) in {value:?}"
                    );
                }
            }
        }
        return format!(
            "{value:?} is not an address: write host:port, e.g. 127.0.0.1:9464 ({path})"
        );
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_come_from_the_structs_themselves() {
        assert!(known_keys("").contains(&"listeners"));
        assert!(known_keys("budgets[]").contains(&"limit_usd"));
        assert!(known_keys("quality.evaluations.*").contains(&"scale"));
        assert_eq!(
            split("budgets[3].limt_usd"),
            ("budgets[]".to_string(), "limt_usd")
        );
        assert_eq!(
            split("quality.evaluations.relevance.scael"),
            ("quality.evaluations.*".to_string(), "scael")
        );
        assert_eq!(split("listners"), (String::new(), "listners"));
    }

    #[test]
    fn unknown_keys_get_a_did_you_mean() {
        assert_eq!(
            unknown_key("budgets[0].limt_usd"),
            (
                "unknown key `limt_usd`; did you mean `limit_usd`?".to_string(),
                Some("limit_usd")
            )
        );
        assert_eq!(
            unknown_key("listners").0,
            "unknown key `listners`; did you mean `listeners`?"
        );
        assert_eq!(
            unknown_key("no_such_setting").0,
            "unknown key `no_such_setting`"
        );
        assert_eq!(
            meant("budgets[0].limt_usd", "limit_usd"),
            "budgets[0].limit_usd"
        );
    }
}
