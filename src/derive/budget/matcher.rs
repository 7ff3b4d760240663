//! Label matchers with PromQL semantics: `=`, `!=`, `=~`, `!~`; regexes are anchored at both ends,
//! and a label an event does not carry matches as the empty string (so `team!="x"` matches events
//! without `team`, and `team="x"` does not).
//!
//! In config the operator prefixes the value: `team: search` (equality), `env: "!=dev"`,
//! `model: "=~gpt-4o.*"`, `model: "!~.*mini"`; `"=..."` forces equality for a value that itself
//! starts with an operator. (YAML needs quotes around values starting with `!`.)

use regex::Regex;

/// Where a matcher reads label values: an event's scope plus provider and model, or the query
/// string of a budget check.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<&str>;
}

/// A usage event's labels as budgets see them: scope labels (after the allow-list), provider,
/// model.
pub struct CallLabels<'a> {
    pub scope: &'a crate::model::Labels,
    pub provider: &'a str,
    pub model: &'a str,
}

impl Lookup for CallLabels<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "provider" => Some(self.provider),
            "model" => Some(self.model),
            _ => self.scope.get(name),
        }
    }
}

/// Query-string pairs (`?team=search&model=gpt-4o`); the last value of a repeated name wins, as
/// with tags elsewhere.
impl Lookup for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
pub enum Op {
    Eq(Box<str>),
    Ne(Box<str>),
    Re(Regex),
    NotRe(Regex),
}

#[derive(Clone, Debug)]
pub struct Matcher {
    pub label: Box<str>,
    pub op: Op,
}

impl Matcher {
    /// Parses the config form (`"=~gpt-4o.*"`); the error names the bad regex.
    pub fn parse(label: &str, spec: &str) -> Result<Matcher, String> {
        let anchored = |re: &str| {
            // Checked alone first, so an error points into the user's text, not our anchoring.
            let invalid = |e: regex::Error| {
                let why = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                format!("invalid regex {re:?}: {why}")
            };
            Regex::new(re).map_err(invalid)?;
            Regex::new(&format!("^(?:{re})$")).map_err(invalid)
        };
        let op = if let Some(re) = spec.strip_prefix("=~") {
            Op::Re(anchored(re)?)
        } else if let Some(re) = spec.strip_prefix("!~") {
            Op::NotRe(anchored(re)?)
        } else if let Some(v) = spec.strip_prefix("!=") {
            Op::Ne(v.into())
        } else if let Some(v) = spec.strip_prefix('=') {
            Op::Eq(v.into())
        } else {
            Op::Eq(spec.into())
        };
        Ok(Matcher {
            label: label.into(),
            op,
        })
    }

    pub fn matches(&self, labels: &(impl Lookup + ?Sized)) -> bool {
        let v = labels.get(&self.label).unwrap_or("");
        match &self.op {
            Op::Eq(want) => v == &**want,
            Op::Ne(want) => v != &**want,
            Op::Re(re) => re.is_match(v),
            Op::NotRe(re) => !re.is_match(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    fn call<'a>(scope: &'a Labels, model: &'a str) -> CallLabels<'a> {
        CallLabels {
            scope,
            provider: "openai",
            model,
        }
    }

    #[test]
    fn operators_follow_promql() {
        let scope = Labels::new([("team", "search")]);
        let c = call(&scope, "gpt-4o-mini");
        let m = |l: &str, s: &str| Matcher::parse(l, s).unwrap().matches(&c);
        assert!(m("team", "search"));
        assert!(!m("team", "ads"));
        assert!(m("team", "!=ads"));
        assert!(!m("team", "!=search"));
        // Anchored: a partial match is no match.
        assert!(!m("model", "=~gpt-4o"));
        assert!(m("model", "=~gpt-4o.*"));
        assert!(m("model", "!~gpt-4o"));
        assert!(!m("model", "!~.*mini"));
        assert!(m("provider", "openai"));
        // Absent label is "": equality fails, inequality holds, `=~.*` matches.
        assert!(!m("env", "prod"));
        assert!(m("env", "!=prod"));
        assert!(m("env", "=~.*"));
        assert!(!m("env", "=~.+"));
        // `=` escapes a value that starts with an operator.
        let odd = Labels::new([("team", "!=x")]);
        assert!(Matcher::parse("team", "=!=x")
            .unwrap()
            .matches(&call(&odd, "m")));
    }

    #[test]
    fn bad_regex_is_an_error_naming_it() {
        let e = Matcher::parse("model", "=~gpt(").unwrap_err();
        assert!(e.contains("gpt("), "{e}");
    }

    #[test]
    fn query_pairs_lookup_last_wins() {
        let q = [
            ("team".to_string(), "a".to_string()),
            ("team".to_string(), "b".to_string()),
        ];
        assert_eq!(Lookup::get(&q[..], "team"), Some("b"));
        assert_eq!(Lookup::get(&q[..], "model"), None);
    }
}
