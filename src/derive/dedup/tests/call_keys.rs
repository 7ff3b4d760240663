//! Call keys are stored in the state file: a new way of computing them must give the same keys,
//! or a retry after an upgrade would be priced again.

use crate::derive::dedup::{call_key, CallKey};

/// How call keys were computed before the one-shot hash (an incremental hasher fed in parts).
fn incremental(provider: &str, response_id: &str) -> CallKey {
    let mut h = blake3::Hasher::new();
    h.update(b"meterd call v1\0");
    h.update(provider.to_ascii_lowercase().as_bytes());
    h.update(&[0]);
    h.update(response_id.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize().as_bytes()[..16]);
    k
}

#[test]
fn call_keys_are_the_keys_stored_before() {
    let providers = [
        String::new(),
        "openai".into(),
        "Anthropic".into(),
        "AWS.Bedrock".into(),
        "Ünïcödé-Prövider".into(),
        "p".repeat(64),
        "P".repeat(65),
        "q".repeat(200),
    ];
    let mut checked = 0;
    for p in &providers {
        for len in (0..260).step_by(7).chain([1, 175, 176, 177, 178, 192]) {
            let id: String = (0..len)
                .map(|i| char::from(b"abcXYZ09_-"[i % 10]))
                .collect();
            assert_eq!(call_key(p, &id), incremental(p, &id), "{p:?} {len}");
            checked += 1;
        }
        let id = "msg_01Ωüñí";
        assert_eq!(call_key(p, id), incremental(p, id), "{p:?}");
    }
    assert!(checked > 300);
    // Providers fold case, response ids do not.
    assert_eq!(
        call_key("OpenAI", "chatcmpl-1"),
        incremental("openai", "chatcmpl-1")
    );
    assert_ne!(
        call_key("openai", "ChatCmpl-1"),
        call_key("openai", "chatcmpl-1")
    );
}
