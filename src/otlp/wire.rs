//! The protobuf wire format, read in place: the fields of a message as slices of the request
//! buffer, and a check that a message prost would decode does decode, without building it.
//!
//! The contract with prost is one-sided. Whatever this reader accepts, prost accepts and reads the
//! same way; anything unusual (a group, a repeated singular message that prost would merge,
//! nesting far deeper than any exporter sends, any malformed encoding) is [`Bail`]: the caller
//! decodes the request with prost instead, which then decides (and repairs) as it always did.

use std::fmt;

/// "Let prost decide": the input is malformed or unusual.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bail;

impl fmt::Display for Bail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not decoded in place")
    }
}

/// Messages nested deeper than this are left to prost (whose own limit is 100).
pub const MAX_DEPTH: u32 = 40;

/// One field's value as it is on the wire.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Wire<'a> {
    Varint(u64),
    I64(u64),
    I32(u32),
    Len(&'a [u8]),
}

/// The fields of one message, in wire order.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The next field, `None` at the end; the rules for keys are prost's (`decode_key`).
    #[inline(always)]
    pub fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>, Bail> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = u32::try_from(self.varint()?).map_err(|_| Bail)?;
        let number = key >> 3;
        if number == 0 {
            return Err(Bail);
        }
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::I64(u64::from_le_bytes(self.take_array::<8>()?)),
            5 => Wire::I32(u32::from_le_bytes(self.take_array::<4>()?)),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| Bail)?;
                Wire::Len(self.take(len)?)
            }
            // Groups (3, 4) and the undefined wire types 6 and 7.
            _ => return Err(Bail),
        };
        Ok(Some((number, wire)))
    }

    /// A varint as prost reads it: at most ten bytes, the tenth 0 or 1.
    #[inline(always)]
    fn varint(&mut self) -> Result<u64, Bail> {
        // Tags, lengths and small numbers: one byte (most of what a request holds).
        if let Some((&b, rest)) = self.buf.split_first() {
            if b < 0x80 {
                self.buf = rest;
                return Ok(u64::from(b));
            }
        }
        self.varint_long()
    }

    #[inline(never)]
    fn varint_long(&mut self) -> Result<u64, Bail> {
        let mut value = 0u64;
        for (i, b) in self.buf.iter().take(10).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i == 9 && *b > 1 {
                    return Err(Bail);
                }
                self.buf = self.buf.get(i + 1..).ok_or(Bail)?;
                return Ok(value);
            }
        }
        Err(Bail)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Bail> {
        if n > self.buf.len() {
            return Err(Bail);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], Bail> {
        self.take(N)?.try_into().map_err(|_| Bail)
    }
}

/// A string field: prost refuses a message with a string that is not UTF-8.
#[inline]
pub fn str(wire: Wire<'_>) -> Result<&str, Bail> {
    match wire {
        Wire::Len(b) => std::str::from_utf8(b).map_err(|_| Bail),
        _ => Err(Bail),
    }
}

pub fn len(wire: Wire<'_>) -> Result<&[u8], Bail> {
    match wire {
        Wire::Len(b) => Ok(b),
        _ => Err(Bail),
    }
}

pub fn varint(wire: Wire<'_>) -> Result<u64, Bail> {
    match wire {
        Wire::Varint(v) => Ok(v),
        _ => Err(Bail),
    }
}

pub fn fixed64(wire: Wire<'_>) -> Result<u64, Bail> {
    match wire {
        Wire::I64(v) => Ok(v),
        _ => Err(Bail),
    }
}

pub fn double(wire: Wire<'_>) -> Result<f64, Bail> {
    fixed64(wire).map(f64::from_bits)
}

/// A repeated 64-bit field, packed or not: each occurrence appends to `out`.
pub fn repeated_fixed64(wire: Wire<'_>, out: &mut Vec<u64>) -> Result<(), Bail> {
    match wire {
        Wire::I64(v) => out.push(v),
        Wire::Len(b) => {
            if b.len() % 8 != 0 {
                return Err(Bail);
            }
            out.extend(
                b.chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())),
            );
        }
        _ => return Err(Bail),
    }
    Ok(())
}

/// The value of a `KeyValue` as [`plain_attr`] reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Plain<'a> {
    Str(&'a str),
    Int(i64),
}

/// A `KeyValue` in the shape every exporter writes for a string or integer attribute (key, then
/// an `AnyValue` holding only that value, lengths under 128) read without the field loop;
/// `None` for any other shape, which the caller reads field by field. Where it answers, the
/// answer is the field-by-field one: the same key and value, or [`Bail`] when a string is not
/// UTF-8.
#[inline]
pub fn plain_attr(buf: &[u8]) -> Option<Result<(&str, Plain<'_>), Bail>> {
    let (key, rest) = match buf {
        [0x0a, klen, rest @ ..] if *klen < 0x80 => rest.split_at_checked(usize::from(*klen))?,
        _ => return None,
    };
    let value = match rest {
        [0x12, vlen, value @ ..] if *vlen < 0x80 && usize::from(*vlen) == value.len() => value,
        _ => return None,
    };
    match value {
        [0x0a, slen, s @ ..] if *slen < 0x80 && usize::from(*slen) == s.len() => {
            // Key and value are separated by ASCII bytes (tags and lengths under 128), so the
            // whole message is UTF-8 exactly when both are: one validation instead of two.
            let Ok(all) = std::str::from_utf8(buf) else {
                return Some(Err(Bail));
            };
            let key = all.get(2..2 + key.len())?;
            let s = all.get(all.len() - s.len()..)?;
            Some(Ok((key, Plain::Str(s))))
        }
        [0x18, int @ ..] => {
            let mut r = Reader::new(int);
            let v = r.varint().ok()?;
            if !r.buf.is_empty() {
                return None;
            }
            Some(
                std::str::from_utf8(key)
                    .map_err(|_| Bail)
                    .map(|k| (k, Plain::Int(v as i64))),
            )
        }
        _ => None,
    }
}

/// The known fields of a message, for [`check`].
pub struct Schema(pub &'static [(u32, Kind)]);

/// How a known field is encoded, for [`check`].
#[derive(Clone, Copy)]
pub enum Kind {
    Str,
    Bytes,
    Varint,
    I64,
    I32,
    Msg(&'static Schema),
    /// Repeated varints, packed or not.
    RepeatedVarint,
    /// Repeated 64-bit values, packed or not.
    RepeatedI64,
}

/// Whether prost decodes `msg` (of the message whose known fields are `schema`, nested `depth`
/// deep): wire types of known fields, UTF-8 of strings, every nested message; unknown fields are
/// skipped as prost skips them.
pub fn check(schema: &Schema, msg: &[u8], depth: u32) -> Result<(), Bail> {
    if depth > MAX_DEPTH {
        return Err(Bail);
    }
    let mut r = Reader::new(msg);
    while let Some((number, wire)) = r.next_field()? {
        let Some((_, kind)) = schema.0.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        match (kind, wire) {
            (Kind::Str, w) => {
                str(w)?;
            }
            (Kind::Bytes, Wire::Len(_))
            | (Kind::Varint | Kind::RepeatedVarint, Wire::Varint(_))
            | (Kind::I64 | Kind::RepeatedI64, Wire::I64(_))
            | (Kind::I32, Wire::I32(_)) => {}
            (Kind::Msg(inner), Wire::Len(b)) => check(inner, b, depth + 1)?,
            (Kind::RepeatedVarint, Wire::Len(b)) => {
                let mut packed = Reader::new(b);
                while !packed.buf.is_empty() {
                    packed.varint()?;
                }
            }
            (Kind::RepeatedI64, Wire::Len(b)) if b.len() % 8 == 0 => {}
            _ => return Err(Bail),
        }
    }
    Ok(())
}

/// The known fields of the OTLP messages meterd reads through prost after [`check`].
pub mod schema {
    use super::Kind::*;
    use super::Schema;

    pub static ANY_VALUE: Schema = Schema(&[
        (1, Str),
        (2, Varint),
        (3, Varint),
        (4, I64),
        (5, Msg(&ARRAY_VALUE)),
        (6, Msg(&KEY_VALUE_LIST)),
        (7, Bytes),
        (8, Varint),
    ]);
    pub static ARRAY_VALUE: Schema = Schema(&[(1, Msg(&ANY_VALUE))]);
    pub static KEY_VALUE_LIST: Schema = Schema(&[(1, Msg(&KEY_VALUE))]);
    pub static KEY_VALUE: Schema = Schema(&[(1, Str), (2, Msg(&ANY_VALUE)), (3, Varint)]);
    pub static ENTITY_REF: Schema = Schema(&[(1, Str), (2, Str), (3, Str), (4, Str)]);
    pub static RESOURCE: Schema =
        Schema(&[(1, Msg(&KEY_VALUE)), (2, Varint), (3, Msg(&ENTITY_REF))]);
    pub static SCOPE: Schema = Schema(&[(1, Str), (2, Str), (3, Msg(&KEY_VALUE)), (4, Varint)]);
    pub static EXEMPLAR: Schema = Schema(&[
        (7, Msg(&KEY_VALUE)),
        (2, I64),
        (4, Bytes),
        (5, Bytes),
        (3, I64),
        (6, I64),
    ]);
    pub static BUCKETS: Schema = Schema(&[(1, Varint), (2, RepeatedVarint)]);
    pub static EXPONENTIAL_POINT: Schema = Schema(&[
        (1, Msg(&KEY_VALUE)),
        (2, I64),
        (3, I64),
        (4, I64),
        (5, I64),
        (6, Varint),
        (7, I64),
        (8, Msg(&BUCKETS)),
        (9, Msg(&BUCKETS)),
        (10, Varint),
        (11, Msg(&EXEMPLAR)),
        (12, I64),
        (13, I64),
        (14, I64),
    ]);
    pub static QUANTILE: Schema = Schema(&[(1, I64), (2, I64)]);
    pub static SUMMARY_POINT: Schema = Schema(&[
        (7, Msg(&KEY_VALUE)),
        (2, I64),
        (3, I64),
        (4, I64),
        (5, I64),
        (6, Msg(&QUANTILE)),
        (8, Varint),
    ]);
}

#[cfg(test)]
mod tests;
