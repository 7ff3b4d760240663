//! Rates as the compiled table keeps them: only the dimensions an entry prices.
//!
//! [`Rates`] is 13 `Option<u128>` (416 bytes) so a bill indexes it directly, but an entry prices
//! two to four dimensions, and the shipped table holds about 600 entries, each with base rates and
//! often explicit service-tier rates: kept whole they were ~1.1 MB of the idle heap (massif, issue
//! 24). Packed, an entry's rates are a presence mask and the present values in dimension order.

use super::compile::Rates;
use super::Dim;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackedRates {
    /// Bit `d` set: dimension `d` has a rate, at `values[popcount(mask below d)]`.
    mask: u16,
    values: Box<[u128]>,
}

impl PackedRates {
    pub fn pack(r: &Rates) -> PackedRates {
        let mut mask = 0u16;
        let mut values = Vec::new();
        for (d, v) in r.0.iter().enumerate() {
            if let Some(v) = v {
                mask |= 1 << d;
                values.push(*v);
            }
        }
        PackedRates {
            mask,
            values: values.into_boxed_slice(),
        }
    }

    pub fn get(&self, d: Dim) -> Option<u128> {
        let bit = 1u16 << (d as u16);
        if self.mask & bit == 0 {
            return None;
        }
        let at = (self.mask & (bit - 1)).count_ones() as usize;
        self.values.get(at).copied()
    }

    pub fn unpack(&self) -> Rates {
        let mut r = Rates::default();
        for d in Dim::ALL {
            r.0[d as usize] = self.get(d);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(pairs: &[(Dim, u128)]) -> Rates {
        let mut r = Rates::default();
        for (d, v) in pairs {
            r.0[*d as usize] = Some(*v);
        }
        r
    }

    #[test]
    fn round_trips_every_subset_of_dimensions() {
        // Every one of the 2^13 presence patterns, with distinct values, so a wrong slot shows.
        for mask in 0u32..(1 << 13) {
            let pairs: Vec<(Dim, u128)> = Dim::ALL
                .into_iter()
                .filter(|d| mask & (1 << *d as u32) != 0)
                .map(|d| (d, 1_000 + d as u128))
                .collect();
            let r = rates(&pairs);
            let p = PackedRates::pack(&r);
            assert_eq!(p.unpack(), r, "mask {mask:#b}");
            for d in Dim::ALL {
                assert_eq!(p.get(d), r.get(d), "mask {mask:#b}, {d:?}");
            }
        }
    }

    #[test]
    fn keeps_zero_and_extreme_rates_apart_from_absent_ones() {
        let r = rates(&[(Dim::Input, 0), (Dim::Request, u128::MAX)]);
        let p = PackedRates::pack(&r);
        assert_eq!(p.get(Dim::Input), Some(0));
        assert_eq!(p.get(Dim::Request), Some(u128::MAX));
        assert_eq!(p.get(Dim::Output), None);
        assert_eq!(
            PackedRates::pack(&Rates::default()).unpack(),
            Rates::default()
        );
    }

    #[test]
    fn is_smaller_than_the_full_array() {
        assert!(std::mem::size_of::<PackedRates>() * 10 < std::mem::size_of::<Rates>());
    }
}
