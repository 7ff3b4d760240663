//! The ledger's record format: a row key (granularity, bucket start, provider, model, scope
//! labels) and its totals, as bytes for the state file.
//!
//! Keys sort by granularity, then bucket start, so one range scan reads a time range and one
//! range delete prunes everything older than the retention. Values are LEB128 varints after a
//! version byte: most counts are small, so a row costs a few dozen bytes, not 8 per field.

use crate::model::Usage;

/// Bucket width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gran {
    Hour,
    Day,
}

impl Gran {
    pub fn tag(self) -> u8 {
        match self {
            Gran::Hour => b'h',
            Gran::Day => b'd',
        }
    }

    fn from_tag(t: u8) -> Option<Gran> {
        match t {
            b'h' => Some(Gran::Hour),
            b'd' => Some(Gran::Day),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Gran::Hour => "hour",
            Gran::Day => "day",
        }
    }
}

/// The label value of the row that takes spend past the cardinality cap.
pub const OTHER: &str = "_other";

/// A decoded row key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub gran: Gran,
    /// Unix seconds of the bucket's start (local hour or midnight in the ledger's zone).
    pub start: i64,
    pub provider: String,
    pub model: String,
    /// Scope labels, sorted by name.
    pub labels: Vec<(String, String)>,
}

/// Order-preserving bytes of a signed bucket start (big-endian with the sign bit flipped).
pub fn start_bytes(start: i64) -> [u8; 8] {
    ((start as u64) ^ (1 << 63)).to_be_bytes()
}

/// The first key of `gran` buckets starting at or after `start`: the bound of range scans.
pub fn range_bound(gran: Gran, start: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(gran.tag());
    k.extend_from_slice(&start_bytes(start));
    k
}

fn push_str(out: &mut Vec<u8>, s: &str) -> bool {
    let Ok(len) = u16::try_from(s.len()) else {
        return false;
    };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    true
}

/// Encodes a key. `None` when a text is longer than 64 KiB (impossible under the label-value
/// limit; the caller counts such usage under `_other`).
pub fn encode_key<'a>(
    gran: Gran,
    start: i64,
    provider: &str,
    model: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<Vec<u8>> {
    let mut k = Vec::new();
    encode_key_into(&mut k, gran, start, provider, model, labels).then_some(k)
}

/// [`encode_key`] into `out` (cleared first), so a caller that encodes every event reuses one
/// buffer. `false` (and `out` unusable) when a text is longer than 64 KiB.
pub fn encode_key_into<'a>(
    out: &mut Vec<u8>,
    gran: Gran,
    start: i64,
    provider: &str,
    model: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
) -> bool {
    out.clear();
    out.push(gran.tag());
    out.extend_from_slice(&start_bytes(start));
    let mut ok = push_str(out, provider) && push_str(out, model);
    for (name, value) in labels {
        ok = ok && push_str(out, name) && push_str(out, value);
    }
    ok
}

/// Moves an encoded key to another bucket: the identity after the header stays as it is.
pub fn set_bucket(key: &mut [u8], gran: Gran, start: i64) {
    if let Some((tag, rest)) = key.split_first_mut() {
        *tag = gran.tag();
        if let Some(b) = rest.get_mut(..8) {
            b.copy_from_slice(&start_bytes(start));
        }
    }
}

/// The identity part of an encoded key (everything after granularity and start).
pub fn identity(key: &[u8]) -> &[u8] {
    key.get(9..).unwrap_or(&[])
}

/// Granularity and start of an encoded key, without decoding the rest.
pub fn bucket_of(key: &[u8]) -> Option<(Gran, i64)> {
    let gran = Gran::from_tag(*key.first()?)?;
    let b: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    Some((gran, (u64::from_be_bytes(b) ^ (1 << 63)) as i64))
}

fn take_str<'a>(b: &mut &'a [u8]) -> Result<&'a str, String> {
    let (len, rest) = b.split_first_chunk::<2>().ok_or("key truncated")?;
    let len = usize::from(u16::from_be_bytes(*len));
    let (s, rest) = rest.split_at_checked(len).ok_or("key text truncated")?;
    *b = rest;
    std::str::from_utf8(s).map_err(|e| format!("key text is not UTF-8: {e}"))
}

pub fn decode_key(key: &[u8]) -> Result<Key, String> {
    let (gran, start) = bucket_of(key).ok_or("bad key header")?;
    let mut b = identity(key);
    let provider = take_str(&mut b)?.to_string();
    let model = take_str(&mut b)?.to_string();
    let mut labels = Vec::new();
    while !b.is_empty() {
        let name = take_str(&mut b)?.to_string();
        labels.push((name, take_str(&mut b)?.to_string()));
    }
    Ok(Key {
        gran,
        start,
        provider,
        model,
        labels,
    })
}

/// What a row adds up: calls, failed calls, every usage quantity (inclusive, as
/// `llm_tokens_total` counts them) and cost in femto-USD (as `llm_cost_usd_total` sums it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    /// [`Usage::quantities`] order: input, output, cached_input, cache_write_5m, cache_write_1h,
    /// reasoning, audio_input, audio_output, audio_millis, characters, images.
    pub quantities: [u64; 11],
    pub cost_femto: u128,
}

/// Names of [`Totals::quantities`], as the API and CSV columns show them.
pub const QUANTITY_NAMES: [&str; 11] = [
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "audio_millis",
    "characters",
    "images",
];

const VERSION: u8 = 1;

impl Totals {
    pub fn add(&mut self, o: &Totals) {
        self.requests = self.requests.saturating_add(o.requests);
        self.errors = self.errors.saturating_add(o.errors);
        for (a, b) in self.quantities.iter_mut().zip(o.quantities) {
            *a = a.saturating_add(b);
        }
        self.cost_femto = self.cost_femto.saturating_add(o.cost_femto);
    }

    /// The usage these totals stand for (to price the same mix at another model).
    pub fn usage(&self) -> Usage {
        let q = self.quantities;
        Usage {
            input_tokens: q[0],
            output_tokens: q[1],
            cached_input_tokens: q[2],
            cache_write_5m_tokens: q[3],
            cache_write_1h_tokens: q[4],
            reasoning_tokens: q[5],
            audio_input_tokens: q[6],
            audio_output_tokens: q[7],
            audio_millis: q[8],
            characters: q[9],
            images: q[10],
            requests: self.requests,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        out.push(VERSION);
        let mut put = |mut v: u128| loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        };
        put(u128::from(self.requests));
        put(u128::from(self.errors));
        for q in self.quantities {
            put(u128::from(q));
        }
        put(self.cost_femto);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Totals, String> {
        let (&version, mut b) = bytes.split_first().ok_or("empty usage row")?;
        if version != VERSION {
            return Err(format!("usage row version {version} is not {VERSION}"));
        }
        let mut get = || -> Result<u128, String> {
            let mut v: u128 = 0;
            for shift in (0..128).step_by(7) {
                let (&byte, rest) = b.split_first().ok_or("usage row truncated")?;
                b = rest;
                v |= u128::from(byte & 0x7f)
                    .checked_shl(shift)
                    .ok_or("usage row varint too long")?;
                if byte & 0x80 == 0 {
                    return Ok(v);
                }
            }
            Err("usage row varint too long".into())
        };
        let small = |v: u128| u64::try_from(v).map_err(|_| "usage row count too large".to_string());
        let requests = small(get()?)?;
        let errors = small(get()?)?;
        let mut quantities = [0u64; 11];
        for q in &mut quantities {
            *q = small(get()?)?;
        }
        let cost_femto = get()?;
        Ok(Totals {
            requests,
            errors,
            quantities,
            cost_femto,
        })
    }
}
