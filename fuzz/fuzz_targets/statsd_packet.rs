//! A StatsD packet through the real ingest path (parser, mapping rules with captures, the llm.*
//! convention, the store): any bytes must be counted as lines or errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterd::config::Config;
use meterd::pipeline::{Pipeline, Snapshot};
use meterd::receivers::statsd::ingest::{Transport, Worker};
use meterd::store::Store;
use std::sync::{Arc, OnceLock};

const CONFIG: &str = r#"
statsd:
  mappings:
    - match: "app.*.requests"
      name: "app_requests"
      labels: {service: "$1"}
    - match: 'rx\.(\w+)\.(\w+)'
      match_type: regex
      name: "rx_$1"
      labels: {kind: "$2"}
    - match: "noise.*"
      action: drop
"#;

fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        let config: Config = meterd::config::load::load_str(CONFIG, "fuzz.yaml", &|_| None)
            .unwrap_or_else(|e| panic!("fuzz config: {e}"));
        Pipeline::new(Arc::new(Store::default()), Snapshot::try_new(Arc::new(config)).expect("valid config"))
    })
}

fuzz_target!(|data: &[u8]| {
    let p = pipeline();
    let mut worker = Worker::default();
    worker.batch(p, Transport::Udp, data, 1_700_000_000_000_000_000);
    worker.flush(p);
});
