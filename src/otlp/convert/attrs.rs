//! Reading OTLP attributes: lookups without allocation, and the one rule for turning any
//! `AnyValue` into label text.

use crate::otlp::view::{Attr, AttrValue};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use std::borrow::Cow;

/// An attribute, decoded by prost or read in place ([`crate::otlp::view`]): every lookup below
/// works on a slice of either, so span and point conversion has one copy of its rules.
pub trait Attribute {
    fn key(&self) -> &str;
    /// The value's label text ([`value_text`]), `None` when the attribute has no value.
    fn text(&self) -> Option<Cow<'_, str>>;
    /// The value as a scalar, `None` when the attribute has no value.
    fn scalar(&self) -> Option<Scalar<'_>>;
}

/// An attribute value as the numeric rules below read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// Arrays, maps, bytes: never a number.
    Composite,
}

impl<'a> Scalar<'a> {
    pub fn of(v: &'a Value) -> Self {
        match v {
            Value::StringValue(s) => Scalar::Str(Cow::Borrowed(s)),
            Value::BoolValue(b) => Scalar::Bool(*b),
            Value::IntValue(i) => Scalar::Int(*i),
            Value::DoubleValue(d) => Scalar::Double(*d),
            _ => Scalar::Composite,
        }
    }

    /// A non-negative count; doubles and numeric strings are accepted because instrumentations
    /// disagree on the type of token counts.
    pub fn count(&self) -> Option<u64> {
        match self {
            Scalar::Int(i) => u64::try_from(*i).ok(),
            Scalar::Double(d) if d.is_finite() && *d >= 0.0 => Some(d.round() as u64),
            Scalar::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A finite number, from an integer, a double or a numeric string.
    pub fn float(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Double(d) => Some(*d),
            Scalar::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|v: &f64| v.is_finite())
    }
}

impl Attribute for KeyValue {
    fn key(&self) -> &str {
        &self.key
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        self.value.as_ref()?.value.as_ref().map(value_text)
    }

    fn scalar(&self) -> Option<Scalar<'_>> {
        self.value.as_ref()?.value.as_ref().map(Scalar::of)
    }
}

impl Attribute for Attr<'_> {
    fn key(&self) -> &str {
        self.key
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        match self.value {
            AttrValue::None => None,
            AttrValue::Str(s) => Some(Cow::Borrowed(s)),
            AttrValue::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            AttrValue::Int(i) => Some(Cow::Owned(i.to_string())),
            AttrValue::Double(d) => Some(Cow::Owned(d.to_string())),
            AttrValue::Other(raw) => {
                let any = AttrValue::decode_other(raw)?;
                any.value
                    .as_ref()
                    .map(|v| Cow::Owned(value_text(v).into_owned()))
            }
        }
    }

    fn scalar(&self) -> Option<Scalar<'_>> {
        Some(match self.value {
            AttrValue::None => return None,
            AttrValue::Str(s) => Scalar::Str(Cow::Borrowed(s)),
            AttrValue::Bool(b) => Scalar::Bool(b),
            AttrValue::Int(i) => Scalar::Int(i),
            AttrValue::Double(d) => Scalar::Double(d),
            // Kept encoded; prost's merge rules may still make it a scalar (a string after an
            // array in one `AnyValue`), so it is decoded and read as prost's value is.
            AttrValue::Other(raw) => {
                let any = AttrValue::decode_other(raw)?;
                match Scalar::of(any.value.as_ref()?) {
                    Scalar::Str(s) => Scalar::Str(Cow::Owned(s.into_owned())),
                    Scalar::Bool(b) => Scalar::Bool(b),
                    Scalar::Int(i) => Scalar::Int(i),
                    Scalar::Double(d) => Scalar::Double(d),
                    Scalar::Composite => Scalar::Composite,
                }
            }
        })
    }
}

/// The first attribute named `key` (whether it has a value or not: a later one is not read).
pub fn find<'a, A: Attribute>(attrs: &'a [A], key: &str) -> Option<&'a A> {
    attrs.iter().find(|kv| kv.key() == key)
}

/// A non-empty string attribute (other scalar types are rendered as text).
pub fn get_str<'a, A: Attribute>(attrs: &'a [A], key: &str) -> Option<Cow<'a, str>> {
    find(attrs, key)?.text().filter(|s| !s.is_empty())
}

/// The first of `keys` present (new convention names first, then the old ones).
pub fn first_str<'a, A: Attribute>(attrs: &'a [A], keys: &[&str]) -> Option<Cow<'a, str>> {
    keys.iter().find_map(|k| get_str(attrs, k))
}

/// A non-negative integer attribute ([`Scalar::count`]).
pub fn get_u64<A: Attribute>(attrs: &[A], key: &str) -> Option<u64> {
    find(attrs, key)?.scalar()?.count()
}

pub fn first_u64<A: Attribute>(attrs: &[A], keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| get_u64(attrs, k))
}

pub fn get_f64<A: Attribute>(attrs: &[A], key: &str) -> Option<f64> {
    find(attrs, key)?.scalar()?.float()
}

/// Label text for a value: strings as-is, scalars in their plain form, arrays and maps as JSON
/// (what the Prometheus compatibility spec asks for non-string attributes).
pub fn value_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::StringValue(s) => Cow::Borrowed(s),
        Value::BoolValue(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::IntValue(i) => Cow::Owned(i.to_string()),
        Value::DoubleValue(d) => Cow::Owned(d.to_string()),
        _ => Cow::Owned(json(v).to_string()),
    }
}

fn json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::StringValue(s) => J::String(s.clone()),
        Value::BoolValue(b) => J::Bool(*b),
        Value::IntValue(i) => J::from(*i),
        Value::DoubleValue(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Value::BytesValue(b) => J::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        Value::ArrayValue(a) => J::Array(a.values.iter().map(any_json).collect()),
        Value::KvlistValue(kv) => J::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, any_json)))
                .collect(),
        ),
        #[allow(unreachable_patterns)]
        _ => J::Null,
    }
}

fn any_json(v: &AnyValue) -> serde_json::Value {
    v.value.as_ref().map_or(serde_json::Value::Null, json)
}

/// Lowercase hex of an id, or `None` when it is absent or all zero (invalid per the spec).
pub fn hex_id(bytes: &[u8]) -> Option<Box<str>> {
    if bytes.is_empty() || bytes.iter().all(|b| *b == 0) {
        return None;
    }
    // Written into a stack buffer and copied once into its box: pushing char by char onto a
    // `String` cost more than the rest of building a span's exemplar id. Trace ids (16 bytes)
    // and span ids fit; anything longer takes the same route through a `Vec`.
    let mut buf = [0u8; 64];
    let mut long = Vec::new();
    let out = match buf.get_mut(..bytes.len() * 2) {
        Some(out) => out,
        None => {
            long.resize(bytes.len() * 2, 0);
            &mut long[..]
        }
    };
    let mut pairs = out.chunks_exact_mut(16).zip(bytes.chunks_exact(8));
    for (hex, eight) in pairs.by_ref() {
        let word = u64::from_be_bytes(eight.try_into().unwrap_or_default());
        hex.copy_from_slice(&hex8(word));
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digit = |n: u8| HEX[usize::from(n & 15)];
    let done = bytes.len() / 8 * 8;
    for (pair, b) in out[done * 2..].chunks_exact_mut(2).zip(&bytes[done..]) {
        pair[0] = digit(b >> 4);
        pair[1] = digit(*b);
    }
    std::str::from_utf8(out).ok().map(Box::from)
}

/// Eight bytes as sixteen lowercase hex digits, all at once: each byte's nibbles are spread to
/// a byte each, then every nibble becomes its digit with the same additions.
fn hex8(word: u64) -> [u8; 16] {
    let mut v = u128::from(word);
    v = (v | (v << 32)) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    v = (v | (v << 16)) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    v = (v | (v << 8)) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    v = (v | (v << 4)) & 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;
    const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    // 1 in each byte whose nibble is 10 or more: those skip from '9' + 1 to 'a'.
    let letters = ((v + 6 * ONES) >> 4) & ONES;
    (v + b'0' as u128 * ONES + letters * u128::from(b'a' - b'0' - 10)).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    #[test]
    fn numbers_from_any_scalar_type() {
        let a = [
            kv("i", Value::IntValue(12)),
            kv("d", Value::DoubleValue(3.0)),
            kv("s", Value::StringValue(" 7 ".into())),
            kv("neg", Value::IntValue(-1)),
        ];
        assert_eq!(get_u64(&a, "i"), Some(12));
        assert_eq!(get_u64(&a, "d"), Some(3));
        assert_eq!(get_u64(&a, "s"), Some(7));
        assert_eq!(get_u64(&a, "neg"), None);
        assert_eq!(first_u64(&a, &["missing", "d"]), Some(3));
    }

    #[test]
    fn text_of_composite_values_is_json() {
        let arr = Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(Value::StringValue("a".into())),
                },
                AnyValue {
                    value: Some(Value::IntValue(1)),
                },
            ],
        });
        assert_eq!(value_text(&arr), r#"["a",1]"#);
        assert_eq!(value_text(&Value::BoolValue(true)), "true");
    }

    #[test]
    fn zero_ids_are_absent() {
        assert_eq!(hex_id(&[0; 16]), None);
        assert_eq!(hex_id(&[]), None);
        assert_eq!(hex_id(&[0xab, 0x01]).as_deref(), Some("ab01"));
        let long: Vec<u8> = (0..=255).collect();
        let want: String = long.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex_id(&long).as_deref(), Some(want.as_str()));
        assert_eq!(hex_id(&long[..32]).as_deref(), Some(&want[..64]));
        assert_eq!(hex_id(&long[..33]).as_deref(), Some(&want[..66]));
        for n in 1..40 {
            for start in [1, 7, 120, 200] {
                let id = &long[start..start + n];
                let want: String = id.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(hex_id(id).as_deref(), Some(want.as_str()), "{id:?}");
            }
        }
        for id in [[0xff; 16], [0x0a; 16], [0x90; 16], [0x09; 16]] {
            let want: String = id.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex_id(&id).as_deref(), Some(want.as_str()));
        }
    }
}
