//! Label redaction, applied to every sample and event before anything is stored: PII such as user
//! ids or emails is dropped, replaced, or hashed with a keyed hash (so equal values still group
//! together, but nobody without the key can test a guess).

pub use crate::config::redact::{RedactAction, RedactRule};
use crate::model::Labels;

enum Compiled {
    Drop,
    Hash([u8; 32]),
    Replace(Box<str>),
}

/// Rules compiled from one config snapshot.
#[derive(Default)]
pub struct Redactor {
    rules: Box<[(Box<str>, Compiled)]>,
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
                    (Box::from(r.label.as_str()), compiled)
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a label set with these names would be changed by [`Redactor::apply`].
    pub fn touches<'a>(&self, mut names: impl Iterator<Item = &'a str>) -> bool {
        !self.rules.is_empty() && names.any(|n| self.rules.iter().any(|(l, _)| &**l == n))
    }

    /// The redacted label set, or `None` when no rule touches these labels (the common case,
    /// which must not allocate).
    pub fn apply(&self, labels: &Labels) -> Option<Labels> {
        if !self.touches(labels.names()) {
            return None;
        }
        let mut out: Vec<(String, String)> = Vec::with_capacity(labels.len());
        for (k, v) in labels.iter() {
            match self.rules.iter().find(|(l, _)| &**l == k) {
                None => out.push((k.into(), v.into())),
                Some((_, Compiled::Drop)) => {}
                Some((_, Compiled::Replace(r))) => out.push((k.into(), r.to_string())),
                Some((_, Compiled::Hash(key))) => {
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
