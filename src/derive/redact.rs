//! Label redaction, applied to every sample and event before anything is stored: PII such as user
//! ids or emails is dropped, replaced, or hashed with a keyed hash (so equal values still group
//! together, but nobody without the key can test a guess).
//!
//! A rule names a label loosely: it matches every label name that is the same once case and
//! punctuation are ignored (`email` matches `Email`, `EMAIL`, `e-mail` and `e_mail`; `user_id`
//! matches `user.id` and `UserId`). Senders spell attributes every way and names are sanitized on
//! the way in (`user.id` becomes `user_id`), so an exact match would let PII through on a
//! spelling; redacting a look-alike label is the safe mistake. Exemplar labels are redacted by the
//! same rules as series labels: they reach `/metrics` too.

pub use crate::config::redact::{RedactAction, RedactRule};
use crate::model::{Exemplar, Labels};

enum Compiled {
    Drop,
    Hash([u8; 32]),
    Replace(Box<str>),
}

/// Rules compiled from one config snapshot, keyed by the folded label name.
#[derive(Default)]
pub struct Redactor {
    rules: Box<[(Box<str>, Compiled)]>,
}

/// The characters of a label name that matter for matching: ASCII alphanumerics, lower-cased.
fn folded(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
}

/// Whether `name` folds to `rule` (already folded), without allocating.
fn matches(rule: &str, name: &str) -> bool {
    folded(name).eq(rule.chars())
}

impl Redactor {
    pub fn new(rules: &[RedactRule]) -> Redactor {
        Redactor {
            rules: rules
                .iter()
                .map(|r| {
                    let compiled = match r.action {
                        RedactAction::Drop => Compiled::Drop,
                        RedactAction::Hash => Compiled::Hash(blake3::derive_key(
                            "meterd label redaction v1",
                            r.key.as_deref().unwrap_or_default().as_bytes(),
                        )),
                        RedactAction::Replace => {
                            Compiled::Replace(r.replacement.as_deref().unwrap_or("redacted").into())
                        }
                    };
                    (
                        folded(&r.label).collect::<String>().into_boxed_str(),
                        compiled,
                    )
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a label set with these names would be changed by [`Redactor::apply`].
    pub fn touches<'a>(&self, mut names: impl Iterator<Item = &'a str>) -> bool {
        !self.rules.is_empty() && names.any(|n| self.rule(n).is_some())
    }

    fn rule(&self, name: &str) -> Option<&Compiled> {
        self.rules
            .iter()
            .find(|(l, _)| matches(l, name))
            .map(|(_, c)| c)
    }

    /// The exemplar with its labels redacted, or `None` when no rule touches them.
    pub fn apply_exemplar(&self, exemplar: &Exemplar) -> Option<Exemplar> {
        self.apply(&exemplar.labels).map(|labels| Exemplar {
            labels,
            ..exemplar.clone()
        })
    }

    /// The redacted label set, or `None` when no rule touches these labels (the common case,
    /// which must not allocate).
    pub fn apply(&self, labels: &Labels) -> Option<Labels> {
        if !self.touches(labels.names()) {
            return None;
        }
        let mut out: Vec<(String, String)> = Vec::with_capacity(labels.len());
        for (k, v) in labels.iter() {
            match self.rule(k) {
                None => out.push((k.into(), v.into())),
                Some(Compiled::Drop) => {}
                Some(Compiled::Replace(r)) => out.push((k.into(), r.to_string())),
                Some(Compiled::Hash(key)) => {
                    let h = blake3::keyed_hash(key, v.as_bytes());
                    let hex = h.to_hex();
                    out.push((k.into(), format!("h:{}", &hex.as_str()[..16])));
                }
            }
        }
        Some(Labels::new(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Issues, Validate};

    fn rules() -> Vec<RedactRule> {
        vec![
            RedactRule {
                label: "email".into(),
                action: RedactAction::Drop,
                ..Default::default()
            },
            RedactRule {
                label: "user".into(),
                action: RedactAction::Hash,
                key: Some("a-long-secret-key-0001".into()),
                ..Default::default()
            },
            RedactRule {
                label: "prompt".into(),
                action: RedactAction::Replace,
                replacement: Some("[removed]".into()),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn drops_hashes_and_replaces() {
        let r = Redactor::new(&rules());
        let l = Labels::new([
            ("email", "a@b.c"),
            ("user", "u-42"),
            ("prompt", "hi"),
            ("team", "x"),
        ]);
        let out = r.apply(&l).expect("redacted");
        assert_eq!(out.get("email"), None);
        assert_eq!(out.get("prompt"), Some("[removed]"));
        assert_eq!(out.get("team"), Some("x"));
        let hashed = out.get("user").expect("hashed user");
        assert!(hashed.starts_with("h:") && hashed.len() == 18, "{hashed}");
        assert!(!hashed.contains("42"));
        // Same value, same key: same hash (series still group); another key: another hash.
        assert_eq!(r.apply(&l).expect("again").get("user"), Some(hashed));
        let mut other = rules();
        other[1].key = Some("another-secret-key-0002".into());
        let o = Redactor::new(&other).apply(&l).expect("redacted");
        assert_ne!(o.get("user"), Some(hashed));
    }

    #[test]
    fn rules_match_any_case_and_punctuation_of_the_name() {
        let r = Redactor::new(&rules());
        for name in ["Email", "EMAIL", "e_mail", "E_Mail", "email_"] {
            let out = r
                .apply(&Labels::new([(name, "a@b.c"), ("team", "x")]))
                .unwrap_or_else(|| panic!("{name} not redacted"));
            assert_eq!(out.get(name), None, "{name} kept");
            assert_eq!(out.get("team"), Some("x"));
        }
        let user_id = Redactor::new(&[RedactRule {
            label: "user_id".into(),
            action: RedactAction::Drop,
            ..Default::default()
        }]);
        for name in ["user_id", "UserId", "USER_ID", "userid"] {
            assert!(user_id.touches([name].into_iter()), "{name}");
        }
        assert!(!user_id.touches(["user"].into_iter()));
        assert!(!r.touches(["emails", "mail", "team"].into_iter()));
    }

    #[test]
    fn exemplar_labels_are_redacted_like_series_labels() {
        let r = Redactor::new(&rules());
        let e = Exemplar {
            labels: Labels::new([("trace_id", "abc"), ("Email", "a@b.c"), ("user", "u-42")]),
            value: 1.5,
            timestamp: Some(1.0),
        };
        let out = r.apply_exemplar(&e).expect("redacted");
        assert_eq!(out.labels.get("Email"), None);
        assert_eq!(out.labels.get("trace_id"), Some("abc"));
        assert!(out.labels.get("user").is_some_and(|u| u.starts_with("h:")));
        assert_eq!((out.value, out.timestamp), (1.5, Some(1.0)));
        let clean = Exemplar {
            labels: Labels::new([("trace_id", "abc")]),
            ..e
        };
        assert!(r.apply_exemplar(&clean).is_none());
    }

    #[test]
    fn untouched_labels_are_not_copied() {
        let r = Redactor::new(&rules());
        assert!(r.apply(&Labels::new([("team", "x")])).is_none());
        assert!(Redactor::default()
            .apply(&Labels::new([("user", "x")]))
            .is_none());
    }

    #[test]
    fn validation_requires_keys_and_replacements() {
        let bad = vec![
            RedactRule {
                label: "user".into(),
                action: RedactAction::Hash,
                ..Default::default()
            },
            RedactRule {
                label: "bad-name".into(),
                action: RedactAction::Replace,
                ..Default::default()
            },
        ];
        let mut issues = Issues::default();
        bad.validate("redact", &mut issues);
        let paths: Vec<_> = issues.0.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            ["redact[0].key", "redact[1].label", "redact[1].replacement"]
        );
    }
}
