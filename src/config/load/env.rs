//! `${VAR}` and `${VAR:-default}` substitution, done on the text before YAML parsing so it works in
//! any position (keys, values, inside quoted strings). `$${` writes a literal `${`. Comments are left
//! alone: a commented-out `${SECRET}` must not make a config invalid.

/// A variable that could not be substituted, at its 1-based line and column.
#[derive(Debug, PartialEq, Eq)]
pub struct EnvProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

pub fn substitute(text: &str, env: &dyn Fn(&str) -> Option<String>) -> (String, Vec<EnvProblem>) {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        let comment_at = comment_start(line);
        let (body, comment) = line.split_at(comment_at);
        substitute_line(body, line_no + 1, env, &mut out, &mut problems);
        out.push_str(comment);
    }
    (out, problems)
}

fn substitute_line(
    line: &str,
    line_no: usize,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
    problems: &mut Vec<EnvProblem>,
) {
    let mut rest = line;
    let mut consumed = 0;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
            consumed += pos + 3;
            continue;
        }
        if !after.starts_with("${") {
            out.push('$');
            rest = &after[1..];
            consumed += pos + 1;
            continue;
        }
        let column = line[..consumed + pos].chars().count() + 1;
        let Some(end) = after.find('}') else {
            problems.push(EnvProblem {
                line: line_no,
                column,
                message: "unterminated `${`: write `$${` for a literal".into(),
            });
            out.push_str(after);
            return;
        };
        let expr = &after[2..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        if !is_env_name(name) {
            problems.push(EnvProblem {
                line: line_no,
                column,
                message: format!(
                    "`${{{expr}}}`: {name:?} is not a valid environment variable name"
                ),
            });
        } else {
            match (env(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => problems.push(EnvProblem {
                    line: line_no,
                    column,
                    message: format!(
                        "environment variable {name} is not set (use `${{{name}:-default}}` for a fallback)"
                    ),
                }),
            }
        }
        rest = &after[end + 1..];
        consumed += pos + end + 1;
    }
    out.push_str(rest);
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Byte offset where a YAML comment starts (`#` at line start or after whitespace, outside quotes),
/// or the line length.
fn comment_start(line: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut prev_ws = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev_ws => return i,
            None => {}
        }
        prev_ws = c.is_whitespace();
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("10.0.0.1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_values_defaults_and_escapes() {
        let (out, problems) = substitute(
            "a: ${HOST}:9464\nb: ${PORT:-8125}\nc: $${HOST} $5\nd: ${EMPTY:-x}\n",
            &env,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(out, "a: 10.0.0.1:9464\nb: 8125\nc: ${HOST} $5\nd: x\n");
    }

    #[test]
    fn reports_missing_variables_with_position_and_skips_comments() {
        let (out, problems) = substitute(
            "# ${NOPE}\nx: 1 # ${NOPE}\ny: \"${NOPE}\"\nz: ${9x}\n",
            &env,
        );
        assert_eq!(out.lines().next(), Some("# ${NOPE}"));
        assert_eq!(
            problems
                .iter()
                .map(|p| (p.line, p.column))
                .collect::<Vec<_>>(),
            vec![(3, 5), (4, 4)]
        );
        assert!(problems[0].message.contains("NOPE is not set"));
    }

    #[test]
    fn unterminated_reference_is_an_error_not_a_panic() {
        let (_, problems) = substitute("a: ${HOST\n", &env);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("unterminated"));
    }
}
