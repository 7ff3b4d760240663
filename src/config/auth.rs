//! Credentials: `http_auth` (scrape and API), `otlp.auth` (ingest) and `admin` (admin actions),
//! as written. Checking a request against them is `net::auth` / `expose::admin`.

use super::{child, index, Issues, Validate};
use serde::Deserialize;
use std::fmt;

#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AuthConfig {
    /// Any of these tokens is accepted as `Authorization: Bearer <token>`.
    pub bearer_tokens: Vec<String>,
    /// Any of these is accepted as `Authorization: Basic base64(user:password)`.
    pub basic: Vec<BasicCredential>,
}

#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct BasicCredential {
    pub username: String,
    pub password: String,
}

/// Stands in for a secret wherever a config is printed: configs are logged and shown in panics
/// and test failures, and none of those may carry a credential.
pub const REDACTED: &str = "<redacted>";

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("bearer_tokens", &vec![REDACTED; self.bearer_tokens.len()])
            .field("basic", &self.basic)
            .finish()
    }
}

impl fmt::Debug for BasicCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredential")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .finish()
    }
}

/// Shorter secrets are guessable online; refuse them rather than give false comfort.
pub const MIN_SECRET_LEN: usize = 16;

impl Validate for AuthConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        for (i, t) in self.bearer_tokens.iter().enumerate() {
            if t.len() < MIN_SECRET_LEN {
                issues.error(
                    index(&child(path, "bearer_tokens"), i),
                    format!("a token must be at least {MIN_SECRET_LEN} characters"),
                );
            }
        }
        for (i, b) in self.basic.iter().enumerate() {
            let p = index(&child(path, "basic"), i);
            if b.username.is_empty() || b.username.contains(':') {
                issues.error(
                    child(&p, "username"),
                    "must be non-empty and contain no ':'",
                );
            }
            if b.password.len() < MIN_SECRET_LEN {
                issues.error(
                    child(&p, "password"),
                    format!("must be at least {MIN_SECRET_LEN} characters"),
                );
            }
        }
    }
}

impl AuthConfig {
    /// Every secret with its key path (bearer tokens, basic passwords), for overlap checks.
    pub fn secrets<'a>(&'a self, path: &str) -> Vec<(String, &'a str)> {
        let tokens = self
            .bearer_tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (index(&child(path, "bearer_tokens"), i), t.as_str()));
        let passwords = self.basic.iter().enumerate().map(|(i, b)| {
            let at = index(&child(path, "basic"), i);
            (child(&at, "password"), b.password.as_str())
        });
        tokens.chain(passwords).collect()
    }

    pub fn enabled(&self) -> bool {
        !self.bearer_tokens.is_empty() || !self.basic.is_empty()
    }
}

#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdminConfig {
    pub tokens: Vec<AdminToken>,
}

/// A named token: the name is what the audit log records.
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdminToken {
    pub name: String,
    pub token: String,
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("name", &self.name)
            .field("token", &REDACTED)
            .finish()
    }
}

impl AdminConfig {
    /// Checks the tokens, and that none is also a credential of `others` (`http_auth`,
    /// `otlp.auth`): whoever may scrape or send must not thereby be able to act. Messages name
    /// the keys, never the secret.
    pub fn validate_against(
        &self,
        path: &str,
        others: &[(String, &AuthConfig)],
        issues: &mut Issues,
    ) {
        for (i, t) in self.tokens.iter().enumerate() {
            let at = index(&child(path, "tokens"), i);
            if t.name.is_empty() {
                issues.error(child(&at, "name"), "is required (the audit log records it)");
            } else if self.tokens[..i].iter().any(|o| o.name == t.name) {
                issues.error(child(&at, "name"), format!("duplicate name {:?}", t.name));
            }
            if t.token.len() < MIN_SECRET_LEN {
                issues.error(
                    child(&at, "token"),
                    format!("must be at least {MIN_SECRET_LEN} characters"),
                );
            }
            if self.tokens[..i].iter().any(|o| o.token == t.token) {
                issues.error(child(&at, "token"), "the same token is listed twice");
            }
            for (other_path, auth) in others {
                for (key, secret) in auth.secrets(other_path) {
                    if secret == t.token {
                        issues.error(
                            child(&at, "token"),
                            format!("is also used as {key}; admin tokens must be distinct"),
                        );
                    }
                }
            }
        }
    }
}
