//! Exact decimal amounts: prices are parsed from the text the user wrote (never through a float),
//! and money is counted in integer femto-USD (1e-15 USD), so every figure can be checked by hand.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// Femto-USD per USD.
pub const FEMTO_PER_USD: u128 = 1_000_000_000_000_000;
const SCALE_DIGITS: usize = 15;

/// A decimal number as written in the table (`2.50`, `0.075`, `"1.25"`). Parsed on validation, so a
/// bad value is reported with its key path instead of failing the whole file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Amount(pub Box<str>);

impl Amount {
    pub fn new(text: &str) -> Self {
        Amount(text.into())
    }

    /// The value times 1e15, exactly (so USD become femto-USD). Errors on anything that is not a
    /// plain decimal (sign, digits, optional fraction, optional exponent), on more than 15 decimal
    /// places, and on overflow.
    pub fn scaled(&self) -> Result<i128, String> {
        parse_scaled(self.0.trim()).ok_or_else(|| {
            format!(
                "{:?} is not a decimal number with at most 15 decimal places",
                self.0
            )
        })
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_scaled(s: &str) -> Option<i128> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
        return None;
    }
    // value = digits * 10^(exp - frac.len()); we want value * 10^15.
    let shift = exp
        .checked_add(SCALE_DIGITS as i32)?
        .checked_sub(frac.len() as i32)?;
    let mut n: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        n = n.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    if shift >= 0 {
        n = n.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?;
    } else {
        let div = 10i128.checked_pow(u32::try_from(-shift).ok()?)?;
        if n % div != 0 {
            return None;
        }
        n /= div;
    }
    Some(if neg { -n } else { n })
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Ok(Amount::new(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount::new(&v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount::new(&v.to_string()))
            }
            // Only reached from deserializers that do not keep scalar text; Rust prints the
            // shortest decimal that round-trips, which is what a human wrote.
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                Ok(Amount::new(&v.to_string()))
            }
        }
        // Asking for a string makes the YAML deserializer hand over the scalar's exact text.
        d.deserialize_str(V)
    }
}

/// Exact decimal text of `femto` femto-USD, trailing zeros trimmed but at least two decimals
/// (`0.00575`, `12.50`).
pub fn format_usd(femto: u128) -> String {
    let whole = femto / FEMTO_PER_USD;
    let frac = femto % FEMTO_PER_USD;
    let mut f = format!("{frac:015}");
    while f.len() > 2 && f.ends_with('0') {
        f.pop();
    }
    format!("{whole}.{f}")
}

/// USD as a float for exposition: whole dollars and the fraction converted separately, so large
/// totals keep their cents.
pub fn femto_to_usd_f64(femto: u128) -> f64 {
    (femto / FEMTO_PER_USD) as f64 + (femto % FEMTO_PER_USD) as f64 / FEMTO_PER_USD as f64
}

/// `a * b / d` rounded half up, saturating (rates and multipliers are small; this never saturates
/// with real prices).
pub fn mul_div_round(a: u128, b: u128, d: u128) -> u128 {
    if d == 0 {
        return 0;
    }
    match a.checked_mul(b) {
        Some(p) => p / d + u128::from(p % d >= d.div_ceil(2)),
        None => (a / d).saturating_mul(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        for (text, want) in [
            ("2.50", 2_500_000_000_000_000),
            ("0.075", 75_000_000_000_000),
            ("10", 10_000_000_000_000_000),
            ("0.000000000000001", 1),
            ("1e-6", 1_000_000_000),
            ("1.5E2", 150_000_000_000_000_000),
            ("-0.5", -500_000_000_000_000),
            (".5", 500_000_000_000_000),
            ("3.", 3_000_000_000_000_000),
        ] {
            assert_eq!(Amount::new(text).scaled(), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_non_decimals_and_excess_precision() {
        for text in [
            "",
            ".",
            "abc",
            "1.2.3",
            "0.0000000000000001",
            "1e999",
            "--1",
            "1,5",
            "nan",
            "inf",
        ] {
            assert!(Amount::new(text).scaled().is_err(), "{text}");
        }
        // Trailing zeros beyond 15 places are not extra precision.
        assert_eq!(
            Amount::new("0.10000000000000000").scaled(),
            Ok(100_000_000_000_000)
        );
    }

    #[test]
    fn formats_usd_exactly() {
        assert_eq!(format_usd(5_750_000_000_000), "0.00575");
        assert_eq!(format_usd(12 * FEMTO_PER_USD + FEMTO_PER_USD / 2), "12.50");
        assert_eq!(format_usd(0), "0.00");
        assert_eq!(format_usd(1), "0.000000000000001");
    }

    #[test]
    fn rounds_half_up() {
        assert_eq!(mul_div_round(5, 1, 10), 1);
        assert_eq!(mul_div_round(4, 1, 10), 0);
        assert_eq!(mul_div_round(6_000_000_000_000, 1, 60_000), 100_000_000);
        assert_eq!(mul_div_round(1, 1, 0), 0);
    }
}
