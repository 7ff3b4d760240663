//! Pricing tables from arbitrary text: parsing, decimal prices, match patterns (globs, regexes),
//! tiers and effective dates must be errors or a compiled table, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(table) = meterd::config::load::load_str::<meterd::derive::pricing::PricingTable>(
        text,
        "pricing.yaml",
        &|_| None,
    ) else {
        return;
    };
    let _ = meterd::derive::pricing::Compiled::new(&table);
});
