//! What a line was kept despite: statsd_exporter keeps some malformed lines (reading a bad rate
//! as 1, dropping a bad timestamp or tag), and so does meterd, saying so here so that a caller
//! that must not guess (the `llm.*` convention) can refuse them instead.

use super::ParseError;

/// The malformed parts a line was kept despite, as statsd_exporter keeps such lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Warnings(u8);

/// One tolerated malformation. `reason()` labels `meterd_statsd_warnings_total`; `strict()` is
/// the error a caller that must not guess reports instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning {
    /// `@bar`, `@` or `@0`: counted at rate 1.
    BadRate,
    /// `|Tnow` or `|T`: dropped (timestamps are not used anyway).
    BadTimestamp,
    /// A SignalFx tag without `=` or without a name (`a.[k1,k2]b`): dropped.
    BadTag,
    /// A `[` without `]` or the reverse: the name is kept as sent, with no tags taken from it.
    UnpairedBracket,
}

impl Warning {
    pub const ALL: [Warning; 4] = [
        Warning::BadRate,
        Warning::BadTimestamp,
        Warning::BadTag,
        Warning::UnpairedBracket,
    ];

    pub fn reason(self) -> &'static str {
        match self {
            Warning::BadRate => "bad_rate",
            Warning::BadTimestamp => "bad_timestamp",
            Warning::BadTag => "bad_tag",
            Warning::UnpairedBracket => "unpaired_bracket",
        }
    }

    pub fn strict(self) -> ParseError {
        match self {
            Warning::BadRate => ParseError::BadRate,
            Warning::BadTimestamp => ParseError::BadTimestamp,
            Warning::BadTag | Warning::UnpairedBracket => ParseError::BadTags,
        }
    }
}

impl Warnings {
    pub const NONE: Warnings = Warnings(0);

    pub(crate) fn add(&mut self, w: Warning) {
        self.0 |= 1 << (w as u8);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Warning> {
        Warning::ALL
            .into_iter()
            .filter(move |w| self.0 & (1 << (*w as u8)) != 0)
    }

    /// The error a strict caller reports for this line, if anything was tolerated.
    pub fn strict_error(self) -> Option<ParseError> {
        self.iter().next().map(Warning::strict)
    }
}
