//! The properties are not vacuous: the generated requests price spans, share response ids,
//! carry stages, times to first token and errors, and damaged requests are still read in place.

use super::*;
use crate::model::CallStatus;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::collections::HashMap;

#[test]
fn generated_requests_reach_what_the_properties_compare() {
    let configured: Vec<String> = CONFIGURED.iter().map(|s| s.to_string()).collect();
    let mut runner = TestRunner::deterministic();
    let mut n: HashMap<&str, usize> = HashMap::new();
    for _ in 0..300 {
        let req = request()
            .new_tree(&mut runner)
            .expect("a request")
            .current();
        let body = req.encode_to_vec();
        let view = decode_traces(&body).expect("reads in place");
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (resource, _, spans) in view.scopes() {
            for s in spans {
                *n.entry("spans").or_default() += 1;
                if let Some(ev) = span_usage(resource, s, &configured) {
                    *n.entry("usage").or_default() += 1;
                    if ev.status == Some(CallStatus::Error) {
                        *n.entry("error").or_default() += 1;
                    }
                    if let Some(id) = get_str(s.attributes(), "gen_ai.response.id") {
                        *ids.entry(id.into_owned()).or_default() += 1;
                    }
                }
                if span_stage(resource, s, "stage", &configured).is_some() {
                    *n.entry("stage").or_default() += 1;
                }
                if span_ttft(s).is_some() {
                    *n.entry("ttft").or_default() += 1;
                }
            }
        }
        *n.entry("shared_id").or_default() += ids.values().filter(|c| **c > 1).count();
        let damage = prop::collection::vec(mangle(), 1..4)
            .new_tree(&mut runner)
            .expect("damage")
            .current();
        let mut body = body;
        for m in &damage {
            apply(&mut body, m);
        }
        if prost_path(&body).is_some() {
            *n.entry("damaged_prost").or_default() += 1;
            if view_path(&body).is_ok() {
                *n.entry("damaged_in_place").or_default() += 1;
            }
        }
    }
    eprintln!("{n:?}");
    let get = |k: &str| n.get(k).copied().unwrap_or(0);
    assert!(get("usage") * 5 >= get("spans"), "{n:?}");
    for k in ["error", "shared_id", "stage", "ttft"] {
        assert!(get(k) > 0, "{k}: {n:?}");
    }
    assert!(get("damaged_in_place") * 2 >= get("damaged_prost"), "{n:?}");
}
