//! Which of several reports of one call to price. An SDK's own span and an instrumentation's span
//! of one response often arrive in one export request; they may split the usage differently (one
//! reports 1-hour cache writes apart, the other lumps every cache write together), so mixing them
//! per token type, or summing them, bills tokens twice. The most complete report wins whole. Pure.

use crate::model::Usage;

/// How complete a report is: how many token parts it names, then how many tokens it counts.
pub fn completeness(u: &Usage) -> (u32, u64) {
    let parts = &u.quantities()[..Usage::TOKEN_PARTS];
    let named = parts.iter().filter(|n| **n > 0).count() as u32;
    (named, u.input_tokens.saturating_add(u.output_tokens))
}

/// The index of the most complete of `reports` (the first among equals).
pub fn most_complete<'a>(reports: impl IntoIterator<Item = &'a Usage>) -> Option<usize> {
    reports
        .into_iter()
        .enumerate()
        .fold(None, |best: Option<(usize, (u32, u64))>, (i, u)| {
            let c = completeness(u);
            match best {
                Some((_, b)) if b >= c => best,
                _ => Some((i, c)),
            }
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDK's report splits 3k cache writes into 1k (5 min) and 2k (1 h); the instrumentation
    /// reports all 3k as 5-minute writes. Mixed per type they would bill 5k of cache writes.
    #[test]
    fn the_report_naming_more_parts_wins_whole() {
        let instrumentation = Usage {
            input_tokens: 45_000,
            output_tokens: 700,
            cached_input_tokens: 40_000,
            cache_write_5m_tokens: 3_000,
            ..Usage::default()
        };
        let sdk = Usage {
            cache_write_5m_tokens: 1_000,
            cache_write_1h_tokens: 2_000,
            reasoning_tokens: 300,
            ..instrumentation.clone()
        };
        assert_eq!(most_complete([&instrumentation, &sdk]), Some(1));
        assert_eq!(most_complete([&sdk, &instrumentation]), Some(0));
        assert_eq!(
            most_complete([&sdk, &sdk.clone()]),
            Some(0),
            "first among equals"
        );
        assert_eq!(most_complete(std::iter::empty()), None);
    }
}
