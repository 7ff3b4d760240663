use super::*;

fn conn(id: u64, opened_ms: u64, active_ms: u64, served: bool, busy: bool) -> Candidate {
    let base = Instant::now();
    Candidate {
        id,
        opened: base + Duration::from_millis(opened_ms),
        last_active: base + Duration::from_millis(active_ms),
        served,
        busy,
    }
}

fn at(ms: u64) -> Instant {
    // Candidates are built from the same base within microseconds; a whole second of margin
    // keeps the arithmetic below independent of that.
    Instant::now() + Duration::from_millis(ms)
}

#[test]
fn a_connection_that_never_finished_a_request_goes_first_oldest_first() {
    let conns = [
        conn(1, 0, 0, true, false),
        conn(2, 100, 100, false, false),
        conn(3, 50, 900, false, false),
    ];
    let v = choose_victim(conns.into_iter(), at(10_000), MIN_IDLE_TO_EVICT);
    assert_eq!(v, Some(3), "opened first among the unserved");
}

#[test]
fn otherwise_the_one_idle_longest() {
    let conns = [
        conn(1, 0, 5_000, true, false),
        conn(2, 10, 2_000, true, false),
        conn(3, 20, 8_000, true, false),
    ];
    let v = choose_victim(conns.into_iter(), at(10_000), MIN_IDLE_TO_EVICT);
    assert_eq!(v, Some(2));
}

#[test]
fn busy_and_recently_active_served_connections_are_never_evicted() {
    let conns = [
        conn(1, 0, 0, true, true),
        conn(2, 0, 0, false, true),
        conn(3, 9_000, 9_900, true, false),
    ];
    // Connection 3 was active 100 ms before `now`: within MIN_IDLE_TO_EVICT.
    let now = at(9_900) + Duration::from_millis(100);
    assert_eq!(
        choose_victim(conns.into_iter(), now, MIN_IDLE_TO_EVICT),
        None
    );
    assert_eq!(
        choose_victim(std::iter::empty(), at(0), MIN_IDLE_TO_EVICT),
        None
    );
}

#[test]
fn a_busy_connection_silent_for_a_minute_no_longer_pins_its_slot() {
    let conns = [conn(1, 0, 0, true, true), conn(2, 0, 100_000, true, true)];
    let now = at(100_000);
    assert_eq!(
        choose_victim(conns.into_iter(), now, MIN_IDLE_TO_EVICT),
        Some(1)
    );
}

#[test]
fn a_fresh_connection_still_in_its_headers_can_make_room() {
    let conns = [
        conn(1, 0, 9_950, true, false),
        conn(2, 9_990, 9_990, false, false),
    ];
    let now = at(10_000);
    assert_eq!(
        choose_victim(conns.into_iter(), now, MIN_IDLE_TO_EVICT),
        Some(2)
    );
}

fn gate(max: usize) -> Arc<Gate> {
    let store = Arc::new(Store::new(Default::default()));
    Gate::new(Which::Http, store, move || ConnLimits {
        max_connections: max,
        header_timeout: None,
        idle_timeout: None,
        served_after_bytes: usize::MAX,
    })
}

fn scrape(g: &Gate) -> String {
    crate::expose::text::render(&g.store().snapshot(), crate::expose::text::Format::Text)
}

#[test]
fn at_the_cap_with_every_connection_busy_the_new_one_is_refused_and_counted() {
    let g = gate(2);
    let a = g.admit(()).expect("first");
    let b = g.admit(()).expect("second");
    let _busy = (a.handle().begin_request(), b.handle().begin_request());
    assert!(g.admit(()).is_none(), "no room: both busy");
    let text = scrape(&g);
    assert!(
        text.contains(
            "meterd_connections_rejected_total{listener=\"http\",reason=\"connection_limit\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("meterd_connections_open{listener=\"http\"} 2"),
        "{text}"
    );
    drop(a);
    assert!(g.admit(()).is_some(), "a closed connection frees its slot");
}

#[test]
fn a_request_still_waiting_for_its_body_does_not_make_its_connection_busy() {
    let g = gate(1);
    let a = g.admit(()).expect("first");
    let state = a.handle();
    let _busy = state.begin_request();
    assert!(state.candidate().busy);
    state.awaiting_body.fetch_add(1, Ordering::Relaxed);
    assert!(
        !state.candidate().busy,
        "a stalled body is the client's wait, not meterd's"
    );
}
