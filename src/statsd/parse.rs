//! The StatsD line grammar: pure, zero-copy over the packet's bytes.
//!
//! ```text
//! line    := name [name-tags] ':' sample (':' sample)*
//! sample  := value (':' value)* '|' type ('|' field)*
//! field   := '@' rate | '#' tags | 'c:' container | 'T' unix-seconds | other (ignored)
//! ```
//! - Types: `c`, `g` (a leading `+`/`-` makes a delta), `ms`, `h`, `d`, `s`.
//! - `a:1|c:2|c` (etsy multi-metric) and `a:1:2|ms` (DogStatsD value packing) both yield two samples.
//! - Tags: DogStatsD `|#k:v,k2:v2`, InfluxDB `name,k=v`, Librato `name#k=v`, SignalFx `name[k=v]`.
//!   One style per line. A bare DogStatsD tag (`#urgent`) has an empty value, which Prometheus
//!   treats as no label, so it is dropped.
//! - DogStatsD `|c:<container id>` is kept on the sample (a label only when configured: see
//!   `statsd.container_id_label`); `|c` or `|c:` without an id is malformed. `|T<unix seconds>` is
//!   accepted and not used: Prometheus pulls, so a sample cannot be backdated. Unknown `|x:`
//!   fields from newer protocol versions are skipped; an empty field (`a:1|c|`) is malformed.
//! - Several values in one sample (`a:1:2|ms`) are for timers, histograms and distributions only.
//! - Where statsd_exporter keeps a line despite a malformed part, so does meterd, and says so in
//!   [`Line::warnings`]: an unparseable or zero rate counts as 1, an unparseable `|T` is dropped,
//!   SignalFx tags without `=` are dropped, and an unpaired `[` or `]` leaves the name as sent.
//!   Callers that must not guess (the `llm.*` usage convention) refuse such lines.
//!
//! The tag fields of a line end at the next `|`, so a sample cannot follow DogStatsD tags; the
//! tags apply to every sample of the line.

mod simple;
mod tags;
mod warnings;

pub use simple::{simple, Simple};
pub use tags::{TagStyle, Tags};
pub use warnings::{Warning, Warnings};

use std::borrow::Cow;
use tags::{name_end, split_name};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Timer,
    Histogram,
    Distribution,
    Set,
}

impl MetricType {
    pub const ALL: [MetricType; 6] = [
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Timer,
        MetricType::Histogram,
        MetricType::Distribution,
        MetricType::Set,
    ];

    fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(match b {
            b"c" => MetricType::Counter,
            b"g" => MetricType::Gauge,
            b"ms" => MetricType::Timer,
            b"h" => MetricType::Histogram,
            b"d" => MetricType::Distribution,
            b"s" => MetricType::Set,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "c",
            MetricType::Gauge => "g",
            MetricType::Timer => "ms",
            MetricType::Histogram => "h",
            MetricType::Distribution => "d",
            MetricType::Set => "s",
        }
    }

    /// Dense index, for per-type tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Timers, histograms and distributions: observed into a histogram, weighted by 1/rate.
    pub fn is_observation(self) -> bool {
        matches!(
            self,
            MetricType::Timer | MetricType::Histogram | MetricType::Distribution
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Number(f64),
    /// A gauge value written with a sign: add to the gauge instead of setting it.
    Delta(f64),
    /// A set member, as sent.
    Member(&'a str),
}

/// One sample of a line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample<'a> {
    pub kind: MetricType,
    pub value: Value<'a>,
    /// Validated: finite, in (0, 1]; 1 when absent.
    pub rate: f64,
    pub timestamp: Option<u64>,
    pub container: Option<&'a str>,
}

/// One parsed line. Most lines have one sample; only multi-value lines allocate for the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Line<'a> {
    /// Borrowed unless SignalFx tags sat in the middle of the name (`a.[k=v]b` -> `a.b`).
    pub name: Cow<'a, str>,
    pub tags: Tags<'a>,
    /// What was tolerated to keep the line (empty for a well-formed one).
    pub warnings: Warnings,
    first: Sample<'a>,
    rest: Vec<Sample<'a>>,
}

impl<'a> Line<'a> {
    pub fn samples(&self) -> impl Iterator<Item = &Sample<'a>> {
        std::iter::once(&self.first).chain(self.rest.iter())
    }
}

/// Why a line was rejected. `reason()` is the stable `reason` label of `meterd_statsd_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line has no metric name")]
    EmptyName,
    #[error("no `:value` after the name")]
    MissingValue,
    #[error("no `|type` after the value")]
    MissingType,
    #[error("unknown metric type (c, g, ms, h, d, s)")]
    BadType,
    #[error("value is not a number")]
    BadValue,
    #[error("value is NaN or infinite")]
    NonFinite,
    #[error("counter increment is negative")]
    NegativeCounter,
    #[error("sample rate must be a number in (0, 1]")]
    BadRate,
    #[error("timestamp is not unix seconds")]
    BadTimestamp,
    #[error("malformed tags")]
    BadTags,
    #[error("more than one tag style in one line")]
    MixedTagStyles,
    #[error("line longer than limits.max_line_bytes")]
    LineTooLong,
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    #[error("DogStatsD events and service checks are not supported")]
    Unsupported,
    #[error("several values in one sample are only for timers, histograms and distributions")]
    MultiValueType,
    #[error("`|c` field without a container id")]
    BadContainerId,
    #[error("empty `|` field")]
    EmptyField,
}

impl ParseError {
    pub fn reason(self) -> &'static str {
        match self {
            ParseError::EmptyName => "empty_name",
            ParseError::MissingValue => "missing_value",
            ParseError::MissingType => "missing_type",
            ParseError::BadType => "bad_type",
            ParseError::BadValue => "bad_value",
            ParseError::NonFinite => "non_finite",
            ParseError::NegativeCounter => "negative_counter",
            ParseError::BadRate => "bad_rate",
            ParseError::BadTimestamp => "bad_timestamp",
            ParseError::BadTags => "bad_tags",
            ParseError::MixedTagStyles => "mixed_tag_styles",
            ParseError::LineTooLong => "line_too_long",
            ParseError::InvalidUtf8 => "invalid_utf8",
            ParseError::Unsupported => "unsupported",
            ParseError::MultiValueType => "multi_value_type",
            ParseError::BadContainerId => "bad_container_id",
            ParseError::EmptyField => "empty_field",
        }
    }
}

/// Splits a packet into lines: `\n`-separated, a trailing `\r` and surrounding blanks removed,
/// blank lines skipped (senders commonly end packets with a newline).
pub fn lines(packet: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(packet);
    std::iter::from_fn(move || {
        // memchr rather than a byte loop: splitting was a tenth of a worker's instructions.
        let text = rest?;
        Some(match memchr::memchr(b'\n', text) {
            Some(end) => {
                rest = text.get(end + 1..);
                text.get(..end).unwrap_or_default()
            }
            None => {
                rest = None;
                text
            }
        })
    })
    .map(<[u8]>::trim_ascii)
    .filter(|l| !l.is_empty())
}

/// [`lines`] over text already known to be UTF-8: the same lines, as `&str`. A receiver checks
/// a datagram's UTF-8 once (a valid text split at ASCII bytes gives valid lines) rather than each
/// line's: one long check costs less than twenty short ones.
pub fn str_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        Some(match memchr::memchr(b'\n', text.as_bytes()) {
            Some(end) => {
                rest = text.get(end + 1..);
                text.get(..end).unwrap_or_default()
            }
            None => {
                rest = None;
                text
            }
        })
    })
    .map(str::trim_ascii)
    .filter(|l| !l.is_empty())
}

/// Parses one line (without its newline). Never panics, whatever the bytes.
pub fn parse_line(line: &[u8]) -> Result<Line<'_>, ParseError> {
    let parsed = parse_line_unchecked_tags(line)?;
    parsed.tags.validate()?;
    Ok(parsed)
}

/// [`parse_line`] without the check of each tag's shape, for a caller that checks it once per
/// distinct tag text (a worker sees the same tags on every line of a series). The tag text is
/// still split from the line exactly as `parse_line` does.
pub fn parse_line_unchecked_tags(line: &[u8]) -> Result<Line<'_>, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::InvalidUtf8)?;
    parse_str_unchecked_tags(line)
}

/// [`parse_line_unchecked_tags`] for a line whose UTF-8 is already checked (see [`str_lines`]).
pub fn parse_str_unchecked_tags(line: &str) -> Result<Line<'_>, ParseError> {
    if line.starts_with("_e{") || line.starts_with("_sc|") {
        return Err(ParseError::Unsupported);
    }
    let split = name_end(line).ok_or(ParseError::MissingValue)?;
    let mut warnings = Warnings::NONE;
    let (name, name_tags) = if split.plain {
        (Cow::Borrowed(&line[..split.at]), None)
    } else {
        split_name(&line[..split.at], &mut warnings)?
    };
    let split = split.at;
    if name.is_empty() {
        return Err(ParseError::EmptyName);
    }
    let body = &line[split + 1..];
    if body.is_empty() {
        return Err(ParseError::MissingValue);
    }
    let mut parser = Body {
        s: body,
        pos: 0,
        tags: None,
        warnings,
    };
    let mut first = None;
    let mut rest = Vec::new();
    loop {
        parser.sample(&mut |s| match first {
            None => first = Some(s),
            Some(_) => rest.push(s),
        })?;
        if parser.peek() == Some(b':') {
            parser.pos += 1;
        } else {
            break;
        }
    }
    let first = first.ok_or(ParseError::MissingValue)?;
    let tags = match (name_tags, parser.tags) {
        (Some(_), Some(_)) => return Err(ParseError::MixedTagStyles),
        (Some(t), None) => t,
        (None, Some(raw)) => Tags {
            style: TagStyle::DogStatsd,
            raw,
        },
        (None, None) => Tags::NONE,
    };
    Ok(Line {
        name,
        tags,
        warnings: parser.warnings,
        first,
        rest,
    })
}

struct Body<'a> {
    s: &'a str,
    pos: usize,
    tags: Option<&'a str>,
    warnings: Warnings,
}

impl<'a> Body<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// Advances to the first `stop` byte (or the end) and returns what was skipped. For the tag
    /// text, tens of bytes long: memchr scans a vector at a time.
    fn until(&mut self, stop: u8) -> &'a str {
        let rest = self.s.as_bytes().get(self.pos..).unwrap_or_default();
        self.advance(memchr::memchr(stop, rest).unwrap_or(rest.len()))
    }

    /// [`Self::until`] for a field only a few bytes long.
    fn until_short(&mut self, stop: u8) -> &'a str {
        self.until_either(stop, stop)
    }

    /// Advances to the first `a` or `b` byte (or the end) and returns what was skipped. A byte
    /// loop: these fields are a few bytes long, too short for a vector scan to pay its setup.
    fn until_either(&mut self, a: u8, b: u8) -> &'a str {
        let rest = self.s.as_bytes().get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&c| c == a || c == b)
            .unwrap_or(rest.len());
        self.advance(len)
    }

    /// Skips `len` bytes, which end before an ASCII byte or at the end, so on a char boundary.
    fn advance(&mut self, len: usize) -> &'a str {
        let start = self.pos;
        self.pos = start + len;
        self.s.get(start..start + len).unwrap_or_default()
    }

    fn sample(&mut self, emit: &mut dyn FnMut(Sample<'a>)) -> Result<(), ParseError> {
        let values = self.until_short(b'|');
        if values.is_empty() {
            return Err(ParseError::MissingValue);
        }
        if self.peek() != Some(b'|') {
            return Err(ParseError::MissingType);
        }
        self.pos += 1;
        let type_text = self.until_either(b'|', b':');
        if type_text.is_empty() {
            return Err(ParseError::MissingType);
        }
        let kind = MetricType::from_bytes(type_text.as_bytes()).ok_or(ParseError::BadType)?;
        let mut rate = 1.0;
        let mut timestamp = None;
        let mut container = None;
        while self.peek() == Some(b'|') {
            self.pos += 1;
            match self.peek() {
                // statsd_exporter refuses a sample with an empty field (`a:1|c|`, `a:1|c||@0.5`).
                None | Some(b'|') => return Err(ParseError::EmptyField),
                Some(b'@') => {
                    self.pos += 1;
                    rate = match parse_rate(self.until_either(b'|', b':'))? {
                        Some(r) => r,
                        None => {
                            self.warnings.add(Warning::BadRate);
                            1.0
                        }
                    };
                }
                Some(b'#') => {
                    self.pos += 1;
                    if self.tags.is_some() {
                        return Err(ParseError::BadTags);
                    }
                    self.tags = Some(self.until(b'|'));
                }
                Some(b'T') => {
                    self.pos += 1;
                    let t = self.until_either(b'|', b':');
                    timestamp = t.parse::<u64>().ok();
                    if timestamp.is_none() {
                        self.warnings.add(Warning::BadTimestamp);
                    }
                }
                // `c` alone, or `c:` with nothing after it: DogStatsD 1.2 says a container id
                // follows, and statsd_exporter refuses the sample without one. Other fields
                // starting with `c` (`card:low`, DogStatsD 1.4 cardinality) are not container ids.
                Some(b'c') if matches!(self.s.as_bytes().get(self.pos + 1), None | Some(b'|')) => {
                    return Err(ParseError::BadContainerId);
                }
                Some(b'c') if self.s.as_bytes().get(self.pos + 1) == Some(&b':') => {
                    self.pos += 2;
                    let id = self.until(b'|');
                    if id.is_empty() {
                        return Err(ParseError::BadContainerId);
                    }
                    container = Some(id);
                }
                _ => {
                    self.until(b'|');
                }
            }
        }
        let mut sample = |value| {
            emit(Sample {
                kind,
                value,
                rate,
                timestamp,
                container,
            })
        };
        if kind == MetricType::Set {
            if values.is_empty() {
                return Err(ParseError::BadValue);
            }
            sample(Value::Member(values));
            return Ok(());
        }
        if !values.as_bytes().contains(&b':') {
            sample(parse_value(kind, values)?);
            return Ok(());
        }
        if !kind.is_observation() {
            return Err(ParseError::MultiValueType);
        }
        // Validate every packed value before emitting any, so a bad one rejects the whole group.
        for v in values.split(':') {
            parse_value(kind, v)?;
        }
        for v in values.split(':') {
            sample(parse_value(kind, v)?);
        }
        Ok(())
    }
}

/// `digits[.digits]` with at most 15 digits in all, as most StatsD values are: the digits make an
/// exact integer under 2^53 and the power of ten is exact, so one division gives the correctly
/// rounded value, the same `f64::from_str` gives, at a third of its cost. Anything else: `None`.
fn parse_simple_decimal(text: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut dot = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => mantissa = mantissa * 10 + u64::from(b - b'0'),
            b'.' if dot.is_none() && i > 0 && i + 1 < bytes.len() => dot = Some(i),
            _ => return None,
        }
    }
    let digits = bytes.len() - usize::from(dot.is_some());
    if digits > 15 {
        return None;
    }
    let scale = dot.map_or(0, |d| bytes.len() - d - 1);
    Some(mantissa as f64 / POW10.get(scale).copied()?)
}

fn parse_number(text: &str) -> Result<f64, ParseError> {
    if let Some(v) = parse_simple_decimal(text) {
        return Ok(v);
    }
    // `f64::from_str` also takes "inf"/"NaN": those are reported as what they are.
    let v: f64 = text.parse().map_err(|_| ParseError::BadValue)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ParseError::NonFinite)
    }
}

fn parse_value(kind: MetricType, text: &str) -> Result<Value<'_>, ParseError> {
    if text.is_empty() {
        return Err(ParseError::BadValue);
    }
    let v = parse_number(text)?;
    match kind {
        MetricType::Gauge if text.starts_with(['+', '-']) => Ok(Value::Delta(v)),
        MetricType::Counter if v < 0.0 => Err(ParseError::NegativeCounter),
        _ => Ok(Value::Number(v)),
    }
}

/// `Ok(None)`: a rate statsd_exporter reads as 1 (unparseable, or zero). A rate that parses but
/// is out of range (negative, above 1, NaN) is refused: it is a sender's bug, not noise.
fn parse_rate(text: &str) -> Result<Option<f64>, ParseError> {
    match text.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1.0 => Ok(Some(r)),
        Ok(r) => {
            if r == 0.0 {
                Ok(None)
            } else {
                Err(ParseError::BadRate)
            }
        }
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests;
