//! Key path -> source position, built from the YAML event stream. Deserialization and validation
//! speak in key paths (`limits.max_series_total`, `budgets[2].match`); users need lines.

use serde_saphyr::granit_parser::{Event, Parser};

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

/// Positions (1-based line and column) of every key and sequence item in a document.
pub struct PathIndex {
    entries: Vec<(String, usize, usize)>,
}

impl PathIndex {
    /// Never fails: a document the parser rejects yields the positions seen before the error, and
    /// the deserializer reports the syntax error itself.
    pub fn build(text: &str) -> PathIndex {
        let mut entries = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(Ok((event, span))) = parser.next_event() {
            let pos = (span.start.line(), span.start.col() + 1);
            // The path of the node this event starts, if it is a value (not a map key).
            let mut value_path =
                |stack: &mut Vec<Frame>, is_scalar: bool, scalar: &str| -> Option<String> {
                    match stack.last_mut() {
                        None => Some(String::new()),
                        Some(Frame::Map { path, key }) => match key.take() {
                            Some(k) => Some(super::super::child(path, k)),
                            None => {
                                if is_scalar {
                                    let p = super::super::child(path, scalar);
                                    entries.push((p, pos.0, pos.1));
                                    *key = Some(scalar.to_string());
                                } else {
                                    // Complex keys are not used in configs; mark the slot as taken.
                                    *key = Some(String::from("?"));
                                }
                                None
                            }
                        },
                        Some(Frame::Seq { path, next }) => {
                            let p = super::super::index(path, *next);
                            *next += 1;
                            entries.push((p.clone(), pos.0, pos.1));
                            Some(p)
                        }
                    }
                };
            match event {
                Event::Scalar(value, ..) => {
                    value_path(&mut stack, true, &value);
                }
                Event::MappingStart(..) => {
                    let path = value_path(&mut stack, false, "").unwrap_or_else(|| "?".into());
                    stack.push(Frame::Map { path, key: None });
                }
                Event::SequenceStart(..) => {
                    let path = value_path(&mut stack, false, "").unwrap_or_else(|| "?".into());
                    stack.push(Frame::Seq { path, next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Alias(..) => {
                    value_path(&mut stack, false, "");
                }
                _ => {}
            }
        }
        PathIndex { entries }
    }

    /// Position of `path`, or of its nearest ancestor present in the file (a problem with a
    /// defaulted field points at the section that should contain it); (0, 0) if none.
    pub fn locate(&self, path: &str) -> (usize, usize) {
        let mut p = path;
        loop {
            if let Some((_, l, c)) = self.entries.iter().find(|(e, ..)| e == p) {
                return (*l, *c);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return (0, 0),
            }
        }
    }

    /// The deepest key at or before a position on the same line: names the key a
    /// deserialization error (which only knows the position) is about.
    pub fn path_at(&self, line: usize, column: usize) -> Option<String> {
        self.entries
            .iter()
            .filter(|(_, l, c)| *l == line && *c <= column)
            .max_by_key(|(p, _, c)| (*c, p.len()))
            .or_else(|| {
                self.entries
                    .iter()
                    .filter(|(_, l, _)| *l < line)
                    .max_by_key(|(_, l, c)| (*l, *c))
            })
            .map(|(p, ..)| p.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_block_and_flow_keys_and_items() {
        let idx = PathIndex::build(
            "limits:\n  max_series_total: 0\nscope_labels: [team, bad]\nbudgets:\n  - name: a\n    match: {team: x}\n",
        );
        assert_eq!(idx.locate("limits"), (1, 1));
        assert_eq!(idx.locate("limits.max_series_total"), (2, 3));
        assert_eq!(idx.locate("scope_labels[1]"), (3, 22));
        assert_eq!(idx.locate("budgets[0].name"), (5, 5));
        assert_eq!(idx.locate("budgets[0].match.team"), (6, 13));
        assert_eq!(idx.locate("budgets[0].limit_usd"), (5, 5));
        assert_eq!(idx.locate("nothing"), (0, 0));
    }

    #[test]
    fn finds_the_key_on_an_error_line() {
        let idx = PathIndex::build("limits:\n  max_series_total: nope\n");
        assert_eq!(
            idx.path_at(2, 21).as_deref(),
            Some("limits.max_series_total")
        );
    }

    #[test]
    fn survives_broken_yaml() {
        let idx = PathIndex::build("a: [1, 2\nb: {");
        let _ = idx.locate("a");
    }
}
