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
