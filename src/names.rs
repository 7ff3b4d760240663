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
