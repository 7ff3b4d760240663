//! `redact:`: label redaction rules as written (applied by `derive::redact::Redactor`).

use super::{child, index, Issues, Validate};
use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RedactAction {
    #[default]
    Drop,
    Hash,
    Replace,
}

#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct RedactRule {
    pub label: String,
    pub action: RedactAction,
    /// For `replace`.
    pub replacement: Option<String>,
    /// For `hash`: the secret key (use `${ENV}`); at least 16 characters.
    pub key: Option<String>,
}

/// The hash key is a secret: printed configs show that one is set, never its value.
impl std::fmt::Debug for RedactRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactRule")
            .field("label", &self.label)
            .field("action", &self.action)
            .field("replacement", &self.replacement)
            .field("key", &self.key.as_ref().map(|_| super::auth::REDACTED))
            .finish()
    }
}

const MIN_KEY_LEN: usize = 16;

impl Validate for Vec<RedactRule> {
    fn validate(&self, path: &str, issues: &mut Issues) {
        for (i, r) in self.iter().enumerate() {
            let p = index(path, i);
            if !crate::names::is_valid_label_name(&r.label) {
                issues.error(
                    child(&p, "label"),
                    format!("{:?} is not a valid label name", r.label),
                );
            }
            match r.action {
                RedactAction::Hash if r.key.as_deref().map_or(0, str::len) < MIN_KEY_LEN => issues
                    .error(
                        child(&p, "key"),
                        format!("`hash` needs a secret `key` of at least {MIN_KEY_LEN} characters"),
                    ),
                RedactAction::Replace if r.replacement.is_none() => issues.error(
                    child(&p, "replacement"),
                    "`replace` needs a `replacement` value",
                ),
                _ => {}
            }
        }
    }
}
