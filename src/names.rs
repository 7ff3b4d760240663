//! Prometheus name rules, shared by every receiver: metric names match
//! `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*` (and `__` is reserved).

use std::borrow::Cow;

pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Replaces every invalid character with `_`, collapses runs of `_`, and prefixes `_` when the name
/// starts with a digit. Borrowed when nothing changes (the common case on the hot path).
pub fn sanitize_metric_name(name: &str) -> Cow<'_, str> {
    if is_valid_metric_name(name) && !name.contains("__") {
        return Cow::Borrowed(name);
    }
    Cow::Owned(sanitize(name, true))
}

/// As [`sanitize_metric_name`] but without `:`; names starting with a digit get a `key_` prefix
/// (the OTel Prometheus compatibility rule) and reserved `__` prefixes are trimmed.
pub fn sanitize_label_name(name: &str) -> Cow<'_, str> {
    if is_valid_label_name(name) && !name.contains("__") {
        return Cow::Borrowed(name);
    }
    let mut out = sanitize(name, false);
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    }
    while out.starts_with("__") {
        out.remove(0);
    }
    if out.is_empty() || out == "_" {
        out = "key_".to_owned() + out.trim_start_matches('_');
        if out == "key_" {
            out = "key".to_owned();
        }
    }
    Cow::Owned(out)
}

fn sanitize(name: &str, allow_colon: bool) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':');
        let c = if ok { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if allow_colon && out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for (input, want) in [
            ("foo_bar", "foo_bar"),
            ("foo.bar", "foo_bar"),
            ("foo..bar-baz", "foo_bar_baz"),
            ("9lives", "_9lives"),
            ("a:b", "a:b"),
            ("", "_"),
            ("héllo", "h_llo"),
            ("a__b", "a_b"),
        ] {
            assert_eq!(sanitize_metric_name(input), want, "{input:?}");
            assert!(is_valid_metric_name(&sanitize_metric_name(input)));
        }
    }

    #[test]
    fn label_names() {
        for (input, want) in [
            ("team", "team"),
            ("service.name", "service_name"),
            ("1st", "key_1st"),
            ("__reserved", "_reserved"),
            ("a:b", "a_b"),
            ("", "key"),
            ("_", "_"),
        ] {
            let got = sanitize_label_name(input);
            assert_eq!(got, want, "{input:?}");
            assert!(is_valid_label_name(&got), "{got:?}");
        }
    }
}

/// The candidate closest to `word` by edit distance (case-insensitive), when close enough to be
/// a plausible misspelling: at most 2 edits, and fewer than half the word's length. For
/// did-you-mean hints in error messages.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = 2.min(word.chars().count().saturating_sub(1) / 2).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= limit && !c.eq_ignore_ascii_case(&word))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance with adjacent transpositions counted as one edit; inputs are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    if let Some(first) = d.first_mut() {
        for (j, cell) in first.iter_mut().enumerate() {
            *cell = j;
        }
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod closest_tests {
    use super::closest;

    #[test]
    fn near_misspellings_are_suggested_and_far_words_are_not() {
        let keys = ["listeners", "limits", "scope_labels", "limit_usd", "period"];
        assert_eq!(closest("listners", keys), Some("listeners"));
        assert_eq!(closest("limt_usd", keys), Some("limit_usd"));
        assert_eq!(closest("perido", keys), Some("period"));
        assert_eq!(
            closest("Limits", keys),
            None,
            "the same word is no suggestion"
        );
        assert_eq!(closest("budgets", keys), None);
        assert_eq!(closest("x", keys), None);
        let models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"];
        assert_eq!(closest("gpt-4", models), Some("gpt-4o"));
        assert_eq!(closest("gpt4o", models), Some("gpt-4o"));
    }
}
