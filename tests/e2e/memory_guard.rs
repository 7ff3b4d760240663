//! The memory guard: above `limits.max_memory` new series are shed (counted), existing series keep
//! updating, and raising the limit by reload lifts the shedding.

use crate::support::agent::Agent;
use crate::support::wait_until;
use meterd::model::{Labels, Sample, SampleValue};
use std::time::Duration;

#[test]
fn new_series_are_shed_above_the_memory_limit() {
    let agent = Agent::start("");
    let pipeline = agent.running().pipeline.clone();
    let hit = |k: &str| {
        Sample::new(
            "guarded",
            Labels::new([("k", k)]),
            SampleValue::CounterAdd(1.0),
        )
    };
    assert!(pipeline.sample("test", &hit("before")));

    // This test process certainly holds more than 16 MiB once this ballast is touched.
    let ballast = vec![1u8; 48 << 20];
    agent.write_config("limits:\n  max_memory: 16MiB\n");
    agent.running().reload().expect("reload");
    wait_until("shedding", Duration::from_secs(10), || {
        (agent.metric("meterd_memory_shedding") == Some(1.0)).then_some(())
    });
    assert!(
        !pipeline.sample("test", &hit("new")),
        "new series must be shed"
    );
    assert!(
        pipeline.sample("test", &hit("before")),
        "existing series keep updating"
    );
    assert_eq!(
        agent.metric("meterd_samples_rejected_total{protocol=\"test\",reason=\"memory_limit\"}"),
        Some(1.0)
    );

    agent.write_config("limits:\n  max_memory: 64GiB\n");
    agent.running().reload().expect("reload");
    wait_until("shedding stops", Duration::from_secs(10), || {
        (agent.metric("meterd_memory_shedding") == Some(0.0)).then_some(())
    });
    assert!(pipeline.sample("test", &hit("new")));
    drop(ballast);
}

/// Issue 20 with the real binary: a flood of series pushes RSS past `limits.max_memory`. While the
/// guard sheds, OTLP is still accepted (points of existing series and GenAI spend flow; only new
/// series are refused) and `/readyz` says so; once the flood's series expire the guard releases,
/// although the allocator keeps the freed pages and RSS stays high (it used to latch, answering
/// every OTLP request 503 until a restart).
#[test]
fn the_guard_releases_when_a_flood_expires_and_spend_flows_while_it_sheds() {
    use crate::support::agent::EPHEMERAL_LISTENERS;
    use crate::support::binary::{self, Meterd};
    use crate::support::flood::{self, status_kib};
    use crate::support::spans;

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("meterd.yaml");
    let write = |max_memory: &str, ttl: &str| {
        std::fs::write(
            &config,
            format!(
                "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n\
                 limits:\n  series_ttl: {ttl}\n  max_series_per_metric: 200000\n  \
                 max_series_total: 250000\n  max_memory: {max_memory}\n\
                 pricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\n\
                 budgets:\n  - {{name: everything, period: total, limit_usd: 1000}}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write config")
    };
    // A long TTL while the shedding is checked; shortened by reload once the flood is to expire.
    write("64GiB", "10m");
    let mut cmd = std::process::Command::new(binary::exe());
    cmd.args(binary::args(&config));
    let m = Meterd::spawn(cmd);
    let pid = m.child.id();

    // The limit: what meterd holds idle, plus a margin the flood overruns.
    let idle = status_kib(pid, "VmRSS:");
    let limit_mib = (idle / 1024 + 24).max(16);
    let reload = |n: f64| {
        let hup = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("kill -HUP");
        assert!(hup.success());
        wait_until("the reload", Duration::from_secs(10), || {
            (m.metric(r#"meterd_config_reloads_total{result="success"}"#) >= Some(n)).then_some(())
        });
    };
    write(&format!("{limit_mib}MiB"), "10m");
    reload(1.0);

    const BATCH: usize = 5_000;
    let mut sent = 0;
    while m.metric("meterd_memory_shedding") != Some(1.0) {
        assert!(
            sent < 250_000,
            "{sent} series and no shedding at {} KiB RSS (limit {limit_mib} MiB)",
            status_kib(pid, "VmRSS:")
        );
        let body = flood::gauge_batch("flood", sent, sent + BATCH, 0.0);
        assert_eq!(flood::post(m.otlp_http, "/v1/metrics", body), 200);
        sent += BATCH;
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, readyz) = m.get("/readyz");
    assert_eq!(status, 200, "shedding must not take the pod out of service");
    assert!(
        readyz.contains("degraded: memory: shedding new series"),
        "{readyz}"
    );

    // While shedding: spend is accepted and priced; an existing series takes a new value; a new
    // series is refused and counted.
    let span = spans::gpt4o_chat(1, &[]);
    assert_eq!(
        flood::post(m.otlp_http, "/v1/traces", span),
        200,
        "a GenAI span refused while the guard sheds"
    );
    assert_eq!(m.spend_nanos("everything"), 7_500_000);
    // The newest flood series the store holds (later ones may have been shed).
    let (_, body) = m.get("/metrics");
    let last = (0..sent)
        .rev()
        .find(|i| body.contains(&format!("flood{{request_path=\"{}\"}}", flood::path(*i))))
        .expect("a flood series stored");
    let existing = flood::gauge_batch("flood", last, last + 1, 0.5);
    assert_eq!(flood::post(m.otlp_http, "/v1/metrics", existing), 200);
    let fresh = flood::gauge_batch("fresh_during_shedding", 0, 1, 0.0);
    assert_eq!(flood::post(m.otlp_http, "/v1/metrics", fresh), 200);
    let (_, body) = m.get("/metrics");
    let series = format!("flood{{request_path=\"{}\"}}", flood::path(last));
    assert_eq!(
        crate::support::agent::find_value(&body, &series),
        Some(last as f64 + 0.5),
        "an existing series stopped updating"
    );
    assert!(
        !body.contains("fresh_during_shedding{"),
        "a new series was stored"
    );
    assert!(
        body.contains(r#"reason="memory_limit""#),
        "no shed series counted"
    );

    // The flood expires (TTL now 1 s, swept every 5 s): meterd holds little again.
    write(&format!("{limit_mib}MiB"), "1s");
    reload(2.0);
    let rss_at_expiry = wait_until("the flood expired", Duration::from_secs(60), || {
        let series = m.metric("meterd_series")?;
        (series < 1_000.0).then(|| status_kib(pid, "VmRSS:"))
    });
    wait_until("the guard released", Duration::from_secs(20), || {
        (m.metric("meterd_memory_shedding") == Some(0.0)).then_some(())
    });
    eprintln!(
        "limit {limit_mib} MiB, {sent} series sent; RSS after the flood expired: {} KiB, \
         at release: {} KiB",
        rss_at_expiry,
        status_kib(pid, "VmRSS:")
    );
    let (_, readyz) = m.get("/readyz");
    assert!(!readyz.contains("degraded"), "{readyz}");
    let fresh = flood::gauge_batch("fresh_after_release", 0, 1, 0.0);
    assert_eq!(flood::post(m.otlp_http, "/v1/metrics", fresh), 200);
    assert!(
        m.get("/metrics").1.contains("fresh_after_release{"),
        "a new series refused after the guard released"
    );
}
