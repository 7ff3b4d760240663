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

// `-latest` is deliberately not a version suffix: an alias moves to new models (chatgpt-4o-latest
// is not gpt-4o's price), so it needs its own entry.
static VERSION_SUFFIX: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-v\d+(?::\d+)?|-\d{2}-\d{2}|-\d{3,4})$").ok()
});

/// `name` without one version suffix (`gpt-4o-2024-08-06` -> `gpt-4o`), if it has one.
pub fn strip_version(name: &str) -> Option<&str> {
    strip_version_dated(name).map(|(f, _)| f)
}

/// `name` without one version suffix, and the date that suffix names as `YYYYMMDD` when it is
/// one: `-2024-08-06`, `-20240806`, `@20240806`, and Mistral's `-YYMM` (`-2411`, day 99: after
/// every day of its month; four digits whose first two are not 23..=39 or whose month is not 1..=12,
/// like Gemini's `-0514`, are not dates).
pub fn strip_version_dated(name: &str) -> Option<(&str, Option<u32>)> {
    let re = VERSION_SUFFIX.as_ref()?;
    let m = re.find(name)?;
    if m.start() == 0 {
        return None;
    }
    let digits: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
    let n: u32 = digits.parse().unwrap_or(0);
    let date = match (m.as_str().starts_with("-v"), digits.len()) {
        (false, 8) => Some(n),
        (false, 4) if (23..=39).contains(&(n / 100)) && (1..=12).contains(&(n % 100)) => {
            Some(20_000_000 + n * 100 + 99)
        }
        _ => None,
    };
    Some((&name[..m.start()], date))
}

/// A Bedrock cross-region inference profile id without its geography (`us.anthropic.claude-...`
/// -> `anthropic.claude-...`): the model it routes to.
pub fn strip_profile(name: &str) -> Option<&str> {
    let (geo, rest) = name.split_once('.')?;
    const GEOS: [&str; 8] = ["us", "eu", "apac", "global", "jp", "au", "ca", "us-gov"];
    (GEOS.contains(&geo) && rest.contains('.')).then_some(rest)
}

/// The names a model may be priced as when its own name has no entry, most specific first, each
/// with the newest version date removed on the way to it: version suffixes stripped one by one,
/// then the same for the name without a Bedrock inference-profile geography.
pub fn family(name: &str) -> Vec<(&str, Option<u32>)> {
    fn walk<'a>(start: &'a str, out: &mut Vec<(&'a str, Option<u32>)>) {
        let (mut cur, mut newest) = (start, None::<u32>);
        for _ in 0..3 {
            let Some((f, date)) = strip_version_dated(cur) else {
                break;
            };
            newest = newest.max(date);
            out.push((f, newest));
            cur = f;
        }
    }
    let mut out = Vec::new();
    walk(name, &mut out);
    if let Some(routed) = strip_profile(name) {
        out.push((routed, None));
        walk(routed, &mut out);
    }
    out
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
