use super::scopes::{ScopeVerdict, Scopes};
use super::*;
use crate::config::HumanDuration;
use std::time::Duration;

fn cfg(window_secs: u64, max_entries: usize) -> DedupConfig {
    DedupConfig {
        window: HumanDuration(Duration::from_secs(window_secs)),
        max_entries,
    }
}

fn sk(n: u8) -> Option<SpanKey> {
    span_key(&[n; 16], &[n; 8])
}

fn usage(input: u64, output: u64, cached: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: cached,
        requests: 1,
        ..Default::default()
    }
}

#[test]
fn invalid_ids_are_no_key() {
    assert_eq!(span_key(&[0; 16], &[1; 8]), None);
    assert_eq!(span_key(&[1; 16], &[0; 8]), None);
    assert_eq!(span_key(&[1; 15], &[1; 8]), None);
    assert!(span_key(&[1; 16], &[1; 8]).is_some());
    assert_eq!(
        call_key("Anthropic", "msg_1"),
        call_key("anthropic", "msg_1")
    );
    assert_ne!(
        call_key("anthropic", "msg_1"),
        call_key("anthropic", "msg_2")
    );
    assert_ne!(call_key("openai", "msg_1"), call_key("anthropic", "msg_1"));
}

#[test]
fn a_retried_span_is_priced_once_within_the_window_and_again_after_it() {
    let mut w = Window::new(&cfg(60, 100));
    let u = usage(10, 5, 0);
    assert_eq!(w.observe(sk(1), None, &u, 1000), Verdict::New);
    let seq = w.seq();
    assert_eq!(w.observe(sk(1), None, &u, 1059), Verdict::Retry);
    assert!(
        w.seq() > seq,
        "a retry must wait for what it repeats to be durable"
    );
    assert_eq!(w.observe(sk(2), None, &u, 1059), Verdict::New);
    // 60 s after the first sight the key is gone.
    assert_eq!(w.observe(sk(1), None, &u, 1060), Verdict::New);
    // A clock stepped back does not bring expired keys back or expire new ones early.
    assert_eq!(w.observe(sk(1), None, &u, 500), Verdict::Retry);
    // Spans without valid ids are never retries.
    assert_eq!(w.observe(None, None, &u, 1060), Verdict::New);
    assert_eq!(w.observe(None, None, &u, 1060), Verdict::New);
}

#[test]
fn the_oldest_key_is_evicted_first_and_counted() {
    let mut w = Window::new(&cfg(600, 3));
    let u = usage(1, 1, 0);
    for n in 1..=3 {
        assert_eq!(w.observe(sk(n), None, &u, 100 + u64::from(n)), Verdict::New);
    }
    assert_eq!(w.evicted(), 0);
    assert_eq!(w.observe(sk(4), None, &u, 110), Verdict::New);
    assert_eq!(w.len(), 3);
    assert_eq!(w.evicted(), 1);
    // 1 went (oldest), 2 stayed.
    assert_eq!(w.observe(sk(2), None, &u, 111), Verdict::Retry);
    assert_eq!(w.observe(sk(1), None, &u, 111), Verdict::New);
    assert_eq!(w.evicted(), 2);
}

#[test]
fn two_spans_of_one_response_price_the_call_once_with_the_most_complete_usage() {
    let mut w = Window::new(&cfg(600, 100));
    let call = Some(call_key("anthropic", "msg_01"));
    assert_eq!(
        w.observe(sk(1), call, &usage(1000, 500, 0), 10),
        Verdict::New
    );
    // The same figures from the second emitter: nothing more.
    assert_eq!(
        w.observe(sk(2), call, &usage(1000, 500, 0), 11),
        Verdict::SameResponse { extra: None }
    );
    // A third report knows the cache reads: only they are added, without a request.
    let Verdict::SameResponse { extra: Some(extra) } =
        w.observe(sk(3), call, &usage(1000, 400, 200), 12)
    else {
        panic!("cache reads beyond what was priced must be priced")
    };
    assert_eq!(
        extra,
        Usage {
            cached_input_tokens: 200,
            ..Default::default()
        }
    );
    // Never a sum: the same cache reads again add nothing.
    assert_eq!(
        w.observe(sk(4), call, &usage(1000, 500, 200), 13),
        Verdict::SameResponse { extra: None }
    );
    // A retry of the span that priced the call is a retry; of a later span, the same response
    // again (spans with a response id keep no key of their own). Neither is priced.
    assert_eq!(
        w.observe(sk(1), call, &usage(1000, 500, 0), 14),
        Verdict::Retry
    );
    assert_eq!(
        w.observe(sk(3), call, &usage(1000, 400, 200), 14),
        Verdict::SameResponse { extra: None }
    );
    assert_eq!(
        w.len(),
        1,
        "one key for the call, none per span with a response id"
    );
}

/// The entries held by stored batch records, as a restarted window sees them.
fn reloaded(records: &[(Vec<u8>, Vec<u8>)], now: u64) -> (Window, Restored) {
    let mut w = Window::new(&cfg(60, 100));
    let r = w.restore(records, now);
    (w, r)
}

#[test]
fn each_commit_writes_one_batch_record_and_drops_records_past_the_window() {
    let mut w = Window::new(&cfg(60, 100));
    let call = Some(call_key("openai", "chatcmpl-1"));
    let seq0 = w.seq();
    w.observe(sk(1), call, &usage(10, 5, 0), 1000);
    assert!(w.seq() > seq0, "new keys must wake durability waiters");
    let d = w.take_dirty();
    assert_eq!(d.puts.len(), 1, "one record per commit");
    assert!(d.deletes.is_empty() && !d.clear);
    assert_eq!(reloaded(&d.puts, 1000).1.loaded, 1);
    assert!(w.take_dirty().is_empty());
    // A merged call is written again; the later record wins on reload.
    w.observe(sk(2), call, &usage(10, 5, 7), 1010);
    let d2 = w.take_dirty();
    let all = [d.puts.clone(), d2.puts.clone()].concat();
    let (mut again, r) = reloaded(&all, 1020);
    assert_eq!(r.loaded, 1);
    assert_eq!(
        again.observe(sk(9), call, &usage(10, 5, 7), 1020),
        Verdict::SameResponse { extra: None }
    );
    assert_eq!(
        again.observe(sk(1), call, &usage(1, 1, 1), 1020),
        Verdict::Retry
    );
    // Once every entry of a record is past the window (a call's from its first sight), the
    // record is deleted.
    w.observe(sk(3), None, &usage(1, 1, 0), 1059);
    assert!(w.take_dirty().deletes.is_empty());
    w.observe(sk(4), None, &usage(1, 1, 0), 1060);
    let d4 = w.take_dirty();
    assert_eq!(d4.deletes, vec![d.puts[0].0.clone(), d2.puts[0].0.clone()]);
}

#[test]
fn a_failed_commit_and_a_long_outage_turn_into_one_rewrite_of_the_live_keys() {
    let mut w = Window::new(&cfg(600, 10));
    w.observe(sk(1), None, &usage(1, 1, 0), 1000);
    let failed = w.take_dirty();
    w.restore_dirty(failed);
    let d = w.take_dirty();
    assert!(d.clear);
    assert_eq!(reloaded(&d.puts, 1000).1.loaded, 1);
    // The state file fails for long: the journal stays bounded by max_entries.
    for n in 0..100u8 {
        w.observe(sk(n + 2), None, &usage(1, 1, 0), 1000);
    }
    let d = w.take_dirty();
    assert!(d.clear, "an overflowing journal turns into one rewrite");
    assert_eq!(d.puts.len(), 1);
    assert_eq!(reloaded(&d.puts, 1000).1.loaded, 10);
}

#[test]
fn stored_keys_come_back_after_a_restart_and_stale_or_bad_records_are_deleted() {
    let mut w = Window::new(&cfg(60, 100));
    let call = Some(call_key("openai", "chatcmpl-1"));
    w.observe(sk(1), call, &usage(10, 5, 3), 1000);
    w.observe(sk(2), None, &usage(10, 5, 0), 1030);
    let mut records = w.take_dirty().puts;
    records.push((b"junk".to_vec(), vec![1, 2]));
    records.push((vec![9; 16], vec![b's', 1]));

    let (mut after, r) = reloaded(&records, 1050);
    assert_eq!((r.loaded, r.expired, r.malformed), (2, 0, 2));
    assert_eq!(
        after.observe(sk(1), call, &usage(1, 1, 0), 1050),
        Verdict::Retry
    );
    assert_eq!(
        after.observe(sk(2), None, &usage(1, 1, 0), 1050),
        Verdict::Retry
    );
    assert_eq!(
        after.observe(sk(7), call, &usage(10, 5, 3), 1050),
        Verdict::SameResponse { extra: None }
    );
    let d = after.take_dirty();
    assert_eq!(
        d.deletes.len(),
        2,
        "bad records are deleted: {:?}",
        d.deletes
    );

    // Restarted later than the window: everything is stale and deleted.
    let (mut late, r) = reloaded(&records, 2000);
    assert_eq!((r.loaded, r.expired, r.malformed), (0, 2, 2));
    assert_eq!(late.take_dirty().deletes.len(), 3);
    assert_eq!(
        late.observe(sk(1), None, &usage(1, 1, 0), 2000),
        Verdict::New
    );
}

fn scopes() -> Scopes {
    Scopes::new(&crate::config::otlp::default_usage_scopes(), 60)
}

#[test]
fn the_preferred_scope_prices_and_the_other_is_dropped_and_logged_once() {
    let mut s = scopes();
    let g = scopes::group("chat", "pod-1", "anthropic");
    let oi = "openinference.instrumentation.anthropic";
    // Alone, any scope is priced.
    assert_eq!(s.observe(g, oi, false, 100), ScopeVerdict::Price);
    // The SDK's own spans appear: they win from now on.
    assert_eq!(s.observe(g, "anthropic", true, 101), ScopeVerdict::Price);
    assert_eq!(
        s.observe(g, oi, false, 102),
        ScopeVerdict::Drop {
            first: Some(("anthropic".into(), oi.into()))
        }
    );
    assert_eq!(
        s.observe(g, oi, false, 103),
        ScopeVerdict::Drop { first: None }
    );
    // Another instance or provider is another group.
    let other = scopes::group("chat", "pod-2", "anthropic");
    assert_eq!(s.observe(other, oi, false, 103), ScopeVerdict::Price);
    // The SDK scope stops sending: after the window the next one takes over.
    assert_eq!(
        s.observe(g, oi, false, 160),
        ScopeVerdict::Drop { first: None }
    );
    assert_eq!(s.observe(g, oi, false, 161), ScopeVerdict::Price);
}

#[test]
fn spans_with_a_response_id_are_left_to_the_window_unless_the_preferred_scope_sends_none() {
    let mut s = scopes();
    let g = scopes::group("chat", "", "openai");
    let contrib = "opentelemetry.instrumentation.openai_v2";
    assert_eq!(s.observe(g, "openai", true, 10), ScopeVerdict::Price);
    // Both send ids: matched by response id, not dropped here.
    assert_eq!(s.observe(g, contrib, true, 11), ScopeVerdict::Price);
    // Its error spans have no id: the preferred scope reports them.
    assert!(matches!(
        s.observe(g, contrib, false, 12),
        ScopeVerdict::Drop { .. }
    ));
    // Precedence set the other way round, with an id-less preferred scope: ids cannot match.
    let mut s = Scopes::new(&["openinference.*".into(), "opentelemetry.*".into()], 60);
    let g = scopes::group("chat", "", "openai");
    assert_eq!(
        s.observe(g, "openinference.instrumentation.openai", false, 10),
        ScopeVerdict::Price
    );
    assert!(matches!(
        s.observe(g, contrib, true, 11),
        ScopeVerdict::Drop { .. }
    ));
}

/// An app's own tracers (scopes not in `otlp.usage_scopes`) report calls of their own: two of
/// them in one service instance used to drop one's spans. Only listed emitters are arbitrated.
#[test]
fn unlisted_scopes_are_always_priced_and_never_outrank_a_listed_one() {
    let mut s = scopes();
    let g = scopes::group("svc", "", "openai");
    assert_eq!(s.observe(g, "my.app", false, 1), ScopeVerdict::Price);
    assert_eq!(s.observe(g, "b.custom", false, 2), ScopeVerdict::Price);
    assert_eq!(s.observe(g, "my.app", false, 3), ScopeVerdict::Price);
    assert_eq!(
        s.observe(g, "openinference.instrumentation.openai", false, 4),
        ScopeVerdict::Price
    );
    assert_eq!(
        s.observe(g, "opentelemetry.instrumentation.openai", false, 5),
        ScopeVerdict::Price
    );
    // Between listed scopes the first listed wins; unlisted ones go on being priced.
    assert!(matches!(
        s.observe(g, "openinference.instrumentation.openai", false, 6),
        ScopeVerdict::Drop { .. }
    ));
    assert_eq!(s.observe(g, "b.custom", false, 7), ScopeVerdict::Price);
}

#[test]
fn the_group_table_is_bounded() {
    let mut s = scopes();
    for i in 0..scopes::MAX_GROUPS {
        let g = scopes::group("svc", &i.to_string(), "openai");
        assert_eq!(s.observe(g, "x", false, 1), ScopeVerdict::Price);
    }
    let g = scopes::group("svc", "new", "openai");
    assert_eq!(s.observe(g, "x", false, 2), ScopeVerdict::Untracked);
    // Once the old groups' window is over they make room.
    assert_eq!(s.observe(g, "x", false, 100), ScopeVerdict::Price);
}

/// The memory a remembered key costs, as stated in BENCHMARKS.md and the config docs.
#[test]
fn memory_per_key_stays_small() {
    let n = 100_000usize;
    let mut w = Window::new(&cfg(900, n));
    let u = usage(1, 1, 0);
    for i in 0..n as u64 {
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&(i + 1).to_be_bytes());
        let call = (i % 2 == 0).then(|| call_key("openai", &i.to_string()));
        w.observe(span_key(&t, &(i + 1).to_be_bytes()), call, &u, 1000);
    }
    assert_eq!(w.len(), n);
    let per_key = w.heap_bytes() / n;
    println!(
        "{} keys (half span, half response): {} bytes, {per_key} per key",
        n,
        w.heap_bytes()
    );
    assert!(per_key <= 200, "{per_key} bytes per key");
    for (what, with_call) in [("span keys only", false), ("response keys only", true)] {
        let mut w = Window::new(&cfg(900, n));
        for i in 0..n as u64 {
            let mut t = [0u8; 16];
            t[..8].copy_from_slice(&(i + 1).to_be_bytes());
            let call = with_call.then(|| call_key("openai", &i.to_string()));
            w.observe(span_key(&t, &(i + 1).to_be_bytes()), call, &u, 1000);
        }
        println!("{n} {what}: {} bytes per key", w.heap_bytes() / n);
    }
}

#[test]
fn config_defaults_and_bad_values_are_reported_with_their_place() {
    use crate::config::load::load_str;
    use crate::config::Config;
    let ok = load_str::<Config>(
        "otlp:\n  dedup: {window: 5m, max_entries: 10}\n",
        "t.yaml",
        &|_| None,
    )
    .expect("valid");
    assert_eq!(ok.otlp.dedup, cfg(300, 10));
    assert_eq!(
        ok.otlp.usage_scopes,
        crate::config::otlp::default_usage_scopes()
    );
    let yaml = "otlp:\n  dedup: {window: 0s, max_entries: 0}\n  usage_scopes: ['', 'a*b']\n";
    let err = load_str::<Config>(yaml, "t.yaml", &|_| None)
        .expect_err("invalid")
        .to_string();
    for want in [
        "otlp.dedup.window",
        "otlp.dedup.max_entries",
        "otlp.usage_scopes[0]",
        "otlp.usage_scopes[1]",
    ] {
        assert!(err.contains(want), "{want} not in {err}");
    }
}

mod bound;
mod call_keys;
