//! Name matching: exact names, globs, regexes, version suffixes, and how specific a match is.

use regex::Regex;
use std::sync::LazyLock;

#[derive(Clone, Debug)]
pub(super) enum Pattern {
    Exact(Box<str>),
    Glob {
        text: Box<str>,
        prefix: u32,
        literals: u32,
    },
    Regex(Regex),
}

impl Pattern {
    pub(super) fn parse(p: &str) -> Result<Pattern, String> {
        if let Some(re) = p.strip_prefix("regex:") {
            return Regex::new(&format!("(?i){re}"))
                .map(Pattern::Regex)
                .map_err(|e| {
                    let detail = e.to_string();
                    let last = detail.lines().last().unwrap_or("").trim().to_string();
                    format!("invalid regex {re:?}: {last}")
                });
        }
        let text = p.to_lowercase();
        if text.contains(['*', '?']) {
            let prefix = text.find(['*', '?']).unwrap_or(text.len()) as u32;
            let literals = text.chars().filter(|c| *c != '*' && *c != '?').count() as u32;
            Ok(Pattern::Glob {
                text: text.into(),
                prefix,
                literals,
            })
        } else {
            Ok(Pattern::Exact(text.into()))
        }
    }
}

/// `*` matches any run (also empty), `?` one character. Iterative with one backtrack point, so
/// hostile names cannot make it exponential.
pub(super) fn glob_match(pattern: &str, name: &str) -> bool {
    if pattern.is_ascii() && name.is_ascii() {
        return glob_match_units(pattern.as_bytes(), name.as_bytes(), b'*', b'?');
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_match_units(&p, &n, '*', '?')
}

fn glob_match_units<T: PartialEq + Copy>(p: &[T], n: &[T], any: T, one: T) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == one || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == any {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == any)
}

static VERSION_SUFFIX: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-v\d+(?::\d+)?|-\d{2}-\d{2}|-latest|-\d{3,4})$",
    )
    .ok()
});

/// `name` without one version suffix (`gpt-4o-2024-08-06` -> `gpt-4o`), if it has one.
pub fn strip_version(name: &str) -> Option<&str> {
    let re = VERSION_SUFFIX.as_ref()?;
    let m = re.find(name)?;
    (m.start() > 0).then(|| &name[..m.start()])
}

/// How an entry matched a name; ordered so that a greater value is more specific.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    pub class: u8,
    pub a: u32,
    pub b: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    /// Matched after removing version suffixes: the family name that matched.
    Family(String),
    Glob(String),
    Regex(String),
}

impl std::fmt::Display for MatchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatchKind::Exact => f.write_str("exact name"),
            MatchKind::Family(n) => write!(f, "dated version of {n}"),
            MatchKind::Glob(g) => write!(f, "glob {g}"),
            MatchKind::Regex(r) => write!(f, "regex {r}"),
        }
    }
}
