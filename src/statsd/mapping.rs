//! Mapping rules: StatsD name -> Prometheus name and labels, or drop.
//!
//! ```yaml
//! statsd:
//!   mappings:
//!     - match: "app.*.requests"        # glob: `*` is one or more characters other than `.`
//!       name: "app_requests"           # `$1`..`$9` are the captures, here the `*`
//!       labels: {service: "$1"}
//!     - match: "^db\\.(\\w+)\\.query_time$"
//!       match_type: regex              # must match the whole name
//!       name: "db_query_seconds"
//!       labels: {db: "$1"}
//!       buckets: [0.001, 0.01, 0.1, 1]
//!       ttl: 1h
//!     - match: "debug.*"
//!       action: drop
//! ```
//! The first matching rule wins. Names that no rule matches keep their StatsD name, sanitized
//! (`.` and `-` become `_`). Counters get `_total` at exposition.

use super::convention;
use super::parse::MetricType;
pub use crate::config::statsd::{Action, MatchType, TypeFilter};
use crate::config::statsd::{MappingConfig, StatsdConfig};
use crate::config::{child, index, Issues};
use crate::model::{FamilyOptions, LabelPolicy};
use crate::names;
use std::sync::Arc;

impl TypeFilter {
    fn accepts(self, t: MetricType) -> bool {
        match self {
            TypeFilter::Counter => t == MetricType::Counter,
            TypeFilter::Gauge => t == MetricType::Gauge,
            TypeFilter::Timer => t == MetricType::Timer,
            TypeFilter::Histogram => t == MetricType::Histogram,
            TypeFilter::Distribution => t == MetricType::Distribution,
            TypeFilter::Set => t == MetricType::Set,
            TypeFilter::Observer => t.is_observation(),
        }
    }
}

/// How many captures a pattern yields, or why it is invalid.
fn capture_count(m: &MappingConfig) -> Result<usize, String> {
    match m.match_type {
        MatchType::Glob => Ok(m.pattern.matches('*').count()),
        // Checked as written first, so the error quotes the user's pattern, not the anchored one.
        MatchType::Regex => regex::Regex::new(&m.pattern)
            .and_then(|_| anchored(&m.pattern))
            .map(|r| r.captures_len() - 1)
            .map_err(|e| format!("invalid regex {:?}: {}", m.pattern, one_line(&e))),
    }
}

/// The regex crate's syntax errors span several lines (pattern, caret, message); keep the message.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: ").to_string())
        .unwrap_or(text)
}

/// A glob as a regex: `*` is one or more characters other than `.`, everything else literal.
fn glob_to_regex(glob: &str) -> String {
    glob.split('*')
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join("([^.]+)")
}

fn compile(m: &MappingConfig) -> Result<regex::Regex, regex::Error> {
    match m.match_type {
        MatchType::Glob => anchored(&glob_to_regex(&m.pattern)),
        MatchType::Regex => anchored(&m.pattern),
    }
}

fn anchored(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

/// Highest `$n` a template uses.
fn max_reference(template: &str) -> usize {
    let b = template.as_bytes();
    b.windows(2)
        .filter(|w| w[0] == b'$' && w[1].is_ascii_digit())
        .map(|w| usize::from(w[1] - b'0'))
        .max()
        .unwrap_or(0)
}

/// Every problem of one rule, by key path; a rule without any compiles.
fn check(rule: &MappingConfig, path: &str, issues: &mut Issues) {
    if rule.pattern.is_empty() {
        issues.error(child(path, "match"), "is required");
    }
    let captures = match capture_count(rule) {
        Ok(n) => Some(n),
        Err(e) => {
            issues.error(child(path, "match"), e);
            None
        }
    };
    if rule.action == Action::Drop {
        return;
    }
    if rule.name.is_empty() {
        issues.error(child(path, "name"), "is required unless action is drop");
    } else if !names::is_valid_metric_name(&rule.name.replace(['$'], "_")) {
        issues.error(
            child(path, "name"),
            format!(
                "{:?} is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, $1..$9)",
                rule.name
            ),
        );
    }
    let mut templates = vec![(child(path, "name"), &rule.name)];
    for (k, v) in &rule.labels {
        let p = child(&child(path, "labels"), k);
        if !names::is_valid_label_name(k) {
            issues.error(&p, format!("{k:?} is not a valid Prometheus label name"));
        }
        templates.push((p, v));
    }
    if let Some(n) = captures {
        for (p, t) in templates {
            let r = max_reference(t);
            if r > n {
                issues.error(p, format!("uses ${r} but the match has {n} capture(s)"));
            }
        }
    }
    if let Some(b) = &rule.buckets {
        let ok =
            !b.is_empty() && b.iter().all(|x| x.is_finite()) && b.windows(2).all(|w| w[0] < w[1]);
        if !ok {
            issues.error(
                child(path, "buckets"),
                "must be a non-empty list of finite, strictly increasing numbers",
            );
        }
    }
}

struct Rule {
    /// Globs are compiled to regexes too: the regex crate matches in linear time, where a
    /// backtracking glob with several `*` per component could be made slow by a crafted name.
    matcher: regex::Regex,
    filter: Option<TypeFilter>,
    action: Action,
    name: Box<str>,
    labels: Vec<(Box<str>, Box<str>)>,
    options: Arc<FamilyOptions>,
}

impl Rule {
    fn new(m: &MappingConfig, matcher: regex::Regex) -> Rule {
        Rule {
            matcher,
            filter: m.metric_type,
            action: m.action,
            name: m.name.as_str().into(),
            labels: m
                .labels
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect(),
            options: Arc::new(FamilyOptions {
                help: Some(Arc::from(m.help.clone().unwrap_or_else(|| {
                    format!("StatsD metrics matching {:?}.", m.pattern)
                }))),
                buckets: m.buckets.as_deref().map(Arc::from),
                ttl: m.ttl.map(|t| t.0),
                label_policy: LabelPolicy::Consistent,
                ..Default::default()
            }),
        }
    }
}

/// What one StatsD name (of one type) turns into. Computed once per name and cached by workers.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    Drop,
    Metric {
        name: Box<str>,
        labels: Box<[(Box<str>, Box<str>)]>,
        options: Arc<FamilyOptions>,
    },
    Convention(convention::Kind),
    /// The name would land in one of meterd's own `meterd_*` families: refused, so a sender
    /// cannot distort the counters that report on it.
    Reserved,
}

/// The store's family name for a resolved name: sanitized, and without a counter's `_total`,
/// which exposition adds (a StatsD `jobs_total` counter is exposed once as `jobs_total`).
fn family_name(name: &str, kind: MetricType) -> Box<str> {
    let name = names::sanitize_metric_name(name);
    match name.strip_suffix("_total") {
        Some(base) if kind == MetricType::Counter && !base.is_empty() => base.into(),
        _ => name.into(),
    }
}

/// The compiled rules of one config snapshot.
pub struct Mapper {
    rules: Vec<Rule>,
    llm_convention: bool,
    pub cache_size: usize,
}

impl Mapper {
    /// Compiles the `statsd:` section; every problem is reported (by key path under `path`),
    /// and a config with any problem yields no mapper.
    pub fn try_new(config: &StatsdConfig, path: &str) -> Result<Mapper, Issues> {
        let mut issues = Issues::default();
        let mut rules = Vec::with_capacity(config.mappings.len());
        for (i, m) in config.mappings.iter().enumerate() {
            let at = index(&child(path, "mappings"), i);
            check(m, &at, &mut issues);
            match compile(m) {
                Ok(matcher) => rules.push(Rule::new(m, matcher)),
                // `check` has named the pattern's problem already.
                Err(_) => continue,
            }
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(Mapper {
            rules,
            llm_convention: config.llm_convention,
            cache_size: config.mapping_cache_size.max(1),
        })
    }

    pub fn resolve(&self, name: &str, kind: MetricType) -> Resolved {
        let mut caps: Vec<(usize, usize)> = Vec::new();
        for rule in &self.rules {
            if rule.filter.is_some_and(|f| !f.accepts(kind)) {
                continue;
            }
            caps.clear();
            let matched = match rule.matcher.captures(name) {
                Some(c) => {
                    caps.extend(
                        c.iter()
                            .skip(1)
                            .map(|m| m.map_or((0, 0), |m| (m.start(), m.end()))),
                    );
                    true
                }
                None => false,
            };
            if !matched {
                continue;
            }
            if rule.action == Action::Drop {
                return Resolved::Drop;
            }
            let expand = |t: &str| expand(t, name, &caps);
            return checked(Resolved::Metric {
                name: family_name(&expand(&rule.name), kind),
                labels: rule
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), expand(v).into_boxed_str()))
                    .collect(),
                options: rule.options.clone(),
            });
        }
        if self.llm_convention {
            if let Some(k) = convention::Kind::from_name(name) {
                return Resolved::Convention(k);
            }
        }
        checked(Resolved::Metric {
            name: family_name(name, kind),
            labels: Box::new([]),
            options: Arc::new(FamilyOptions {
                help: Some(Arc::from(passthrough_help(name, kind))),
                ..Default::default()
            }),
        })
    }
}

fn checked(r: Resolved) -> Resolved {
    match &r {
        Resolved::Metric { name, .. } if name.starts_with("meterd_") => Resolved::Reserved,
        _ => r,
    }
}

/// HELP text of an unmapped StatsD metric: where it came from, and the unit change for timers.
fn passthrough_help(name: &str, kind: MetricType) -> String {
    let what = match kind {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Timer => "timer, in seconds (sent in milliseconds)",
        MetricType::Histogram => "histogram",
        MetricType::Distribution => "distribution",
        MetricType::Set => "set: distinct members seen",
    };
    // Printable ASCII only: HELP text must stay one line whatever the sender put in the name.
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    format!("StatsD {what}: {name}.")
}

/// Replaces `$1`..`$9` with captures (empty when absent); any other `$` stays.
fn expand(template: &str, name: &str, caps: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('$', Some(d)) if d > 0 => {
                chars.next();
                let cap = caps.get(d as usize - 1).copied().unwrap_or((0, 0));
                out.push_str(name.get(cap.0..cap.1).unwrap_or(""));
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
