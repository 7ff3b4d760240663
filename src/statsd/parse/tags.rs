//! Tags: the DogStatsD `|#` field, or tags embedded in the name (InfluxDB `name,k=v`, Librato
//! `name#k=v`, SignalFx `name[k=v]`). Borrowed from the line, validated once, iterated lazily.

use super::{ParseError, Warning, Warnings};
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagStyle {
    None,
    DogStatsd,
    Influx,
    Librato,
    SignalFx,
}

/// A line's tags, unparsed but validated: iterate them with [`Tags::iter`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tags<'a> {
    pub style: TagStyle,
    pub(super) raw: &'a str,
}

impl<'a> Tags<'a> {
    pub const NONE: Tags<'static> = Tags {
        style: TagStyle::None,
        raw: "",
    };

    fn separator(&self) -> u8 {
        if self.style == TagStyle::DogStatsd {
            b':'
        } else {
            b'='
        }
    }

    /// `(name, value)` pairs in sender order; `None` for a bare tag. Scans bytes: tags are short
    /// and read several times per line, and a byte loop beats the general `str` searchers here.
    /// Separators are ASCII, so every slice lands on a character boundary.
    ///
    /// Two leniencies statsd_exporter has too: a DogStatsD key may start with `#` (the Datadog PHP
    /// client writes `|#k1:v,#k2:v`), which is not part of the name; a SignalFx tag without `=`
    /// or without a name is skipped (the parser warned about it when it split the name).
    fn pairs(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        let lenient = self.style == TagStyle::SignalFx;
        self.all_pairs()
            .filter(move |(k, v)| !lenient || !(k.is_empty() || v.is_none()))
    }

    fn all_pairs(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        let (raw, sep) = (self.raw, self.separator());
        let hash_prefixed = self.style == TagStyle::DogStatsd;
        let mut start = 0;
        std::iter::from_fn(move || loop {
            let rest = raw.as_bytes().get(start..)?;
            let end = start + rest.iter().position(|b| *b == b',').unwrap_or(rest.len());
            let item = raw.get(start..end)?;
            start = end + 1;
            let item = match item.strip_prefix('#') {
                Some(rest) if hash_prefixed => rest,
                _ => item,
            };
            if item.is_empty() {
                continue;
            }
            return Some(match item.bytes().position(|b| b == sep) {
                Some(i) => (item.get(..i)?, Some(item.get(i + 1..)?)),
                None => (item, None),
            });
        })
    }

    /// The tag text as sent: equal text (and style) means equal tags.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// `(name, value)` pairs in sender order; a bare tag has an empty value.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.pairs().map(|(k, v)| (k, v.unwrap_or("")))
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .last()
    }

    pub fn count(&self) -> usize {
        self.iter().count()
    }

    pub fn validate(&self) -> Result<(), ParseError> {
        for (k, v) in self.pairs() {
            // `k=v` styles have no bare tags.
            if k.is_empty() || (v.is_none() && self.style != TagStyle::DogStatsd) {
                return Err(ParseError::BadTags);
            }
        }
        Ok(())
    }
}

/// Where the name part of a line ends.
pub(super) struct NameEnd {
    /// Index of the `:` ending the name part.
    pub at: usize,
    /// No `[`, `,` or `#` before it: the name part is the name, with no tags in it (the common
    /// case, found in the same scan so it costs no second pass).
    pub plain: bool,
}

/// Finds the `:` ending the name part; a SignalFx `[...]` block may itself contain `:`.
/// An unclosed `[` falls back to the first `:`, so the tags are reported as malformed.
pub(super) fn name_end(line: &str) -> Option<NameEnd> {
    let bytes = line.as_bytes();
    // The common case: one vector scan for the colon, then a check of the (short) name.
    let colon = memchr::memchr(b':', bytes)?;
    let head = bytes.get(..colon).unwrap_or_default();
    if !head.iter().any(|&b| matches!(b, b'[' | b',' | b'#')) {
        return Some(NameEnd {
            at: colon,
            plain: true,
        });
    }
    let mut in_brackets = false;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b'[' => in_brackets = true,
            b']' => in_brackets = false,
            b':' if !in_brackets => {
                return Some(NameEnd {
                    at: i,
                    plain: false,
                })
            }
            _ => {}
        }
    }
    Some(NameEnd {
        at: colon,
        plain: false,
    })
}

/// Separates tags embedded in the name (InfluxDB, Librato, SignalFx) from the name itself.
/// A lone `[` or `]` makes the whole part the name, as statsd_exporter does (with a warning).
pub(super) fn split_name<'a>(
    part: &'a str,
    warnings: &mut Warnings,
) -> Result<(Cow<'a, str>, Option<Tags<'a>>), ParseError> {
    let other_style = |s: &str| s.contains([',', '#']);
    let open = part.find('[');
    let close = open.and_then(|o| part[o..].find(']').map(|c| o + c));
    if close.is_none() && (open.is_some() || part.contains(']')) {
        warnings.add(Warning::UnpairedBracket);
        return Ok((Cow::Borrowed(part), None));
    }
    if let (Some(open), Some(close)) = (open, close) {
        let (before, after) = (&part[..open], &part[close + 1..]);
        if other_style(before) || other_style(after) {
            return Err(ParseError::MixedTagStyles);
        }
        if after.contains('[') {
            return Err(ParseError::BadTags);
        }
        let name = if after.is_empty() {
            Cow::Borrowed(before)
        } else {
            Cow::Owned(format!("{before}{after}"))
        };
        let tags = Tags {
            style: TagStyle::SignalFx,
            raw: &part[open + 1..close],
        };
        if tags.all_pairs().any(|(k, v)| k.is_empty() || v.is_none()) {
            warnings.add(Warning::BadTag);
        }
        return Ok((name, Some(tags)));
    }
    // Librato and InfluxDB both separate tags with commas; what comes first decides the style.
    let Some(i) = part.find([',', '#']) else {
        return Ok((Cow::Borrowed(part), None));
    };
    let style = if part.as_bytes()[i] == b'#' {
        TagStyle::Librato
    } else {
        if part[i..].contains('#') {
            return Err(ParseError::MixedTagStyles);
        }
        TagStyle::Influx
    };
    let tags = Tags {
        style,
        raw: &part[i + 1..],
    };
    Ok((Cow::Borrowed(&part[..i]), Some(tags)))
}
