//! The config loader on arbitrary text: env substitution, YAML parsing, unknown keys, validation and
//! the path-to-position index must return errors, never panic or allocate without bound; and a
//! config that loads must compile (mappings, budgets, price table) or say why, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = |name: &str| (name == "SET").then(|| "value".to_string());
    if let Ok(config) =
        meterd::config::load::load_str::<meterd::config::Config>(text, "fuzz.yaml", &env)
    {
        let _ = meterd::pipeline::Snapshot::try_new(std::sync::Arc::new(config));
    }
});
