//! The shape nearly every line has, `name:value|type` or `name:value|type|#tags` (one sample, a
//! plain name, no rate, timestamp or container id), recognised without building a [`Line`].
//! A worker looks such a line's series up by these parts and, for a known one, parses only the
//! value; any other shape, and any line this does not take, goes through [`parse_str_unchecked_tags`].
//!
//! What it returns is what the full parse of the same line gives (one sample of this type and
//! value, these tags, no warnings), except for tag text holding a `|` (see [`Simple::tags`]):
//! `tests::the_simple_shape_agrees_with_the_full_parse` checks both on random and hostile lines.
//!
//! [`Line`]: super::Line
//! [`parse_str_unchecked_tags`]: super::parse_str_unchecked_tags

use super::{parse_value, MetricType, ParseError, TagStyle, Tags, Value};

/// A line of the simple shape, split but with its value not yet parsed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Simple<'a> {
    pub name: &'a str,
    pub kind: MetricType,
    /// The value's text, non-empty and without `:`; parse it with [`Simple::value`].
    pub value_text: &'a str,
    /// Everything after `|#`. When the line has a field after its tags (`|#k:v|@0.5`), that
    /// field is in this text too, and then it holds a `|`: such a line is not of the simple
    /// shape, and a caller that looks these tags up among tag texts the full parse produced
    /// (which end at the first `|`) never finds them, so the line goes to the full parse.
    pub tags: Tags<'a>,
}

impl<'a> Simple<'a> {
    /// The value as the full parse reads it (same errors: bad, non-finite, negative counter).
    pub fn value(&self) -> Result<Value<'a>, ParseError> {
        if self.kind == MetricType::Set {
            return Ok(Value::Member(self.value_text));
        }
        parse_value(self.kind, self.value_text)
    }
}

/// The line split as the simple shape, or `None` when it is any other shape (or malformed: the
/// full parse then says how).
pub fn simple(line: &str) -> Option<Simple<'_>> {
    let bytes = line.as_bytes();
    if bytes.first() == Some(&b'_') && (line.starts_with("_e{") || line.starts_with("_sc|")) {
        return None;
    }
    // One byte loop finds the name's end and sees tags in it (`[`, `,`, `#`: SignalFx, InfluxDB,
    // Librato): names are a few tens of bytes, too short for memchr's vector setup to pay (two
    // memchr calls here cost ~180 instructions a line, the loop ~50).
    let colon = bytes
        .iter()
        .position(|&b| matches!(b, b':' | b'[' | b',' | b'#'))?;
    if colon == 0 || bytes.get(colon) != Some(&b':') {
        return None;
    }
    let value_start = colon + 1;
    let value_len = bytes
        .get(value_start..)?
        .iter()
        .position(|&b| b == b'|' || b == b':')?;
    // Empty: malformed. `:` inside: several values (`a:1:2|ms`).
    if value_len == 0 || bytes.get(value_start + value_len) != Some(&b'|') {
        return None;
    }
    let type_start = value_start + value_len + 1;
    let after_type = bytes.get(type_start..)?;
    let type_len = after_type
        .iter()
        .position(|&b| b == b'|' || b == b':')
        .unwrap_or(after_type.len());
    let kind = MetricType::from_bytes(after_type.get(..type_len)?)?;
    let tags = match after_type.get(type_len..)? {
        [] => Tags::NONE,
        // Tags to the end of the line: no field after them.
        // The tag text runs to the end of the line, unscanned (a scan for `|` cost ~100
        // instructions a line): see `Simple::tags` for a line with a field after its tags.
        [b'|', b'#', raw @ ..] => Tags {
            style: TagStyle::DogStatsd,
            raw: line.get(line.len() - raw.len()..)?,
        },
        // A rate, timestamp, container id or another sample before any tags, or a malformed field.
        _ => return None,
    };
    Some(Simple {
        name: line.get(..colon)?,
        kind,
        value_text: line.get(value_start..value_start + value_len)?,
        tags,
    })
}

#[cfg(test)]
mod tests;
